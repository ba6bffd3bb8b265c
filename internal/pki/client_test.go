package pki

import (
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/asn1"
	"errors"
	"net/netip"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/tlsvpn/tlsvpn/internal/testutil"
	"github.com/tlsvpn/tlsvpn/internal/trust"
)

func mustIssueClient(t *testing.T, o Options, name string, groups ...string) {
	t.Helper()
	if err := Issue(o, name, Profile{Days: DefaultNodeDays, Groups: groups}, false); err != nil {
		t.Fatal(err)
	}
}

// readFile returns the content of a file of the PKI directory.
func readFile(t *testing.T, o Options, name string) []byte {
	t.Helper()
	data, err := os.ReadFile(filepath.Join(o.Dir, name))
	if err != nil {
		t.Fatal(err)
	}
	return data
}

// hubCredentials loads what a hub named hub holds: its certificate and key
// from site, the CA of site for peers and the CA of clients for clients,
// and the CRLs of both (of one when they are the same directory).
func hubCredentials(t *testing.T, site, clients Options, hub string) *trust.Credentials {
	t.Helper()
	src := func(o Options, name string) trust.Source {
		return trust.Source{Path: filepath.Join(o.Dir, name), Data: readFile(t, o, name)}
	}
	in := trust.Input{Peers: src(site, "ca.pem"), Clients: src(clients, "ca.pem"), Cert: src(site, hub+".pem"),
		Key: src(site, hub+".key"), CRLs: []trust.Source{src(site, "crl.pem")}}
	if clients.Dir != site.Dir {
		in.CRLs = append(in.CRLs, src(clients, "crl.pem"))
	}
	creds, probs := trust.Load(in)
	if len(probs) > 0 {
		t.Fatalf("load the hub's credentials: %v", probs)
	}
	return creds
}

// verifyAs runs the hub's check of a chain presented in the role usage.
func verifyAs(creds *trust.Credentials, set trust.Set, usage x509.ExtKeyUsage, cert *x509.Certificate) error {
	_, err := creds.Verify([]*x509.Certificate{cert}, trust.Check{Set: set, Usages: []x509.ExtKeyUsage{usage}})
	return err
}

func TestClientCertificates(t *testing.T) {
	o, _ := newCA(t)
	mustIssue(t, o, "hq")
	groups := []string{"admins", "night ops", "Ünterstützung"}
	mustIssueClient(t, o, "alice", groups...)
	cert := loadCert(t, filepath.Join(o.Dir, "alice.pem"))

	if cert.Subject.CommonName != "alice" || !slices.Equal(cert.DNSNames, []string{"alice"}) ||
		!slices.Equal(cert.Subject.OrganizationalUnit, groups) {
		t.Errorf("CN %q, DNS names %v, OUs %v; want alice, [alice], %v", cert.Subject.CommonName, cert.DNSNames,
			cert.Subject.OrganizationalUnit, groups)
	}
	if !slices.Equal(cert.ExtKeyUsage, []x509.ExtKeyUsage{x509.ExtKeyUsageClientAuth}) || cert.KeyUsage != x509.KeyUsageDigitalSignature || cert.IsCA {
		t.Errorf("EKU %v, key usage %v, IsCA %v; want clientAuth only, digitalSignature, no CA", cert.ExtKeyUsage, cert.KeyUsage, cert.IsCA)
	}
	var rdns pkix.RDNSequence
	if _, err := asn1.Unmarshal(cert.RawSubject, &rdns); err != nil || len(rdns) != len(groups)+1 {
		t.Errorf("subject has %d RDNs (%v), want one per group and one for the CN", len(rdns), err)
	}

	hub := hubCredentials(t, o, o, "hq")
	if err := verifyAs(hub, trust.Clients, x509.ExtKeyUsageClientAuth, cert); err != nil {
		t.Errorf("the hub refuses the client: %v", err)
	}
	if err := verifyAs(hub, trust.Peers, x509.ExtKeyUsageServerAuth, cert); trust.ReasonOf(err) != trust.ReasonWrongEKU {
		t.Errorf("the client certificate as a listener's = %v, want %q", err, trust.ReasonWrongEKU)
	}
	verify := func(purpose string) error {
		_, err := testutil.OpenSSL(t, "", "verify", "-purpose", purpose, "-CAfile", filepath.Join(o.Dir, "ca.pem"),
			filepath.Join(o.Dir, "alice.pem"))
		return err
	}
	if err := verify("sslclient"); err != nil {
		t.Errorf("openssl verify -purpose sslclient: %v", err)
	}
	if err := verify("sslserver"); err == nil {
		t.Error("openssl verify -purpose sslserver accepts a client certificate")
	}
}

func TestIssueRefusesBadGroups(t *testing.T) {
	o, _ := newCA(t)
	tests := []struct {
		name   string
		groups []string
		routes []netip.Prefix
		want   string
	}{
		{"an empty group", []string{""}, nil, "empty group name"},
		{"a group longer than an OU", []string{strings.Repeat("g", 65)}, nil, "at most 64"},
		{"a group with a leading space", []string{" admins"}, nil, "starts or ends with a space"},
		{"a group with a control character", []string{"adm\tins"}, nil, "non-printable"},
		{"a group given twice", []string{"admins", "ops", "admins"}, nil, `--group "admins" is given twice`},
		{"groups with a route", []string{"admins"}, []netip.Prefix{netip.MustParsePrefix("10.1.0.0/24")}, "--route and --group do not go together"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := Issue(o, "alice", Profile{Days: 30, Groups: tt.groups, Routes: tt.routes}, false)
			if !errors.Is(err, ErrInvalidArgument) || !strings.Contains(err.Error(), tt.want) {
				t.Errorf("Issue = %v, want ErrInvalidArgument saying %q", err, tt.want)
			}
			if _, err := os.Stat(filepath.Join(o.Dir, "alice.key")); err == nil {
				t.Error("a refused issue wrote alice.key")
			}
		})
	}
	// Group names compare with case, as the hub matches them: two groups.
	mustIssueClient(t, o, "bob", "Admins", "admins")
}

func TestRenewKeepsGroupsAndListShowsThem(t *testing.T) {
	o, clk := newCA(t)
	mustIssue(t, o, "office-a", "10.1.0.0/24")
	mustIssueClient(t, o, "alice", "admins", "ops")
	clk.t = clk.t.Add(time.Minute)
	if err := Renew(o, "alice"); err != nil {
		t.Fatal(err)
	}
	renewed := loadCert(t, filepath.Join(o.Dir, "alice.pem"))
	if !slices.Equal(renewed.Subject.OrganizationalUnit, []string{"admins", "ops"}) ||
		!slices.Equal(renewed.ExtKeyUsage, []x509.ExtKeyUsage{x509.ExtKeyUsageClientAuth}) {
		t.Errorf("renewed client: OUs %v, EKU %v", renewed.Subject.OrganizationalUnit, renewed.ExtKeyUsage)
	}
	entries, err := List(o)
	if err != nil {
		t.Fatal(err)
	}
	type row struct {
		name            string
		client, current bool
		groups          string
	}
	var got []row
	for _, e := range entries {
		got = append(got, row{e.Name, e.Client(), e.Current, strings.Join(e.Groups, ",")})
	}
	want := []row{{"alice", true, false, "admins,ops"}, {"alice", true, true, "admins,ops"}, {"office-a", false, true, ""}}
	if !slices.Equal(got, want) {
		t.Errorf("List = %+v, want %+v", got, want)
	}
}
