package tunnel

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/netip"
	"sync"
	"sync/atomic"
	"time"

	"github.com/tlsvpn/tlsvpn/handshake"
	"github.com/tlsvpn/tlsvpn/internal/wire"
	"github.com/tlsvpn/tlsvpn/netif"
)

// PeerConfig is one configured peer.
type PeerConfig struct {
	Name       string
	Endpoint   string // host:port to dial; "" to wait for the peer to dial in
	AllowedIPs []netip.Prefix
	Keepalive  time.Duration // 0: DefaultKeepalive
}

// DefaultKeepalive is the keepalive interval when none is configured; a
// peer silent for DeadAfter intervals is dropped.
const (
	DefaultKeepalive = 10 * time.Second
	DeadAfter        = 3
)

// Authenticator runs handshakes; *handshake.Handshaker is one.
type Authenticator interface {
	Client(ctx context.Context, raw net.Conn, peer string, local handshake.Params) (*handshake.Session, error)
	Server(ctx context.Context, raw net.Conn, local handshake.Params) (*handshake.Session, error)
	Verify(s *handshake.Session) error
}

// Config is what an Engine needs.
type Config struct {
	Name     string // this node's name
	Device   netif.Device
	Auth     Authenticator
	Listener net.Listener // nil: accept no connections
	Peers    []PeerConfig
	Log      *slog.Logger
	// Dial opens TCP connections (nil: a net.Dialer); tests replace it.
	Dial func(ctx context.Context, network, addr string) (net.Conn, error)
	// RotateAge is the age at which a connection is replaced by a fresh
	// one (0: DefaultRotateAge); RotateRecords the number of TLS records
	// either way after which it is (0: DefaultRotateRecords).
	RotateAge     time.Duration
	RotateRecords uint64
	// CongestionControl is set on every connection's socket ("": the
	// host's default); a kernel that lacks it is logged once.
	CongestionControl string
	// ForwardBetweenPeers, with a TAP device, forwards frames from one
	// peer to the others (the hub of a star); without it they go to the
	// device only (split horizon). Ignored with a TUN device.
	ForwardBetweenPeers bool
}

// Rotation defaults. Go's TLS never initiates a KeyUpdate, so a connection
// is replaced well before AES-GCM's per-key limit of 2^24.5 records
// (RFC 8446 section 5.5), and at least hourly.
const (
	DefaultRotateAge     = time.Hour
	DefaultRotateRecords = 1 << 23
)

// Engine moves packets. Start it with Start; Close stops every goroutine
// it started, closes its connections, the listener and the device, and
// waits for them. Methods are safe for concurrent use.
//
// Its parts, each in its own file: the peers and their route table
// (peerset.go), the device and its offload negotiation (device.go), the
// handshake admission limits (admit.go), the drop-log rate limiter
// (ratelog.go), the socket options (sockopt.go) and the rotation limits
// (rotate.go).
type Engine struct {
	name   string
	bootID string // announced on every connection: tells a restarted peer from a simultaneous dial
	log    *slog.Logger
	auth   Authenticator
	ln     net.Listener
	dial   func(ctx context.Context, network, addr string) (net.Conn, error)

	dev     tun
	peers   peerSet
	admit   admission
	drops   dropLog
	sock    sockTuning
	limits  rotationLimits
	live    liveness      // the packet loops, for the watchdog (liveness.go)
	noRoute atomic.Uint64 // packets read from the device for no peer

	// What the device carries, decided at New by its Kind: IP packets
	// routed by destination, or (TAP) Ethernet frames switched by MAC.
	carries    wire.Type // the data frame type of every connection
	fromDevice func(pend *pending, frame []byte, flows *flowTable, now int64, timer *time.Timer)
	l2         *layer2 // the switch of a TAP device (l2.go); nil with a TUN

	rotations atomic.Uint64 // connections replaced by a rotation

	ctx       context.Context // canceled by Close: dials, handshakes and loops end
	cancel    context.CancelFunc
	wg        sync.WaitGroup // every goroutine the engine started
	closeOnce sync.Once
}

// New checks cfg and returns an Engine that has not started yet. The
// Engine owns the device and the listener from now on.
func New(cfg Config) (*Engine, error) {
	if cfg.Device == nil || cfg.Auth == nil || cfg.Log == nil {
		return nil, errors.New("tunnel: device, authenticator and logger are required")
	}
	id := make([]byte, 16)
	if _, err := rand.Read(id); err != nil {
		return nil, fmt.Errorf("make boot id: %w", err)
	}
	e := &Engine{
		name: cfg.Name, bootID: hex.EncodeToString(id), log: cfg.Log, auth: cfg.Auth, ln: cfg.Listener, dial: cfg.Dial,
		drops:  dropLog{log: cfg.Log},
		sock:   sockTuning{congestion: cfg.CongestionControl, log: cfg.Log},
		limits: rotationLimits{age: cfg.RotateAge, records: cfg.RotateRecords},
	}
	if e.limits.age <= 0 {
		e.limits.age = DefaultRotateAge
	}
	if e.limits.records == 0 {
		e.limits.records = DefaultRotateRecords
	}
	if e.dial == nil {
		d := &net.Dialer{Timeout: handshake.TLSTimeout}
		e.dial = d.DialContext
	}
	e.ctx, e.cancel = context.WithCancel(context.Background())
	e.dev.init(cfg.Device)
	e.carries, e.fromDevice = wire.TypePacket, e.route
	if cfg.Device.Kind() == netif.KindTAP {
		e.l2 = newLayer2(cfg.ForwardBetweenPeers, cfg.Log)
		e.carries, e.fromDevice = wire.TypeFrame, e.switchFrame
	}
	e.peers.init(e, cfg.Peers)
	return e, nil
}

// Start launches the device reader, the acceptor, a dialer per peer with
// an endpoint and, with a TAP device, the ageing of learned MACs.
func (e *Engine) Start() {
	e.goroutine(func() { e.runLoop(&e.live.tun, "device reader", e.readTUN) })
	if e.l2 != nil {
		e.goroutine(e.sweepMACs)
	}
	if e.ln != nil {
		e.goroutine(e.acceptLoop)
	}
	e.peers.startAll()
}

func (e *Engine) goroutine(f func()) {
	e.wg.Add(1)
	go func() {
		defer e.wg.Done()
		f()
	}()
}

// Close says goodbye to every peer (a Close frame after the data already
// queued), then stops everything and waits. It returns when no goroutine
// of the engine is left.
func (e *Engine) Close() error {
	e.closeOnce.Do(func() {
		e.cancel()
		if e.ln != nil {
			e.ln.Close()
		}
		conns := e.peers.stopAll()
		for _, c := range conns {
			c.retire(wire.CloseShutdown)
		}
		waitRetired(conns, time.Second)
		e.dev.Close()
	})
	e.wg.Wait()
	return nil
}

// params is what this node announces on a new connection.
func (e *Engine) params(purpose handshake.Purpose) handshake.Params {
	return handshake.Params{
		Version: handshake.ProtocolVersion, BootID: e.bootID, MTU: e.dev.mtu,
		GSO: e.dev.accept.Names(), Purpose: purpose, Mode: e.dev.Kind().String(),
	}
}
