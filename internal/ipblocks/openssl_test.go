package ipblocks

import (
	"crypto/x509"
	"encoding/pem"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/tlsvpn/tlsvpn/internal/testutil"
)

func writeCert(t *testing.T, c *x509.Certificate) string {
	t.Helper()
	path := filepath.Join(t.TempDir(), c.Subject.CommonName+".pem")
	if err := os.WriteFile(path, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: c.Raw}), 0o644); err != nil {
		t.Fatal(err)
	}
	return path
}

func TestOpenSSLShowsTheExtension(t *testing.T) {
	_, leaf := chainWith(t, mustMarshal(t, "0.0.0.0/0", "::/0"),
		mustMarshal(t, "10.1.0.0/24", "10.0.0.0/24", "10.0.1.0/25", "fd01::/64"))
	out, err := testutil.OpenSSL(t, "", "x509", "-noout", "-text", "-in", writeCert(t, leaf))
	if err != nil {
		t.Fatalf("openssl x509: %v\n%s", err, out)
	}
	for _, want := range []string{
		"sbgp-ipAddrBlock: critical",
		"IPv4:", "10.0.0.0-10.0.1.127", "10.1.0.0/24",
		"IPv6:", "fd01::/64",
	} {
		if !strings.Contains(out, want) {
			t.Errorf("openssl x509 -text lacks %q:\n%s", want, out)
		}
	}
}

func TestOpenSSLVerifiesNestedBlocks(t *testing.T) {
	tests := []struct {
		name     string
		ca, leaf []string
		ok       bool
	}{
		{"leaf inside the CA", []string{"0.0.0.0/0", "::/0"}, []string{"10.0.0.0/24", "10.0.1.0/25", "fd01::/64"}, true},
		{"leaf outside the CA", []string{"10.0.0.0/8"}, []string{"192.168.0.0/24"}, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			ca, leaf := chainWith(t, mustMarshal(t, tt.ca...), mustMarshal(t, tt.leaf...))
			out, err := testutil.OpenSSL(t, "", "verify", "-CAfile", writeCert(t, ca), writeCert(t, leaf))
			if ok := err == nil; ok != tt.ok {
				t.Errorf("openssl verify succeeded %v, want %v:\n%s", ok, tt.ok, out)
			}
		})
	}
}
