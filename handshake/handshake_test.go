package handshake

import (
	"bytes"
	"context"
	"crypto/tls"
	"crypto/x509"
	"io"
	"log/slog"
	"net"
	"net/netip"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/tlsvpn/tlsvpn/internal/certtest"
	"github.com/tlsvpn/tlsvpn/internal/trust"
)

var now = time.Date(2026, 11, 27, 12, 0, 0, 0, time.UTC)

var bothEKU = []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth, x509.ExtKeyUsageClientAuth}

// logBuf collects log lines safely across goroutines.
type logBuf struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (l *logBuf) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}

func (l *logBuf) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.String()
}

// credsFor builds credentials around c, trusting f's CA, with crl (PEM) as
// the CRL file when not nil.
func credsFor(t testing.TB, c *certtest.Cert, f *certtest.Factory, crl []byte) *trust.Credentials {
	t.Helper()
	if crl == nil {
		return f.Credentials(c)
	}
	return f.Credentials(c, crl)
}

func params(mtu int) Params {
	return Params{Version: ProtocolVersion, BootID: "boot", MTU: mtu, Purpose: PurposeConnect}
}

// serve runs the server side of office-a over one end of a loopback TCP
// connection and a client given by dial over the other; then, when the
// server has a session, runs each of then with it while the client runs.
func serve(t *testing.T, server *Handshaker, dial func(net.Conn) error, then ...func(*Session)) (*Session, error) {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	done := make(chan error, 1)
	go func() {
		c, err := net.Dial("tcp", ln.Addr().String())
		if err != nil {
			done <- err
			return
		}
		defer c.Close()
		done <- dial(c)
	}()
	raw, err := ln.Accept()
	if err != nil {
		t.Fatal(err)
	}
	s, serr := server.Server(context.Background(), raw, params(1500))
	if s != nil {
		defer s.Stream.Conn.Close()
		for _, f := range then {
			f(s)
		}
	} else {
		raw.Close()
	}
	cerr := <-done
	_ = cerr
	return s, serr
}

func TestServerRefusesBadClients(t *testing.T) {
	f := certtest.New(t, now)
	other := f.OtherCA()
	peerB := PeerPolicy{Name: "office-b", AllowedIPs: []netip.Prefix{netip.MustParsePrefix("10.2.0.0/24")}}
	serverCert := f.Leaf(certtest.LeafOpts{Names: []string{"office-a"}, EKU: bothEKU})
	good := certtest.LeafOpts{Names: []string{"office-b"}, EKU: bothEKU}
	with := func(mod func(*certtest.LeafOpts)) *certtest.Cert {
		o := good
		mod(&o)
		return f.Leaf(o)
	}
	revokedCert := f.Leaf(good)
	oldInter := f.Intermediate(now.Add(-48*time.Hour), now.Add(-time.Hour), nil)
	revokedInter := f.Intermediate(time.Time{}, time.Time{}, nil)
	noCRLInter := f.Intermediate(time.Time{}, time.Time{}, nil)

	tests := []struct {
		name   string
		client *certtest.Cert
		crl    []byte
		tlsCfg func(*tls.Config) // for clients that are not tlsvpn
		reason string
	}{
		{name: "a valid peer is accepted", client: f.Leaf(good)},
		{name: "a certificate from another CA is refused", client: other.Leaf(good), reason: ReasonUnknownAuthority},
		{name: "an expired certificate is refused", client: with(func(o *certtest.LeafOpts) { o.NotBefore, o.NotAfter = now.Add(-72*time.Hour), now.Add(-time.Hour) }), reason: ReasonExpired},
		{name: "a not yet valid certificate is refused", client: with(func(o *certtest.LeafOpts) { o.NotBefore, o.NotAfter = now.Add(time.Hour), now.Add(72*time.Hour) }), reason: ReasonNotYetValid},
		{name: "a certificate naming no configured peer is refused", client: with(func(o *certtest.LeafOpts) { o.Names = []string{"office-x"} }), reason: ReasonWrongName},
		{name: "a client certificate without clientAuth is refused", client: with(func(o *certtest.LeafOpts) { o.EKU = []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth} }), reason: ReasonWrongEKU},
		{name: "a certificate without EKU is refused", client: with(func(o *certtest.LeafOpts) { o.EKU, o.NoEKU = nil, true }), reason: ReasonWrongEKU},
		{name: "a certificate with only anyExtendedKeyUsage is refused", client: with(func(o *certtest.LeafOpts) { o.EKU = []x509.ExtKeyUsage{x509.ExtKeyUsageAny} }), reason: ReasonWrongEKU},
		{name: "a CA certificate as leaf is refused", client: with(func(o *certtest.LeafOpts) { o.IsCA = true }), reason: ReasonCAAsLeaf},
		{name: "an RSA-1024 key is refused", client: with(func(o *certtest.LeafOpts) { o.RSABits = 1024 }), reason: ReasonWeakKey},
		{name: "a chain through an expired intermediate is refused", client: with(func(o *certtest.LeafOpts) { o.Issuer = oldInter; o.NotBefore = now.Add(-47 * time.Hour) }), reason: ReasonExpired},
		{name: "a revoked certificate is refused", client: revokedCert, crl: f.CRL([]*certtest.Cert{revokedCert}, now.Add(-time.Hour), now.Add(24*time.Hour), nil), reason: ReasonRevoked},
		{name: "a certificate under an intermediate revoked by the root's CRL is refused", client: with(func(o *certtest.LeafOpts) { o.Issuer = revokedInter }),
			crl: append(f.CRL([]*certtest.Cert{revokedInter}, now.Add(-time.Hour), now.Add(24*time.Hour), nil),
				f.CRL(nil, now.Add(-time.Hour), now.Add(24*time.Hour), revokedInter)...), reason: ReasonRevoked},
		{name: "a certificate whose issuing intermediate has no CRL is refused while a CRL is set", client: with(func(o *certtest.LeafOpts) { o.Issuer = noCRLInter }),
			crl: f.CRL(nil, now.Add(-time.Hour), now.Add(24*time.Hour), nil), reason: ReasonNoCRL},
		{name: "any peer is refused while the CRL is stale", client: f.Leaf(good), crl: f.CRL(nil, now.Add(-48*time.Hour), now.Add(-time.Hour), nil), reason: ReasonCRLStale},
		{name: "address blocks narrower than allowed_ips are refused", client: with(func(o *certtest.LeafOpts) { o.Routes = []netip.Prefix{netip.MustParsePrefix("10.2.0.0/25")} }), reason: ReasonAddressBlocks},
		{name: "address blocks covering allowed_ips are accepted", client: with(func(o *certtest.LeafOpts) { o.Routes = []netip.Prefix{netip.MustParsePrefix("10.2.0.0/16")} })},
		{name: "a client without certificate is refused", tlsCfg: func(c *tls.Config) {}, reason: ReasonNoCertificate},
		{name: "a TLS 1.2 client is refused", tlsCfg: func(c *tls.Config) { c.MaxVersion = tls.VersionTLS12 }, reason: ReasonTLSVersion},
		{name: "a client offering another ALPN is refused", tlsCfg: func(c *tls.Config) { c.NextProtos = []string{"h2"} }, reason: ReasonALPN},
		{name: "a client offering no ALPN is refused", tlsCfg: func(c *tls.Config) {
			c.NextProtos = nil
			c.Certificates = []tls.Certificate{f.Leaf(good).TLSCertificate()}
		}, reason: ReasonALPN},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			var logs logBuf
			log := slog.New(slog.NewTextHandler(&logs, nil))
			server := New("office-a", credsFor(t, serverCert, f, tc.crl), []PeerPolicy{peerB}, log, func() time.Time { return now })
			s, err := serve(t, server, func(c net.Conn) error {
				if tc.tlsCfg != nil {
					cfg := &tls.Config{InsecureSkipVerify: true, NextProtos: []string{ALPN}, MinVersion: tls.VersionTLS12}
					tc.tlsCfg(cfg)
					tc := tls.Client(c, cfg)
					err := tc.Handshake()
					if err == nil {
						// TLS 1.3 clients learn of a refusal on their first read.
						_, err = tc.Read(make([]byte, 1))
					}
					return err
				}
				client := New("office-b", credsFor(t, tc.client, f, nil), []PeerPolicy{{Name: "office-a"}}, slog.New(slog.NewTextHandler(io.Discard, nil)), func() time.Time { return now })
				_, err := client.Client(context.Background(), c, "office-a", params(1500))
				return err
			})
			if tc.reason == "" {
				if err != nil {
					t.Fatalf("refused: %v\nlog: %s", err, logs.String())
				}
				if f := refusals(server.Failures()); len(f) != 0 {
					t.Errorf("an accepted handshake counted as refused: %v", f)
				}
				if s.Peer != "office-b" || s.Remote.Node != "office-b" {
					t.Fatalf("session names peer %q, node %q", s.Peer, s.Remote.Node)
				}
				if s.State.Version != tls.VersionTLS13 || s.State.CurveID != tls.X25519MLKEM768 {
					t.Fatalf("negotiated %s with %s, want TLS 1.3 with X25519MLKEM768", tls.VersionName(s.State.Version), s.State.CurveID)
				}
				return
			}
			if err == nil {
				t.Fatalf("accepted; want refusal %q", tc.reason)
			}
			if got := ReasonOf(err); got != tc.reason {
				t.Fatalf("refused for %q (%v), want %q", got, err, tc.reason)
			}
			line := logs.String()
			if !strings.Contains(line, `msg="handshake refused"`) || !strings.Contains(line, "remote=127.0.0.1:") ||
				!strings.Contains(line, `reason="`+tc.reason+`"`) && !strings.Contains(line, "reason="+tc.reason+" ") {
				t.Fatalf("log line lacks message, remote address or reason %q:\n%s", tc.reason, line)
			}
			if f := refusals(server.Failures()); len(f) != 1 || f[tc.reason] != 1 {
				t.Errorf("refusals counted %v, want one %q", f, tc.reason)
			}
			t.Logf("log: %s", strings.TrimSpace(line))
		})
	}
}

// refusals is Failures without its zero counts; it fails the test when a
// reason of the vocabulary is missing.
func refusals(all map[string]uint64) map[string]uint64 {
	out := map[string]uint64{}
	for r, n := range all {
		if n > 0 {
			out[r] = n
		}
	}
	for _, r := range reasons {
		if _, ok := all[r]; !ok {
			out["missing "+r] = 1
		}
	}
	return out
}

func TestClientRefusesServerWithWrongName(t *testing.T) {
	f := certtest.New(t, now)
	discard := slog.New(slog.NewTextHandler(io.Discard, nil))
	impostor := f.Leaf(certtest.LeafOpts{Names: []string{"office-c"}, EKU: bothEKU})
	server := New("office-c", credsFor(t, impostor, f, nil), []PeerPolicy{{Name: "office-b"}}, discard, func() time.Time { return now })
	var clientErr error
	serve(t, server, func(c net.Conn) error {
		var logs logBuf
		client := New("office-b", credsFor(t, f.Leaf(certtest.LeafOpts{Names: []string{"office-b"}, EKU: bothEKU}), f, nil),
			[]PeerPolicy{{Name: "office-a"}}, slog.New(slog.NewTextHandler(&logs, nil)), func() time.Time { return now })
		_, clientErr = client.Client(context.Background(), c, "office-a", params(1500))
		return clientErr
	})
	if ReasonOf(clientErr) != ReasonWrongName {
		t.Fatalf("client accepted a server named office-c when dialing office-a: %v", clientErr)
	}
}

func TestClientRefusesServerNamingTwoPeers(t *testing.T) {
	f := certtest.New(t, now)
	discard := slog.New(slog.NewTextHandler(io.Discard, nil))
	both := f.Leaf(certtest.LeafOpts{Names: []string{"office-a", "office-c"}, EKU: bothEKU})
	server := New("office-a", credsFor(t, both, f, nil), []PeerPolicy{{Name: "office-b"}}, discard, func() time.Time { return now })
	tests := []struct {
		name   string
		peers  []PeerPolicy
		reason string
	}{
		{"a dialer with one of the names configured accepts it", []PeerPolicy{{Name: "office-a"}}, ""},
		{"a dialer with both names configured refuses it as ambiguous", []PeerPolicy{{Name: "office-a"}, {Name: "office-c"}}, ReasonAmbiguousName},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			var clientErr error
			serve(t, server, func(c net.Conn) error {
				client := New("office-b", credsFor(t, f.Leaf(certtest.LeafOpts{Names: []string{"office-b"}, EKU: bothEKU}), f, nil),
					tc.peers, discard, func() time.Time { return now })
				s, err := client.Client(context.Background(), c, "office-a", params(1500))
				if s != nil {
					s.Stream.Conn.Close()
				}
				clientErr = err
				return err
			})
			if got := ReasonOf(clientErr); got != tc.reason {
				t.Fatalf("dialer: %v (reason %q), want reason %q", clientErr, got, tc.reason)
			}
		})
	}
}

func TestMTUMismatchIsRefused(t *testing.T) {
	f := certtest.New(t, now)
	discard := slog.New(slog.NewTextHandler(io.Discard, nil))
	server := New("office-a", credsFor(t, f.Leaf(certtest.LeafOpts{Names: []string{"office-a"}, EKU: bothEKU}), f, nil), []PeerPolicy{{Name: "office-b"}}, discard, func() time.Time { return now })
	_, err := serve(t, server, func(c net.Conn) error {
		client := New("office-b", credsFor(t, f.Leaf(certtest.LeafOpts{Names: []string{"office-b"}, EKU: bothEKU}), f, nil), []PeerPolicy{{Name: "office-a"}}, discard, func() time.Time { return now })
		_, err := client.Client(context.Background(), c, "office-a", params(1400))
		return err
	})
	if ReasonOf(err) != ReasonParams || !strings.Contains(err.Error(), "MTU mismatch") {
		t.Fatalf("got %v, want an MTU mismatch refusal", err)
	}
}
