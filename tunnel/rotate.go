package tunnel

import (
	"time"

	"github.com/tlsvpn/tlsvpn/handshake"
)

// rotationLimits say when a connection is replaced by a fresh one, with
// fresh keys (Config.RotateAge, Config.RotateRecords).
type rotationLimits struct {
	age     time.Duration
	records uint64 // TLS records either way
}

// rotate replaces c with a fresh connection, make-before-break: the side
// with the endpoint dials one with purpose "rotate"; a side without asks
// the other to. It runs once per connection; a failed dial is retried at
// the next keepalive tick. Any goroutine may call it.
func (p *peer) rotate(c *conn, why string) {
	if c.isDead() || c.rotating.Swap(true) {
		return
	}
	if !p.policy().dials() {
		p.e.log.Info("asking the peer to rotate the connection", "peer", p.name, "reason", why)
		c.asks.rotate.Store(true)
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

// isRotation reports whether s replaces a live connection.
func isRotation(s *handshake.Session) bool {
	return s.Local.Purpose == handshake.PurposeRotate || s.Remote.Purpose == handshake.PurposeRotate
}

// checkSentLimit starts the rotation as soon as the connection has sent
// the record limit, without waiting for the keepalive tick, which
// retries a rotation that failed. Only the writer calls it.
func (c *conn) checkSentLimit() {
	if !c.w.limitSeen && c.st.Seal.Seq() >= c.e.limits.records {
		c.w.limitSeen = true
		c.p.rotate(c, "record limit (sent)")
	}
}

// checkReceivedLimit is checkSentLimit for the records received. Only the
// reader calls it.
func (c *conn) checkReceivedLimit() {
	if !c.r.limitSeen && c.heard.records.Load() >= c.e.limits.records {
		c.r.limitSeen = true
		c.p.rotate(c, "record limit (received)")
	}
}

// rotationDue says why the connection must be replaced, or "": AES-GCM's
// per-key record limit approaches (keys are never updated in place), or the
// connection reached its maximum age. Only the writer calls it.
func (c *conn) rotationDue(now time.Time) string {
	switch {
	case c.st.Seal.Seq() >= c.e.limits.records:
		return "record limit (sent)"
	case c.heard.records.Load() >= c.e.limits.records:
		return "record limit (received)"
	case now.Sub(c.since) >= c.e.limits.age:
		return "maximum age"
	}
	return ""
}
