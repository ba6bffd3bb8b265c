package tunnel

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"net"
	"net/netip"
	"time"

	"github.com/tlsvpn/tlsvpn/handshake"
)

// Dial backoff (docs/protocol.md, "Dialing"): about 100 ms, doubling with
// jitter up to 10 s, reset after a completed parameter exchange.
const (
	backoffMin = 100 * time.Millisecond
	backoffMax = 10 * time.Second
)

// startDialer runs the peer's dialLoop, unless one runs already, the peer
// has no endpoint or it is stopped.
func (p *peer) startDialer() {
	s := &p.slot
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.dialing || s.state == peerStopped || !p.policy().dials() {
		return
	}
	s.dialing = true
	p.e.goroutine(p.dialLoop)
}

// keepDialing reports whether the dialLoop goes on: the peer has an
// endpoint. When it has none any more (a reload removed it), the loop
// ends and the peer waits to be dialed.
func (p *peer) keepDialing() bool {
	s := &p.slot
	s.mu.Lock()
	defer s.mu.Unlock()
	if p.policy().dials() {
		return true
	}
	s.dialing = false
	if s.cur.Load() == nil {
		p.setState(peerAwaiting)
	}
	return false
}

// dialLoop keeps one connection to the peer while it has an endpoint.
func (p *peer) dialLoop() {
	backoff := backoffMin
	for p.keepDialing() {
		if c := p.current(); c != nil {
			select {
			case <-p.kick:
				continue
			case <-c.life.dead:
				continue
			case <-p.stopCh:
				return
			case <-p.e.ctx.Done():
				return
			}
		}
		err := p.dialOnce(handshake.PurposeConnect)
		if err == nil || errors.Is(err, errDuplicate) {
			// Connected, or the peer's simultaneous dial won: either way
			// there is a live connection now.
			backoff = backoffMin
			continue
		}
		wait := jitter(backoff)
		p.setFailure(err, time.Now().Add(wait))
		p.e.log.Info("dial failed", "peer", p.name, "endpoint", p.policy().endpoint, "err", err, "retry_in", wait.Round(time.Millisecond))
		t := time.NewTimer(wait)
		select {
		case <-t.C:
		case <-p.stopCh:
			t.Stop()
			return
		case <-p.e.ctx.Done():
			t.Stop()
			return
		}
		backoff = min(2*backoff, backoffMax)
	}
}

func (p *peer) setFailure(err error, next time.Time) {
	s := &p.slot
	s.mu.Lock()
	p.setState(peerRedialWait)
	s.lastErr, s.nextRetry = err.Error(), next
	s.mu.Unlock()
}

func jitter(d time.Duration) time.Duration {
	return d*4/5 + time.Duration(rand.Int64N(int64(d)*2/5+1))
}

// dialOnce dials the endpoint, runs the handshake and attaches the session.
func (p *peer) dialOnce(purpose handshake.Purpose) error {
	e := p.e
	pol := p.policy()
	if purpose == handshake.PurposeConnect {
		p.slot.mu.Lock()
		p.setState(peerConnecting)
		p.slot.mu.Unlock()
	}
	addr, err := e.resolve(pol.endpoint)
	if err != nil {
		return err
	}
	ctx, cancel := context.WithTimeout(e.ctx, handshake.TLSTimeout+handshake.ParamsTimeout)
	defer cancel()
	raw, err := e.dial(ctx, "tcp", addr.String())
	if err != nil {
		return fmt.Errorf("dial %s: %w", addr, err)
	}
	e.sock.tune(raw, pol.keepalive)
	s, err := e.auth.Client(ctx, raw, p.name, e.params(purpose))
	if err != nil {
		return err
	}
	return e.attachSession(s)
}

// resolve looks the endpoint up (at each dial) and refuses an address the
// tunnel itself would carry.
func (e *Engine) resolve(endpoint string) (netip.AddrPort, error) {
	host, port, err := net.SplitHostPort(endpoint)
	if err != nil {
		return netip.AddrPort{}, fmt.Errorf("endpoint %q: %w", endpoint, err)
	}
	ctx, cancel := context.WithTimeout(e.ctx, 5*time.Second)
	defer cancel()
	ap, err := net.DefaultResolver.LookupNetIP(ctx, "ip", host)
	if err == nil && len(ap) == 0 {
		err = errNoAddress
	}
	if err != nil {
		return netip.AddrPort{}, fmt.Errorf("resolve %s: %w", host, err)
	}
	pn, err := net.DefaultResolver.LookupPort(ctx, "tcp", port)
	if err != nil {
		return netip.AddrPort{}, fmt.Errorf("endpoint %q port: %w", endpoint, err)
	}
	a := ap[0].Unmap()
	if q := e.peers.route(a); q != nil {
		return netip.AddrPort{}, fmt.Errorf("endpoint %s resolves to %s, inside allowed_ips of peer %q: the tunnel would carry itself; refusing to dial", endpoint, a, q.name)
	}
	return netip.AddrPortFrom(a, uint16(pn)), nil
}
