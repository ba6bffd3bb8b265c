package testutil

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestOpenSSLRunsInTheGivenFolder(t *testing.T) {
	dir := t.TempDir()
	MustOpenSSL(t, dir, "rand", "-hex", "-out", "r.hex", "8")
	b, err := os.ReadFile(filepath.Join(dir, "r.hex"))
	if err != nil || len(strings.TrimSpace(string(b))) != 16 {
		t.Errorf("openssl rand in %s wrote %q (%v); want 16 hex digits in r.hex", dir, b, err)
	}
	if out, err := OpenSSL(t, dir, "x509", "-in", "missing.pem"); err == nil || !strings.Contains(out, "missing.pem") {
		t.Errorf("openssl x509 -in missing.pem: %v; want an error naming the file:\n%s", err, out)
	}
}
