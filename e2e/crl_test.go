package e2e

import (
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/tlsvpn/tlsvpn/internal/lab"
	"github.com/tlsvpn/tlsvpn/internal/status"
	"github.com/tlsvpn/tlsvpn/internal/testutil"
)

// The CRL tests: a node whose CRL does not load at start runs, refusing
// every handshake until a good CRL arrives; a reload whose CRL revokes the
// node itself still applies that CRL to its peers.

// Texts of the CRL findings (docs/status.md, docs/logging.md).
const (
	reasonCRLUnavailable = "CRL unavailable"
	ownRevokedWarning    = `own certificate "office-a"`
)

// crlFor gives node nd a CRL file of its own at path, holding data, so
// that the other node's CRL and the PKI's pki/crl.pem stay apart from it.
func crlFor(t *testing.T, n *Net, nd *Node, body, path string, data []byte) {
	t.Helper()
	replaceFile(t, path, data)
	nd.Config = n.WriteConfig(t, nd.Name, strings.Replace(body, "pki/crl.pem", path, 1))
}

// replaceFile puts data at path the way a careful admin does: a new file
// renamed over the old one.
func replaceFile(t *testing.T, path string, data []byte) {
	t.Helper()
	tmp := path + ".new"
	if err := os.WriteFile(tmp, data, 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.Rename(tmp, path); err != nil {
		t.Fatal(err)
	}
}

// pkiCRL is the PKI's current crl.pem.
func pkiCRL(t *testing.T, n *Net) []byte {
	t.Helper()
	b, err := os.ReadFile(filepath.Join(n.Dir, "pki", "crl.pem"))
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// corruptCRL is a PEM CRL block whose content is no CRL.
var corruptCRL = []byte("-----BEGIN X509 CRL-----\nMAMCAQA=\n-----END X509 CRL-----\n")

func TestANodeStartedWithACorruptCRLRunsAndRefusesEveryHandshakeUntilAGoodOneArrives(t *testing.T) {
	t.Parallel()
	testutil.CheckLeaks(t)
	n := NewNet(t, Options{})
	crl := filepath.Join(n.Dir, "office-a-crl.pem")
	crlFor(t, n, n.A, configA(Options{}), crl, corruptCRL)

	out, err := n.Run("", "check", "-c", n.A.Config)
	if code := exitCode(err); code != 1 || !strings.Contains(out, "tls.crl") {
		t.Errorf("tlsvpn check with the corrupt CRL: exit status %d; want 1 and a problem at tls.crl:\n%s", code, out)
	}

	n.A.Start(t)
	waitStatusAnswers(t, n.A)
	assertInstalled(t, n, n.A)
	s, _ := n.A.Status(t)
	if w := warningWith(s, reasonCRLUnavailable); w == "" {
		t.Errorf("office-a's status warnings %q: none says %q", s.Warnings, reasonCRLUnavailable)
	} else {
		t.Logf("office-a's status warns: %s", w)
	}
	if !slices.ContainsFunc(logLinesWith(n.A.LogText(), "certificate check"), func(l string) bool {
		return strings.Contains(l, "level=ERROR") && strings.Contains(l, reasonCRLUnavailable)
	}) {
		t.Errorf("office-a logged no error about its CRL:\n%s", tail(n.A.LogText(), 20))
	}

	n.B.Start(t)
	waitReason(t, n.A, reasonCRLUnavailable)
	if p, ok := n.B.Peer(t); !ok || p.State == "connected" {
		t.Errorf("office-b while office-a has no CRL: %+v; want it refused", p)
	}

	fixed := time.Now()
	replaceFile(t, crl, pkiCRL(t, n))
	waitCredentialsReloaded(t, n.A, fixed)
	n.A.WaitConnected(t, certWait)
	n.B.WaitConnected(t, certWait)
	t.Logf("office-b connected %v after the good CRL was written", time.Since(fixed).Round(time.Millisecond))
	if got := n.Ping(t, n.Lab.LanA, lab.HostB4, 3); got != 3 {
		t.Errorf("ping from lanA to lanB after the good CRL: %d of 3 replies", got)
	}
	if s, _ := n.A.Status(t); warningWith(s, reasonCRLUnavailable) != "" || s.ReloadErr != "" {
		t.Errorf("office-a's status with the good CRL: warnings %q, reload_error %q", s.Warnings, s.ReloadErr)
	}
}

func TestAReloadWhoseCRLRevokesTheNodeItselfStillRevokesItsPeer(t *testing.T) {
	t.Parallel()
	testutil.CheckLeaks(t)
	n := NewNet(t, Options{})
	// office-b keeps a copy of today's CRL and never learns of the
	// revocations: it goes on dialing, and office-a is the one to refuse.
	start := pkiCRL(t, n)
	crlA := filepath.Join(n.Dir, "office-a-crl.pem")
	crlFor(t, n, n.A, configA(Options{}), crlA, start)
	crlFor(t, n, n.B, configB(Options{}), filepath.Join(n.Dir, "office-b-crl.pem"), start)
	n.StartBoth(t)

	pki := filepath.Join(n.Dir, "pki")
	n.MustRun(t, "", "pki", "revoke", "office-b", "--dir", pki)
	n.MustRun(t, "", "pki", "revoke", "office-a", "--dir", pki)
	changed := time.Now()
	replaceFile(t, crlA, pkiCRL(t, n))
	waitCredentialsReloaded(t, n.A, changed) // fails on a reload_error
	waitRevokedRefused(t, n, certWait)

	var s status.Node
	if !lab.WaitFor(certWait, 50*time.Millisecond, func() bool {
		s, _ = n.A.Status(t)
		return strings.Contains(warningWith(s, ownRevokedWarning), "revoked")
	}) {
		t.Errorf("office-a's status warnings %q: none says its own certificate is revoked", s.Warnings)
	}
	t.Logf("office-a warns: %s", warningWith(s, ownRevokedWarning))
	if !slices.ContainsFunc(logLinesWith(n.A.LogText(), "certificate check"), func(l string) bool {
		return strings.Contains(l, "level=ERROR") && strings.Contains(l, "is revoked")
	}) {
		t.Errorf("office-a logged no error about its own revocation:\n%s", tail(n.A.LogText(), 20))
	}

	reloadAndWait(t, n.A, logReloaded) // SIGHUP applies the same files
	if out, err := n.Run("", "check", "-c", n.A.Config); exitCode(err) != 1 || !strings.Contains(out, "is revoked") {
		t.Errorf("tlsvpn check of the revoked node: exit status %d; want 1 and the revocation:\n%s", exitCode(err), out)
	}
}
