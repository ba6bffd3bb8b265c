package tunnel

import (
	"errors"
	"net"
	"net/netip"
	"time"

	"github.com/tlsvpn/tlsvpn/handshake"
	"github.com/tlsvpn/tlsvpn/internal/wire"
)

// acceptLoop accepts connections and authenticates each in its own
// goroutine, as far as admission lets it; a connection over its limits is
// closed at once, with a log line.
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
		if !e.admit.take(ip) {
			e.log.Warn("too many handshakes in progress; closing", "remote", raw.RemoteAddr().String())
			raw.Close()
			continue
		}
		e.goroutine(func() {
			defer e.admit.release(ip)
			e.serve(raw)
		})
	}
}

func remoteIP(c net.Conn) netip.Addr {
	if ap, err := netip.ParseAddrPort(c.RemoteAddr().String()); err == nil {
		return ap.Addr().Unmap()
	}
	return netip.Addr{}
}

func (e *Engine) serve(raw net.Conn) {
	e.sock.tune(raw, DefaultKeepalive)
	s, err := e.auth.Server(e.ctx, raw, e.params(handshake.PurposeConnect))
	if err != nil {
		return // the handshake logged the refusal
	}
	if err := e.attachSession(s); err != nil {
		e.log.Info("connection not kept", "peer", s.Peer, "remote", raw.RemoteAddr().String(), "reason", err)
	}
}

// attachSession turns an authenticated session, dialed or accepted, into
// the peer's connection. A connection the peer refuses gets a goodbye
// saying why, and is closed.
func (e *Engine) attachSession(s *handshake.Session) error {
	p := e.peers.get(s.Peer)
	if p == nil {
		s.Stream.Conn.Close()
		return errUnknownPeer
	}
	if ka := p.policy().keepalive; ka != DefaultKeepalive {
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
		c.kill(err)
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
