package e2e

import (
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"github.com/tlsvpn/tlsvpn/internal/testutil"
)

// The remote-access side of the built-in CA, driven through the binary as
// an administrator would: client certificates, a request signed without
// its key, bundles unpacked with tar(1) and checked with tlsvpn check.

// mustCLI runs the binary and fails the test unless it exits 0.
func mustCLI(t *testing.T, args ...string) string {
	t.Helper()
	r := runCLI(t, args...)
	if r.code != 0 {
		t.Fatalf("tlsvpn %s: exit %d\nstdout: %s\nstderr: %s", strings.Join(args, " "), r.code, r.stdout, r.stderr)
	}
	return r.stdout
}

// untar unpacks the bundle with tar(1) into a new folder and returns it.
func untar(t *testing.T, bundle string) string {
	t.Helper()
	testutil.NeedCommand(t, "tar", "tar")
	dir := t.TempDir()
	if out, err := exec.Command("tar", "-xf", bundle, "-C", dir).CombinedOutput(); err != nil {
		t.Fatalf("tar -xf %s: %v\n%s", bundle, err, out)
	}
	return dir
}

func TestPKIClientBundlesPassCheck(t *testing.T) {
	testutil.CheckLeaks(t)
	dir := t.TempDir()
	pki := filepath.Join(dir, "pki")
	mustCLI(t, "pki", "init", "--dir", pki)
	mustCLI(t, "pki", "issue", "hq", "--dir", pki)
	mustCLI(t, "pki", "issue", "alice", "--dir", pki, "--group", "admins", "--group", "ops")

	// bob's key stays in his folder; the CA sees only the request.
	bob := t.TempDir()
	testutil.MustOpenSSL(t, bob, "req", "-new", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes",
		"-keyout", "bob.key", "-out", "bob.csr", "-subj", "/CN=bob", "-addext", "subjectAltName=DNS:bob")
	if out := mustCLI(t, "pki", "sign", filepath.Join(bob, "bob.csr"), "--dir", pki, "--group", "admins"); !strings.Contains(out, filepath.Join(pki, "bob.pem")) {
		t.Errorf("sign does not say where the certificate went: %q", out)
	}
	if _, err := os.Stat(filepath.Join(pki, "bob.key")); err == nil {
		t.Error("sign wrote bob.key into the CA's directory")
	}

	list := mustCLI(t, "pki", "list", "--dir", pki)
	for _, re := range []*regexp.Regexp{
		regexp.MustCompile(`(?m)^alice\s+client\s+[0-9a-f]+\s+\S+\s+valid\s+admins,ops\s+-$`),
		regexp.MustCompile(`(?m)^bob\s+client\s+[0-9a-f]+\s+\S+\s+valid\s+admins\s+-$`),
		regexp.MustCompile(`(?m)^hq\s+node\s+[0-9a-f]+\s+\S+\s+valid\s+-\s+-$`),
	} {
		if !re.MatchString(list) {
			t.Errorf("pki list does not match %s:\n%s", re, list)
		}
	}

	aliceTar := filepath.Join(dir, "alice.tar.gz")
	mustCLI(t, "pki", "bundle", "alice", "--dir", pki, "--hub", "hq", "--endpoint", "198.18.0.1:4433", "--out", aliceTar)
	if r := runCLI(t, "check", "-c", filepath.Join(untar(t, aliceTar), "alice", "alice.toml")); r.code != 0 {
		t.Errorf("check of alice's unpacked bundle: exit %d\n%s%s", r.code, r.stdout, r.stderr)
	}

	bobTar := filepath.Join(dir, "bob.tar")
	mustCLI(t, "pki", "bundle", "bob", "--dir", pki, "--hub", "hq", "--endpoint", "198.18.0.1:4433", "--out", bobTar, "--no-key")
	unpacked := untar(t, bobTar)
	if err := os.Rename(filepath.Join(bob, "bob.key"), filepath.Join(unpacked, "bob", "bob.key")); err != nil {
		t.Fatal(err)
	}
	if r := runCLI(t, "check", "-c", filepath.Join(unpacked, "bob", "bob.toml")); r.code != 0 {
		t.Errorf("check of bob's unpacked bundle with his own key: exit %d\n%s%s", r.code, r.stdout, r.stderr)
	}
}

func TestPKIClientCommandsExitCodes(t *testing.T) {
	testutil.CheckLeaks(t)
	dir := t.TempDir()
	pki := filepath.Join(dir, "pki")
	mustCLI(t, "pki", "init", "--dir", pki)
	mustCLI(t, "pki", "issue", "hq", "--dir", pki)
	mustCLI(t, "pki", "issue", "alice", "--dir", pki, "--group", "admins")
	out := filepath.Join(dir, "out.tar")
	bundle := func(args ...string) []string {
		return append([]string{"pki", "bundle", "--dir", pki, "--out", out}, args...)
	}
	for _, c := range []struct {
		name string
		args []string
		code int
		says string
	}{
		{"a client with routes is a usage error", []string{"pki", "issue", "bob", "--dir", pki, "--group", "admins", "--route", "10.1.0.0/24"}, 2, "--route and --group"},
		{"a bad group is a usage error", []string{"pki", "issue", "bob", "--dir", pki, "--group", " admins"}, 2, "space"},
		{"sign without a request is a usage error", []string{"pki", "sign", "--dir", pki}, 2, "CSR"},
		{"bundle without --hub is a usage error", bundle("alice", "--endpoint", "198.18.0.1:4433"), 2, "--hub HUBNAME is required"},
		{"bundle with a bad endpoint is a usage error", bundle("alice", "--hub", "hq", "--endpoint", "198.18.0.1"), 2, "--endpoint"},
		{"sign of a certificate is a failure", []string{"pki", "sign", filepath.Join(pki, "ca.pem"), "--dir", pki}, 1, "not a CERTIFICATE REQUEST"},
		{"bundle of a node is a failure", bundle("hq", "--hub", "hub2", "--endpoint", "198.18.0.1:4433"), 1, "node certificate"},
	} {
		t.Run(c.name, func(t *testing.T) {
			r := runCLI(t, c.args...)
			if r.code != c.code || !strings.Contains(r.stderr, c.says) {
				t.Errorf("tlsvpn %s: exit %d, want %d and stderr saying %q\nstdout: %s\nstderr: %s",
					strings.Join(c.args, " "), r.code, c.code, c.says, r.stdout, r.stderr)
			}
		})
	}
	if _, err := os.Stat(out); err == nil {
		t.Error("a refused bundle left its file")
	}
	for _, sub := range []string{"issue", "sign", "bundle"} {
		r := runCLI(t, "pki", sub, "--help")
		if r.code != 0 || !strings.Contains(r.stdout, "Examples:\n  tlsvpn pki "+sub) {
			t.Errorf("pki %s --help: exit %d, want 0 and an example of it\n%s", sub, r.code, r.stdout)
		}
	}
}
