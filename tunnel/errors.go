package tunnel

import "errors"

// Why a connection was refused or ended; status shows them as a peer's
// last_error.
var (
	errUnknownPeer     = errors.New("peer is no longer configured")
	errDuplicate       = errors.New("simultaneous dial lost to the connection dialed by the node whose name sorts first")
	errStopped         = errors.New("the peer was stopped or removed during the handshake")
	errExpired         = errors.New("the peer's certificate chain expired")
	errDead            = errors.New("keepalive timeout: nothing received for 3 intervals")
	errShutdownTimeout = errors.New("shutdown timeout")
	errNoAddress       = errors.New("no address")
)
