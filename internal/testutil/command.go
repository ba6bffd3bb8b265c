package testutil

import (
	"context"
	"os/exec"
	"strings"
	"testing"
	"time"
)

// commandTimeout bounds one run of an outside tool.
const commandTimeout = time.Minute

// NeedCommand skips the test when the program name is not on PATH, naming
// the Debian package that has it. `make test` installs every such package
// first (.ci/deps) and turns a skip into a failure.
func NeedCommand(tb testing.TB, name, debianPackage string) {
	tb.Helper()
	if _, err := exec.LookPath(name); err != nil {
		tb.Skipf("needs the %s command (apt-get install %s, or run .ci/deps)", name, debianPackage)
	}
}

// OpenSSL runs openssl(1) with args in folder dir ("" for the current
// one), bounded by a minute, and returns its combined output and its
// error. The test is skipped when openssl is missing.
func OpenSSL(tb testing.TB, dir string, args ...string) (string, error) {
	tb.Helper()
	NeedCommand(tb, "openssl", "openssl")
	ctx, cancel := context.WithTimeout(context.Background(), commandTimeout)
	defer cancel()
	cmd := exec.CommandContext(ctx, "openssl", args...)
	cmd.Dir = dir
	out, err := cmd.CombinedOutput()
	return string(out), err
}

// MustOpenSSL is OpenSSL ending the test when openssl fails.
func MustOpenSSL(tb testing.TB, dir string, args ...string) string {
	tb.Helper()
	out, err := OpenSSL(tb, dir, args...)
	if err != nil {
		tb.Fatalf("openssl %s: %v\n%s", strings.Join(args, " "), err, out)
	}
	return out
}
