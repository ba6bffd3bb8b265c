package e2e

import (
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/tlsvpn/tlsvpn/internal/lab"
	"github.com/tlsvpn/tlsvpn/internal/testutil"
)

// testssl (testssl.sh 3.0.8 from Debian) judges office-a's listener as an
// outside scanner: protocols, cipher categories, forward secrecy, ciphers
// per protocol and the certificate. It runs in gwB against office-a's
// underlay address; --nodns none keeps it from looking anything up.

// testsslTimeout bounds one testssl run (about 15 s here).
const testsslTimeout = 3 * time.Minute

// testsslFinding is one entry of a testssl JSON report.
type testsslFinding struct {
	ID       string `json:"id"`
	Severity string `json:"severity"`
	Finding  string `json:"finding"`
}

// quietSeverities are the severities that report nothing wrong.
var quietSeverities = []string{"OK", "INFO"}

// expectedFindings are the findings above INFO that a tlsvpn listener
// always gets from testssl, with why each is expected. Any other finding
// above INFO fails the test.
var expectedFindings = map[string]string{
	// The scanner's own openssl has no GOST engine: a note about the
	// machine running testssl, not about the server.
	"engine_problem": "testssl's openssl lacks the GOST engine (scanner side)",
	// Scanned by IP address, the certificate names the node (DNS SAN
	// office-a): tlsvpn identifies nodes by name, never by address.
	"cert_trust": "reached by IP address; the certificate carries the node name office-a, not the address",
	// The node's CA is private: none of testssl's bundled trust stores
	// (Mozilla, Apple, Linux, Microsoft, Java) holds it.
	"cert_chain_of_trust": "private CA, in none of testssl's trust stores",
	// tlsvpn's CRL is a file copied to every node ([tls] crl, docs/pki.md);
	// no node fetches one, so certificates carry no CRL or OCSP URI.
	"cert_revocation": "no CRL distribution point or OCSP URI: the CRL is distributed as a file",
	// Mutual TLS: the node refuses a client without a certificate right
	// after the client's Finished (TLS 1.3), so testssl's first openssl
	// connection, which has none, is sometimes judged a failure. testssl
	// goes on with its own sockets.
	"optimal_proto": "openssl without a client certificate is refused by the mutual-TLS listener",
}

// cipherSections are the report sections about protocols and ciphers:
// every finding there must be OK or INFO.
var cipherSections = []string{"protocols", "ciphers", "pfs", "cipherTests", "serverPreferences"}

// runTestssl runs testssl in gwB with args before the target, bounded by
// testsslTimeout, and returns the report's findings by section.
func runTestssl(t *testing.T, n *Net, name string, args ...string) map[string][]testsslFinding {
	t.Helper()
	report := filepath.Join(n.Dir, name+".json")
	logPath := filepath.Join(n.Dir, name+".log")
	base := []string{"--quiet", "--color", "0", "--nodns", "none", "--warnings", "off", "--jsonfile-pretty", report}
	t.Cleanup(func() {
		if t.Failed() {
			t.Logf("output of testssl:\n%s", tail(readText(logPath), 80))
		}
	})
	start := time.Now()
	p, err := n.Lab.Start(n.Lab.GwB, logPath, "testssl", append(base, args...)...)
	if err != nil {
		t.Fatalf("start testssl: %v", err)
	}
	ended, err := waitProc(p, testsslTimeout)
	if !ended {
		t.Fatalf("testssl %s still running after %v; stopped", strings.Join(args, " "), testsslTimeout)
	}
	t.Logf("testssl %s: %v (exit: %v)", strings.Join(args, " "), time.Since(start).Round(time.Second), err)
	data, err := os.ReadFile(report)
	if err != nil {
		t.Fatalf("testssl wrote no report: %v", err)
	}
	sections, err := testsslSections(data)
	if err != nil {
		t.Fatalf("report of testssl: %v", err)
	}
	return sections
}

// waitProc waits up to timeout for p to exit and returns how it ended;
// ended is false when it had to be stopped. The goroutine waiting for p
// ends when p does, which Stop makes sure of.
func waitProc(p *lab.Proc, timeout time.Duration) (ended bool, err error) {
	done := make(chan error, 1)
	go func() { done <- p.Wait() }()
	select {
	case err = <-done:
		return true, err
	case <-time.After(timeout):
		p.Stop(5 * time.Second)
		return false, nil
	}
}

// readText is the content of a file, or the error reading it.
func readText(path string) string {
	b, err := os.ReadFile(path)
	if err != nil {
		return err.Error()
	}
	return string(b)
}

// testsslSections decodes a --jsonfile-pretty report into its lists of
// findings by section: those at the top level (client problems), those
// testssl puts among the scan results (such as "optimal_proto", section
// "scanResult") and those of the scan result itself.
func testsslSections(data []byte) (map[string][]testsslFinding, error) {
	var top map[string]json.RawMessage
	if err := json.Unmarshal(data, &top); err != nil {
		return nil, fmt.Errorf("decode: %w", err)
	}
	var results []map[string]json.RawMessage
	if err := json.Unmarshal(top["scanResult"], &results); err != nil {
		return nil, fmt.Errorf("scanResult: %w", err)
	}
	sections := map[string][]testsslFinding{}
	addLists(sections, top)
	scanned := false
	for _, r := range results {
		if _, ok := r["targetHost"]; ok {
			addLists(sections, r)
			scanned = true
			continue
		}
		var f testsslFinding
		b, _ := json.Marshal(r)
		if err := json.Unmarshal(b, &f); err != nil {
			return nil, fmt.Errorf("scanResult entry %s: %w", b, err)
		}
		sections["scanResult"] = append(sections["scanResult"], f)
	}
	if !scanned {
		return nil, fmt.Errorf("no scan result in %s", data)
	}
	return sections, nil
}

// addLists adds the members of obj that are lists of findings to sections.
func addLists(sections map[string][]testsslFinding, obj map[string]json.RawMessage) {
	for name, raw := range obj {
		var fs []testsslFinding
		if name == "scanResult" || json.Unmarshal(raw, &fs) != nil {
			continue // not a list of findings
		}
		sections[name] = append(sections[name], fs...)
	}
}

// findingByID returns the finding with id in section.
func findingByID(sections map[string][]testsslFinding, section, id string) (testsslFinding, bool) {
	for _, f := range sections[section] {
		if f.ID == id {
			return f, true
		}
	}
	return testsslFinding{}, false
}

func TestTestsslSeesOnlyTLS13AndStrongCiphers(t *testing.T) {
	testutil.NeedCommand(t, "testssl", "testssl.sh")
	testutil.NeedCommand(t, "hexdump", "bsdextrautils") // testssl needs it
	t.Parallel()
	testutil.CheckLeaks(t)
	n := NewNet(t, Options{})
	n.A.Start(t)
	waitStatusAnswers(t, n.A)
	target := lab.UnderlayA + ":" + listenPort

	t.Run("scanned by address", func(t *testing.T) {
		s := runTestssl(t, n, "testssl-by-address", "-p", "-S", "-s", "-f", "-E", target)
		checkProtocols(t, s)
		checkCipherSections(t, s)
		checkOnlyExpectedFindings(t, s)
	})
	t.Run("scanned by name with the CA", func(t *testing.T) {
		// Told the node's name (sent as SNI, no lookup: --ip gives the
		// address) and its CA, testssl has nothing to say about trust.
		s := runTestssl(t, n, "testssl-with-ca", "--add-ca", filepath.Join(n.Dir, "pki", "ca.pem"),
			"--ip", lab.UnderlayA, "-S", "office-a:"+listenPort)
		for _, id := range []string{"cert_chain_of_trust", "cert_trust"} {
			if f, ok := findingByID(s, "serverDefaults", id); !ok || f.Severity != "OK" {
				t.Errorf("%s: %+v (found %v); want severity OK", id, f, ok)
			} else {
				t.Logf("%s: %s %q", id, f.Severity, f.Finding)
			}
		}
		checkOnlyExpectedFindings(t, s)
	})
	if _, ok := n.A.Peer(t); !ok {
		t.Errorf("office-a does not answer status after the scans")
	}
	t.Logf("office-a refused the scanners' connections: %s", refusalReasons(n.A.LogText()))
}

// checkProtocols asserts that TLS 1.3 is offered and every older protocol
// is not.
func checkProtocols(t *testing.T, s map[string][]testsslFinding) {
	t.Helper()
	for _, id := range []string{"SSLv2", "SSLv3", "TLS1", "TLS1_1", "TLS1_2", "TLS1_3"} {
		f, ok := findingByID(s, "protocols", id)
		want := "not offered"
		if id == "TLS1_3" {
			want = "offered"
		}
		if !ok || !strings.HasPrefix(f.Finding, want) {
			t.Errorf("protocol %s: %q (found %v); want %q", id, f.Finding, ok, want)
		}
	}
}

// checkCipherSections asserts that the protocol and cipher sections hold
// only OK and INFO findings, and that every cipher offered is a TLS 1.3 one.
func checkCipherSections(t *testing.T, s map[string][]testsslFinding) {
	t.Helper()
	for _, name := range cipherSections {
		for _, f := range s[name] {
			if !slices.Contains(quietSeverities, f.Severity) {
				t.Errorf("%s: %s is %s: %q", name, f.ID, f.Severity, f.Finding)
			}
		}
	}
	ciphers := s["cipherTests"]
	if len(ciphers) == 0 {
		t.Errorf("testssl found no cipher at all")
	}
	for _, f := range ciphers {
		if !strings.HasPrefix(f.ID, "cipher-tls1_3_") {
			t.Errorf("a cipher outside TLS 1.3 is offered: %s %q", f.ID, f.Finding)
		}
	}
	t.Logf("ciphers offered: %d, all TLS 1.3; forward secrecy: %v", len(ciphers), s["pfs"])
}

// checkOnlyExpectedFindings logs every finding above INFO and fails the
// test for any not in expectedFindings.
func checkOnlyExpectedFindings(t *testing.T, s map[string][]testsslFinding) {
	t.Helper()
	names := make([]string, 0, len(s))
	for name := range s {
		names = append(names, name)
	}
	sort.Strings(names)
	for _, name := range names {
		for _, f := range s[name] {
			if slices.Contains(quietSeverities, f.Severity) {
				continue
			}
			why, ok := expectedFindings[f.ID]
			if !ok {
				t.Errorf("unexpected finding %s/%s %s: %q", name, f.ID, f.Severity, f.Finding)
				continue
			}
			t.Logf("expected finding %s/%s %s: %q — %s", name, f.ID, f.Severity, f.Finding, why)
		}
	}
}

// refusalReasons counts the handshake refusals in a log by reason.
func refusalReasons(text string) string {
	count := map[string]int{}
	for _, r := range refusalsIn(text) {
		count[r.reason]++
	}
	reasons := make([]string, 0, len(count))
	for r, c := range count {
		reasons = append(reasons, fmt.Sprintf("%s %d", r, c))
	}
	sort.Strings(reasons)
	return strings.Join(reasons, ", ")
}
