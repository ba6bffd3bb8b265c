package pki

import (
	"crypto/ecdsa"
	"crypto/x509"
	"errors"
	"fmt"
	"net/netip"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/tlsvpn/tlsvpn/internal/ipblocks"
	"github.com/tlsvpn/tlsvpn/internal/testutil"
)

// clock is an injected clock that tests move forward by hand.
type clock struct{ t time.Time }

func (c *clock) now() time.Time { return c.t }

// newCA makes a CA in a fresh directory, with a clock starting at the real
// time (openssl checks validity against the real clock).
func newCA(t *testing.T) (Options, *clock) {
	t.Helper()
	clk := &clock{t: time.Now().UTC().Truncate(time.Second)}
	o := Options{Dir: filepath.Join(t.TempDir(), "pki"), Now: clk.now}
	if err := Init(o, "Test VPN CA", DefaultCADays); err != nil {
		t.Fatal(err)
	}
	return o, clk
}

func mustIssue(t *testing.T, o Options, name string, routes ...string) {
	t.Helper()
	var ps []netip.Prefix
	for _, r := range routes {
		ps = append(ps, netip.MustParsePrefix(r))
	}
	if err := Issue(o, name, Profile{Days: DefaultNodeDays, Routes: ps}, false); err != nil {
		t.Fatal(err)
	}
}

func loadCert(t *testing.T, path string) *x509.Certificate {
	t.Helper()
	c, err := readCert(path)
	if err != nil {
		t.Fatal(err)
	}
	return c
}

func TestIssuedCertificatesVerify(t *testing.T) {
	tests := []struct {
		name   string
		node   string
		routes []string
	}{
		{"a node without routes", "office-a", nil},
		{"a node with IPv4 and IPv6 routes", "office-b", []string{"10.2.0.0/24", "fd02::/64", "100.64.0.2/32"}},
		{"a node whose routes touch", "branch.example.net", []string{"10.3.0.0/24", "10.3.1.0/25"}},
	}
	o, _ := newCA(t)
	roots := x509.NewCertPool()
	roots.AddCert(ipblocks.MarkHandled(loadCert(t, filepath.Join(o.Dir, "ca.pem"))))
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			mustIssue(t, o, tt.node, tt.routes...)
			path := filepath.Join(o.Dir, tt.node+".pem")
			if out, err := testutil.OpenSSL(t, "", "verify", "-CAfile", filepath.Join(o.Dir, "ca.pem"), path); err != nil {
				t.Errorf("openssl verify: %v\n%s", err, out)
			}
			leaf := loadCert(t, path)
			if _, err := ipblocks.MarkHandled(leaf).Verify(x509.VerifyOptions{
				Roots: roots, DNSName: tt.node, KeyUsages: []x509.ExtKeyUsage{x509.ExtKeyUsageClientAuth},
			}); err != nil {
				t.Errorf("Go verify: %v", err)
			}
			checkLeaf(t, leaf, tt.node, tt.routes)
		})
	}
}

func checkLeaf(t *testing.T, c *x509.Certificate, name string, routes []string) {
	t.Helper()
	if c.Subject.CommonName != name || !slices.Equal(c.DNSNames, []string{name}) {
		t.Errorf("CN %q, DNS names %v; want %q", c.Subject.CommonName, c.DNSNames, name)
	}
	if c.IsCA || c.KeyUsage != x509.KeyUsageDigitalSignature ||
		!slices.Equal(c.ExtKeyUsage, []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth, x509.ExtKeyUsageClientAuth}) {
		t.Errorf("IsCA %v, key usage %v, EKU %v", c.IsCA, c.KeyUsage, c.ExtKeyUsage)
	}
	if c.SignatureAlgorithm != x509.ECDSAWithSHA256 || c.SerialNumber.BitLen() > 128 {
		t.Errorf("signature %v, serial of %d bits", c.SignatureAlgorithm, c.SerialNumber.BitLen())
	}
	blocks, present, err := ipblocks.FromCertificate(c)
	if err != nil || present != (len(routes) > 0) {
		t.Fatalf("ipAddrBlocks present %v, err %v; want present %v", present, err, len(routes) > 0)
	}
	for _, r := range routes {
		if !ipblocks.Covers(blocks, netip.MustParsePrefix(r)) {
			t.Errorf("ipAddrBlocks %v lacks %s", blocks, r)
		}
	}
}

func TestCRLRevokesOnlyTheRevoked(t *testing.T) {
	o, _ := newCA(t)
	mustIssue(t, o, "office-a")
	mustIssue(t, o, "office-b", "10.2.0.0/24")
	verify := func(name string) (string, error) {
		return testutil.OpenSSL(t, "", "verify", "-crl_check", "-CRLfile", filepath.Join(o.Dir, "crl.pem"),
			"-CAfile", filepath.Join(o.Dir, "ca.pem"), filepath.Join(o.Dir, name+".pem"))
	}
	for _, name := range []string{"office-a", "office-b"} {
		if out, err := verify(name); err != nil {
			t.Errorf("before revoke, %s: %v\n%s", name, err, out)
		}
	}
	if err := Revoke(o, "office-b"); err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name string
		ok   bool
	}{{"office-a", true}, {"office-b", false}}
	for _, tt := range tests {
		out, err := verify(tt.name)
		if (err == nil) != tt.ok {
			t.Errorf("after revoking office-b, openssl verify %s succeeded %v, want %v\n%s", tt.name, err == nil, tt.ok, out)
		}
		if !tt.ok && !strings.Contains(out, "revoked") {
			t.Errorf("openssl verify %s does not say revoked:\n%s", tt.name, out)
		}
	}
	if err := Revoke(o, "office-b"); !errors.Is(err, ErrRevoked) {
		t.Errorf("second revoke = %v, want ErrRevoked", err)
	}
	if err := Revoke(o, "nobody"); !errors.Is(err, ErrUnknownName) {
		t.Errorf("revoke of an unknown name = %v, want ErrUnknownName", err)
	}
}

func TestOpenSSLParsesTheCRL(t *testing.T) {
	o, _ := newCA(t)
	crl := filepath.Join(o.Dir, "crl.pem")
	out, err := testutil.OpenSSL(t, "", "crl", "-noout", "-text", "-in", crl)
	if err != nil || !strings.Contains(out, "No Revoked Certificates") || !strings.Contains(out, "X509v3 CRL Number") {
		t.Errorf("openssl crl of the empty CRL: %v\n%s", err, out)
	}
	mustIssue(t, o, "office-a")
	if err := Revoke(o, "office-a"); err != nil {
		t.Fatal(err)
	}
	// openssl prints the serial in uppercase hex with an even number of digits.
	serial := fmt.Sprintf("%X", loadCert(t, filepath.Join(o.Dir, "office-a.pem")).SerialNumber)
	if len(serial)%2 == 1 {
		serial = "0" + serial
	}
	out, err = testutil.OpenSSL(t, "", "crl", "-noout", "-text", "-in", crl)
	if err != nil || !strings.Contains(out, "Serial Number: "+serial) {
		t.Errorf("openssl crl does not list serial %s: %v\n%s", serial, err, out)
	}
}

func TestSignCRLAdvancesNumberAndDates(t *testing.T) {
	o, clk := newCA(t)
	for want := int64(1); want <= 3; want++ {
		crl := readCRL(t, o)
		if crl.Number.Int64() != want || !crl.ThisUpdate.Equal(clk.t) ||
			!crl.NextUpdate.Equal(clk.t.AddDate(0, 0, DefaultCRLDays)) {
			t.Errorf("CRL number %v, thisUpdate %v, nextUpdate %v; want %d, %v, +%d days",
				crl.Number, crl.ThisUpdate, crl.NextUpdate, want, clk.t, DefaultCRLDays)
		}
		clk.t = clk.t.Add(time.Hour)
		if err := SignCRL(o); err != nil {
			t.Fatal(err)
		}
	}
}

func readCRL(t *testing.T, o Options) *x509.RevocationList {
	t.Helper()
	der, err := readPEM(filepath.Join(o.Dir, "crl.pem"), "X509 CRL", func(der []byte) ([]byte, error) { return der, nil })
	if err != nil {
		t.Fatal(err)
	}
	crl, err := x509.ParseRevocationList(der)
	if err != nil {
		t.Fatal(err)
	}
	ca := loadCert(t, filepath.Join(o.Dir, "ca.pem"))
	if err := crl.CheckSignatureFrom(ca); err != nil {
		t.Fatalf("CRL signature: %v", err)
	}
	return crl
}

func TestFileModes(t *testing.T) {
	o, _ := newCA(t)
	mustIssue(t, o, "office-a")
	tests := []struct {
		file string
		mode os.FileMode
	}{
		{".", 0o700}, {"ca.key", 0o600}, {"office-a.key", 0o600},
		{"ca.pem", 0o644}, {"office-a.pem", 0o644}, {"crl.pem", 0o644},
	}
	for _, tt := range tests {
		fi, err := os.Stat(filepath.Join(o.Dir, tt.file))
		if err != nil {
			t.Fatal(err)
		}
		if fi.Mode().Perm() != tt.mode {
			t.Errorf("%s has mode %04o, want %04o", tt.file, fi.Mode().Perm(), tt.mode)
		}
	}
}

func TestIssueRefusesToReplaceWithoutForce(t *testing.T) {
	o, _ := newCA(t)
	mustIssue(t, o, "office-a")
	before := loadCert(t, filepath.Join(o.Dir, "office-a.pem"))
	err := Issue(o, "office-a", Profile{Days: 30}, false)
	want := "office-a.pem exists in " + o.Dir + "; use --force to replace it"
	if !errors.Is(err, ErrExists) || !strings.Contains(err.Error(), want) {
		t.Fatalf("second issue = %v, want ErrExists saying %q", err, want)
	}
	if err := Issue(o, "office-a", Profile{Days: 30}, true); err != nil {
		t.Fatalf("issue --force: %v", err)
	}
	after := loadCert(t, filepath.Join(o.Dir, "office-a.pem"))
	if after.SerialNumber.Cmp(before.SerialNumber) == 0 {
		t.Error("issue --force kept the serial")
	}
	entries, err := List(o)
	if err != nil {
		t.Fatal(err)
	}
	if len(entries) != 2 || entries[0].Current || !entries[1].Current {
		t.Errorf("list after issue --force = %+v, want the old one replaced and the new one current", entries)
	}
}

func TestRenewChangesSerialAndKeyNotRoutes(t *testing.T) {
	o, clk := newCA(t)
	if err := Issue(o, "office-b", Profile{Days: 90, Routes: []netip.Prefix{netip.MustParsePrefix("10.2.0.0/24")}}, false); err != nil {
		t.Fatal(err)
	}
	old := loadCert(t, filepath.Join(o.Dir, "office-b.pem"))
	oldKey, _ := os.ReadFile(filepath.Join(o.Dir, "office-b.key"))
	clk.t = clk.t.Add(2 * time.Second) // openssl checks against the real clock
	if err := Renew(o, "office-b"); err != nil {
		t.Fatal(err)
	}
	renewed := loadCert(t, filepath.Join(o.Dir, "office-b.pem"))
	newKey, _ := os.ReadFile(filepath.Join(o.Dir, "office-b.key"))
	if renewed.SerialNumber.Cmp(old.SerialNumber) == 0 {
		t.Error("renew kept the serial")
	}
	if string(newKey) == string(oldKey) || old.PublicKey.(*ecdsa.PublicKey).Equal(renewed.PublicKey) {
		t.Error("renew kept the key")
	}
	if got, want := renewed.NotAfter.Sub(renewed.NotBefore), old.NotAfter.Sub(old.NotBefore); got != want {
		t.Errorf("renewed lifetime %v, want %v", got, want)
	}
	if !renewed.NotAfter.Equal(clk.t.AddDate(0, 0, 90)) {
		t.Errorf("renewed NotAfter %v, want %v", renewed.NotAfter, clk.t.AddDate(0, 0, 90))
	}
	checkLeaf(t, renewed, "office-b", []string{"10.2.0.0/24"})
	if out, err := testutil.OpenSSL(t, "", "verify", "-crl_check", "-CRLfile", filepath.Join(o.Dir, "crl.pem"),
		"-CAfile", filepath.Join(o.Dir, "ca.pem"), filepath.Join(o.Dir, "office-b.pem")); err != nil {
		t.Errorf("openssl verify of the renewed certificate: %v\n%s", err, out)
	}
}

func TestRenewRefuses(t *testing.T) {
	o, _ := newCA(t)
	mustIssue(t, o, "office-a")
	if err := Revoke(o, "office-a"); err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name string
		node string
		want error
	}{
		{"a name never issued", "office-z", ErrUnknownName},
		{"a revoked name", "office-a", ErrRevoked},
		{"a bad name", "Office-A", ErrInvalidArgument},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if err := Renew(o, tt.node); !errors.Is(err, tt.want) {
				t.Errorf("Renew(%q) = %v, want %v", tt.node, err, tt.want)
			}
		})
	}
}

func TestList(t *testing.T) {
	o, clk := newCA(t)
	start := clk.t
	mustIssue(t, o, "office-b", "10.2.0.0/24")
	clk.t = start.Add(time.Hour)
	mustIssue(t, o, "office-a")
	clk.t = start.Add(2 * time.Hour)
	if err := Renew(o, "office-a"); err != nil {
		t.Fatal(err)
	}
	clk.t = start.Add(3 * time.Hour)
	if err := Revoke(o, "office-b"); err != nil {
		t.Fatal(err)
	}
	got, err := List(o)
	if err != nil {
		t.Fatal(err)
	}
	type row struct {
		name             string
		notAfter         time.Time
		current, revoked bool
		revokedAt        time.Time
		routes           int
	}
	want := []row{
		{"office-a", start.Add(time.Hour).AddDate(0, 0, DefaultNodeDays), false, false, time.Time{}, 0},
		{"office-a", start.Add(2*time.Hour).AddDate(0, 0, DefaultNodeDays), true, false, time.Time{}, 0},
		{"office-b", start.AddDate(0, 0, DefaultNodeDays), true, true, start.Add(3 * time.Hour), 1},
	}
	if len(got) != len(want) {
		t.Fatalf("List = %+v, want %d entries", got, len(want))
	}
	for i, e := range got {
		g := row{e.Name, e.NotAfter, e.Current, e.Revoked, e.RevokedAt, len(e.Routes)}
		if !g.notAfter.Equal(want[i].notAfter) || !g.revokedAt.Equal(want[i].revokedAt) ||
			g.name != want[i].name || g.current != want[i].current || g.revoked != want[i].revoked || g.routes != want[i].routes {
			t.Errorf("entry %d = %+v, want %+v", i, g, want[i])
		}
	}
	current := loadCert(t, filepath.Join(o.Dir, "office-a.pem"))
	if got[1].Serial.Cmp(current.SerialNumber) != 0 {
		t.Errorf("serial of the current office-a = %X, want %X", got[1].Serial, current.SerialNumber)
	}
}

func TestBadArgumentsAreInvalid(t *testing.T) {
	o, _ := newCA(t)
	route := func(s string) []netip.Prefix { return []netip.Prefix{netip.MustParsePrefix(s)} }
	tests := []struct {
		name   string
		node   string
		days   int
		routes []netip.Prefix
		want   string
	}{
		{"an uppercase name", "Office-A", 30, nil, "not lowercase"},
		{"a name with a slash", "a/b", 30, nil, "not allowed"},
		{"a name with an empty label", "a..b", 30, nil, "empty label"},
		{"a name ending in a hyphen", "office-", 30, nil, "hyphen"},
		{"the name of the CA's files", "ca", 30, nil, "reserved"},
		{"zero days", "office-a", 0, nil, "between 1 and"},
		{"a route with host bits", "office-a", 30, route("10.0.0.1/24"), "did you mean 10.0.0.0/24"},
		{"a lifetime beyond the CA", "office-a", DefaultCADays + 1, nil, "would outlive the CA"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := Issue(o, tt.node, Profile{Days: tt.days, Routes: tt.routes}, false)
			if !errors.Is(err, ErrInvalidArgument) || !strings.Contains(err.Error(), tt.want) {
				t.Errorf("Issue = %v, want ErrInvalidArgument saying %q", err, tt.want)
			}
		})
	}
}

func TestInitRefusesAnExistingCA(t *testing.T) {
	o, _ := newCA(t)
	before, _ := os.ReadFile(filepath.Join(o.Dir, "ca.key"))
	err := Init(o, "Another CA", 10)
	if !errors.Is(err, ErrExists) || !strings.Contains(err.Error(), "ca.key exists in "+o.Dir) {
		t.Errorf("second init = %v, want ErrExists naming ca.key", err)
	}
	if after, _ := os.ReadFile(filepath.Join(o.Dir, "ca.key")); string(after) != string(before) {
		t.Error("second init changed ca.key")
	}
}

func TestCACertificate(t *testing.T) {
	o, _ := newCA(t)
	ca := loadCert(t, filepath.Join(o.Dir, "ca.pem"))
	if !ca.IsCA || ca.MaxPathLen != 0 || !ca.MaxPathLenZero || ca.Subject.CommonName != "Test VPN CA" ||
		ca.KeyUsage != x509.KeyUsageCertSign|x509.KeyUsageCRLSign {
		t.Errorf("CA: IsCA %v, MaxPathLen %d, CN %q, key usage %v", ca.IsCA, ca.MaxPathLen, ca.Subject.CommonName, ca.KeyUsage)
	}
	blocks, present, err := ipblocks.FromCertificate(ca)
	if err != nil || !present || !slices.Equal(blocks, allAddresses) {
		t.Errorf("CA ipAddrBlocks = %v, %v, %v; want %v", blocks, present, err, allAddresses)
	}
	out, err := testutil.OpenSSL(t, "", "x509", "-noout", "-text", "-in", filepath.Join(o.Dir, "ca.pem"))
	if err != nil || !strings.Contains(out, "sbgp-ipAddrBlock: critical") || !strings.Contains(out, "0.0.0.0/0") {
		t.Errorf("openssl x509 -text of the CA: %v\n%s", err, out)
	}
}

func TestCommandsNeedACA(t *testing.T) {
	o := Options{Dir: t.TempDir()}
	tests := []struct {
		name string
		run  func() error
	}{
		{"issue", func() error { return Issue(o, "office-a", Profile{Days: 30}, false) }},
		{"renew", func() error { return Renew(o, "office-a") }},
		{"revoke", func() error { return Revoke(o, "office-a") }},
		{"crl", func() error { return SignCRL(o) }},
		{"list", func() error { _, err := List(o); return err }},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := tt.run()
			if !errors.Is(err, ErrNoCA) || !strings.Contains(err.Error(), "tlsvpn pki init --dir "+o.Dir) {
				t.Errorf("%s without a CA = %v, want ErrNoCA with the fix", tt.name, err)
			}
		})
	}
}

func TestInsecureCAKeyIsRefused(t *testing.T) {
	o, _ := newCA(t)
	if err := os.Chmod(filepath.Join(o.Dir, "ca.key"), 0o640); err != nil {
		t.Fatal(err)
	}
	err := Issue(o, "office-a", Profile{Days: 30}, false)
	if !errors.Is(err, ErrInsecureKey) || !strings.Contains(err.Error(), "chmod 600") {
		t.Errorf("issue with a group-readable ca.key = %v, want ErrInsecureKey", err)
	}
}

func TestConcurrentCommandsLoseNothing(t *testing.T) {
	o, _ := newCA(t)
	const n = 8
	errs := make(chan error, n)
	for i := range n {
		go func() { errs <- Issue(o, "node-"+string(rune('a'+i)), Profile{Days: 30}, false) }()
	}
	for range n {
		if err := <-errs; err != nil {
			t.Error(err)
		}
	}
	entries, err := List(o)
	if err != nil {
		t.Fatal(err)
	}
	if len(entries) != n {
		t.Errorf("List has %d entries after %d concurrent issues, want %d", len(entries), n, n)
	}
}
