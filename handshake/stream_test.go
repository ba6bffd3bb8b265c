package handshake

import (
	"bytes"
	"context"
	"crypto/tls"
	"encoding/json"
	"io"
	"log/slog"
	"net"
	"sync"
	"testing"
	"time"

	"github.com/tlsvpn/tlsvpn/internal/certtest"
	"github.com/tlsvpn/tlsvpn/internal/record"
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
	if ss.Stream.Seal.Seq() != 2 || ss.Stream.Open.Seq() != 2 {
		t.Errorf("listener continued at sequence numbers %d/%d, want 2/2 (parameters, then one record)",
			ss.Stream.Seal.Seq(), ss.Stream.Open.Seq())
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

// TestStreamAgainstCryptoTLS: the peer is plain crypto/tls that sends its
// parameter message and a first record in one write, so the listener reads
// past the parameters during the exchange; that record must come out of
// the Stream, and the Stream's records must read back through crypto/tls.
func TestStreamAgainstCryptoTLS(t *testing.T) {
	server, client := pair(t)
	creds := client.Credentials()
	var buffered int
	_, err := serve(t, server, func(c net.Conn) (err error) {
		defer failOn(t, &err)
		keys := &trafficSecrets{}
		hc := &heldConn{Conn: c}
		tc := tls.Client(hc, &tls.Config{InsecureSkipVerify: true, NextProtos: []string{ALPN}, MinVersion: tls.VersionTLS13,
			Certificates: []tls.Certificate{creds.Cert}, KeyLogWriter: keys})
		if err := tc.Handshake(); err != nil {
			return err
		}
		st := tc.ConnectionState()
		p := params(1500)
		p.Node = "office-b"
		body, _ := json.Marshal(p)
		hc.held = true
		if _, err := tc.Write(wire.AppendFrame(nil, wire.TypeParams, body)); err != nil {
			return err
		}
		seal, err := record.NewSealer(st.CipherSuite, keys.client, 1)
		if err != nil {
			return err
		}
		first, _ := seal.Append(nil, []byte("first record\x00")[:12], record.TypeApplicationData)
		if _, err := c.Write(append(hc.buf, first...)); err != nil {
			return err
		}
		if _, err := readParams(tc); err != nil {
			return err
		}
		got := make([]byte, 64)
		n, err := tc.Read(got)
		if err != nil || string(got[:n]) != "from the listener" {
			t.Errorf("crypto/tls read %q, %v from the listener's Stream", got[:n], err)
		}
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
