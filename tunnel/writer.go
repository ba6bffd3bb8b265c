package tunnel

import (
	"time"

	"github.com/tlsvpn/tlsvpn/internal/record"
	"github.com/tlsvpn/tlsvpn/internal/wire"
)

// writeLoop is a connection's writer: it seals queued batches (express
// first) and control frames into records, pings every keepalive interval,
// and says goodbye when the connection retires. It owns c.w and the Seal
// half of the stream.
func (c *conn) writeLoop() {
	ticker := time.NewTicker(c.ka)
	defer ticker.Stop()
	var expiry <-chan time.Time
	if !c.sess.Expires.IsZero() {
		t := time.NewTimer(time.Until(c.sess.Expires))
		defer t.Stop()
		expiry = t.C
	}
	var replaced <-chan time.Time // retireTimeout after the peer said "replaced"
	ctlBuf := make([]byte, 0, 64) // control frames, with a spare byte for the record layer
	for {
		var err error
		c.live.writer.park()
		select {
		case b := <-c.q.express:
			c.live.writer.pass()
			if err = c.writeBatches(b); err == nil {
				c.checkSentLimit()
			}
		case b := <-c.q.out:
			c.live.writer.pass()
			if err = c.writeBatches(b); err == nil {
				c.checkSentLimit()
			}
		case <-c.asks.wake:
			c.live.writer.pass()
			err = c.writeControl(ctlBuf)
			if c.state() == connSuperseded && replaced == nil {
				t := time.NewTimer(retireTimeout)
				defer t.Stop()
				replaced = t.C
			}
		case <-replaced:
			c.live.writer.pass()
			c.retire(wire.CloseReplaced) // the replacement never reached us
		case now := <-ticker.C:
			c.live.writer.pass()
			if err = c.keepalive(now, ctlBuf); err != nil {
				break
			}
			if why := c.rotationDue(now); why != "" {
				c.p.rotate(c, why)
			}
		case <-expiry:
			c.live.writer.pass()
			c.e.log.Warn("closing tunnel: peer certificate expired", "peer", c.p.name, "remote", c.remote(),
				"expired", c.sess.Expires.UTC().Format(time.RFC3339))
			c.setErr(errExpired)
			c.retire(wire.CloseExpired)
		case r := <-c.life.leave:
			c.live.writer.pass()
			c.finish(r)
			return
		case <-c.life.dead:
			return
		}
		if err != nil {
			c.kill(err)
			return
		}
	}
}

// writeControl writes the control frames the reader or a rotation asked for.
func (c *conn) writeControl(buf []byte) error {
	if c.asks.pongDue.Swap(false) {
		var v [wire.PingLen]byte
		wire.PutUint64(v[:], c.asks.pong.Load())
		if err := c.send(wire.AppendFrame(buf[:0], wire.TypePong, v[:])); err != nil {
			return err
		}
	}
	if c.asks.rotate.Swap(false) {
		if err := c.send(wire.AppendFrame(buf[:0], wire.TypeRotate, nil)); err != nil {
			return err
		}
	}
	return nil
}

// wakeWriter makes the writer look at its asks. Any goroutine may call it.
func (c *conn) wakeWriter() {
	select {
	case c.asks.wake <- struct{}{}:
	default:
	}
}

// send seals frames (with a spare byte of capacity) into records and
// writes them.
func (c *conn) send(frames []byte) error {
	var err error
	if c.w.buf, err = c.st.Seal.Append(c.w.buf[:0], frames, record.TypeApplicationData); err != nil {
		return err
	}
	_, err = c.write(c.w.buf)
	return err
}

func (c *conn) keepalive(now time.Time, buf []byte) error {
	if silent := now.Sub(time.Unix(0, c.heard.lastRecv.Load())); silent > DeadAfter*c.ka {
		return errDead
	}
	var v [wire.PingLen]byte
	wire.PutUint64(v[:], uint64(now.UnixNano()))
	return c.send(wire.AppendFrame(buf[:0], wire.TypePing, v[:]))
}

// writeBatches seals b and whatever else is queued, up to writeBatches
// bulk batches, express batches ahead of bulk ones, and writes the records
// with one write(2).
func (c *conn) writeBatches(b *batch) error {
	c.w.buf = c.w.buf[:0]
	now := time.Now().UnixNano()
	for i := 0; ; i++ {
		if !b.express && c.w.aqm.signal(now, now-b.enq, len(c.q.out)) {
			if congest(b) {
				c.p.ctr.drop(dropAQM, 1)
			} else {
				c.p.ctr.ecnMarks.Add(1)
			}
		}
		if err := c.sealExpress(); err != nil {
			putBatch(b)
			return err
		}
		if err := c.sealBatch(b); err != nil {
			return err
		}
		if i == writeBatches-1 || len(c.q.out) == 0 {
			break
		}
		b = <-c.q.out
	}
	if err := c.sealExpress(); err != nil {
		return err
	}
	_, err := c.write(c.w.buf)
	return err
}

// sealExpress seals the queued express batches.
func (c *conn) sealExpress() error {
	for len(c.q.express) > 0 {
		if err := c.sealBatch(<-c.q.express); err != nil {
			return err
		}
	}
	return nil
}

// sealBatch seals one batch onto the writer's buffer and recycles it.
func (c *conn) sealBatch(b *batch) error {
	var err error
	c.w.buf, err = c.st.Seal.Append(c.w.buf, b.buf[:b.n], record.TypeApplicationData)
	c.p.ctr.txBytes.Add(uint64(b.n))
	c.p.ctr.txPackets.Add(uint64(b.pkts))
	putBatch(b)
	return err
}

// finish is the writer's part of retiring: it drains the queue, closes
// it, drains what came meanwhile, says goodbye and half-closes; the
// reader ends the connection when the peer closes its side or
// retireTimeout passes.
func (c *conn) finish(r wire.CloseReason) {
	if !c.drain() {
		return
	}
	c.q.mu.Lock() // waits for a queueing TUN reader; later batches go to the peer's current connection
	c.move(connDraining)
	c.q.mu.Unlock()
	if !c.drain() {
		return
	}
	if err := c.goodbye(r); err != nil {
		c.kill(err)
		return
	}
	c.move(connClosing)
	if cw, ok := c.st.Conn.(interface{ CloseWrite() error }); ok {
		cw.CloseWrite()
	}
	c.st.Conn.SetReadDeadline(time.Now().Add(retireTimeout))
}

// drain writes every queued batch; false when the connection died.
func (c *conn) drain() bool {
	for len(c.q.out) > 0 || len(c.q.express) > 0 {
		var b *batch
		select {
		case b = <-c.q.express:
		case b = <-c.q.out:
		}
		if err := c.writeBatches(b); err != nil {
			c.kill(err)
			return false
		}
	}
	return true
}

// closeNotify is the content of a close_notify alert (RFC 8446 §6.1):
// level warning, description close_notify, and the spare byte.
var closeNotify = [3]byte{1, record.AlertCloseNotify}

// goodbye writes a Close frame and close_notify: the last records of this
// connection. Only the writer calls it, or attachSession on a connection
// it refuses, before any goroutine started.
func (c *conn) goodbye(r wire.CloseReason) error {
	msg := append([]byte{byte(r)}, r.String()...)
	frame := wire.AppendFrame(make([]byte, 0, wire.HeaderLen+len(msg)+1), wire.TypeClose, msg)
	out, err := c.st.Seal.Append(c.w.buf[:0], frame, record.TypeApplicationData)
	if err == nil {
		alert := closeNotify
		out, err = c.st.Seal.Append(out, alert[:2], record.TypeAlert)
	}
	if err != nil {
		return err
	}
	c.st.Conn.SetWriteDeadline(time.Now().Add(retireTimeout))
	_, err = c.write(out)
	return err
}
