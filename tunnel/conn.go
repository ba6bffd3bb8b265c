package tunnel

import (
	"errors"
	"fmt"
	"io"
	"net"
	"net/netip"
	"sync"
	"sync/atomic"
	"time"

	"github.com/tlsvpn/tlsvpn/handshake"
	"github.com/tlsvpn/tlsvpn/internal/record"
	"github.com/tlsvpn/tlsvpn/internal/wire"
	"github.com/tlsvpn/tlsvpn/netif"
)

// Connection tuning.
const (
	queueLen      = 8               // batches waiting for one connection's writer
	writeBatches  = 4               // batches the writer seals into one write(2)
	deviceBatch   = 128             // packets the reader hands the device at once
	recordBufSize = 256 << 10       // the reader's buffer of records as read from the socket
	plainBufSize  = 512 << 10       // the reader's buffer of opened frames: a read's worth plus a partial frame
	retireTimeout = 5 * time.Second // how long a retired connection may take to drain
)

// conn is one authenticated connection to a peer, with a writer goroutine
// (batches and control frames sealed into TLS records) and a reader
// goroutine (records opened, packets to the device). kill closes it at
// once; retire closes it after what is queued.
type conn struct {
	e      *Engine
	p      *peer
	sess   *handshake.Session
	st     *handshake.Stream // Seal belongs to the writer, Open to the reader
	wbuf   []byte            // the writer's sealed records, reused
	accept netif.Offload     // GSO types the peer accepts
	since  time.Time
	ka     time.Duration

	out      chan *batch   // bulk batches
	express  chan *batch   // batches of sparse flows, written first
	ctl      chan struct{} // wakes the writer for a pong
	pongVal  atomic.Uint64
	pongDue  atomic.Bool
	retiring chan wire.CloseReason // one retire request
	dead     chan struct{}         // closed by kill
	done     chan struct{}         // closed when both goroutines have returned
	killOnce sync.Once
	err      atomic.Value // error that ended the connection

	lastRecv atomic.Int64 // unix nanos of the last frame read
	rtt      atomic.Int64 // last keepalive round trip, nanoseconds

	rxRecords atomic.Uint64 // records opened, for rotation (the sent ones are the Sealer's sequence number)
	// The writer and the reader each start a rotation once, as soon as
	// their direction reaches the record limit; the keepalive retries.
	sentLimitSeen, recvLimitSeen bool
	rotating                     atomic.Bool // a rotation of this connection is under way
	rotateDue                    atomic.Bool // the writer owes the peer a Rotate frame

	sendMu  sync.RWMutex // the TUN reader holds it shared while queueing; finish takes it to stop that
	retired bool         // no more batches may be queued

	peerReplaced atomic.Int64 // unix nanos of the peer's Close "replaced"; 0 before

	wq           [][]byte    // the reader's validated packets, written to the device together
	aqm          codel       // the writer's CoDel state for the bulk queue
	rerouteTimer *time.Timer // for handOver's reroutes
}

func newConn(e *Engine, p *peer, s *handshake.Session) *conn {
	c := &conn{
		e: e, p: p, sess: s, st: s.Stream,
		accept: netif.OffloadFromNames(s.Remote.GSO), since: time.Now(), ka: p.keepalive(),
		out: make(chan *batch, queueLen), express: make(chan *batch, queueLen), ctl: make(chan struct{}, 1),
		retiring: make(chan wire.CloseReason, 1), dead: make(chan struct{}), done: make(chan struct{}),
	}
	c.lastRecv.Store(time.Now().UnixNano())
	c.wq = make([][]byte, 0, deviceBatch)
	c.rerouteTimer = time.NewTimer(time.Hour)
	c.rerouteTimer.Stop()
	return c
}

func (c *conn) start() {
	var wg sync.WaitGroup
	wg.Add(2)
	c.e.goroutine(func() { defer wg.Done(); c.writeLoop() })
	c.e.goroutine(func() { defer wg.Done(); c.readLoop() })
	c.e.goroutine(func() {
		wg.Wait()
		c.kill(nil) // closes the socket if neither loop did
		c.p.detach(c)
		c.handOver()
		close(c.done)
	})
}

// kill closes the connection now; err says why (nil for a clean end).
func (c *conn) kill(err error) {
	c.killOnce.Do(func() {
		if err != nil {
			c.err.Store(err)
		}
		close(c.dead)
		c.st.Conn.Close()
	})
}

// retire asks the writer to send what is queued, then a Close frame and
// close_notify; the reader keeps delivering until the peer's side ends.
func (c *conn) retire(r wire.CloseReason) {
	select {
	case c.retiring <- r:
	default:
	}
}

func (c *conn) isDead() bool {
	select {
	case <-c.dead:
		return true
	default:
		return false
	}
}

func waitRetired(conns []*conn, d time.Duration) {
	deadline := time.NewTimer(d)
	defer deadline.Stop()
	for _, c := range conns {
		select {
		case <-c.done:
		case <-deadline.C:
			for _, c := range conns {
				c.kill(errors.New("shutdown timeout"))
			}
			return
		}
	}
}

func (c *conn) writeLoop() {
	ticker := time.NewTicker(c.ka)
	defer ticker.Stop()
	var expiry <-chan time.Time
	if !c.sess.Expires.IsZero() {
		t := time.NewTimer(time.Until(c.sess.Expires))
		defer t.Stop()
		expiry = t.C
	}
	ctlBuf := make([]byte, 0, 64) // control frames, with a spare byte for the record layer
	for {
		select {
		case b := <-c.express:
			if err := c.writeBatches(b); err != nil {
				c.kill(err)
				return
			}
			c.checkRecordLimit()
		case b := <-c.out:
			if err := c.writeBatches(b); err != nil {
				c.kill(err)
				return
			}
			c.checkRecordLimit()
		case <-c.ctl:
			if err := c.writeControl(ctlBuf); err != nil {
				c.kill(err)
				return
			}
		case now := <-ticker.C:
			if err := c.keepalive(now, ctlBuf); err != nil {
				c.kill(err)
				return
			}
			if why := c.rotationDue(now); why != "" {
				c.p.rotate(c, why)
			}
			if pr := c.peerReplaced.Load(); pr != 0 && now.Sub(time.Unix(0, pr)) > retireTimeout {
				c.p.detach(c) // the replacement never reached us
				c.finish(wire.CloseReplaced)
				return
			}
		case <-expiry:
			c.e.log.Warn("closing tunnel: peer certificate expired", "peer", c.p.name, "remote", c.remote(),
				"expired", c.sess.Expires.UTC().Format(time.RFC3339))
			c.err.Store(errExpired)
			c.p.detach(c)
			c.finish(wire.CloseExpired)
			return
		case r := <-c.retiring:
			c.finish(r)
			return
		case <-c.dead:
			return
		}
	}
}

var errExpired = errors.New("the peer's certificate chain expired")

// writeControl writes the control frames the reader or a rotation asked for.
func (c *conn) writeControl(buf []byte) error {
	if c.pongDue.Swap(false) {
		var v [wire.PingLen]byte
		wire.PutUint64(v[:], c.pongVal.Load())
		if err := c.send(wire.AppendFrame(buf[:0], wire.TypePong, v[:])); err != nil {
			return err
		}
	}
	if c.rotateDue.Swap(false) {
		if err := c.send(wire.AppendFrame(buf[:0], wire.TypeRotate, nil)); err != nil {
			return err
		}
	}
	return nil
}

// send seals frames (with a spare byte of capacity) into records and
// writes them. Only the writer calls it.
func (c *conn) send(frames []byte) error {
	var err error
	if c.wbuf, err = c.st.Seal.Append(c.wbuf[:0], frames, record.TypeApplicationData); err != nil {
		return err
	}
	_, err = c.st.Conn.Write(c.wbuf)
	return err
}

// closeNotify is the content of a close_notify alert (RFC 8446 §6.1):
// level warning, description close_notify, and the spare byte.
var closeNotify = [3]byte{1, record.AlertCloseNotify}

// goodbye writes a Close frame and close_notify: the last records of this
// connection. Only the writer calls it, or the attacher before the loops
// start.
func (c *conn) goodbye(r wire.CloseReason) error {
	msg := append([]byte{byte(r)}, r.String()...)
	frame := wire.AppendFrame(make([]byte, 0, wire.HeaderLen+len(msg)+1), wire.TypeClose, msg)
	out, err := c.st.Seal.Append(c.wbuf[:0], frame, record.TypeApplicationData)
	if err == nil {
		alert := closeNotify
		out, err = c.st.Seal.Append(out, alert[:2], record.TypeAlert)
	}
	if err != nil {
		return err
	}
	c.st.Conn.SetWriteDeadline(time.Now().Add(retireTimeout))
	_, err = c.st.Conn.Write(out)
	return err
}

// wakeWriter makes the writer look at the control flags.
func (c *conn) wakeWriter() {
	select {
	case c.ctl <- struct{}{}:
	default:
	}
}

// checkRecordLimit starts the rotation as soon as the connection has sent
// rotateRecords records, without waiting for the keepalive tick, which
// retries a rotation that failed. Only the writer calls it.
func (c *conn) checkRecordLimit() {
	if !c.sentLimitSeen && c.st.Seal.Seq() >= c.e.rotateRecords {
		c.sentLimitSeen = true
		c.p.rotate(c, "record limit (sent)")
	}
}

// rotationDue says why the connection must be replaced, or "": AES-GCM's
// per-key record limit approaches (keys are never updated in place), or the
// connection reached its maximum age.
func (c *conn) rotationDue(now time.Time) string {
	switch {
	case c.st.Seal.Seq() >= c.e.rotateRecords:
		return "record limit (sent)"
	case c.rxRecords.Load() >= c.e.rotateRecords:
		return "record limit (received)"
	case now.Sub(c.since) >= c.e.rotateAge:
		return "maximum age"
	}
	return ""
}

// writeBatches seals b and whatever else is queued, up to writeBatches
// bulk batches, express batches ahead of bulk ones, and writes the records
// with one write(2).
func (c *conn) writeBatches(b *batch) error {
	c.wbuf = c.wbuf[:0]
	now := time.Now().UnixNano()
	for i := 0; ; i++ {
		if !b.express && c.aqm.signal(now, now-b.enq, len(c.out)) {
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
		if i == writeBatches-1 || len(c.out) == 0 {
			break
		}
		b = <-c.out
	}
	if err := c.sealExpress(); err != nil {
		return err
	}
	_, err := c.st.Conn.Write(c.wbuf)
	return err
}

// sealExpress seals the queued express batches.
func (c *conn) sealExpress() error {
	for len(c.express) > 0 {
		if err := c.sealBatch(<-c.express); err != nil {
			return err
		}
	}
	return nil
}

// sealBatch seals one batch onto the writer's buffer and recycles it.
func (c *conn) sealBatch(b *batch) error {
	var err error
	c.wbuf, err = c.st.Seal.Append(c.wbuf, b.buf[:b.n], record.TypeApplicationData)
	c.p.ctr.txBytes.Add(uint64(b.n))
	c.p.ctr.txPackets.Add(uint64(b.pkts))
	putBatch(b)
	return err
}

func (c *conn) keepalive(now time.Time, buf []byte) error {
	if silent := now.Sub(time.Unix(0, c.lastRecv.Load())); silent > DeadAfter*c.ka {
		return errDead
	}
	var v [wire.PingLen]byte
	wire.PutUint64(v[:], uint64(now.UnixNano()))
	return c.send(wire.AppendFrame(buf[:0], wire.TypePing, v[:]))
}

var errDead = errors.New("keepalive timeout: nothing received for 3 intervals")

// finish drains the queue, says goodbye and half-closes; the reader ends
// the connection when the peer closes its side or retireTimeout passes.
func (c *conn) finish(r wire.CloseReason) {
	if !c.drain() {
		return
	}
	c.sendMu.Lock() // waits for a queueing TUN reader; later batches go to the new connection
	c.retired = true
	c.sendMu.Unlock()
	if !c.drain() {
		return
	}
	if err := c.goodbye(r); err != nil {
		c.kill(err)
		return
	}
	if cw, ok := c.st.Conn.(interface{ CloseWrite() error }); ok {
		cw.CloseWrite()
	}
	c.st.Conn.SetReadDeadline(time.Now().Add(retireTimeout))
}

// handOver stops queueing on a finished connection and moves what is still
// queued to the peer's current connection, if any.
func (c *conn) handOver() {
	c.sendMu.Lock()
	c.retired = true
	c.sendMu.Unlock()
	for {
		select {
		case b := <-c.express:
			c.e.reroute(b, c.rerouteTimer)
		case b := <-c.out:
			c.e.reroute(b, c.rerouteTimer)
		default:
			return
		}
	}
}

// drain writes every queued batch; false when the connection died.
func (c *conn) drain() bool {
	for len(c.out) > 0 || len(c.express) > 0 {
		var b *batch
		select {
		case b = <-c.express:
		case b = <-c.out:
		}
		if err := c.writeBatches(b); err != nil {
			c.kill(err)
			return false
		}
	}
	return true
}

func (c *conn) readLoop() {
	err := c.read()
	switch {
	case errors.Is(err, io.EOF) && c.peerReplaced.Load() != 0:
		return // the peer moved to a newer connection; our writer ends this one
	case errors.Is(err, io.EOF), errors.Is(err, net.ErrClosed):
		err = nil
	case errors.As(err, new(protocolError)):
		c.e.log.Warn("protocol error", "peer", c.p.name, "remote", c.remote(), "err", err)
	}
	c.kill(err)
}

// protocolError is something the peer sent wrong. It ends the connection
// with a log line.
type protocolError struct{ err error }

func (e protocolError) Error() string { return e.err.Error() }
func (e protocolError) Unwrap() error { return e.err }

func protocolErr(format string, args ...any) error { return protocolError{fmt.Errorf(format, args...)} }

// read reads records from the socket into one buffer, opens each into a
// second one and hands the frames to parse, until the stream ends:
// io.EOF after close_notify or a clean end of the socket.
func (c *conn) read() error {
	rbuf := make([]byte, recordBufSize)
	pbuf := make([]byte, plainBufSize)
	rw := copy(rbuf, c.st.Buffered)
	c.st.Buffered = nil
	var rr, pr, pw int // rbuf[rr:rw] is unopened; pbuf[pr:pw] is unparsed
	for {
		// Open every whole record. stop ends the reader once the frames
		// of the records before it are delivered.
		var stop error
	open:
		for rw-rr >= record.HeaderLen {
			n, err := record.ParseHeader(rbuf[rr:rw])
			if err != nil {
				stop = protocolError{err}
				break
			}
			end := rr + record.HeaderLen + n
			if end > rw {
				break
			}
			if len(pbuf)-pw < n {
				if pr, err = c.parse(pbuf, pr, pw); err != nil {
					return err
				}
				pw = copy(pbuf, pbuf[pr:pw])
				pr = 0
			}
			typ, out, err := c.st.Open.Open(pbuf[:pw], rbuf[rr:rr+record.HeaderLen], rbuf[rr+record.HeaderLen:end])
			if err != nil {
				stop = protocolError{err}
				break
			}
			rr = end
			c.rxRecords.Add(1)
			switch typ {
			case record.TypeApplicationData:
				pw = len(out)
			case record.TypeAlert:
				stop = alertError(out[pw:])
				break open
			default:
				stop = protocolErr("unexpected TLS record of type %d after the handshake (a KeyUpdate or session ticket?); tlsvpn sends neither", typ)
				break open
			}
		}
		if pw > pr {
			var err error
			if pr, err = c.parse(pbuf, pr, pw); err != nil {
				return err
			}
			if pr == pw {
				pr, pw = 0, 0
			}
		}
		if !c.recvLimitSeen && c.rxRecords.Load() >= c.e.rotateRecords {
			c.recvLimitSeen = true
			c.p.rotate(c, "record limit (received)")
		}
		if stop != nil {
			if errors.Is(stop, io.EOF) && pr < pw {
				return protocolErr("close_notify inside a frame")
			}
			return stop
		}
		if rr == rw {
			rr, rw = 0, 0
		} else if len(rbuf)-rw < record.HeaderLen+record.MaxCiphertext {
			rw = copy(rbuf, rbuf[rr:rw])
			rr = 0
		}
		n, err := c.st.Conn.Read(rbuf[rw:])
		if n > 0 {
			rw += n
			c.lastRecv.Store(time.Now().UnixNano())
		}
		if err != nil {
			switch {
			case !errors.Is(err, io.EOF):
			case rw > rr:
				return protocolErr("the stream ended inside a TLS record")
			case pr < pw:
				return protocolErr("the stream ended inside a frame")
			}
			return err
		}
	}
}

// alertError turns a received alert into the error that ends the reader:
// io.EOF for close_notify.
func alertError(a []byte) error {
	switch {
	case len(a) != 2:
		return protocolErr("malformed TLS alert of %d bytes", len(a))
	case a[1] == record.AlertCloseNotify:
		return io.EOF
	}
	return fmt.Errorf("the peer sent TLS alert %d", a[1])
}

// parse handles every whole frame in buf[r:w] and returns where the first
// incomplete one starts.
func (c *conn) parse(buf []byte, r, w int) (int, error) {
	var rxBytes, rxPkts uint64
	defer func() {
		c.flushDevice()
		c.p.ctr.rxBytes.Add(rxBytes)
		c.p.ctr.rxPackets.Add(rxPkts)
	}()
	allowedIPs := c.p.allowedIPs()
	for w-r >= wire.HeaderLen {
		t, n, err := wire.ParseHeader(buf[r:])
		if err != nil {
			return r, protocolError{err}
		}
		if w-r < wire.HeaderLen+n {
			break
		}
		payload := buf[r+wire.HeaderLen : r+wire.HeaderLen+n]
		r += wire.HeaderLen + n
		switch t {
		case wire.TypePacket:
			rxBytes += uint64(n)
			rxPkts++
			c.deliver(payload, allowedIPs)
		case wire.TypePing:
			if n == wire.PingLen {
				c.pongVal.Store(wire.Uint64(payload))
				c.pongDue.Store(true)
				c.wakeWriter()
			}
		case wire.TypeRotate:
			c.p.rotate(c, "asked by the peer")
		case wire.TypePong:
			if n == wire.PingLen {
				c.rtt.Store(time.Now().UnixNano() - int64(wire.Uint64(payload)))
			}
		case wire.TypeClose:
			c.closed(payload)
		default:
			if !t.Optional() {
				return r, protocolError{errUnknownFrame{t}}
			}
		}
	}
	return r, nil
}

type errUnknownFrame struct{ t wire.Type }

func (e errUnknownFrame) Error() string { return fmt.Sprintf("unknown frame type %#x", uint8(e.t)) }

// deliver validates one packet frame and queues it for the device; the
// queue is written when full and at the end of each parse.
func (c *conn) deliver(frame []byte, allowedIPs []netip.Prefix) {
	if r := checkInbound(frame, c.e.accept, c.e.mtu, allowedIPs); r != dropNone {
		c.p.ctr.drop(r, 1)
		c.e.rateLog(r, c.p.name)
		return
	}
	c.wq = append(c.wq, frame)
	if len(c.wq) == cap(c.wq) {
		c.flushDevice()
	}
}

// flushDevice writes the queued packets: in one call when the device
// coalesces batches (the split path), else one write(2) each.
func (c *conn) flushDevice() {
	if len(c.wq) == 0 {
		return
	}
	if bw := c.e.batchDev; bw != nil {
		if err := bw.WriteBatch(c.wq); err != nil {
			c.p.ctr.drop(dropTUNWrite, 1)
			c.e.rateLog(dropTUNWrite, c.p.name)
		}
	} else {
		for _, f := range c.wq {
			if err := c.e.dev.Write(f); err != nil {
				c.p.ctr.drop(dropTUNWrite, 1)
				c.e.rateLog(dropTUNWrite, c.p.name)
			}
		}
	}
	clear(c.wq)
	c.wq = c.wq[:0]
}

// closed handles the peer's Close frame. After "replaced" the peer has a
// newer connection that may not have reached us yet: we keep sending here
// (the peer reads until we close) until it arrives and retires this one,
// or the peer's retire timeout ends it. Any other reason ends it now.
func (c *conn) closed(payload []byte) {
	reason := wire.CloseProtocol
	if len(payload) > 0 {
		reason = wire.CloseReason(payload[0])
	}
	c.e.log.Info("peer closed the connection", "peer", c.p.name, "remote", c.remote(), "reason", reason.String())
	if reason == wire.CloseReplaced {
		c.peerReplaced.Store(time.Now().UnixNano())
		return
	}
	c.p.detach(c)
	c.retire(reason) // answer with the same reason
}

func (c *conn) remote() string { return c.st.Conn.RemoteAddr().String() }
