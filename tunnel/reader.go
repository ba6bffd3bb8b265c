package tunnel

import (
	"errors"
	"fmt"
	"io"
	"net"
	"net/netip"
	"time"

	"github.com/tlsvpn/tlsvpn/internal/record"
	"github.com/tlsvpn/tlsvpn/internal/wire"
)

// readLoop is a connection's reader: it opens records, hands packets to
// the device and acts on control frames until the stream ends. It owns
// c.r and the Open half of the stream.
//
// A clean end of the peer's side (close_notify, or the socket's end) ends
// a live connection at once. Once either side has begun to leave (the
// peer said "replaced", or the connection is retiring), the writer still
// has its part to do, queued data and a goodbye, and ends the connection
// itself.
func (c *conn) readLoop() {
	err := c.read()
	switch {
	case errors.Is(err, io.EOF) && c.state() > connLive:
		return
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
			c.heard.records.Add(1)
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
		c.checkReceivedLimit()
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
		c.live.reader.park()
		n, err := c.st.Conn.Read(rbuf[rw:])
		c.live.reader.pass()
		if n > 0 {
			rw += n
			c.heard.lastRecv.Store(time.Now().UnixNano())
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
		c.flushRelay()
		c.p.ctr.rxBytes.Add(rxBytes)
		c.p.ctr.rxPackets.Add(rxPkts)
	}()
	allowedIPs := c.p.policy().allowedIPs
	for w-r >= wire.HeaderLen {
		t, n, err := wire.ParseHeader(buf[r:])
		if err != nil {
			return r, protocolError{err}
		}
		if w-r < wire.HeaderLen+n {
			break
		}
		frame := buf[r : r+wire.HeaderLen+n]
		payload := frame[wire.HeaderLen:]
		r += wire.HeaderLen + n
		switch t {
		case wire.TypePacket, wire.TypeFrame:
			if t != c.e.carries {
				return r, protocolErr("data frame of type %#x on a tunnel that carries type %#x (a TUN and a TAP node?)", uint8(t), uint8(c.e.carries))
			}
			rxBytes += uint64(n)
			rxPkts++
			if t == wire.TypeFrame {
				c.deliverFrame(frame)
			} else {
				c.deliver(payload, allowedIPs)
			}
		case wire.TypePing:
			if n == wire.PingLen {
				c.asks.pong.Store(wire.Uint64(payload))
				c.asks.pongDue.Store(true)
				c.wakeWriter()
			}
		case wire.TypeRotate:
			c.p.rotate(c, "asked by the peer")
		case wire.TypePong:
			if n == wire.PingLen {
				c.heard.rtt.Store(time.Now().UnixNano() - int64(wire.Uint64(payload)))
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
	if r := checkInbound(frame, c.e.dev.accept, c.e.dev.mtu, allowedIPs); r != dropNone {
		c.p.ctr.drop(r, 1)
		c.e.drops.note(r, c.p.name)
		return
	}
	c.r.wq = append(c.r.wq, frame)
	if len(c.r.wq) == cap(c.r.wq) {
		c.flushDevice()
	}
}

// flushDevice writes the queued packets: in one call when the device
// coalesces batches (the split path), else one write(2) each.
func (c *conn) flushDevice() {
	if len(c.r.wq) == 0 {
		return
	}
	if bw := c.e.dev.batch; bw != nil {
		if err := bw.WriteBatch(c.r.wq); err != nil {
			c.p.ctr.drop(dropTUNWrite, 1)
			c.e.drops.note(dropTUNWrite, c.p.name)
		}
	} else {
		for _, f := range c.r.wq {
			if err := c.e.dev.Write(f); err != nil {
				c.p.ctr.drop(dropTUNWrite, 1)
				c.e.drops.note(dropTUNWrite, c.p.name)
			}
		}
	}
	clear(c.r.wq)
	c.r.wq = c.r.wq[:0]
}

// closed handles the peer's Close frame. After "replaced" the peer has a
// newer connection that may not have reached us yet: we keep sending here
// (the peer reads until we close) until it arrives and retires this one,
// or retireTimeout passes. Any other reason retires it now, and our
// goodbye answers with the same reason.
func (c *conn) closed(payload []byte) {
	reason := wire.CloseProtocol
	if len(payload) > 0 {
		reason = wire.CloseReason(payload[0])
	}
	c.e.log.Info("peer closed the connection", "peer", c.p.name, "remote", c.remote(), "reason", reason.String())
	if reason == wire.CloseReplaced {
		c.superseded()
		return
	}
	c.retire(reason)
}
