package handshake

import (
	"bytes"
	"context"
	"crypto/tls"
	"encoding/json"
	"io"
	"log/slog"
	"net"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/tlsvpn/tlsvpn/internal/certtest"
	"github.com/tlsvpn/tlsvpn/internal/record"
	"github.com/tlsvpn/tlsvpn/internal/trust"
	"github.com/tlsvpn/tlsvpn/internal/wire"
)

// streamReader reads a Stream's records: Buffered first, then the socket.
type streamReader struct {
	st *Stream
	r  io.Reader
}

func newStreamReader(st *Stream) *streamReader {
	return &streamReader{st: st, r: io.MultiReader(bytes.NewReader(st.Buffered), st.Conn)}
}

func (sr *streamReader) next() (record.ContentType, []byte, error) {
	hdr := make([]byte, record.HeaderLen)
	if _, err := io.ReadFull(sr.r, hdr); err != nil {
		return 0, nil, err
	}
	n, err := record.ParseHeader(hdr)
	if err != nil {
		return 0, nil, err
	}
	body := make([]byte, n)
	if _, err := io.ReadFull(sr.r, body); err != nil {
		return 0, nil, err
	}
	return sr.st.Open.Open(nil, hdr, body)
}

// expect reads the next record and reports whether it carries want.
func expect(t *testing.T, st *Stream, who, want string) {
	typ, got, err := newStreamReader(st).next()
	if err != nil || typ != record.TypeApplicationData || string(got) != want {
		t.Errorf("%s opened %q (type %d), %v; want %q", who, got, typ, err, want)
	}
}

func seal(t *testing.T, st *Stream, content []byte) []byte {
	out, err := st.Seal.Append(nil, append(content[:len(content):len(content)], 0)[:len(content)], record.TypeApplicationData)
	if err != nil {
		t.Error(err)
	}
	return out
}

func pair(t *testing.T) (server, client *Handshaker) {
	f := certtest.New(t, now)
	discard := slog.New(slog.NewTextHandler(io.Discard, nil))
	server = New("office-a", credsFor(t, f.Leaf(certtest.LeafOpts{Names: []string{"office-a"}, EKU: bothEKU}), f, nil),
		[]PeerPolicy{{Name: "office-b"}}, discard, func() time.Time { return now })
	client = New("office-b", credsFor(t, f.Leaf(certtest.LeafOpts{Names: []string{"office-b"}, EKU: bothEKU}), f, nil),
		[]PeerPolicy{{Name: "office-a"}}, discard, func() time.Time { return now })
	return server, client
}

// TestStreamContinuesTheSession: two sessions' Streams exchange records
// both ways right after the parameter exchange.
func TestStreamContinuesTheSession(t *testing.T) {
	server, client := pair(t)
	var cs *Session
	ss, err := serve(t, server, func(c net.Conn) (err error) {
		defer failOn(t, &err)
		cs, err = client.Client(context.Background(), c, "office-a", params(1500))
		if err != nil {
			return err
		}
		// Write at once: this record may reach the server together with
		// the parameter message.
		_, err = cs.Stream.Conn.Write(seal(t, cs.Stream, []byte("from the dialer")))
		if err != nil {
			return err
		}
		expect(t, cs.Stream, "dialer", "from the listener")
		return nil
	}, func(s *Session) {
		expect(t, s.Stream, "listener", "from the dialer")
		if _, err := s.Stream.Conn.Write(seal(t, s.Stream, []byte("from the listener"))); err != nil {
			t.Error(err)
		}
	})
	if err != nil {
		t.Fatal(err)
	}
	for who, st := range map[string]*Stream{"listener": ss.Stream, "dialer": cs.Stream} {
		if st.Seal.Seq() != 1 || st.Open.Seq() != 1 {
			t.Errorf("%s: sequence numbers %d sent, %d received; want 1 and 1", who, st.Seal.Seq(), st.Open.Seq())
		}
	}
}

// failOn fails the test on the error a client goroutine returns.
func failOn(t *testing.T, err *error) {
	if *err != nil {
		t.Errorf("client: %v", *err)
	}
}

// heldConn gathers writes while held, so that a test can send the
// parameter message and a record in one segment.
type heldConn struct {
	net.Conn
	mu   sync.Mutex
	held bool
	buf  []byte
}

func (h *heldConn) Write(b []byte) (int, error) {
	h.mu.Lock()
	defer h.mu.Unlock()
	if h.held {
		h.buf = append(h.buf, b...)
		return len(b), nil
	}
	return h.Conn.Write(b)
}

// plainPeer is a dialer made of crypto/tls and this test: it runs the
// handshake, holds its writes, and derives the Stream's keys the way
// docs/protocol.md says.
type plainPeer struct {
	tc   *tls.Conn
	hc   *heldConn
	bc   *boundedConn // so that the listener's first record stays out of crypto/tls
	seal *record.Sealer
	open *record.Opener
}

func dialPlain(t *testing.T, c net.Conn, creds *trust.Credentials) (*plainPeer, error) {
	bc := &boundedConn{Conn: c}
	hc := &heldConn{Conn: bc}
	tc := tls.Client(hc, &tls.Config{InsecureSkipVerify: true, NextProtos: []string{ALPN}, MinVersion: tls.VersionTLS13,
		Certificates: []tls.Certificate{creds.Certificate()}})
	if err := tc.Handshake(); err != nil {
		return nil, err
	}
	st := tc.ConnectionState()
	n, _ := record.SecretLen(st.CipherSuite)
	send, err := st.ExportKeyingMaterial("EXPERIMENTAL-tlsvpn-records-v3", []byte("sent by the dialer"), n)
	if err != nil {
		return nil, err
	}
	recv, err := st.ExportKeyingMaterial("EXPERIMENTAL-tlsvpn-records-v3", []byte("sent by the listener"), n)
	if err != nil {
		return nil, err
	}
	p := &plainPeer{tc: tc, hc: hc, bc: bc}
	if p.seal, err = record.NewSealer(st.CipherSuite, send); err != nil {
		return nil, err
	}
	p.open, err = record.NewOpener(st.CipherSuite, recv)
	return p, err
}

func paramsFrame(t *testing.T) []byte {
	p := params(1500)
	p.Node = "office-b"
	body, err := json.Marshal(p)
	if err != nil {
		t.Error(err)
	}
	return wire.AppendFrame(nil, wire.TypeParams, body)
}

// TestStreamAgainstCryptoTLS: the dialer is crypto/tls plus the key
// derivation of docs/protocol.md. It sends its parameter message and a
// first record in one segment, so the listener reads past the parameters
// during the exchange; that record must come out of the Stream, and the
// listener's record must open with the keys derived on the other side.
func TestStreamAgainstCryptoTLS(t *testing.T) {
	server, client := pair(t)
	var buffered int
	_, err := serve(t, server, func(c net.Conn) (err error) {
		defer failOn(t, &err)
		p, err := dialPlain(t, c, client.Credentials())
		if err != nil {
			return err
		}
		p.hc.held = true
		if _, err := p.tc.Write(paramsFrame(t)); err != nil {
			return err
		}
		first, _ := p.seal.Append(nil, []byte("first record\x00")[:12], record.TypeApplicationData)
		if _, err := c.Write(append(p.hc.buf, first...)); err != nil {
			return err
		}
		if _, err := readParams(p.tc); err != nil {
			return err
		}
		expect(t, &Stream{Conn: c, Open: p.open, Buffered: p.bc.rest()}, "crypto/tls dialer", "from the listener")
		return nil
	}, func(s *Session) {
		buffered = len(s.Stream.Buffered)
		expect(t, s.Stream, "listener", "first record")
		if _, err := s.Stream.Conn.Write(seal(t, s.Stream, []byte("from the listener"))); err != nil {
			t.Error(err)
		}
	})
	if err != nil {
		t.Fatal(err)
	}
	if buffered == 0 {
		t.Error("the record sent with the parameters did not arrive with them; the test did not test the hand-over")
	}
}

// TestParametersSharingARecordAreRefused: data in the parameter message's
// own TLS record would stay inside crypto/tls, lost; the session is
// refused instead.
func TestParametersSharingARecordAreRefused(t *testing.T) {
	server, client := pair(t)
	_, err := serve(t, server, func(c net.Conn) error {
		p, err := dialPlain(t, c, client.Credentials())
		if err != nil {
			return err
		}
		var ping [wire.PingLen]byte
		_, err = p.tc.Write(wire.AppendFrame(paramsFrame(t), wire.TypePing, ping[:]))
		return err
	})
	if ReasonOf(err) != ReasonParams || !strings.Contains(err.Error(), "shares its TLS record") {
		t.Fatalf("got %v, want a parameters refusal", err)
	}
}
