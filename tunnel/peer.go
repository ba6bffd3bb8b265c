package tunnel

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"net"
	"net/netip"
	"sync"
	"sync/atomic"
	"time"

	"github.com/tlsvpn/tlsvpn/handshake"
	"github.com/tlsvpn/tlsvpn/internal/wire"
)

// Dial backoff (DESIGN.md): about 100 ms, doubling with jitter up to 10 s,
// reset after a completed parameter exchange.
const (
	backoffMin = 100 * time.Millisecond
	backoffMax = 10 * time.Second
	// collisionWindow: two connections of opposite directions completed
	// this close together, from the same peer process, are a simultaneous
	// dial; the one dialed by the node whose name sorts first is kept.
	collisionWindow = 2 * time.Second
)

// peer is one configured peer: its policy, its current connection, its
// dialer and its counters.
type peer struct {
	e    *Engine
	name string
	ctr  counters

	cfg  atomic.Pointer[PeerConfig]
	conn atomic.Pointer[conn] // the connection packets go to; nil when none

	mu        sync.Mutex // guards the fields below and connection swaps
	state     string
	lastErr   string
	nextRetry time.Time
	rotatedAt time.Time

	kick    chan struct{} // wakes the dialer when the connection goes
	stop    chan struct{}
	stopMu  sync.Once
	stopped bool // detachAll ran: the peer takes no connection any more (guarded by mu)
}

func newPeer(e *Engine, pc PeerConfig) *peer {
	p := &peer{e: e, name: pc.Name, kick: make(chan struct{}, 1), stop: make(chan struct{})}
	if pc.Keepalive <= 0 {
		pc.Keepalive = DefaultKeepalive
	}
	p.cfg.Store(&pc)
	p.state = "waiting for the peer to dial in"
	if pc.Endpoint != "" {
		p.state = "connecting"
	}
	return p
}

func (p *peer) current() *conn             { return p.conn.Load() }
func (p *peer) allowedIPs() []netip.Prefix { return p.cfg.Load().AllowedIPs }
func (p *peer) keepalive() time.Duration   { return p.cfg.Load().Keepalive }

func (p *peer) start() {
	if p.cfg.Load().Endpoint != "" {
		p.e.goroutine(p.dialLoop)
	}
}

// halt stops the dialer.
func (p *peer) halt() { p.stopMu.Do(func() { close(p.stop) }) }

// attach makes c the peer's connection, unless the peer was stopped
// (errStopped: the engine is closing or the peer was removed while the
// handshake ran) or c loses a simultaneous dial against the live one
// (errDuplicate). The replaced connection is retired.
func (p *peer) attach(c *conn) error {
	p.mu.Lock()
	if p.stopped {
		p.mu.Unlock()
		return errStopped
	}
	old := p.conn.Load()
	if old != nil && !old.isDead() && p.keepOld(old, c) {
		p.mu.Unlock()
		return errDuplicate
	}
	p.conn.Store(c)
	p.state, p.lastErr = "connected", ""
	if rotating(c.sess) {
		p.rotatedAt = time.Now()
	}
	p.mu.Unlock()
	c.start()
	if old != nil {
		old.retire(wire.CloseReplaced)
	}
	return nil
}

func rotating(s *handshake.Session) bool {
	return s.Local.Purpose == handshake.PurposeRotate || s.Remote.Purpose == handshake.PurposeRotate
}

// keepOld decides a simultaneous dial: same peer process, opposite
// directions, close together, not a rotation.
func (p *peer) keepOld(old, c *conn) bool {
	if rotating(c.sess) || c.sess.Remote.BootID != old.sess.Remote.BootID ||
		c.sess.Dialed == old.sess.Dialed || time.Since(old.since) > collisionWindow {
		return false
	}
	keepDialedByUs := p.e.name < p.name
	return old.sess.Dialed == keepDialedByUs
}

// detach forgets c if it is still the peer's connection, and wakes the
// dialer.
func (p *peer) detach(c *conn) {
	p.mu.Lock()
	was := p.conn.CompareAndSwap(c, nil)
	if was {
		p.state = "disconnected"
		if err, _ := c.err.Load().(error); err != nil {
			p.lastErr = err.Error()
		}
	}
	p.mu.Unlock()
	if !was {
		return
	}
	attrs := []any{"peer", p.name, "remote", c.remote(), "connected_for", time.Since(c.since).Round(time.Millisecond)}
	if err, _ := c.err.Load().(error); err != nil {
		attrs = append(attrs, "err", err)
	}
	p.e.log.Info("peer disconnected", attrs...)
	select {
	case p.kick <- struct{}{}:
	default:
	}
	p.e.updateOffload()
}

// detachAll forgets the connection for good (stop or removal) and returns it.
func (p *peer) detachAll() *conn {
	p.halt()
	p.mu.Lock()
	defer p.mu.Unlock()
	c := p.conn.Swap(nil)
	p.state = "stopped"
	p.stopped = true
	return c
}

func (p *peer) setFailure(err error, next time.Time) {
	p.mu.Lock()
	p.state, p.lastErr, p.nextRetry = "waiting to redial", err.Error(), next
	p.mu.Unlock()
}

// dialLoop keeps one connection to the peer while it has an endpoint.
func (p *peer) dialLoop() {
	backoff := backoffMin
	for {
		if c := p.current(); c != nil {
			select {
			case <-p.kick:
				continue
			case <-c.dead:
				continue
			case <-p.stop:
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
		p.e.log.Info("dial failed", "peer", p.name, "endpoint", p.cfg.Load().Endpoint, "err", err, "retry_in", wait.Round(time.Millisecond))
		t := time.NewTimer(wait)
		select {
		case <-t.C:
		case <-p.stop:
			t.Stop()
			return
		case <-p.e.ctx.Done():
			t.Stop()
			return
		}
		backoff = min(2*backoff, backoffMax)
	}
}

// rotate replaces c with a fresh connection, make-before-break: the side
// with the endpoint dials one with purpose "rotate"; a side without asks
// the other to. It runs once per connection; a failed dial is retried at
// the next keepalive tick.
func (p *peer) rotate(c *conn, why string) {
	if c.isDead() || c.rotating.Swap(true) {
		return
	}
	if p.cfg.Load().Endpoint == "" {
		p.e.log.Info("asking the peer to rotate the connection", "peer", p.name, "reason", why)
		c.rotateDue.Store(true)
		c.wakeWriter()
		return
	}
	p.e.log.Info("rotating the connection", "peer", p.name, "reason", why)
	p.e.goroutine(func() {
		if err := p.dialOnce(handshake.PurposeRotate); err != nil {
			p.e.log.Warn("rotation failed; retrying at the next keepalive", "peer", p.name, "err", err)
			c.rotating.Store(false)
		}
	})
}

func jitter(d time.Duration) time.Duration {
	return d*4/5 + time.Duration(rand.Int64N(int64(d)*2/5+1))
}

// dialOnce dials the endpoint, runs the handshake and attaches the session.
func (p *peer) dialOnce(purpose handshake.Purpose) error {
	e := p.e
	pc := p.cfg.Load()
	if purpose == handshake.PurposeConnect {
		p.mu.Lock()
		p.state = "connecting"
		p.mu.Unlock()
	}
	addr, err := e.resolve(pc.Endpoint)
	if err != nil {
		return err
	}
	ctx, cancel := context.WithTimeout(e.ctx, handshake.TLSTimeout+handshake.ParamsTimeout)
	defer cancel()
	raw, err := e.dial(ctx, "tcp", addr.String())
	if err != nil {
		return fmt.Errorf("dial %s: %w", addr, err)
	}
	e.tuneSocket(raw, pc.Keepalive)
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
	if q := e.routes.Load().lookup(a); q != nil {
		return netip.AddrPort{}, fmt.Errorf("endpoint %s resolves to %s, inside allowed_ips of peer %q: the tunnel would carry itself; refusing to dial", endpoint, a, q.name)
	}
	return netip.AddrPortFrom(a, uint16(pn)), nil
}

var errNoAddress = errors.New("no address")
