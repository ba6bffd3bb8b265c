package tunnel

import (
	"errors"
	"net"
	"net/netip"
	"time"

	"github.com/tlsvpn/tlsvpn/handshake"
	"github.com/tlsvpn/tlsvpn/internal/wire"
)

// maxHandshakesPerIP bounds the handshakes in progress from one address,
// so that one host holding connections open cannot use up maxHandshakes.
const maxHandshakesPerIP = 8

// acceptLoop accepts connections and authenticates each in its own
// goroutine, at most maxHandshakes at a time and maxHandshakesPerIP from
// one address; more are closed at once, with a log line.
func (e *Engine) acceptLoop() {
	for {
		raw, err := e.ln.Accept()
		if err != nil {
			if errors.Is(err, net.ErrClosed) || e.ctx.Err() != nil {
				return
			}
			e.log.Warn("accept", "err", err)
			select {
			case <-time.After(50 * time.Millisecond):
			case <-e.ctx.Done():
				return
			}
			continue
		}
		ip := remoteIP(raw)
		if !e.admit(ip) {
			e.log.Warn("too many handshakes in progress; closing", "remote", raw.RemoteAddr().String())
			raw.Close()
			continue
		}
		e.goroutine(func() {
			defer e.release(ip)
			e.serve(raw)
		})
	}
}

// admit takes a handshake slot for ip, if one is free.
func (e *Engine) admit(ip netip.Addr) bool {
	e.hsMu.Lock()
	defer e.hsMu.Unlock()
	if e.hsTotal >= maxHandshakes || e.hsPerIP[ip] >= maxHandshakesPerIP {
		return false
	}
	e.hsTotal++
	e.hsPerIP[ip]++
	return true
}

func (e *Engine) release(ip netip.Addr) {
	e.hsMu.Lock()
	defer e.hsMu.Unlock()
	e.hsTotal--
	if e.hsPerIP[ip]--; e.hsPerIP[ip] == 0 {
		delete(e.hsPerIP, ip)
	}
}

func remoteIP(c net.Conn) netip.Addr {
	if ap, err := netip.ParseAddrPort(c.RemoteAddr().String()); err == nil {
		return ap.Addr().Unmap()
	}
	return netip.Addr{}
}

func (e *Engine) serve(raw net.Conn) {
	e.tuneSocket(raw, DefaultKeepalive)
	s, err := e.auth.Server(e.ctx, raw, e.params(handshake.PurposeConnect))
	if err != nil {
		return // the handshake logged the refusal
	}
	if err := e.attachSession(s); err != nil {
		e.log.Info("connection not kept", "peer", s.Peer, "remote", raw.RemoteAddr().String(), "reason", err)
	}
}

var (
	errUnknownPeer = errors.New("peer is no longer configured")
	errDuplicate   = errors.New("simultaneous dial lost to the connection dialed by the node whose name sorts first")
	errStopped     = errors.New("the peer was stopped or removed during the handshake")
)

// attachSession turns an authenticated session into the peer's connection.
func (e *Engine) attachSession(s *handshake.Session) error {
	p := e.peer(s.Peer)
	if p == nil || e.ctx.Err() != nil {
		s.Stream.Conn.Close()
		return errUnknownPeer
	}
	if ka := p.keepalive(); ka != DefaultKeepalive {
		setUserTimeout(s.Stream.Conn, ka)
	}
	c := newConn(e, p, s)
	if err := p.attach(c); err != nil {
		reason := wire.CloseDuplicate
		if errors.Is(err, errStopped) {
			reason = wire.CloseShutdown
			if e.ctx.Err() == nil {
				reason = wire.CloseRemoved
			}
		}
		c.goodbye(reason)
		s.Stream.Conn.Close()
		return err
	}
	st := s.State
	e.log.Info("peer connected", "peer", p.name, "remote", c.remote(),
		"dialed", s.Dialed, "purpose", string(s.Local.Purpose), "tls", tlsVersion(st.Version),
		"cipher", cipherName(st.CipherSuite), "group", st.CurveID.String(),
		"gso", s.Remote.GSO)
	e.updateOffload()
	return nil
}
