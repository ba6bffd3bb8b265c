package pki

import (
	"crypto"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/asn1"
	"encoding/pem"
	"errors"
	"net"
	"net/mail"
	"net/url"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/tlsvpn/tlsvpn/internal/testutil"
	"github.com/tlsvpn/tlsvpn/internal/trust"
)

// requestPEM returns a PEM certificate request made with Go's crypto/x509,
// signed by key.
func requestPEM(t testing.TB, key crypto.Signer, tmpl *x509.CertificateRequest) []byte {
	t.Helper()
	der, err := x509.CreateCertificateRequest(rand.Reader, tmpl, key)
	if err != nil {
		t.Fatal(err)
	}
	return pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE REQUEST", Bytes: der})
}

func newECKey(t testing.TB, curve elliptic.Curve) *ecdsa.PrivateKey {
	t.Helper()
	k, err := ecdsa.GenerateKey(curve, rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	return k
}

// writeRequest writes data to a file of its own and returns its path.
func writeRequest(t *testing.T, data []byte) string {
	t.Helper()
	path := filepath.Join(t.TempDir(), "request.csr")
	if err := os.WriteFile(path, data, 0o644); err != nil {
		t.Fatal(err)
	}
	return path
}

func TestSignAGoRequest(t *testing.T) {
	o, _ := newCA(t)
	mustIssue(t, o, "hq")
	rsaKey, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		t.Fatal(err)
	}
	_, edKey, err := ed25519.GenerateKey(rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	// What the request asks beyond its name is the CA's to decide: a CA
	// flag, serverAuth, other subject fields and OUs are ignored.
	asked := []pkix.Extension{
		{Id: asn1.ObjectIdentifier{2, 5, 29, 19}, Critical: true, Value: []byte{0x30, 0x03, 0x01, 0x01, 0xff}},
		{Id: asn1.ObjectIdentifier{2, 5, 29, 37}, Value: []byte{0x30, 0x0a, 0x06, 0x08, 0x2b, 0x06, 0x01, 0x05, 0x05, 0x07, 0x03, 0x01}},
	}
	tests := []struct {
		name string
		key  crypto.Signer
		tmpl x509.CertificateRequest
		want string
	}{
		{"an EC P-256 key and a DNS SAN", newECKey(t, elliptic.P256()), x509.CertificateRequest{DNSNames: []string{"alice"},
			Subject: pkix.Name{CommonName: "Alice Smith", Organization: []string{"Evil"}, OrganizationalUnit: []string{"root"}}, ExtraExtensions: asked}, "alice"},
		{"an EC P-384 key and a CN only", newECKey(t, elliptic.P384()), x509.CertificateRequest{Subject: pkix.Name{CommonName: "bob.corp.example"}}, "bob.corp.example"},
		{"an RSA 2048 key and a name in capitals", rsaKey, x509.CertificateRequest{DNSNames: []string{"Carol"}}, "carol"},
		{"an Ed25519 key", edKey, x509.CertificateRequest{DNSNames: []string{"dave"}}, "dave"},
	}
	hub := func() *trust.Credentials { return hubCredentials(t, o, o, "hq") }
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			name, err := Sign(o, writeRequest(t, requestPEM(t, tt.key, &tt.tmpl)), Profile{Days: 30, Groups: []string{"admins"}}, false)
			if err != nil || name != tt.want {
				t.Fatalf("Sign = %q, %v; want %q", name, err, tt.want)
			}
			cert := loadCert(t, filepath.Join(o.Dir, name+".pem"))
			if !cert.PublicKey.(interface{ Equal(crypto.PublicKey) bool }).Equal(tt.key.Public()) {
				t.Error("the certificate is not for the request's key")
			}
			if cert.IsCA || !slices.Equal(cert.ExtKeyUsage, []x509.ExtKeyUsage{x509.ExtKeyUsageClientAuth}) ||
				!slices.Equal(cert.Subject.OrganizationalUnit, []string{"admins"}) || len(cert.Subject.Organization) > 0 ||
				cert.Subject.CommonName != name || !slices.Equal(cert.DNSNames, []string{name}) {
				t.Errorf("IsCA %v, EKU %v, subject %q, DNS %v: want the CA's client profile for %s",
					cert.IsCA, cert.ExtKeyUsage, cert.Subject, cert.DNSNames, name)
			}
			if err := verifyAs(hub(), trust.Clients, x509.ExtKeyUsageClientAuth, cert); err != nil {
				t.Errorf("the hub refuses the signed client: %v", err)
			}
			if _, err := os.Stat(filepath.Join(o.Dir, name+".key")); !errors.Is(err, os.ErrNotExist) {
				t.Errorf("Sign left a key file: %v", err)
			}
		})
	}
	entries, _ := List(o)
	for _, e := range entries {
		if e.FromRequest != (e.Name != "hq") {
			t.Errorf("%s: FromRequest %v", e.Name, e.FromRequest)
		}
	}
}

// TestSignAnOpenSSLRequest follows docs/pki.md: the admin makes a key and a
// request with the openssl one-liner, the CA signs it, and the certificate
// and the key that never left the admin's folder make a client.
func TestSignAnOpenSSLRequest(t *testing.T) {
	o, _ := newCA(t)
	mustIssue(t, o, "hq")
	admin := t.TempDir()
	testutil.MustOpenSSL(t, admin, "req", "-new", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes",
		"-keyout", "alice.key", "-out", "alice.csr", "-subj", "/CN=alice", "-addext", "subjectAltName=DNS:alice")
	name, err := Sign(o, filepath.Join(admin, "alice.csr"), Profile{Days: 30, Groups: []string{"admins", "ops"}}, false)
	if err != nil || name != "alice" {
		t.Fatalf("Sign = %q, %v", name, err)
	}
	cert := filepath.Join(o.Dir, "alice.pem")
	testutil.MustOpenSSL(t, "", "verify", "-purpose", "sslclient", "-CAfile", filepath.Join(o.Dir, "ca.pem"), cert)
	key, err := readKey(filepath.Join(admin, "alice.key"))
	if err != nil {
		t.Fatal(err)
	}
	if !key.Public().(*ecdsa.PublicKey).Equal(loadCert(t, cert).PublicKey) {
		t.Error("the signed certificate is not for the key openssl made")
	}
	if err := verifyAs(hubCredentials(t, o, o, "hq"), trust.Clients, x509.ExtKeyUsageClientAuth, loadCert(t, cert)); err != nil {
		t.Errorf("the hub refuses the client: %v", err)
	}
}

func TestSignRefusesBadRequests(t *testing.T) {
	o, _ := newCA(t)
	ec := newECKey(t, elliptic.P256())
	good := requestPEM(t, ec, &x509.CertificateRequest{DNSNames: []string{"alice"}})
	weak, err := rsa.GenerateKey(rand.Reader, 1024)
	if err != nil {
		t.Fatal(err)
	}
	block, _ := pem.Decode(good)
	tampered := slices.Clone(block.Bytes)
	tampered[len(tampered)-3] ^= 0xff // inside the signature
	email, _ := mail.ParseAddress("alice@example.com")
	uri, _ := url.Parse("spiffe://example.com/alice")
	keyDER, _ := x509.MarshalPKCS8PrivateKey(ec)
	tests := []struct {
		name string
		data []byte
		want string
	}{
		{"a request whose signature does not verify", pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE REQUEST", Bytes: tampered}), "signature does not verify"},
		{"two DNS names", requestPEM(t, ec, &x509.CertificateRequest{DNSNames: []string{"alice", "bob"}}), "2 DNS names"},
		{"an IP SAN", requestPEM(t, ec, &x509.CertificateRequest{DNSNames: []string{"alice"}, IPAddresses: []net.IP{net.IPv4(10, 0, 0, 1)}}), "IP address SANs"},
		{"an e-mail SAN", requestPEM(t, ec, &x509.CertificateRequest{EmailAddresses: []string{email.Address}}), "e-mail SANs"},
		{"a URI SAN", requestPEM(t, ec, &x509.CertificateRequest{DNSNames: []string{"alice"}, URIs: []*url.URL{uri}}), "URI SANs"},
		{"a wildcard", requestPEM(t, ec, &x509.CertificateRequest{DNSNames: []string{"*.example.com"}}), "wildcard"},
		{"an IP address as the CN", requestPEM(t, ec, &x509.CertificateRequest{Subject: pkix.Name{CommonName: "10.0.0.1"}}), "IP address"},
		{"no name", requestPEM(t, ec, &x509.CertificateRequest{}), "names nothing"},
		{"the CA's reserved name", requestPEM(t, ec, &x509.CertificateRequest{DNSNames: []string{"ca"}}), "reserved"},
		{"a 1024-bit RSA key", requestPEM(t, weak, &x509.CertificateRequest{DNSNames: []string{"alice"}}), "1024-bit RSA"},
		{"a P-224 key", requestPEM(t, newECKey(t, elliptic.P224()), &x509.CertificateRequest{DNSNames: []string{"alice"}}), "P-224"},
		{"a certificate, not a request", readFile(t, o, "ca.pem"), "is a CERTIFICATE, not a CERTIFICATE REQUEST"},
		{"a file that is not PEM", block.Bytes, "no PEM CERTIFICATE REQUEST"},
		{"a request with its private key", append(slices.Clone(good), pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: keyDER})...), "send only the request"},
		{"two requests", append(slices.Clone(good), good...), "more than one"},
		{"a request that does not parse", pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE REQUEST", Bytes: []byte{0x30, 0x00}}), "does not parse"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := Sign(o, writeRequest(t, tt.data), Profile{Days: 30, Groups: []string{"admins"}}, false)
			if !errors.Is(err, ErrBadRequest) || !strings.Contains(err.Error(), tt.want) {
				t.Errorf("Sign = %v, want ErrBadRequest saying %q", err, tt.want)
			}
		})
	}
	if entries, _ := List(o); len(entries) != 0 {
		t.Errorf("refused requests left %d certificates in the index", len(entries))
	}
}

func TestSignReplacesOnlyWithForce(t *testing.T) {
	o, clk := newCA(t)
	mustIssueClient(t, o, "alice", "admins")
	key := newECKey(t, elliptic.P256())
	req := writeRequest(t, requestPEM(t, key, &x509.CertificateRequest{DNSNames: []string{"alice"}}))
	_, err := Sign(o, req, Profile{Days: 30, Groups: []string{"ops"}}, false)
	if !errors.Is(err, ErrExists) || !strings.Contains(err.Error(), "use --force") {
		t.Fatalf("Sign over an issued name = %v, want ErrExists", err)
	}
	if _, err := Sign(o, req, Profile{Days: 30, Groups: []string{"ops"}}, true); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(filepath.Join(o.Dir, "alice.key")); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("the key of the replaced certificate is still there: %v", err)
	}
	signed := loadCert(t, filepath.Join(o.Dir, "alice.pem"))

	// Renew re-signs the same key: the CA never had the private one.
	clk.t = clk.t.Add(time.Minute)
	if err := Renew(o, "alice"); err != nil {
		t.Fatal(err)
	}
	renewed := loadCert(t, filepath.Join(o.Dir, "alice.pem"))
	if renewed.SerialNumber.Cmp(signed.SerialNumber) == 0 || !key.PublicKey.Equal(renewed.PublicKey) ||
		!slices.Equal(renewed.Subject.OrganizationalUnit, []string{"ops"}) {
		t.Errorf("renewed: serial %x (was %x), same key %v, OUs %v; want a new serial for the same key, groups kept",
			renewed.SerialNumber, signed.SerialNumber, key.PublicKey.Equal(renewed.PublicKey), renewed.Subject.OrganizationalUnit)
	}
	if _, err := os.Stat(filepath.Join(o.Dir, "alice.key")); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("renew of a signed certificate wrote a key: %v", err)
	}

	// A certificate file replaced by hand is not renewed from.
	if err := os.WriteFile(filepath.Join(o.Dir, "alice.pem"), encodeCert(signed.Raw), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := Renew(o, "alice"); err == nil || !strings.Contains(err.Error(), "restore that file") {
		t.Errorf("renew over a hand-replaced alice.pem = %v, want a refusal", err)
	}
}

func FuzzParseRequest(f *testing.F) {
	for _, name := range []string{"go-p256.csr", "openssl-p256.csr"} {
		data, err := os.ReadFile(filepath.Join("testdata", name))
		if err != nil {
			f.Fatal(err)
		}
		f.Add(data)
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		req, err := parseRequest(data)
		if err != nil {
			if !errors.Is(err, ErrBadRequest) {
				t.Fatalf("parseRequest error %v is not ErrBadRequest", err)
			}
			return
		}
		if err := ValidateName(req.name); err != nil {
			t.Errorf("accepted the name %q: %v", req.name, err)
		}
		if err := checkRequestKey(req.key); err != nil {
			t.Errorf("accepted the key: %v", err)
		}
	})
}
