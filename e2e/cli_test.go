package e2e

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/tlsvpn/tlsvpn/internal/testutil"
)

// The CLI tests run the real binary on the configurations NewNet writes,
// and on variants of them. `check` touches no network, so these tests need
// neither root nor namespaces: newConfigNet makes the same PKI and configs
// as NewNet, without the topology.

// cliTimeout bounds one run of the binary.
const cliTimeout = 30 * time.Second

// cliResult is how one run of the binary ended.
type cliResult struct {
	stdout, stderr string
	code           int // exit status
}

// runCLI runs the tlsvpn binary here (no namespace) with args.
func runCLI(t *testing.T, args ...string) cliResult {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), cliTimeout)
	defer cancel()
	var stdout, stderr bytes.Buffer
	cmd := exec.CommandContext(ctx, bin, args...)
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	err := cmd.Run()
	r := cliResult{stdout: stdout.String(), stderr: stderr.String()}
	var ee *exec.ExitError
	switch {
	case errors.As(err, &ee):
		r.code = ee.ExitCode()
	case err != nil:
		t.Fatalf("tlsvpn %s: %v", strings.Join(args, " "), err)
	}
	return r
}

// newConfigNet makes a Net without a topology: a folder with the e2e PKI
// and the configs of office-a and office-b, as NewNet writes them.
func newConfigNet(t *testing.T) *Net {
	t.Helper()
	n := &Net{Dir: t.TempDir()}
	n.A = &Node{Name: "office-a", net: n}
	n.B = &Node{Name: "office-b", net: n}
	pki := filepath.Join(n.Dir, "pki")
	n.MustRun(t, "", "pki", "init", "--dir", pki, "--name", "e2e CA")
	for _, name := range []string{"office-a", "office-b"} {
		n.MustRun(t, "", "pki", "issue", name, "--dir", pki)
	}
	n.A.Config = n.WriteConfig(t, "office-a", configA(Options{}))
	n.B.Config = n.WriteConfig(t, "office-b", configB(Options{}))
	return n
}

func TestCheckAcceptsTheTestConfigs(t *testing.T) {
	testutil.CheckLeaks(t)
	n := newConfigNet(t)
	for _, nd := range []*Node{n.A, n.B} {
		r := runCLI(t, "check", "-c", nd.Config)
		if r.code != 0 || !strings.Contains(r.stdout, "ok") {
			t.Errorf("check %s: exit %d, want 0 and \"ok\"\nstdout: %s\nstderr: %s", nd.Name, r.code, r.stdout, r.stderr)
		}
	}
}

// configEdit returns a variant of a config's body; it may write files
// the variant names into n.Dir.
type configEdit func(t *testing.T, n *Net, body string) string

// badConfig is a variant of a valid config that check must reject.
type badConfig struct {
	name string
	node string     // "office-a" (listens) or "office-b" (dials)
	edit configEdit // the variant, from the valid body
	key  string     // the key path the message names; "" for the whole file
	at   string     // text on the line the message must name; "" for none
	msg  string     // part of the message
}

// replaceText returns an edit replacing old by new in the config, which must
// contain old.
func replaceText(old, new string) configEdit {
	return func(t *testing.T, _ *Net, body string) string {
		t.Helper()
		if !strings.Contains(body, old) {
			t.Fatalf("config has no %q to replace:\n%s", old, body)
		}
		return strings.Replace(body, old, new, 1)
	}
}

// appendPeer returns an edit adding a [[peer]] section.
func appendPeer(name, allowed string) configEdit {
	return func(_ *testing.T, _ *Net, body string) string {
		return body + fmt.Sprintf("\n[[peer]]\nname        = %q\nallowed_ips = [%q]\n", name, allowed)
	}
}

// useCert returns an edit pointing tls.cert and tls.key of the node called
// node at a certificate made with openssl by spec.
func useCert(node string, spec func(*testing.T, *Net) certSpec) configEdit {
	return func(t *testing.T, n *Net, body string) string {
		testutil.NeedCommand(t, "openssl", "openssl")
		s := spec(t, n)
		cert, key := issueWithOpenSSL(t, n.Dir, s)
		body = replaceText(fmt.Sprintf("pki/%s.pem", node), cert)(t, n, body)
		return replaceText(fmt.Sprintf("pki/%s.key", node), key)(t, n, body)
	}
}

// keyCopy returns an edit pointing tls.key at a copy of the node's key
// written with mode.
func keyCopy(node string, mode os.FileMode) configEdit {
	return func(t *testing.T, n *Net, body string) string {
		data, err := os.ReadFile(filepath.Join(n.Dir, "pki", node+".key"))
		if err != nil {
			t.Fatal(err)
		}
		path := filepath.Join(n.Dir, fmt.Sprintf("%s-%04o.key", node, mode))
		if err := os.WriteFile(path, data, mode); err != nil {
			t.Fatal(err)
		}
		if err := os.Chmod(path, mode); err != nil { // past the umask
			t.Fatal(err)
		}
		return replaceText(fmt.Sprintf("pki/%s.key", node), path)(t, n, body)
	}
}

func badConfigs() []badConfig {
	year := 365 * 24 * time.Hour
	return []badConfig{
		{"an unknown key is an error", "office-a", replaceText("[interface]\n", "[interface]\ncolour  = \"blue\"\n"),
			"interface.colour", "colour", "unknown key"},
		{"a bad prefix is an error", "office-a", replaceText(`"10.2.0.0/24"`, `"10.2.0.0/33"`),
			"peer[0].allowed_ips[2]", "10.2.0.0/33", "not an IP prefix"},
		{"a prefix with host bits set is an error", "office-a", replaceText(`"10.2.0.0/24"`, `"10.2.0.1/24"`),
			"peer[0].allowed_ips[2]", "10.2.0.1/24", "host bits"},
		{"prefixes overlapping between peers are an error", "office-a", appendPeer("office-c", "10.2.0.128/25"),
			"peer[1].allowed_ips[0]", "10.2.0.128/25", "overlaps"},
		{"a missing file is an error", "office-a", replaceText("pki/ca.pem", "pki/missing.pem"),
			"tls.ca", "missing.pem", "does not exist"},
		{"a key readable by others is an error", "office-a", keyCopy("office-a", 0o644),
			"tls.key", "key ", "other than its owner may read"},
		{"a key not matching the certificate is an error", "office-a", replaceText("pki/office-a.key", "pki/office-b.key"),
			"tls.key", "key ", "does not belong"},
		{"an expired own certificate is an error", "office-a", useCert("office-a", func(_ *testing.T, n *Net) certSpec {
			ca, key := n.pkiFiles()
			s := validSpec("expired-a", "office-a", ca, key)
			s.notBefore, s.notAfter = time.Now().Add(-2*year), time.Now().Add(-year)
			return s
		}), "tls.cert", "cert ", "expired"},
		{"an own certificate from another CA is an error", "office-a", useCert("office-a", func(t *testing.T, n *Net) certSpec {
			dir := filepath.Join(n.Dir, "other")
			if err := os.MkdirAll(dir, 0o700); err != nil {
				t.Fatal(err)
			}
			ca, key := newOpenSSLCA(t, dir, "Other CA")
			return validSpec("other-ca-a", "office-a", ca, key)
		}), "tls.cert", "cert ", "does not chain"},
		{"a dialing node's certificate without clientAuth is an error", "office-b", useCert("office-b", func(_ *testing.T, n *Net) certSpec {
			ca, key := n.pkiFiles()
			s := validSpec("server-only-b", "office-b", ca, key)
			s.eku = "serverAuth"
			return s
		}), "tls.cert", "cert ", "clientAuth"},
		{"a name that is not in the own certificate is an error", "office-a", replaceText(`name = "office-a"`, `name = "office-c"`),
			"name", `name = "office-c"`, "not a DNS name"},
		{"a node that neither listens nor dials is an error", "office-a", replaceText("[listen]\naddress = \"198.18.0.1:4433\"\n", ""),
			"", "", "neither listens nor dials"},
		{"duplicate peer names are an error", "office-a", appendPeer("office-b", "10.3.0.0/24"),
			"peer[1].name", `name        = "office-b"`, "already the name"},
		{"a peer named like the node is an error", "office-a", appendPeer("office-a", "10.3.0.0/24"),
			"peer[1].name", `name        = "office-a"`, "own name"},
		{"an MTU below 1280 is an error", "office-a", replaceText("[interface]\n", "[interface]\nmtu     = 1279\n"),
			"interface.mtu", "mtu", "1280"},
		{"an MTU above 65535 is an error", "office-a", replaceText("[interface]\n", "[interface]\nmtu     = 65536\n"),
			"interface.mtu", "mtu", "65535"},
		{"a bad duration is an error", "office-a", func(_ *testing.T, _ *Net, body string) string {
			return body + "keepalive   = \"soon\"\n"
		}, "peer[0].keepalive", "keepalive", "not a duration"},
		{"allowed_ips covering the peer's endpoint are an error", "office-b", replaceText(`"fd01::/64"`, `"fd01::/64", "198.18.0.0/24"`),
			"peer[0].allowed_ips[4]", "198.18.0.0/24", "endpoint"},
	}
}

func TestCheckRejects(t *testing.T) {
	testutil.CheckLeaks(t)
	n := newConfigNet(t)
	valid := map[string]string{"office-a": configA(Options{}), "office-b": configB(Options{})}
	for i, c := range badConfigs() {
		t.Run(c.name, func(t *testing.T) {
			body := c.edit(t, n, valid[c.node])
			path := n.WriteConfig(t, fmt.Sprintf("bad-%02d", i), body)
			r := runCLI(t, "check", "-c", path)
			if r.code != 1 {
				t.Errorf("exit status %d, want 1\nstdout: %s\nstderr: %s", r.code, r.stdout, r.stderr)
			}
			want := problemPrefix(path, body, c.at, c.key)
			line := problemLine(r.stderr, want, c.msg)
			if line == "" {
				t.Errorf("stderr has no line with %q and %q:\n%s", want, c.msg, r.stderr)
			}
			t.Logf("%s", line)
		})
	}
}

// problemPrefix is how check starts the message about key: "FILE:LINE: KEY: ",
// with LINE that of the first line of body containing at ("" for none).
func problemPrefix(path, body, at, key string) string {
	prefix := path
	if at != "" {
		prefix += fmt.Sprintf(":%d", lineOf(body, at))
	}
	prefix += ": "
	if key != "" {
		prefix += key + ": "
	}
	return prefix
}

// lineOf returns the 1-based number of the last line of body containing s
// (edits append at the end), or 0.
func lineOf(body, s string) int {
	line := 0
	for i, l := range strings.Split(body, "\n") {
		if strings.Contains(l, s) {
			line = i + 1
		}
	}
	return line
}

// problemLine returns the line of out that starts (after "error: ") with
// prefix and contains msg, or "".
func problemLine(out, prefix, msg string) string {
	for _, l := range strings.Split(out, "\n") {
		if strings.HasPrefix(strings.TrimPrefix(l, "error: "), prefix) && strings.Contains(l, msg) {
			return l
		}
	}
	return ""
}

func TestCheckReportsEveryProblemAtOnce(t *testing.T) {
	testutil.CheckLeaks(t)
	n := newConfigNet(t)
	body := configA(Options{})
	all := make(map[string]badConfig)
	for _, c := range badConfigs() {
		all[c.name] = c
	}
	var wants []badConfig
	for _, name := range []string{ // in an order where each edit keeps the others' key paths
		"an unknown key is an error", "a prefix with host bits set is an error",
		"a key not matching the certificate is an error", "a bad duration is an error",
		"a peer named like the node is an error",
	} {
		c := all[name]
		body = c.edit(t, n, body)
		wants = append(wants, c)
	}
	path := n.WriteConfig(t, "many-problems", body)
	r := runCLI(t, "check", "-c", path)
	if r.code != 1 {
		t.Errorf("exit status %d, want 1", r.code)
	}
	for _, c := range wants {
		if problemLine(r.stderr, problemPrefix(path, body, c.at, c.key), c.msg) == "" {
			t.Errorf("%s: not reported", c.name)
		}
	}
	if want := fmt.Sprintf("%d problem(s)", len(wants)); !strings.Contains(r.stderr, want) {
		t.Errorf("stderr does not say %q", want)
	}
	t.Logf("check of a config with %d problems:\n%s", len(wants), r.stderr)
}

func TestExitCodes(t *testing.T) {
	testutil.CheckLeaks(t)
	for _, c := range []struct {
		name string
		args []string
		code int
		out  *regexp.Regexp // matched against stdout and stderr together
	}{
		{"up without -c is a usage error", []string{"up"}, 2, regexp.MustCompile(`config`)},
		{"an unknown command is a usage error", []string{"bogus"}, 2, regexp.MustCompile(`unknown command "bogus"`)},
		{"check without -c is a usage error", []string{"check"}, 2, regexp.MustCompile(`config`)},
		{"an unknown flag is a usage error", []string{"check", "-c", "x.toml", "--frobnicate"}, 2, regexp.MustCompile(`frobnicate`)},
		{"version succeeds and prints a version", []string{"version"}, 0, regexp.MustCompile(`^tlsvpn \S+\n$`)},
		{"status of a missing config is a failure", []string{"status", "-c", "/nonexistent/tlsvpn.toml"}, 1,
			regexp.MustCompile(`/nonexistent/tlsvpn.toml`)},
		{"reload without -c is a usage error", []string{"reload"}, 2, regexp.MustCompile(`config`)},
		{"reload of a missing config is a failure", []string{"reload", "-c", "/nonexistent/tlsvpn.toml"}, 1,
			regexp.MustCompile(`/nonexistent/tlsvpn.toml`)},
		{"status with --json and a peer's name is a usage error", []string{"status", "-c", "x.toml", "--json", "office-b"}, 2,
			regexp.MustCompile(`--json`)},
	} {
		t.Run(c.name, func(t *testing.T) {
			r := runCLI(t, c.args...)
			if r.code != c.code || !c.out.MatchString(r.stdout+r.stderr) {
				t.Errorf("tlsvpn %s: exit %d, want %d and output matching %q\nstdout: %s\nstderr: %s",
					strings.Join(c.args, " "), r.code, c.code, c.out, r.stdout, r.stderr)
			}
		})
	}
}

// cobraBuiltins are the commands cobra adds by itself; their help is
// cobra's, not ours.
var cobraBuiltins = map[string]bool{"help": true, "completion": true}

// subcommands lists the commands in the "Available Commands:" section of
// a --help output.
func subcommands(help string) []string {
	_, after, ok := strings.Cut(help, "Available Commands:\n")
	if !ok {
		return nil
	}
	var names []string
	for _, l := range strings.Split(after, "\n") {
		f := strings.Fields(l)
		if len(f) == 0 || !strings.HasPrefix(l, "  ") {
			break
		}
		if !cobraBuiltins[f[0]] {
			names = append(names, f[0])
		}
	}
	return names
}

func TestHelpOfEveryCommandShowsAnExample(t *testing.T) {
	testutil.CheckLeaks(t)
	queue := [][]string{{}}
	seen := 0
	for len(queue) > 0 && seen < 100 {
		path := queue[0]
		queue = queue[1:]
		seen++
		r := runCLI(t, append(append([]string{}, path...), "--help")...)
		for _, sub := range subcommands(r.stdout) {
			queue = append(queue, append(append([]string{}, path...), sub))
		}
		name := strings.Join(append([]string{"tlsvpn"}, path...), " ")
		t.Run(name, func(t *testing.T) {
			if r.code != 0 || !strings.Contains(r.stdout, "Examples:\n  tlsvpn") {
				t.Errorf("%s --help: exit %d, want 0 and an \"Examples:\" section\n%s%s", name, r.code, r.stdout, r.stderr)
			}
		})
	}
	if seen < 10 {
		t.Errorf("found only %d commands; want every command of docs/cli.md (up, check, status, pki …, version)", seen)
	}
}
