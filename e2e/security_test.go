package e2e

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/tlsvpn/tlsvpn/internal/lab"
	"github.com/tlsvpn/tlsvpn/internal/testutil"
)

// The refusal tests judge office-a's listener from outside, with openssl
// s_client as the client, and from office-a's log. The certificates are made
// with openssl too, so that tlsvpn's own PKI code is not what makes them.

// sClientTimeout bounds one openssl s_client run. A refused client ends as
// soon as the alert arrives; an accepted one when office-a gives up waiting
// for the parameter message (handshake.ParamsTimeout, 5 s).
const sClientTimeout = 30 * time.Second

// certSpec describes a leaf certificate to issue with `openssl ca`.
type certSpec struct {
	file      string // base name of the .pem and .key written
	dnsName   string // the only DNS SAN, also the subject's CN
	eku       string // openssl extendedKeyUsage value, "serverAuth,clientAuth"
	notBefore time.Time
	notAfter  time.Time
	caCert    string // the issuing CA's certificate and key
	caKey     string
}

// validSpec is a certificate for dnsName with both EKUs, valid from an hour
// ago for 30 days, issued by the CA in caCert/caKey.
func validSpec(file, dnsName, caCert, caKey string) certSpec {
	now := time.Now()
	return certSpec{file: file, dnsName: dnsName, eku: "serverAuth,clientAuth",
		notBefore: now.Add(-time.Hour), notAfter: now.Add(30 * 24 * time.Hour), caCert: caCert, caKey: caKey}
}

// newOpenSSLCA makes a self-signed CA called cn in dir and returns the
// paths of its certificate and key.
func newOpenSSLCA(t *testing.T, dir, cn string) (cert, key string) {
	t.Helper()
	cert, key = filepath.Join(dir, "other-ca.pem"), filepath.Join(dir, "other-ca.key")
	testutil.MustOpenSSL(t, dir, "req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes",
		"-keyout", key, "-out", cert, "-subj", "/CN="+cn, "-days", "30",
		"-addext", "basicConstraints=critical,CA:TRUE", "-addext", "keyUsage=critical,keyCertSign,cRLSign")
	return cert, key
}

// caConfig is a throwaway `openssl ca` configuration: its own database in
// its own folder, any subject, the leaf extensions of a tlsvpn node.
const caConfig = `[ca]
default_ca = e2e
[e2e]
database       = %[1]s/index.txt
new_certs_dir  = %[1]s
rand_serial    = yes
default_md     = sha256
policy         = any
unique_subject = no
[any]
commonName = supplied
[leaf]
basicConstraints = critical,CA:FALSE
keyUsage         = critical,digitalSignature
extendedKeyUsage = %[2]s
subjectAltName   = DNS:%[3]s
`

// opensslDate formats t for `openssl ca -startdate/-enddate`.
func opensslDate(t time.Time) string { return t.UTC().Format("20060102150405Z") }

// issueWithOpenSSL makes a fresh P-256 key and a certificate as s describes
// in dir, and returns the paths of the certificate and the key (mode 0600).
func issueWithOpenSSL(t *testing.T, dir string, s certSpec) (cert, key string) {
	t.Helper()
	work := filepath.Join(dir, s.file+".ca")
	if err := os.MkdirAll(work, 0o700); err != nil {
		t.Fatal(err)
	}
	cnf := filepath.Join(work, "ca.cnf")
	if err := os.WriteFile(cnf, fmt.Appendf(nil, caConfig, work, s.eku, s.dnsName), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(work, "index.txt"), nil, 0o600); err != nil {
		t.Fatal(err)
	}
	cert, key = filepath.Join(dir, s.file+".pem"), filepath.Join(dir, s.file+".key")
	csr := filepath.Join(work, "req.csr")
	testutil.MustOpenSSL(t, work, "req", "-new", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes",
		"-keyout", key, "-subj", "/CN="+s.dnsName, "-out", csr)
	testutil.MustOpenSSL(t, work, "ca", "-batch", "-config", cnf, "-cert", s.caCert, "-keyfile", s.caKey, "-in", csr,
		"-out", cert, "-startdate", opensslDate(s.notBefore), "-enddate", opensslDate(s.notAfter),
		"-extensions", "leaf", "-notext")
	if err := os.Chmod(key, 0o600); err != nil {
		t.Fatal(err)
	}
	return cert, key
}

// pkiFiles returns the e2e CA's certificate and key, made by `tlsvpn pki init`.
func (n *Net) pkiFiles() (caCert, caKey string) {
	return filepath.Join(n.Dir, "pki", "ca.pem"), filepath.Join(n.Dir, "pki", "ca.key")
}

// sClient runs openssl s_client in gwB against office-a's listener with
// stdin at EOF. -ign_eof keeps it reading until the server closes, so an
// alert sent after the client's Finished (TLS 1.3 refuses a client
// certificate only then) is always seen. It returns the combined output and
// the error of a non-zero exit.
func sClient(n *Net, args ...string) (string, error) {
	ctx, cancel := context.WithTimeout(context.Background(), sClientTimeout)
	defer cancel()
	caCert, _ := n.pkiFiles()
	base := []string{"s_client", "-connect", lab.UnderlayA + ":" + listenPort, "-servername", "office-a",
		"-CAfile", caCert, "-ign_eof"}
	return n.Lab.RunContext(ctx, n.Lab.GwB, "openssl", append(base, args...)...)
}

// alertText matches the TLS alert openssl reports, as in
// "ssl3_read_bytes:sslv3 alert bad certificate:../ssl/record/...".
var alertText = regexp.MustCompile(`[a-z0-9/]+ alert [a-z ]+`)

// tlsAlerts lists the alerts s_client reports in out, leaving out
// close_notify (an orderly close).
func tlsAlerts(out string) []string {
	var found []string
	for _, a := range alertText.FindAllString(out, -1) {
		if !strings.HasSuffix(a, "close notify") {
			found = append(found, strings.TrimSpace(a))
		}
	}
	return found
}

// paramsFromA is a piece of office-a's parameter message: application data
// it sends only to a client whose certificate it accepted.
const paramsFromA = `"node":"office-a"`

// refusal is one `msg="handshake refused"` line of a node's log.
type refusal struct {
	line, remote, reason, peer string
}

// refusalsIn returns the handshake refusals in log text.
func refusalsIn(text string) []refusal {
	var rs []refusal
	for _, line := range strings.Split(text, "\n") {
		if !strings.Contains(line, `msg="handshake refused"`) {
			continue
		}
		rs = append(rs, refusal{line: line, remote: slogField(line, "remote"),
			reason: slogField(line, "reason"), peer: slogField(line, "peer")})
	}
	return rs
}

// slogFieldRE matches one key=value pair of slog's text format; a value
// with spaces or quotes is a quoted Go string.
var slogFieldRE = regexp.MustCompile(`(?:^| )([a-z_]+)=("(?:[^"\\]|\\.)*"|\S*)`)

// slogField returns the value of key in a slog text line, unquoted, or "".
func slogField(line, key string) string {
	for _, m := range slogFieldRE.FindAllStringSubmatch(line, -1) {
		if m[1] != key {
			continue
		}
		v := m[2]
		if strings.HasPrefix(v, `"`) {
			v = strings.ReplaceAll(strings.Trim(v, `"`), `\"`, `"`)
		}
		return v
	}
	return ""
}

// waitRefusal waits until office-a's log has a refusal beyond the first
// seen ones and returns the new ones.
func waitRefusal(t *testing.T, nd *Node, seen int) []refusal {
	t.Helper()
	var rs []refusal
	lab.WaitFor(10*time.Second, 20*time.Millisecond, func() bool {
		rs = refusalsIn(nd.LogText())
		return len(rs) > seen
	})
	if len(rs) <= seen {
		return nil
	}
	return rs[seen:]
}

// waitStatusAnswers waits until the node answers status, which it does only
// after its listener is open.
func waitStatusAnswers(t *testing.T, nd *Node) {
	t.Helper()
	if !lab.WaitFor(20*time.Second, 50*time.Millisecond, func() bool { _, ok := nd.Status(t); return ok }) {
		t.Fatalf("%s does not answer status within 20s", nd.Name)
	}
}

// badClient is one client office-a must refuse.
type badClient struct {
	name   string
	args   []string       // s_client arguments beyond the common ones
	alert  *regexp.Regexp // the alert s_client must report
	reason string         // the reason office-a must log (docs/logging.md)
}

// badClients makes the certificates of every refusal case in dir, and the
// good one checkAccepted uses.
func badClients(t *testing.T, n *Net, dir string) []badClient {
	t.Helper()
	caCert, caKey := n.pkiFiles()
	otherCert, otherKey := newOpenSSLCA(t, dir, "Other CA")
	now := time.Now()
	year := 365 * 24 * time.Hour
	tls13 := []string{"-tls1_3", "-alpn", "tlsvpn/1"}
	with := func(flags []string, s certSpec) []string {
		cert, key := issueWithOpenSSL(t, dir, s)
		return append(slices.Clone(flags), "-cert", cert, "-key", key)
	}
	expired := validSpec("expired", "office-b", caCert, caKey)
	expired.notBefore, expired.notAfter = now.Add(-2*year), now.Add(-year)
	future := validSpec("not-yet-valid", "office-b", caCert, caKey)
	future.notBefore, future.notAfter = now.Add(year), now.Add(2*year)
	wrongEKU := validSpec("server-only", "office-b", caCert, caKey)
	wrongEKU.eku = "serverAuth"
	good := validSpec("good", "office-b", caCert, caKey)
	issueWithOpenSSL(t, dir, good)
	goodCert := []string{"-cert", filepath.Join(dir, "good.pem"), "-key", filepath.Join(dir, "good.key")}
	certAlert := regexp.MustCompile(`alert (bad certificate|certificate unknown|unsupported certificate)`)
	return []badClient{
		{"other CA", with(tls13, validSpec("other-ca-leaf", "office-b", otherCert, otherKey)),
			regexp.MustCompile(`alert (bad certificate|unknown ca)`), "unknown authority"},
		{"expired", with(tls13, expired), regexp.MustCompile(`alert (bad certificate|certificate expired)`), "expired"},
		{"not yet valid", with(tls13, future), certAlert, "not yet valid"},
		{"wrong name", with(tls13, validSpec("office-x", "office-x", caCert, caKey)), certAlert, "wrong name"},
		{"wrong EKU", with(tls13, wrongEKU), certAlert, "wrong EKU"},
		{"no certificate", tls13, regexp.MustCompile(`alert (certificate required|handshake failure)`), "no certificate"},
		{"TLS 1.2", append([]string{"-tls1_2", "-alpn", "tlsvpn/1"}, goodCert...),
			regexp.MustCompile(`alert protocol version`), "TLS version"},
		{"wrong ALPN", append([]string{"-tls1_3", "-alpn", "h2"}, goodCert...),
			regexp.MustCompile(`alert no application protocol`), "ALPN"},
		{"no ALPN", append([]string{"-tls1_3"}, goodCert...),
			regexp.MustCompile(`alert (no application protocol|bad certificate)`), "ALPN"},
	}
}

func TestRefusedClientsGetAnAlertAndALogLine(t *testing.T) {
	testutil.CheckLeaks(t)
	testutil.NeedCommand(t, "openssl", "openssl")
	n := NewNet(t, Options{})
	certs := filepath.Join(n.Dir, "openssl")
	if err := os.Mkdir(certs, 0o700); err != nil {
		t.Fatal(err)
	}
	cases := badClients(t, n, certs)
	n.A.Start(t)
	waitStatusAnswers(t, n.A)

	table := []string{fmt.Sprintf("%-15s | %-45s | %s", "case", "alert seen by s_client", "reason logged")}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			alert, reason := checkRefused(t, n, c)
			table = append(table, fmt.Sprintf("%-15s | %-45s | %s", c.name, alert, reason))
		})
	}
	t.Run("a good openssl-made certificate is accepted", func(t *testing.T) { checkAccepted(t, n, certs) })
	t.Logf("refusals of office-a:\n%s", strings.Join(table, "\n"))

	t.Run("office-b still connects after the bad clients", func(t *testing.T) {
		n.B.Start(t)
		n.A.WaitConnected(t, 30*time.Second)
		n.B.WaitConnected(t, 30*time.Second)
		if got := n.Ping(t, n.Lab.LanA, lab.HostB4, 3); got != 3 {
			t.Errorf("ping %s from lanA after the refusals: %d of 3 replies", lab.HostB4, got)
		}
	})
}

// checkRefused runs one bad client and asserts the alert it saw and the
// line office-a logged; it returns both for the summary table.
func checkRefused(t *testing.T, n *Net, c badClient) (alert, reason string) {
	seen := len(refusalsIn(n.A.LogText()))
	out, err := sClient(n, c.args...)
	got := tlsAlerts(out)
	alert = strings.Join(got, "; ")
	if err == nil {
		t.Errorf("s_client exited 0; want a failure")
	}
	if len(got) == 0 || !c.alert.MatchString(alert) {
		t.Errorf("s_client saw alerts %q; want one matching %q\n%s", got, c.alert, out)
	}
	if strings.Contains(out, paramsFromA) {
		t.Errorf("office-a sent its parameter message (application data) to a refused client")
	}
	rs := waitRefusal(t, n.A, seen)
	if len(rs) != 1 {
		t.Fatalf("want one new handshake refused line in office-a's log, got %d:\n%s", len(rs), tail(n.A.LogText(), 10))
	}
	r := rs[0]
	if !strings.HasPrefix(r.remote, lab.UnderlayB+":") || r.reason != c.reason {
		t.Errorf("log line %q: want remote=%s:PORT reason=%q", r.line, lab.UnderlayB, c.reason)
	}
	t.Logf("s_client: %s; office-a: %s", alert, r.line)
	return alert, r.reason
}

// certificateReasons are the refusal reasons that blame the certificate.
var certificateReasons = []string{"no certificate", "expired", "not yet valid", "unknown authority",
	"wrong name", "ambiguous name", "wrong EKU", "CA as leaf", "weak key", "revoked", "address blocks",
	"invalid certificate", "TLS version", "ALPN"}

// checkAccepted connects with a good openssl-made certificate for
// office-b: the handshake completes and office-a sends its parameter
// message; office-a identifies the client as office-b and, when s_client
// sends no parameter message back, drops it for that alone.
func checkAccepted(t *testing.T, n *Net, dir string) {
	seen := len(refusalsIn(n.A.LogText()))
	cert, key := filepath.Join(dir, "good.pem"), filepath.Join(dir, "good.key")
	out, _ := sClient(n, "-tls1_3", "-alpn", "tlsvpn/1", "-cert", cert, "-key", key)
	for _, want := range []string{"Verification: OK", "TLSv1.3", "ALPN protocol: tlsvpn/1", paramsFromA} {
		if !strings.Contains(out, want) {
			t.Errorf("s_client output lacks %q:\n%s", want, out)
		}
	}
	if a := tlsAlerts(out); len(a) > 0 {
		t.Errorf("s_client saw alerts %q with a good certificate", a)
	}
	for _, r := range waitRefusal(t, n.A, seen) {
		if r.peer != "office-b" || slices.Contains(certificateReasons, r.reason) {
			t.Errorf("office-a refused the good certificate: %s", r.line)
		}
		t.Logf("after the handshake, with no parameter message from s_client: %s", r.line)
	}
}
