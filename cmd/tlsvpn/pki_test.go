package main

import (
	"bytes"
	"errors"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
)

// runPKI runs the pki command tree in-process and returns its output.
func runPKI(t *testing.T, args ...string) (string, error) {
	t.Helper()
	cmd := newPKICmd()
	var out bytes.Buffer
	cmd.SetOut(&out)
	cmd.SetErr(&out)
	cmd.SetArgs(args)
	err := cmd.Execute()
	return out.String(), err
}

func mustRunPKI(t *testing.T, args ...string) string {
	t.Helper()
	out, err := runPKI(t, args...)
	if err != nil {
		t.Fatalf("pki %s: %v\n%s", strings.Join(args, " "), err, out)
	}
	return out
}

func TestPKICommandsOnADirectory(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "pki")
	mustRunPKI(t, "init", "--dir", dir, "--name", "Example Corp VPN CA")
	mustRunPKI(t, "issue", "office-a", "--dir", dir, "--route", "10.1.0.0/24", "--route", "fd01::/64")
	mustRunPKI(t, "issue", "--dir", dir, "office-b", "--days", "90") // flags may come first
	if out := mustRunPKI(t, "issue", "alice", "--dir", dir, "--group", "admins", "--group", "night ops"); !strings.Contains(out, "issued client (groups admins, night ops) alice") {
		t.Errorf("issue --group says %q", out)
	}
	for _, f := range []string{"ca.pem", "ca.key", "crl.pem", "office-a.pem", "office-a.key", "office-b.key"} {
		if _, err := os.Stat(filepath.Join(dir, f)); err != nil {
			t.Errorf("after init and issue: %v", err)
		}
	}
	mustRunPKI(t, "renew", "office-a", "--dir", dir)
	if out := mustRunPKI(t, "revoke", "office-b", "--dir", dir); !strings.Contains(out, "revoked office-b") {
		t.Errorf("revoke says %q", out)
	}
	mustRunPKI(t, "crl", "--dir", dir)

	out := mustRunPKI(t, "list", "--dir", dir)
	lines := strings.Split(strings.TrimSpace(out), "\n")
	want := []*regexp.Regexp{
		regexp.MustCompile(`^NAME\s+KIND\s+SERIAL\s+EXPIRES\s+STATUS\s+GROUPS\s+ROUTES$`),
		regexp.MustCompile(`^alice\s+client\s+[0-9a-f]+\s+\d{4}-\d\d-\d\d\s+valid\s+admins,"night ops"\s+-$`),
		regexp.MustCompile(`^office-a\s+node\s+[0-9a-f]+\s+\d{4}-\d\d-\d\d\s+replaced\s+-\s+10\.1\.0\.0/24,fd01::/64$`),
		regexp.MustCompile(`^office-a\s+node\s+[0-9a-f]+\s+\d{4}-\d\d-\d\d\s+valid\s+-\s+10\.1\.0\.0/24,fd01::/64$`),
		regexp.MustCompile(`^office-b\s+node\s+[0-9a-f]+\s+\d{4}-\d\d-\d\d\s+revoked \d{4}-\d\d-\d\d\s+-\s+-$`),
	}
	if len(lines) != len(want) {
		t.Fatalf("list printed %d lines, want %d:\n%s", len(lines), len(want), out)
	}
	for i, re := range want {
		if !re.MatchString(lines[i]) {
			t.Errorf("list line %d = %q, want it to match %s", i, lines[i], re)
		}
	}
}

func TestPKIUsageErrors(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "pki")
	mustRunPKI(t, "init", "--dir", dir)
	tests := []struct {
		name string
		args []string
		want string
	}{
		{"no subcommand", []string{}, "name a subcommand"},
		{"an unknown subcommand", []string{"isue"}, `did you mean issue`},
		{"no --dir", []string{"list"}, "--dir DIR is required"},
		{"no NAME", []string{"issue", "--dir", dir}, "one argument"},
		{"two NAMEs", []string{"revoke", "a", "b", "--dir", dir}, "one argument"},
		{"an argument to list", []string{"list", "extra", "--dir", dir}, "takes no argument"},
		{"an unknown flag", []string{"issue", "office-a", "--dir", dir, "--rout", "10.0.0.0/8"}, "unknown flag"},
		{"a bad prefix", []string{"issue", "office-a", "--dir", dir, "--route", "10.1.0.0/33"}, `--route "10.1.0.0/33"`},
		{"a prefix with host bits", []string{"issue", "office-a", "--dir", dir, "--route", "10.1.0.1/24"}, "did you mean 10.1.0.0/24"},
		{"an uppercase name", []string{"issue", "Office-A", "--dir", dir}, "not lowercase"},
		{"a bad number of days", []string{"issue", "office-a", "--dir", dir, "--days", "x"}, "invalid argument"},
		{"zero days", []string{"init", "--dir", t.TempDir(), "--days", "0"}, "between 1 and"},
		{"a route for a client", []string{"issue", "alice", "--dir", dir, "--group", "admins", "--route", "10.1.0.0/24"}, "--route and --group do not go together"},
		{"a group given twice", []string{"issue", "alice", "--dir", dir, "--group", "admins", "--group", "admins"}, "given twice"},
		{"an empty group", []string{"issue", "alice", "--dir", dir, "--group", ""}, "empty group name"},
		{"sign without a request", []string{"sign", "--dir", dir}, "the certificate request file CSR"},
		{"bundle without --hub", []string{"bundle", "alice", "--dir", dir, "--endpoint", "vpn:4433", "--out", "a.tar"}, "--hub HUBNAME is required"},
		{"bundle without --endpoint", []string{"bundle", "alice", "--dir", dir, "--hub", "hq", "--out", "a.tar"}, "--endpoint HOST:PORT is required"},
		{"bundle without --out", []string{"bundle", "alice", "--dir", dir, "--hub", "hq", "--endpoint", "vpn:4433"}, "--out FILE is required"},
		{"bundle with a bad endpoint", []string{"bundle", "alice", "--dir", dir, "--hub", "hq", "--endpoint", "vpn", "--out", "a.tar"}, "--endpoint"},
		{"bundle with a bad hub", []string{"bundle", "alice", "--dir", dir, "--hub", "h q", "--endpoint", "vpn:4433", "--out", "a.tar"}, "--hub"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := runPKI(t, tt.args...)
			var ue usageError
			if !errors.As(err, &ue) || !strings.Contains(err.Error(), tt.want) {
				t.Errorf("pki %v = %v, want a usage error saying %q", tt.args, err, tt.want)
			}
		})
	}
}

func TestPKIRuntimeErrorsAreNotUsageErrors(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "pki")
	tests := []struct {
		name string
		args []string
		want string
	}{
		{"issue without a CA", []string{"issue", "office-a", "--dir", dir}, "tlsvpn pki init --dir " + dir},
		{"a second issue", []string{"issue", "office-a", "--dir", dir}, "office-a.pem exists in " + dir + "; use --force"},
		{"a second init", []string{"init", "--dir", dir}, "ca.key exists"},
		{"renew of an unknown name", []string{"renew", "office-z", "--dir", dir}, "never issued"},
		{"sign of a file that is no request", []string{"sign", filepath.Join(dir, "ca.pem"), "--dir", dir}, "not a CERTIFICATE REQUEST"},
		{"sign of a missing file", []string{"sign", filepath.Join(dir, "none.csr"), "--dir", dir}, "no such file"},
		{"bundle of a node", []string{"bundle", "office-a", "--dir", dir, "--hub", "hq", "--endpoint", "vpn:4433", "--out", filepath.Join(dir, "a.tar")}, "node certificate"},
	}
	for i, tt := range tests {
		if i == 1 {
			mustRunPKI(t, "init", "--dir", dir)
			mustRunPKI(t, "issue", "office-a", "--dir", dir)
		}
		t.Run(tt.name, func(t *testing.T) {
			_, err := runPKI(t, tt.args...)
			var ue usageError
			if err == nil || errors.As(err, &ue) || !strings.Contains(err.Error(), tt.want) {
				t.Errorf("pki %v = %v, want a runtime error saying %q", tt.args, err, tt.want)
			}
		})
	}
}

func TestPKIHelpHasExamples(t *testing.T) {
	for _, c := range append(newPKICmd().Commands(), newPKICmd()) {
		if c.Example == "" || c.Long == "" {
			t.Errorf("%s lacks Long help or an Example", c.CommandPath())
		}
	}
}
