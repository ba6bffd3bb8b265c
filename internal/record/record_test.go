package record

import (
	"bufio"
	"bytes"
	"context"
	"crypto/rand"
	"crypto/tls"
	"encoding/hex"
	"errors"
	"io"
	"net"
	"os/exec"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/tlsvpn/tlsvpn/internal/certtest"
)

// keyLog keeps the traffic secrets crypto/tls reports.
type keyLog struct {
	mu      sync.Mutex
	secrets map[string][]byte
}

func (k *keyLog) Write(line []byte) (int, error) {
	f := strings.Fields(string(line))
	if len(f) == 3 {
		s, err := hex.DecodeString(f[2])
		if err != nil {
			return 0, err
		}
		k.mu.Lock()
		if k.secrets == nil {
			k.secrets = map[string][]byte{}
		}
		k.secrets[f[0]] = s
		k.mu.Unlock()
	}
	return len(line), nil
}

// tlsPair runs a crypto/tls handshake over a pipe and returns the server's
// tls.Conn, the client's raw end of the pipe and the client's key log.
func tlsPair(t *testing.T) (*tls.Conn, net.Conn, *keyLog, tls.ConnectionState) {
	t.Helper()
	f := certtest.New(t, time.Now())
	cert := f.Leaf(certtest.LeafOpts{Names: []string{"b"}}).TLSCertificate()
	a, b := net.Pipe()
	t.Cleanup(func() { a.Close(); b.Close() })
	kl := &keyLog{}
	srv := tls.Server(a, &tls.Config{Certificates: []tls.Certificate{cert}, MinVersion: tls.VersionTLS13,
		SessionTicketsDisabled: true})
	cli := tls.Client(b, &tls.Config{InsecureSkipVerify: true, MinVersion: tls.VersionTLS13, KeyLogWriter: kl})
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	errc := make(chan error, 1)
	go func() { errc <- srv.HandshakeContext(ctx) }()
	if err := cli.HandshakeContext(ctx); err != nil {
		t.Fatalf("client handshake: %v", err)
	}
	if err := <-errc; err != nil {
		t.Fatalf("server handshake: %v", err)
	}
	return srv, b, kl, cli.ConnectionState()
}

func randomBytes(n int) []byte {
	b := make([]byte, n, n+1)
	rand.Read(b)
	return b
}

// TestInteropWithCryptoTLS continues a crypto/tls session with this
// package on one side: records crypto/tls wrote open here, records sealed
// here read back through crypto/tls, and a close_notify sealed here ends
// crypto/tls's stream cleanly.
func TestInteropWithCryptoTLS(t *testing.T) {
	srv, raw, kl, st := tlsPair(t)
	if st.CipherSuite != tls.TLS_AES_128_GCM_SHA256 && st.CipherSuite != tls.TLS_CHACHA20_POLY1305_SHA256 {
		t.Logf("negotiated %s", tls.CipherSuiteName(st.CipherSuite))
	}
	op, err := NewOpener(st.CipherSuite, kl.secrets["SERVER_TRAFFIC_SECRET_0"])
	if err != nil {
		t.Fatal(err)
	}
	se, err := NewSealer(st.CipherSuite, kl.secrets["CLIENT_TRAFFIC_SECRET_0"])
	if err != nil {
		t.Fatal(err)
	}
	sizes := []int{1, 1400, MaxPlaintext, MaxPlaintext + 1, 70000}

	// crypto/tls → Opener.
	var want []byte
	for _, n := range sizes {
		want = append(want, randomBytes(n)...)
	}
	go func() {
		for off, i := 0, 0; i < len(sizes); off, i = off+sizes[i], i+1 {
			srv.Write(want[off : off+sizes[i]])
		}
	}()
	var got []byte
	hdr := make([]byte, HeaderLen)
	body := make([]byte, MaxCiphertext)
	for len(got) < len(want) {
		if _, err := io.ReadFull(raw, hdr); err != nil {
			t.Fatalf("read header: %v", err)
		}
		n, err := ParseHeader(hdr)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := io.ReadFull(raw, body[:n]); err != nil {
			t.Fatalf("read body: %v", err)
		}
		typ, out, err := op.Open(got, hdr, body[:n])
		if err != nil {
			t.Fatalf("open record %d: %v", op.Seq(), err)
		}
		if typ != TypeApplicationData {
			t.Fatalf("record %d has type %d", op.Seq(), typ)
		}
		got = out
	}
	if !bytes.Equal(got, want) {
		t.Fatal("content opened here differs from what crypto/tls sent")
	}

	// Sealer → crypto/tls, then close_notify.
	var wire []byte
	want = want[:0]
	for _, n := range sizes {
		c := randomBytes(n)
		want = append(want, c...)
		if wire, err = se.Append(wire, c, TypeApplicationData); err != nil {
			t.Fatal(err)
		}
	}
	alert := make([]byte, 2, 3)
	alert[0], alert[1] = 1, AlertCloseNotify
	if wire, err = se.Append(wire, alert, TypeAlert); err != nil {
		t.Fatal(err)
	}
	go raw.Write(wire)
	got, err = io.ReadAll(srv)
	if err != nil {
		t.Fatalf("crypto/tls read what was sealed here: %v", err)
	}
	if !bytes.Equal(got, want) {
		t.Fatalf("crypto/tls read %d bytes that differ from the %d sealed here", len(got), len(want))
	}
}

func testPair(t testing.TB, suite uint16) (*Sealer, *Opener) {
	n := 32
	if suite == tls.TLS_AES_256_GCM_SHA384 {
		n = 48
	}
	secret := randomBytes(n)
	s, err := NewSealer(suite, secret)
	if err != nil {
		t.Fatal(err)
	}
	o, err := NewOpener(suite, secret)
	if err != nil {
		t.Fatal(err)
	}
	return s, o
}

var suites = []uint16{tls.TLS_AES_128_GCM_SHA256, tls.TLS_AES_256_GCM_SHA384, tls.TLS_CHACHA20_POLY1305_SHA256}

// openAll opens every record in b, appending the content.
func openAll(o *Opener, b []byte) ([]byte, []ContentType, error) {
	var out []byte
	var types []ContentType
	for len(b) > 0 {
		n, err := ParseHeader(b)
		if err != nil {
			return out, types, err
		}
		if len(b) < HeaderLen+n {
			return out, types, io.ErrUnexpectedEOF
		}
		typ, o2, err := o.Open(out, b[:HeaderLen], b[HeaderLen:HeaderLen+n])
		if err != nil {
			return out, types, err
		}
		out, types = o2, append(types, typ)
		b = b[HeaderLen+n:]
	}
	return out, types, nil
}

func TestRoundTrip(t *testing.T) {
	for _, suite := range suites {
		t.Run(tls.CipherSuiteName(suite), func(t *testing.T) {
			s, o := testPair(t, suite)
			for _, n := range []int{0, 1, MaxPlaintext - 1, MaxPlaintext, MaxPlaintext + 1, 3*MaxPlaintext + 5} {
				c := randomBytes(n)
				c = append(c, 0xAB)[:n] // the spare byte must come back untouched
				before := s.Seq()
				wire, err := s.Append(nil, c, TypeApplicationData)
				if err != nil {
					t.Fatal(err)
				}
				if len(wire) != SealedLen(n) {
					t.Errorf("%d bytes: sealed %d, SealedLen says %d", n, len(wire), SealedLen(n))
				}
				records := max(1, (n+MaxPlaintext-1)/MaxPlaintext)
				if got := s.Seq() - before; got != uint64(records) {
					t.Errorf("%d bytes: %d records, want %d", n, got, records)
				}
				if c[:n+1][n] != 0xAB {
					t.Errorf("%d bytes: the spare byte was not restored", n)
				}
				got, types, err := openAll(o, wire)
				if err != nil {
					t.Fatalf("%d bytes: %v", n, err)
				}
				if !bytes.Equal(got, c) || len(types) != records {
					t.Fatalf("%d bytes: opened %d bytes in %d records", n, len(got), len(types))
				}
			}
		})
	}
}

// TestForgery: any changed byte, a replayed, reordered or dropped record,
// or a record of another key fails.
func TestForgery(t *testing.T) {
	s, _ := testPair(t, tls.TLS_AES_128_GCM_SHA256)
	wire, err := s.Append(nil, randomBytes(100), TypeApplicationData)
	if err != nil {
		t.Fatal(err)
	}
	second, _ := s.Append(nil, randomBytes(100), TypeApplicationData)
	fresh := func() *Opener {
		// A fresh Opener with the Sealer's key.
		o := *s
		o.h.seq = 0
		return &Opener{h: o.h}
	}
	for i := range wire {
		w := bytes.Clone(wire)
		w[i] ^= 0x20
		if _, _, err := openAll(fresh(), w); err == nil {
			t.Errorf("byte %d flipped: opened", i)
		}
	}
	o := fresh()
	if _, _, err := openAll(o, wire); err != nil {
		t.Fatal(err)
	}
	if _, _, err := openAll(o, wire); !errors.Is(err, ErrAuth) {
		t.Errorf("replay: %v, want ErrAuth", err)
	}
	if _, _, err := openAll(fresh(), second); !errors.Is(err, ErrAuth) {
		t.Errorf("second record first: %v, want ErrAuth", err)
	}
	_, other := testPair(t, tls.TLS_AES_128_GCM_SHA256)
	if _, _, err := openAll(other, wire); !errors.Is(err, ErrAuth) {
		t.Errorf("another key: %v, want ErrAuth", err)
	}
}

func TestHeaderChecks(t *testing.T) {
	for _, tc := range []struct {
		name string
		hdr  []byte
	}{
		{"short", []byte{23, 3, 3, 0}},
		{"handshake type", []byte{22, 3, 3, 0, 40}},
		{"change_cipher_spec", []byte{20, 3, 3, 0, 1}},
		{"version", []byte{23, 3, 1, 0, 40}},
		{"overflow", []byte{23, 3, 3, 0x41, 0x01}},
		{"shorter than a tag", []byte{23, 3, 3, 0, 16}},
	} {
		if _, err := ParseHeader(tc.hdr); err == nil {
			t.Errorf("%s: accepted", tc.name)
		}
	}
	if n, err := ParseHeader([]byte{23, 3, 3, 0x41, 0x00}); err != nil || n != MaxCiphertext {
		t.Errorf("largest record: %d, %v", n, err)
	}
}

func TestBadKeys(t *testing.T) {
	if _, err := NewSealer(0x1304, make([]byte, 32)); err == nil {
		t.Error("TLS_AES_128_CCM_SHA256 accepted")
	}
	if _, err := NewOpener(tls.TLS_AES_256_GCM_SHA384, make([]byte, 32)); err == nil {
		t.Error("a SHA-256-sized secret accepted for a SHA-384 suite")
	}
	s, _ := testPair(t, tls.TLS_AES_128_GCM_SHA256)
	if _, err := s.Append(nil, make([]byte, 4), TypeApplicationData); err == nil {
		t.Error("content without a spare byte accepted")
	}
	s.h.seq = MaxRecords - 1
	if _, err := s.Append(nil, make([]byte, 4, 5), TypeApplicationData); err != nil {
		t.Errorf("the last record a key may seal: %v", err)
	}
	if _, err := s.Append(nil, make([]byte, 4, 5), TypeApplicationData); !errors.Is(err, ErrExhausted) {
		t.Errorf("past MaxRecords: %v", err)
	}
	_, o := testPair(t, tls.TLS_AES_128_GCM_SHA256)
	o.h.seq = MaxRecords
	if _, _, err := o.Open(nil, []byte{23, 3, 3, 0, 17}, make([]byte, 17)); !errors.Is(err, ErrExhausted) {
		t.Errorf("opening past MaxRecords: %v", err)
	}
}

func TestNoAllocations(t *testing.T) {
	s, o := testPair(t, tls.TLS_AES_128_GCM_SHA256)
	content := randomBytes(64 << 10)
	wire := make([]byte, 0, SealedLen(len(content)))
	plain := make([]byte, 0, MaxCiphertext)
	if a := testing.AllocsPerRun(50, func() {
		wire, _ = s.Append(wire[:0], content, TypeApplicationData)
		for w := wire; len(w) > 0; {
			n, _ := ParseHeader(w)
			if _, _, err := o.Open(plain, w[:HeaderLen], w[HeaderLen:HeaderLen+n]); err != nil {
				t.Fatal(err)
			}
			w = w[HeaderLen+n:]
		}
	}); a != 0 {
		t.Errorf("%.1f allocations per 64 KiB sealed and opened", a)
	}
}

func BenchmarkSeal(b *testing.B) {
	for _, suite := range suites {
		b.Run(tls.CipherSuiteName(suite), func(b *testing.B) {
			s, _ := testPair(b, suite)
			content := randomBytes(256 << 10)
			wire := make([]byte, 0, SealedLen(len(content)))
			b.SetBytes(int64(len(content)))
			b.ReportAllocs()
			for b.Loop() {
				wire, _ = s.Append(wire[:0], content, TypeApplicationData)
			}
		})
	}
}

// BenchmarkOpen opens full records, what a busy tunnel receives.
func BenchmarkOpen(b *testing.B) { benchOpen(b, MaxPlaintext) }

// BenchmarkOpenSmall opens records of a ping frame's size, where the cost
// per record, not per byte, shows.
func BenchmarkOpenSmall(b *testing.B) { benchOpen(b, 12) }

func benchOpen(b *testing.B, size int) {
	s, o := testPair(b, tls.TLS_AES_128_GCM_SHA256)
	content := randomBytes(size)
	plain := make([]byte, 0, MaxCiphertext)
	var wires [][]byte
	for range 1024 {
		w, _ := s.Append(nil, content, TypeApplicationData)
		wires = append(wires, w)
	}
	b.SetBytes(int64(size))
	b.ReportAllocs()
	i := 0
	for b.Loop() {
		if i == len(wires) { // reseal: the Opener's sequence number moved on
			b.StopTimer()
			for j := range wires {
				wires[j], _ = s.Append(wires[j][:0], content, TypeApplicationData)
			}
			i = 0
			b.StartTimer()
		}
		w := wires[i]
		if _, _, err := o.Open(plain, w[:HeaderLen], w[HeaderLen:]); err != nil {
			b.Fatal(err)
		}
		i++
	}
}

// TestInteropWithOpenSSL: OpenSSL's s_server, held to each TLS 1.3 cipher
// suite in turn, reads records sealed here and sends records opened here;
// the traffic secrets come from crypto/tls's key log on the client side.
// An implementation other than Go's checks the key schedule and the record
// format of every suite. s_server pads its records to 2^14 bytes of
// content, type and padding (RFC 8446 §5.4), which Open strips.
func TestInteropWithOpenSSL(t *testing.T) {
	openssl, err := exec.LookPath("openssl")
	if err != nil {
		t.Skip("openssl is not installed")
	}
	f := certtest.New(t, time.Now())
	certPath, keyPath := f.Leaf(certtest.LeafOpts{Names: []string{"b"}}).WritePEM(t.TempDir(), "server")
	for _, suite := range suites {
		t.Run(tls.CipherSuiteName(suite), func(t *testing.T) {
			ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
			defer cancel()
			cmd := exec.CommandContext(ctx, openssl, "s_server", "-accept", "127.0.0.1:0", "-tls1_3",
				"-ciphersuites", tls.CipherSuiteName(suite), "-cert", certPath, "-key", keyPath,
				"-num_tickets", "0", "-naccept", "1", "-record_padding", "16384")
			stdin, err := cmd.StdinPipe()
			if err != nil {
				t.Fatal(err)
			}
			stdout, err := cmd.StdoutPipe()
			if err != nil {
				t.Fatal(err)
			}
			if err := cmd.Start(); err != nil {
				t.Fatal(err)
			}
			defer cmd.Wait()
			defer cmd.Process.Kill()
			out := bufio.NewScanner(stdout)
			addr := ""
			for addr == "" && out.Scan() {
				if a, ok := strings.CutPrefix(out.Text(), "ACCEPT "); ok {
					addr = a
				}
			}
			if addr == "" {
				t.Fatal("s_server did not say where it listens")
			}

			raw, err := net.Dial("tcp", addr)
			if err != nil {
				t.Fatal(err)
			}
			defer raw.Close()
			raw.SetDeadline(time.Now().Add(10 * time.Second))
			kl := &keyLog{}
			cli := tls.Client(raw, &tls.Config{InsecureSkipVerify: true, MinVersion: tls.VersionTLS13, KeyLogWriter: kl})
			if err := cli.HandshakeContext(ctx); err != nil {
				t.Fatalf("handshake with s_server: %v", err)
			}
			if got := cli.ConnectionState().CipherSuite; got != suite {
				t.Fatalf("negotiated %s", tls.CipherSuiteName(got))
			}
			op, err := NewOpener(suite, kl.secrets["SERVER_TRAFFIC_SECRET_0"])
			if err != nil {
				t.Fatal(err)
			}
			se, err := NewSealer(suite, kl.secrets["CLIENT_TRAFFIC_SECRET_0"])
			if err != nil {
				t.Fatal(err)
			}

			// OpenSSL → Opener.
			if _, err := io.WriteString(stdin, "from openssl\n"); err != nil {
				t.Fatal(err)
			}
			var got []byte
			padded := false
			hdr, body := make([]byte, HeaderLen), make([]byte, MaxCiphertext)
			for !bytes.Contains(got, []byte("from openssl\n")) {
				if _, err := io.ReadFull(raw, hdr); err != nil {
					t.Fatalf("read a record from s_server: %v (opened so far %q)", err, got)
				}
				n, err := ParseHeader(hdr)
				if err != nil {
					t.Fatal(err)
				}
				if _, err := io.ReadFull(raw, body[:n]); err != nil {
					t.Fatal(err)
				}
				typ, o, err := op.Open(got, hdr, body[:n])
				if err != nil || typ != TypeApplicationData {
					t.Fatalf("open s_server's record %d: type %d, %v", op.Seq(), typ, err)
				}
				padded = padded || n > len(o)-len(got)+1+tagLen
				got = o
			}

			if !padded {
				t.Error("s_server sent no padded record; the test did not test padding")
			}

			// Sealer → OpenSSL, which prints what it reads.
			msg := []byte("from tlsvpn\n\x00")[:12]
			w, err := se.Append(nil, msg, TypeApplicationData)
			if err != nil {
				t.Fatal(err)
			}
			if _, err := raw.Write(w); err != nil {
				t.Fatal(err)
			}
			for out.Scan() {
				if out.Text() == "from tlsvpn" {
					return
				}
			}
			t.Fatal("s_server never printed the record sealed here")
		})
	}
}
