package handshake

import (
	"bytes"
	"encoding/binary"
	"encoding/hex"
	"errors"
	"fmt"
	"net"
	"sync"

	"github.com/tlsvpn/tlsvpn/internal/record"
)

// Stream is a session's connection after the parameter exchange: the TCP
// socket, and the session's TLS 1.3 record protection continued from
// crypto/tls by internal/record, so that the data path seals and opens
// records in its own buffers (docs/datapath.md). The records on the wire
// are those crypto/tls would have written: same keys, same sequence.
type Stream struct {
	Conn net.Conn       // the socket; the session's owner closes it
	Seal *record.Sealer // for the one goroutine that writes
	Open *record.Opener // for the one goroutine that reads
	// Buffered holds bytes already read from Conn past the parameter
	// message: the first records to open.
	Buffered []byte
}

// boundedConn carries the TLS handshake and the parameter exchange. It
// hands crypto/tls at most one record per Read, so that nothing after the
// peer's parameter message ends up buffered inside crypto/tls, and after
// the handshake it counts the records each way: the sequence numbers the
// Stream continues from.
type boundedConn struct {
	net.Conn
	buf  [2 * record.MaxCiphertext]byte
	r, w int // buf[r:w] is read from the socket, not yet handed over
	left int // bytes of the current record still to hand over; 0 at a header

	counting bool   // set once the handshake is complete
	rx       uint64 // records handed over while counting
	tx       uint64 // records written while counting
	txLeft   int    // bytes of the record being written still to come
	txHdr    []byte // a partly written header
}

func (c *boundedConn) Read(p []byte) (int, error) {
	if c.left == 0 {
		for c.w-c.r < record.HeaderLen {
			if err := c.fill(); err != nil {
				return 0, err
			}
		}
		c.left = record.HeaderLen + int(binary.BigEndian.Uint16(c.buf[c.r+3:]))
	}
	if c.r == c.w {
		if err := c.fill(); err != nil {
			return 0, err
		}
	}
	n := copy(p[:min(len(p), c.left)], c.buf[c.r:c.w])
	c.r += n
	c.left -= n
	if c.left == 0 && c.counting {
		c.rx++
	}
	return n, nil
}

// fill reads more from the socket.
func (c *boundedConn) fill() error {
	if c.r == c.w {
		c.r, c.w = 0, 0
	} else if c.w == len(c.buf) {
		c.w = copy(c.buf[:], c.buf[c.r:c.w])
		c.r = 0
	}
	n, err := c.Conn.Read(c.buf[c.w:])
	c.w += n
	if n > 0 {
		return nil
	}
	return err
}

func (c *boundedConn) Write(b []byte) (int, error) {
	n, err := c.Conn.Write(b)
	if c.counting {
		c.countWritten(b[:n])
	}
	return n, err
}

// countWritten follows the record headers in what was written.
func (c *boundedConn) countWritten(b []byte) {
	for len(b) > 0 {
		if c.txLeft == 0 {
			k := min(record.HeaderLen-len(c.txHdr), len(b))
			c.txHdr = append(c.txHdr, b[:k]...)
			b = b[k:]
			if len(c.txHdr) < record.HeaderLen {
				return
			}
			c.txLeft = int(binary.BigEndian.Uint16(c.txHdr[3:]))
			c.txHdr = c.txHdr[:0]
			c.tx++
			continue
		}
		k := min(c.txLeft, len(b))
		c.txLeft -= k
		b = b[k:]
	}
}

// rest returns what was read from the socket but not handed over.
func (c *boundedConn) rest() ([]byte, error) {
	if c.left != 0 || c.txLeft != 0 || len(c.txHdr) != 0 {
		return nil, errors.New("stream handover in the middle of a record")
	}
	return bytes.Clone(c.buf[c.r:c.w]), nil
}

// trafficSecrets takes the session's application traffic secrets from
// crypto/tls's key log callback. They stay in memory, are used once to
// derive the Stream's keys, and are then wiped.
type trafficSecrets struct {
	mu             sync.Mutex
	client, server []byte
}

func (t *trafficSecrets) Write(line []byte) (int, error) {
	label, rest, _ := bytes.Cut(bytes.TrimSpace(line), []byte(" "))
	_, secret, _ := bytes.Cut(rest, []byte(" "))
	var dst *[]byte
	switch string(label) {
	case "CLIENT_TRAFFIC_SECRET_0":
		dst = &t.client
	case "SERVER_TRAFFIC_SECRET_0":
		dst = &t.server
	default:
		return len(line), nil
	}
	b := make([]byte, hex.DecodedLen(len(secret)))
	if _, err := hex.Decode(b, secret); err != nil {
		return 0, fmt.Errorf("key log: %w", err)
	}
	t.mu.Lock()
	*dst = b
	t.mu.Unlock()
	return len(line), nil
}

func (t *trafficSecrets) wipe() {
	t.mu.Lock()
	clear(t.client)
	clear(t.server)
	t.mu.Unlock()
}

// stream continues the session from the records counted by bc.
func (s *Session) stream(bc *boundedConn, ts *trafficSecrets) (*Stream, error) {
	defer ts.wipe()
	ts.mu.Lock()
	read, write := ts.client, ts.server
	if s.Dialed {
		read, write = ts.server, ts.client
	}
	ts.mu.Unlock()
	if read == nil || write == nil {
		return nil, errors.New("continue the TLS session: crypto/tls reported no traffic secrets")
	}
	seal, err := record.NewSealer(s.State.CipherSuite, write, bc.tx)
	if err != nil {
		return nil, fmt.Errorf("continue the TLS session: %w", err)
	}
	open, err := record.NewOpener(s.State.CipherSuite, read, bc.rx)
	if err != nil {
		return nil, fmt.Errorf("continue the TLS session: %w", err)
	}
	rest, err := bc.rest()
	if err != nil {
		return nil, fmt.Errorf("continue the TLS session: %w", err)
	}
	return &Stream{Conn: bc.Conn, Seal: seal, Open: open, Buffered: rest}, nil
}
