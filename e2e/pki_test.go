package e2e

import (
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
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

// untar unpacks the bundle with tar(1) into a new folder, as into
// /etc/tlsvpn, and returns it.
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
	out := mustCLI(t, "pki", "bundle", "alice", "--dir", pki, "--hub", "hq", "--endpoint", "198.18.0.1:4433", "--out", aliceTar)
	if !strings.Contains(out, "tar -xf alice.tar.gz -C /etc/tlsvpn && systemctl enable --now tlsvpn@alice") || strings.Contains(out, "crl.pem") {
		t.Errorf("bundle's output does not say how to unpack and start it, or names a CRL it does not hold:\n%s", out)
	}
	checkUnpackedForTheUnit(t, aliceTar, "alice", "alice/alice.key")

	bobTar := filepath.Join(dir, "bob.tar")
	mustCLI(t, "pki", "bundle", "bob", "--dir", pki, "--hub", "hq", "--endpoint", "198.18.0.1:4433", "--out", bobTar, "--no-key", "--crl")
	etc := untar(t, bobTar)
	if err := os.Rename(filepath.Join(bob, "bob.key"), filepath.Join(etc, "bob", "bob.key")); err != nil {
		t.Fatal(err)
	}
	if r := runCLI(t, "check", "-c", filepath.Join(etc, "bob.toml")); r.code != 0 {
		t.Errorf("check of bob's unpacked bundle with his own key: exit %d\n%s%s", r.code, r.stdout, r.stderr)
	}
	if crl, err := os.ReadFile(filepath.Join(etc, "bob", "crl.pem")); err != nil || !strings.Contains(readFile(filepath.Join(etc, "bob.toml")), `crl = ["bob/crl.pem"]`) ||
		string(crl) != readFile(filepath.Join(pki, "crl.pem")) {
		t.Errorf("bob's bundle made with --crl: crl.pem %v, config:\n%s", err, readFile(filepath.Join(etc, "bob.toml")))
	}
}

// checkUnpackedForTheUnit unpacks bundle into a folder standing for
// /etc/tlsvpn and checks what the systemd unit tlsvpn@name would run: the
// config its ExecStart names, beside the folder of its files, passes
// tlsvpn check; the folder and key are the owner's only.
func checkUnpackedForTheUnit(t *testing.T, bundle, name, key string) {
	t.Helper()
	etc := untar(t, bundle)
	start := parseUnit(t, unitPath).words("Service", "ExecStart")
	i := slices.Index(start, "-c")
	if i < 0 || i+1 >= len(start) || !strings.HasPrefix(start[i+1], "/etc/tlsvpn/") {
		t.Fatalf("the unit's ExecStart %q names no config in /etc/tlsvpn", start)
	}
	cfg := filepath.Join(etc, strings.ReplaceAll(strings.TrimPrefix(start[i+1], "/etc/tlsvpn/"), "%i", name))
	if r := runCLI(t, "check", "-c", cfg); r.code != 0 {
		t.Errorf("check of %s, which tlsvpn@%s runs once the bundle is unpacked into /etc/tlsvpn: exit %d\n%s%s", cfg, name, r.code, r.stdout, r.stderr)
	}
	for path, mode := range map[string]os.FileMode{name: 0o700 | os.ModeDir, key: 0o600} {
		if fi, err := os.Stat(filepath.Join(etc, path)); err != nil || fi.Mode() != mode {
			t.Errorf("unpacked %s: %v, mode %v; want %v", path, err, fi.Mode(), mode)
		}
	}
	listing, err := exec.Command("tar", "-tf", bundle).Output()
	if err != nil {
		t.Fatal(err)
	}
	for _, m := range strings.Fields(string(listing)) {
		if m != name+".toml" && m != name+"/" && !strings.HasPrefix(m, name+"/") {
			t.Errorf("the bundle puts %s into /etc/tlsvpn: only %s.toml and %s/ belong there", m, name, name)
		}
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
