package certtest

import (
	"context"
	"crypto/rsa"
	"crypto/tls"
	"crypto/x509"
	"encoding/pem"
	"errors"
	"net"
	"net/netip"
	"os"
	"os/exec"
	"testing"
	"time"

	"github.com/tlsvpn/tlsvpn/internal/ipblocks"
)

var now = time.Date(2030, 6, 1, 12, 0, 0, 0, time.UTC)

// verify checks c against the root of f at time at, the way a tlsvpn
// verifier must: every certificate through ipblocks.MarkHandled.
func verify(f *Factory, c *Cert, at time.Time) error {
	roots := x509.NewCertPool()
	roots.AddCert(ipblocks.MarkHandled(f.CA().Cert))
	inter := x509.NewCertPool()
	for _, ic := range c.Chain {
		inter.AddCert(ipblocks.MarkHandled(ic.Cert))
	}
	chains, err := ipblocks.MarkHandled(c.Cert).Verify(x509.VerifyOptions{
		Roots: roots, Intermediates: inter, CurrentTime: at,
		KeyUsages: []x509.ExtKeyUsage{x509.ExtKeyUsageAny},
	})
	if err != nil {
		return err
	}
	return ipblocks.CheckChain(chains[0])
}

func TestLeavesVerifyWithinTheirWindow(t *testing.T) {
	f := New(t, now)
	inter := f.Intermediate(time.Time{}, time.Time{}, nil)
	tests := []struct {
		name string
		opts LeafOpts
		at   time.Time
		ok   bool
	}{
		{"a default leaf now", LeafOpts{Names: []string{"office-a"}}, now, true},
		{"a leaf with routes", LeafOpts{Names: []string{"office-b"}, Routes: []netip.Prefix{netip.MustParsePrefix("10.2.0.0/24")}}, now, true},
		{"a leaf under an intermediate", LeafOpts{Names: []string{"office-c"}, Issuer: inter}, now, true},
		{"an RSA leaf", LeafOpts{Names: []string{"office-d"}, RSABits: 2048}, now, true},
		{"a leaf after its NotAfter", LeafOpts{}, now.Add(25 * time.Hour), false},
		{"a leaf before its NotBefore", LeafOpts{NotBefore: now.Add(time.Hour)}, now, false},
		{"a leaf of another CA", LeafOpts{Issuer: f.OtherCA().CA()}, now, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := verify(f, f.Leaf(tt.opts), tt.at)
			if (err == nil) != tt.ok {
				t.Errorf("verify = %v, want success %v", err, tt.ok)
			}
		})
	}
}

func TestLeafOptions(t *testing.T) {
	f := New(t, now)
	c := f.Leaf(LeafOpts{Names: []string{"office-a", "198.18.0.1"}, NoEKU: true, RSABits: 2048})
	if c.Cert.Subject.CommonName != "office-a" || len(c.Cert.DNSNames) != 1 || len(c.Cert.IPAddresses) != 1 {
		t.Errorf("CN %q, DNS %v, IP %v", c.Cert.Subject.CommonName, c.Cert.DNSNames, c.Cert.IPAddresses)
	}
	if len(c.Cert.ExtKeyUsage) != 0 {
		t.Errorf("NoEKU leaf has EKU %v", c.Cert.ExtKeyUsage)
	}
	if _, ok := c.Key.(*rsa.PrivateKey); !ok {
		t.Errorf("RSABits leaf has a %T key", c.Key)
	}
	ca := f.Leaf(LeafOpts{IsCA: true, EKU: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth}})
	if !ca.Cert.IsCA || len(ca.Cert.ExtKeyUsage) != 1 {
		t.Errorf("IsCA leaf: IsCA %v, EKU %v", ca.Cert.IsCA, ca.Cert.ExtKeyUsage)
	}
}

func TestChainsOfIntermediates(t *testing.T) {
	f := New(t, now)
	i1 := f.Intermediate(time.Time{}, time.Time{}, nil)
	i2 := f.Intermediate(time.Time{}, time.Time{}, i1)
	leaf := f.Leaf(LeafOpts{Issuer: i2})
	if len(leaf.Chain) != 2 || leaf.Chain[0] != i2 || leaf.Chain[1] != i1 {
		t.Fatalf("chain of the leaf = %v, want [i2 i1]", leaf.Chain)
	}
	if got := len(leaf.TLSCertificate().Certificate); got != 3 {
		t.Errorf("TLSCertificate has %d certificates, want 3", got)
	}
	if err := verify(f, leaf, now); err != nil {
		t.Error(err)
	}
	expired := f.Intermediate(now.Add(-48*time.Hour), now.Add(-24*time.Hour), nil)
	if err := verify(f, f.Leaf(LeafOpts{Issuer: expired}), now); err == nil {
		t.Error("a leaf under an expired intermediate verified")
	}
}

func TestWritePEM(t *testing.T) {
	f := New(t, time.Now())
	dir := t.TempDir()
	leaf := f.Leaf(LeafOpts{Names: []string{"office-a"}, Routes: []netip.Prefix{netip.MustParsePrefix("10.1.0.0/24")},
		Issuer: f.Intermediate(time.Time{}, time.Time{}, nil)})
	certPath, keyPath := leaf.WritePEM(dir, "office-a")
	caPath, _ := f.CA().WritePEM(dir, "ca")
	if fi, err := os.Stat(keyPath); err != nil || fi.Mode().Perm() != 0o600 {
		t.Errorf("key file: %v, mode %v", err, fi.Mode())
	}
	pair, err := tls.LoadX509KeyPair(certPath, keyPath)
	if err != nil || len(pair.Certificate) != 2 {
		t.Fatalf("LoadX509KeyPair: %v (%d certificates, want 2)", err, len(pair.Certificate))
	}
	if _, err := exec.LookPath("openssl"); err != nil {
		t.Skip("openssl not installed")
	}
	out, err := exec.Command("openssl", "verify", "-CAfile", caPath, "-untrusted", certPath, certPath).CombinedOutput()
	if err != nil {
		t.Errorf("openssl verify: %v\n%s", err, out)
	}
}

func TestCRL(t *testing.T) {
	f := New(t, now)
	bad, good := f.Leaf(LeafOpts{}), f.Leaf(LeafOpts{})
	inter := f.Intermediate(time.Time{}, time.Time{}, nil)
	tests := []struct {
		name   string
		signer *Cert
	}{{"signed by the root", nil}, {"signed by an intermediate", inter}}
	for i, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			b, _ := pem.Decode(f.CRL([]*Cert{bad}, now, now.Add(time.Hour), tt.signer))
			crl, err := x509.ParseRevocationList(b.Bytes)
			if err != nil {
				t.Fatal(err)
			}
			if err := crl.CheckSignatureFrom(f.issuer(tt.signer).Cert); err != nil {
				t.Errorf("CRL signature: %v", err)
			}
			entries := crl.RevokedCertificateEntries
			if len(entries) != 1 || entries[0].SerialNumber.Cmp(bad.Cert.SerialNumber) != 0 ||
				entries[0].SerialNumber.Cmp(good.Cert.SerialNumber) == 0 {
				t.Errorf("CRL lists %v, want only the serial of bad", entries)
			}
			if crl.Number.Int64() != int64(i+1) || !crl.NextUpdate.Equal(now.Add(time.Hour)) {
				t.Errorf("CRL number %v, nextUpdate %v", crl.Number, crl.NextUpdate)
			}
		})
	}
}

// TestTLSHandshake shows the certificates working in crypto/tls with a
// verifier that handles the ipAddrBlocks extension.
func TestTLSHandshake(t *testing.T) {
	f := New(t, time.Now())
	server := f.Leaf(LeafOpts{Names: []string{"office-b"}, Routes: []netip.Prefix{netip.MustParsePrefix("10.2.0.0/24")}})
	client := f.Leaf(LeafOpts{Names: []string{"office-a"}})
	check := func(cs tls.ConnectionState) error {
		if len(cs.PeerCertificates) == 0 {
			return errors.New("no peer certificate")
		}
		return verify(f, &Cert{Cert: cs.PeerCertificates[0]}, time.Now())
	}
	srvCfg := &tls.Config{Certificates: []tls.Certificate{server.TLSCertificate()}, ClientAuth: tls.RequireAnyClientCert,
		VerifyConnection: check, MinVersion: tls.VersionTLS13}
	cliCfg := &tls.Config{Certificates: []tls.Certificate{client.TLSCertificate()}, InsecureSkipVerify: true,
		VerifyConnection: check, MinVersion: tls.VersionTLS13}
	a, b := net.Pipe()
	defer a.Close()
	defer b.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	errc := make(chan error, 1)
	go func() { errc <- tls.Server(a, srvCfg).HandshakeContext(ctx) }()
	if err := tls.Client(b, cliCfg).HandshakeContext(ctx); err != nil {
		t.Fatalf("client handshake: %v", err)
	}
	if err := <-errc; err != nil {
		t.Fatalf("server handshake: %v", err)
	}
}
