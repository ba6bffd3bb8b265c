package e2e

import (
	"fmt"
	"math/big"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/tlsvpn/tlsvpn/internal/lab"
	"github.com/tlsvpn/tlsvpn/internal/status"
	"github.com/tlsvpn/tlsvpn/internal/testutil"
	"github.com/tlsvpn/tlsvpn/tunnel"
)

// The certificate tests follow a node's certificates through their life
// while traffic flows: renewal and age both move a tunnel to a new
// connection without loss, an expiring peer certificate closes its tunnel,
// a revoked one is refused, and a stale CRL refuses new handshakes but
// keeps the live tunnels. Each test builds its own Net and runs in parallel
// with the others.

// certWait bounds every wait for something the node does on its own after a
// file changed on disk (polled every second) or a timer fired.
const certWait = 30 * time.Second

// Log messages of certificate handling (docs/logging.md, tunnel/peer.go).
const (
	msgRotating     = "rotating the connection"
	msgAskRotate    = "asking the peer to rotate the connection"
	msgExpiredClose = "closing tunnel: peer certificate expired"
)

// postQuantumGroup is the key exchange every tunnel uses by default.
const postQuantumGroup = "X25519MLKEM768"

// warningWith returns the first of s's warnings containing part, or "".
func warningWith(s status.Node, part string) string {
	for _, w := range s.Warnings {
		if strings.Contains(w, part) {
			return w
		}
	}
	return ""
}

// sameSerial compares two hexadecimal serials as numbers, so that a
// leading zero written by one tool and left out by another does not count.
func sameSerial(a, b string) bool {
	x, okA := new(big.Int).SetString(a, 16)
	y, okB := new(big.Int).SetString(b, 16)
	return okA && okB && x.Cmp(y) == 0
}

// logLinesWith returns the lines of a node's log whose msg is one of msgs.
func logLinesWith(text string, msgs ...string) []string {
	var found []string
	for _, line := range strings.Split(text, "\n") {
		if slices.Contains(msgs, slogField(line, "msg")) {
			found = append(found, line)
		}
	}
	return found
}

// linesWithReason keeps the lines whose reason field is reason.
func linesWithReason(lines []string, reason string) []string {
	var found []string
	for _, l := range lines {
		if slogField(l, "reason") == reason {
			found = append(found, l)
		}
	}
	return found
}

// renewedSerial matches the serial `tlsvpn pki renew` prints.
var renewedSerial = regexp.MustCompile(`serial ([0-9a-fA-F]+)`)

// renewalPings is the count of the 10 ms ping across a renewal: 6 s.
const renewalPings = 600

func TestRenewingACertificateRotatesTheTunnelWithoutLoss(t *testing.T) {
	t.Parallel()
	testutil.CheckLeaks(t)
	for _, renewer := range []string{"office-a", "office-b"} {
		role := map[string]string{"office-a": "listener", "office-b": "dialer"}[renewer]
		t.Run("the "+role+" "+renewer+" renews", func(t *testing.T) {
			t.Parallel()
			checkRenewalRotates(t, renewer)
		})
	}
}

// checkRenewalRotates renews the certificate of the node called renewer
// under a 10 ms ping and checks that the other node sees the new serial,
// both sides rotated, and no ping was lost.
func checkRenewalRotates(t *testing.T, renewer string) {
	n := NewNet(t, Options{})
	n.StartBoth(t)
	own, other := n.A, n.B
	if renewer == n.B.Name {
		own, other = n.B, n.A
	}
	before, _ := other.Peer(t)
	ping := pingAcross(n, renewalPings)
	waitTraffic(t, n.A, 20)

	out := n.MustRun(t, "", "pki", "renew", renewer, "--dir", filepath.Join(n.Dir, "pki"))
	renewed := time.Now()
	m := renewedSerial.FindStringSubmatch(out)
	if m == nil {
		t.Fatalf("pki renew %s printed no serial:\n%s", renewer, out)
	}
	serial := m[1]
	if sameSerial(serial, before.Serial) {
		t.Fatalf("pki renew kept the serial %s", serial)
	}
	var seen, ownSide tunnel.PeerStatus
	if !lab.WaitFor(certWait, 20*time.Millisecond, func() bool {
		seen, _ = other.Peer(t)
		ownSide, _ = own.Peer(t)
		return seen.State == "connected" && sameSerial(seen.Serial, serial) &&
			seen.RotatedAt != nil && ownSide.RotatedAt != nil
	}) {
		t.Fatalf("within %v of renewing %s: %s sees serial %s (want %s), rotated_at %v; %s rotated_at %v",
			certWait, renewer, other.Name, seen.Serial, serial, seen.RotatedAt, own.Name, ownSide.RotatedAt)
	}
	t.Logf("%s renewed (serial %s -> %s); %s saw the new certificate %v later, rotated_at %v after the renewal",
		renewer, before.Serial, serial, other.Name, time.Since(renewed).Round(time.Millisecond),
		seen.RotatedAt.Sub(renewed).Round(time.Millisecond))
	checkNoLoss(t, "ping every 10 ms across the renewal", stillRunning(t, ping, "the rotation"))
	checkRenewalLogged(t, n, own)
}

// checkRenewalLogged checks that the renewing node logged a rotation for
// its renewed certificate and that the dialer made the new connection.
func checkRenewalLogged(t *testing.T, n *Net, own *Node) {
	t.Helper()
	lines := linesWithReason(logLinesWith(own.LogText(), msgRotating, msgAskRotate), "own certificate renewed")
	if len(lines) == 0 {
		t.Errorf("%s's log has no %q or %q line with reason=\"own certificate renewed\":\n%s",
			own.Name, msgRotating, msgAskRotate, tail(own.LogText(), 20))
	} else {
		t.Logf("%s: %s", own.Name, lines[0])
	}
	if dial := logLinesWith(n.B.LogText(), msgRotating); len(dial) == 0 {
		t.Errorf("the dialer office-b did not log %q", msgRotating)
	} else if own != n.B {
		t.Logf("office-b: %s", dial[0])
	}
}

// Age-based rotation: a short rotate_after and 1 s keepalives, so that the
// age is checked every second and the rotation happens at about 10 s.
const (
	rotateAfter  = "10s"
	rotationPing = 1500 // 10 ms apart: 15 s, past the first rotation
)

// withTLSKey adds key = value to the [tls] table of a config body.
func withTLSKey(t *testing.T, body, key, value string) string {
	t.Helper()
	if !strings.Contains(body, "[tls]\n") {
		t.Fatalf("config has no [tls] table:\n%s", body)
	}
	return strings.Replace(body, "[tls]\n", fmt.Sprintf("[tls]\n%s = %q\n", key, value), 1)
}

func TestConnectionsRotateAtTheirMaximumAgeWithoutLoss(t *testing.T) {
	t.Parallel()
	testutil.CheckLeaks(t)
	o := Options{Keepalive: "1s"}
	n := NewNet(t, o)
	n.WriteConfig(t, "office-a", withTLSKey(t, configA(o), "rotate_after", rotateAfter))
	n.WriteConfig(t, "office-b", withTLSKey(t, configB(o), "rotate_after", rotateAfter))
	n.StartBoth(t)
	first, _ := n.B.Peer(t)
	ping := pingAcross(n, rotationPing)

	var pa, pb tunnel.PeerStatus
	if !lab.WaitFor(certWait, 50*time.Millisecond, func() bool {
		pa, _ = n.A.Peer(t)
		pb, _ = n.B.Peer(t)
		return pa.RotatedAt != nil && pb.RotatedAt != nil
	}) {
		t.Fatalf("no rotation within %v with rotate_after %s: office-a rotated_at %v, office-b rotated_at %v",
			certWait, rotateAfter, pa.RotatedAt, pb.RotatedAt)
	}
	if first.Since != nil {
		t.Logf("rotated at a connection age of %v (rotate_after %s)",
			pb.RotatedAt.Sub(*first.Since).Round(time.Millisecond), rotateAfter)
	}
	checkNoLoss(t, "ping every 10 ms across the rotation", stillRunning(t, ping, "the rotation"))

	lines := logLinesWith(n.A.LogText()+n.B.LogText(), msgRotating, msgAskRotate)
	if aged := linesWithReason(lines, "maximum age"); len(aged) == 0 {
		t.Errorf("no %q or %q line with reason=\"maximum age\" in either log; rotation lines:\n%s",
			msgRotating, msgAskRotate, strings.Join(lines, "\n"))
	} else {
		t.Logf("%d rotation lines, first for age: %s", len(lines), aged[0])
	}
	if len(logLinesWith(n.B.LogText(), msgRotating)) == 0 {
		t.Errorf("the dialer office-b did not log %q", msgRotating)
	}
	checkPostQuantum(t, n, "after the rotation")
}

// checkPostQuantum asserts that both nodes' tunnels use TLS 1.3 with the
// post-quantum hybrid key exchange.
func checkPostQuantum(t *testing.T, n *Net, when string) {
	t.Helper()
	for _, nd := range []*Node{n.A, n.B} {
		p, ok := nd.Peer(t)
		if !ok || p.State != "connected" || p.Group != postQuantumGroup || p.TLSVersion != "TLS 1.3" {
			t.Errorf("%s's peer %s: state %q, key_exchange %q, tls_version %q; want connected, %s, TLS 1.3",
				nd.Name, when, p.State, p.Group, p.TLSVersion, postQuantumGroup)
			continue
		}
		t.Logf("%s's peer %s: %s, %s, %s", nd.Name, when, p.TLSVersion, p.Cipher, p.Group)
	}
}

func TestTunnelsUsePostQuantumKeyExchangeByDefault(t *testing.T) {
	t.Parallel()
	testutil.CheckLeaks(t)
	n := NewNet(t, Options{})
	n.StartBoth(t)
	checkPostQuantum(t, n, "with the default configuration")
}

// shortCertLife is the validity left to office-b's certificate in the
// expiry test: time enough to connect and read the warnings first.
const shortCertLife = 20 * time.Second

// expiryClose bounds the delay between the peer certificate's NotAfter and
// the tunnel's close (the node sets a timer for the exact moment).
const expiryClose = 15 * time.Second

// useOwnCert points the node's tls.cert and tls.key at other files.
func useOwnCert(t *testing.T, n *Net, nd *Node, body, cert, key string) {
	t.Helper()
	for old, file := range map[string]string{"pki/" + nd.Name + ".pem": cert, "pki/" + nd.Name + ".key": key} {
		if !strings.Contains(body, old) {
			t.Fatalf("config of %s has no %q", nd.Name, old)
		}
		body = strings.Replace(body, old, file, 1)
	}
	nd.Config = n.WriteConfig(t, nd.Name, body)
}

func TestAPeerCertificateExpiringWhileConnectedClosesTheTunnel(t *testing.T) {
	testutil.NeedCommand(t, "openssl", "openssl")
	t.Parallel()
	testutil.CheckLeaks(t)
	n := NewNet(t, Options{})
	caCert, caKey := n.pkiFiles()
	spec := validSpec("office-b-short", "office-b", caCert, caKey)
	spec.notAfter = time.Now().Add(shortCertLife)
	cert, key := issueWithOpenSSL(t, n.Dir, spec)
	useOwnCert(t, n, n.B, configB(Options{}), cert, key)
	n.StartBoth(t)

	p, _ := n.A.Peer(t)
	if p.NotAfter == nil {
		t.Fatalf("office-a's peer shows no cert_not_after: %+v", p)
	}
	notAfter := *p.NotAfter
	t.Logf("office-b's certificate (serial %s) expires at %s, in %v", p.Serial, notAfter.Format(time.RFC3339),
		time.Until(notAfter).Round(time.Millisecond))
	checkExpiryWarned(t, n)

	if !lab.WaitFor(time.Until(notAfter)+expiryClose, 50*time.Millisecond, func() bool {
		p, ok := n.A.Peer(t)
		return ok && p.State != "connected" && len(logLinesWith(n.A.LogText(), msgExpiredClose)) > 0
	}) {
		p, _ := n.A.Peer(t)
		t.Fatalf("%v after office-b's certificate expired: office-a's peer %q, log:\n%s",
			expiryClose, p.State, tail(n.A.LogText(), 20))
	}
	t.Logf("office-a closed the tunnel %v after the expiry: %s", time.Since(notAfter).Round(time.Millisecond),
		logLinesWith(n.A.LogText(), msgExpiredClose)[0])
	waitReason(t, n.A, "expired")
}

// checkExpiryWarned checks, before office-b's certificate expires, that
// office-a's status warns about it and flags the peer.
func checkExpiryWarned(t *testing.T, n *Net) {
	t.Helper()
	s, err := n.A.StatusVia(n.A.Config)
	if err != nil || len(s.Tunnel.Peers) != 1 {
		t.Fatalf("status of office-a: %v %+v", err, s)
	}
	w := warningWith(s, "certificate of peer office-b")
	if w == "" {
		t.Errorf("office-a's status warnings %q: none about the certificate of peer office-b", s.Warnings)
	} else {
		t.Logf("office-a warns: %s", w)
	}
	if p := s.Tunnel.Peers[0]; !p.ExpiresSoon || p.State != "connected" {
		t.Errorf("office-a's peer before the expiry: state %q, cert_expires_soon %v; want connected, true",
			p.State, p.ExpiresSoon)
	}
}

// waitReason waits until nd's log has a refusal of a connection from
// office-b's gateway with reason, and returns it.
func waitReason(t *testing.T, nd *Node, reason string) refusal {
	t.Helper()
	var found refusal
	if !lab.WaitFor(certWait, 50*time.Millisecond, func() bool {
		for _, r := range refusalsIn(nd.LogText()) {
			if r.reason == reason && strings.HasPrefix(r.remote, lab.UnderlayB+":") {
				found = r
				return true
			}
		}
		return false
	}) {
		t.Fatalf("%s did not refuse office-b with reason=%q within %v:\n%s", nd.Name, reason, certWait, tail(nd.LogText(), 20))
	}
	t.Logf("%s refuses office-b: %s", nd.Name, found.line)
	return found
}

func TestARevokedCertificateIsRefusedFromOutside(t *testing.T) {
	testutil.NeedCommand(t, "openssl", "openssl")
	t.Parallel()
	testutil.CheckLeaks(t)
	n := NewNet(t, Options{})
	n.A.Start(t)
	waitStatusAnswers(t, n.A)
	revoked := time.Now()
	revokeB(t, n)
	waitCredentialsReloaded(t, n.A, revoked)

	pki := filepath.Join(n.Dir, "pki")
	checkRefused(t, n, badClient{
		name:   "revoked",
		args:   []string{"-tls1_3", "-alpn", "tlsvpn/1", "-cert", filepath.Join(pki, "office-b.pem"), "-key", filepath.Join(pki, "office-b.key")},
		alert:  regexp.MustCompile(`alert (certificate revoked|bad certificate|certificate unknown)`),
		reason: "revoked",
	})
}

// waitCredentialsReloaded waits until nd's status shows a reload after
// since: the node re-read its changed certificate files or CRL.
func waitCredentialsReloaded(t *testing.T, nd *Node, since time.Time) {
	t.Helper()
	var s status.Node
	if !lab.WaitFor(certWait, 50*time.Millisecond, func() bool {
		var err error
		s, err = nd.StatusVia(nd.Config)
		return err == nil && s.LastReload != nil && s.LastReload.After(since)
	}) {
		t.Fatalf("%s's status shows no reload within %v of the change (last_reload %v)", nd.Name, certWait, s.LastReload)
	}
	if s.ReloadErr != "" {
		t.Fatalf("%s did not load the changed files: %s", nd.Name, s.ReloadErr)
	}
	t.Logf("%s reloaded %v after the change", nd.Name, s.LastReload.Sub(since).Round(time.Millisecond))
}

// crlConfig is a throwaway `openssl ca` configuration for signing a CRL
// with the e2e CA: an empty database and a CRL number, so the CRL is v2.
const crlConfig = `[ca]
default_ca = e2e
[e2e]
database       = %[1]s/index.txt
crlnumber      = %[1]s/crlnumber
default_md     = sha256
crl_extensions = crl_ext
[crl_ext]
authorityKeyIdentifier = keyid:always
`

// shortLivedCRL signs, with openssl and the Net's CA, an empty CRL whose
// next update is nextUpdate, and returns its path.
func shortLivedCRL(t *testing.T, n *Net, nextUpdate time.Time) string {
	t.Helper()
	work := filepath.Join(n.Dir, "crl.ca")
	if err := os.MkdirAll(work, 0o700); err != nil {
		t.Fatal(err)
	}
	files := map[string]string{"ca.cnf": fmt.Sprintf(crlConfig, work), "index.txt": "", "crlnumber": "1000\n"}
	for name, body := range files {
		if err := os.WriteFile(filepath.Join(work, name), []byte(body), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	caCert, caKey := n.pkiFiles()
	crl := filepath.Join(n.Dir, "short-crl.pem")
	testutil.MustOpenSSL(t, work, "ca", "-gencrl", "-batch", "-config", filepath.Join(work, "ca.cnf"),
		"-cert", caCert, "-keyfile", caKey, "-crl_lastupdate", opensslDate(time.Now().Add(-time.Minute)),
		"-crl_nextupdate", opensslDate(nextUpdate), "-out", crl)
	return crl
}

// crlLife is the time left to office-a's CRL in the stale-CRL test.
const crlLife = 20 * time.Second

func TestAStaleCRLKeepsTheLiveTunnelButRefusesNewHandshakes(t *testing.T) {
	testutil.NeedCommand(t, "openssl", "openssl")
	t.Parallel()
	testutil.CheckLeaks(t)
	n := NewNet(t, Options{})
	nextUpdate := time.Now().Add(crlLife).Truncate(time.Second)
	crl := shortLivedCRL(t, n, nextUpdate)
	// Only office-a's CRL goes stale: office-b keeps the fresh pki/crl.pem,
	// so the refusal is office-a's and not office-b's of office-a.
	n.WriteConfig(t, "office-a", strings.Replace(configA(Options{}), "pki/crl.pem", crl, 1))
	n.StartBoth(t)
	before, _ := n.A.Peer(t)

	var s status.Node
	if !lab.WaitFor(time.Until(nextUpdate)+certWait, 100*time.Millisecond, func() bool {
		var err error
		s, err = n.A.StatusVia(n.A.Config)
		return err == nil && warningWith(s, "CRL is stale") != ""
	}) {
		t.Fatalf("office-a's status does not warn of the stale CRL %v after its next update: %q", certWait, s.Warnings)
	}
	t.Logf("%v after the CRL's next update office-a warns: %s", time.Since(nextUpdate).Round(time.Millisecond),
		warningWith(s, "CRL is stale"))
	if got := n.Ping(t, n.Lab.LanA, lab.HostB4, 3); got != 3 {
		t.Errorf("ping from lanA to lanB with the CRL stale: %d of 3 replies; the live tunnel must stay up", got)
	}
	if after, _ := n.A.Peer(t); after.State != "connected" || !sameTime(before.Since, after.Since) {
		t.Errorf("office-a's peer with the CRL stale: state %q, connected since %v (before %v); want the same connection",
			after.State, after.Since, before.Since)
	}

	n.B.Stop(t, syscall.SIGTERM)
	n.B.Start(t)
	waitReason(t, n.A, "CRL stale")
	if p, ok := n.B.Peer(t); !ok || p.State == "connected" {
		t.Errorf("office-b restarted while office-a's CRL is stale: state %q; want it refused", p.State)
	}
}

// sameTime reports whether two optional times are both set and equal.
func sameTime(a, b *time.Time) bool { return a != nil && b != nil && a.Equal(*b) }

// rollbackRefused is in the error of a reload that met a CRL older than the
// one in force (config/crl.go).
const rollbackRefused = "is older than the CRL"

func TestACRLRollbackIsRefusedAndTheRevocationStays(t *testing.T) {
	t.Parallel()
	testutil.CheckLeaks(t)
	n := NewNet(t, Options{})
	crlPath := filepath.Join(n.Dir, "pki", "crl.pem")
	before, err := os.ReadFile(crlPath)
	if err != nil {
		t.Fatal(err)
	}
	n.StartBoth(t)
	revokeB(t, n)
	waitRevokedRefused(t, n, reloadWait)

	// A stale copy of the CRL, from before the revocation, replaces it.
	refusedSoFar := len(linesWithReason(logLinesWith(n.A.LogText(), "handshake refused"), "revoked"))
	copied := time.Now()
	tmp := crlPath + ".old"
	if err := os.WriteFile(tmp, before, 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.Rename(tmp, crlPath); err != nil {
		t.Fatal(err)
	}
	var s status.Node
	if !lab.WaitFor(certWait, 50*time.Millisecond, func() bool {
		s, err = n.A.StatusVia(n.A.Config)
		return err == nil && s.LastReload != nil && s.LastReload.After(copied) && strings.Contains(s.ReloadErr, rollbackRefused)
	}) {
		t.Fatalf("office-a's status within %v of the stale CRL: last_reload %v, reload_error %q; want the rollback refused",
			certWait, s.LastReload, s.ReloadErr)
	}
	t.Logf("office-a's reload_error: %s", s.ReloadErr)
	if lines := logLinesWith(n.A.LogText(), "certificate files changed but do not load; keeping the ones in force"); len(lines) == 0 ||
		!strings.Contains(lines[len(lines)-1], rollbackRefused) {
		t.Errorf("office-a logged no refused rollback:\n%s", tail(n.A.LogText(), 10))
	}

	// SIGHUP meets the same CRL and refuses it too.
	reloadAndWait(t, n.A, logReloadFailed)

	// The CRL in force still revokes office-b, which keeps redialing.
	if !lab.WaitFor(certWait, 50*time.Millisecond, func() bool {
		return len(linesWithReason(logLinesWith(n.A.LogText(), "handshake refused"), "revoked")) > refusedSoFar
	}) {
		t.Fatalf("office-a did not refuse office-b as revoked again after the rollback:\n%s", tail(n.A.LogText(), 20))
	}
	if p, ok := n.A.Peer(t); !ok || p.State == "connected" {
		t.Errorf("office-a's peer office-b after the rollback: %+v", p)
	}
}
