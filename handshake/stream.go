package handshake

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"net"
	"strconv"

	"github.com/tlsvpn/tlsvpn/internal/record"
)

// Stream is a session's connection after the parameter exchange: the TCP
// socket, and TLS 1.3 records (internal/record) in each direction under
// keys exported from the session, so that the data path seals and opens
// records in its own buffers (docs/datapath.md, docs/protocol.md).
type Stream struct {
	Conn net.Conn       // the socket; the session's owner closes it
	Seal *record.Sealer // for the one goroutine that writes
	Open *record.Opener // for the one goroutine that reads
	// Buffered holds bytes already read from Conn past the parameter
	// message: the first records to open.
	Buffered []byte
}

// Exporter contexts of the Stream's secrets (RFC 8446 §7.5): one secret
// per direction, named by who sends.
const (
	contextDialer   = "sent by the dialer"
	contextListener = "sent by the listener"
)

// recordLabel is the exporter label of the record keys of a protocol
// version. The label names what the keys are for (RFC 5705 §4), here the
// record format, so it carries the version: keys of one version never open
// another's records. Labels starting with "EXPERIMENTAL" need no IANA
// registration.
func recordLabel(version int) string {
	return "EXPERIMENTAL-tlsvpn-records-v" + strconv.Itoa(version)
}

// stream derives the Stream's keys from the session and takes over the
// socket from crypto/tls.
func (s *Session) stream(bc *boundedConn) (*Stream, error) {
	suite := s.State.CipherSuite
	n, err := record.SecretLen(suite)
	if err != nil {
		return nil, fmt.Errorf("derive record keys: %w", err)
	}
	mine, theirs := contextDialer, contextListener
	if !s.Dialed {
		mine, theirs = theirs, mine
	}
	label := recordLabel(ProtocolVersion)
	write, err := s.State.ExportKeyingMaterial(label, []byte(mine), n)
	if err != nil {
		return nil, fmt.Errorf("derive record keys: %w", err)
	}
	defer clear(write)
	read, err := s.State.ExportKeyingMaterial(label, []byte(theirs), n)
	if err != nil {
		return nil, fmt.Errorf("derive record keys: %w", err)
	}
	defer clear(read)
	seal, err := record.NewSealer(suite, write)
	if err != nil {
		return nil, fmt.Errorf("derive record keys: %w", err)
	}
	open, err := record.NewOpener(suite, read)
	if err != nil {
		return nil, fmt.Errorf("derive record keys: %w", err)
	}
	return &Stream{Conn: bc.Conn, Seal: seal, Open: open, Buffered: bc.rest()}, nil
}

// errHandedOver is what crypto/tls reads once the parameter exchange is
// over: the socket belongs to the Stream.
var errHandedOver = errors.New("the connection was handed over to the record layer")

// boundedConn carries the TLS handshake and the parameter exchange. It
// hands crypto/tls at most one record per Read, so that nothing the peer
// sends after its parameter message ends up buffered inside crypto/tls,
// where the Stream could not reach it.
type boundedConn struct {
	net.Conn
	buf       [2 * record.MaxCiphertext]byte
	r, w      int  // buf[r:w] is read from the socket, not yet handed over
	left      int  // bytes of the current record still to hand over; 0 at a header
	handedOff bool // Read returns errHandedOver
}

func (c *boundedConn) Read(p []byte) (int, error) {
	if c.handedOff {
		return 0, errHandedOver
	}
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

// rest returns what was read from the socket but not handed to crypto/tls.
func (c *boundedConn) rest() []byte {
	return bytes.Clone(c.buf[c.r:c.w])
}
