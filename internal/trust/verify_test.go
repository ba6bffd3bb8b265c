package trust_test

import (
	"crypto/x509"
	"errors"
	"math/big"
	"net/netip"
	"strconv"
	"testing"
	"time"

	"github.com/tlsvpn/tlsvpn/internal/certtest"
	"github.com/tlsvpn/tlsvpn/internal/trust"
)

var now = time.Date(2027, 3, 1, 12, 0, 0, 0, time.UTC)

var (
	serverAuth = []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth}
	clientAuth = []x509.ExtKeyUsage{x509.ExtKeyUsageClientAuth}
)

// input trusts the PEM anchors and presents own (with its intermediates and key); each of crls is one
// CRL file.
func input(anchors []byte, own *certtest.Cert, crls ...[]byte) trust.Input {
	in := trust.Input{
		Peers: trust.Source{Path: "ca.pem", Data: anchors},
		Cert:  trust.Source{Path: "own.pem", Data: own.PEM()},
		Key:   trust.Source{Path: "own.key", Data: own.KeyPEM()},
	}
	for i, crl := range crls {
		in.CRLs = append(in.CRLs, trust.Source{Path: "crl" + strconv.Itoa(i) + ".pem", Data: crl})
	}
	return in
}

// mustLoad loads in, failing the test on any problem.
func mustLoad(t *testing.T, in trust.Input) *trust.Credentials {
	t.Helper()
	c, probs := trust.Load(in)
	if len(probs) > 0 || c == nil {
		t.Fatalf("Load: %v", probs)
	}
	return c
}

// chainOf is what a peer presents: its certificate and intermediates.
func chainOf(c *certtest.Cert) []*x509.Certificate {
	out := []*x509.Certificate{c.Cert}
	for _, ic := range c.Chain {
		out = append(out, ic.Cert)
	}
	return out
}

// checkReason runs Verify and compares the refusal's reason with want ("" for acceptance).
func checkReason(t *testing.T, creds *trust.Credentials, chain []*x509.Certificate, k trust.Check, want string) *trust.Refusal {
	t.Helper()
	_, err := creds.Verify(chain, k)
	var r *trust.Refusal
	if err != nil && !errors.As(err, &r) {
		t.Fatalf("Verify returned %T, not a *Refusal: %v", err, err)
	}
	switch {
	case want == "" && err != nil:
		t.Fatalf("refused: %v", err)
	case want != "" && err == nil:
		t.Fatalf("accepted; want a refusal %q", want)
	case want != "" && r.Reason != want:
		t.Fatalf("refused for %q (%v); want %q", r.Reason, err, want)
	}
	if r != nil {
		t.Logf("%v", r)
	}
	return r
}

func TestVerifyAppliesEveryRule(t *testing.T) {
	f := certtest.New(t, now)
	own := f.Leaf(certtest.LeafOpts{Names: []string{"office-a"}})
	creds := mustLoad(t, input(f.CA().PEM(), own))
	good := certtest.LeafOpts{Names: []string{"office-b"}}
	with := func(mod func(*certtest.LeafOpts)) *certtest.Cert {
		o := good
		mod(&o)
		return f.Leaf(o)
	}
	inter := f.Intermediate(time.Time{}, time.Time{}, nil)
	expiredInter := f.Intermediate(now.Add(-48*time.Hour), now.Add(-time.Hour), nil)
	futureInter := f.Intermediate(now.Add(time.Hour), now.Add(48*time.Hour), nil)
	serverOnly := f.IntermediateCA(certtest.CAOpts{EKU: serverAuth})
	narrow := f.IntermediateCA(certtest.CAOpts{Routes: []netip.Prefix{netip.MustParsePrefix("10.2.0.0/16")}})
	weakInter := f.IntermediateCA(certtest.CAOpts{RSABits: 1024})
	long := f.Leaf(good)
	for range trust.MaxChain {
		long.Chain = append(long.Chain, inter)
	}
	expiredRoot := certtest.NewCA(t, now, certtest.CAOpts{NotBefore: now.Add(-48 * time.Hour), NotAfter: now.Add(-time.Hour)})
	expiredRootCreds := mustLoad(t, input(append(f.CA().PEM(), expiredRoot.CA().PEM()...), own))

	tests := []struct {
		name   string
		creds  *trust.Credentials
		chain  []*x509.Certificate
		usages []x509.ExtKeyUsage
		reason string
		depth  int
	}{
		{name: "a leaf of the CA with clientAuth is accepted", chain: chainOf(f.Leaf(good))},
		{name: "a leaf under an intermediate it presents is accepted", chain: chainOf(with(func(o *certtest.LeafOpts) { o.Issuer = inter }))},
		{name: "an RSA-2048 leaf is accepted", chain: chainOf(with(func(o *certtest.LeafOpts) { o.RSABits = 2048 }))},
		{name: "a leaf with address blocks inside its issuer's is accepted", chain: chainOf(with(func(o *certtest.LeafOpts) {
			o.Issuer, o.Routes = narrow, []netip.Prefix{netip.MustParsePrefix("10.2.1.0/24")}
		}))},
		{name: "a leaf with both usages is accepted for both", usages: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth, x509.ExtKeyUsageClientAuth},
			chain: chainOf(f.Leaf(good))},
		{name: "no certificate is refused as invalid", chain: nil, reason: trust.ReasonInvalid},
		{name: "a chain longer than the limit is refused as invalid", chain: chainOf(long), reason: trust.ReasonInvalid},
		{name: "a leaf of another CA is refused as of an unknown authority", chain: chainOf(f.OtherCA().Leaf(good)), reason: trust.ReasonUnknownAuthority},
		{name: "a leaf without the intermediate that issued it is refused as of an unknown authority",
			chain: chainOf(with(func(o *certtest.LeafOpts) { o.Issuer = inter }))[:1], reason: trust.ReasonUnknownAuthority},
		{name: "an expired leaf is refused as expired", reason: trust.ReasonExpired,
			chain: chainOf(with(func(o *certtest.LeafOpts) { o.NotBefore, o.NotAfter = now.Add(-72*time.Hour), now.Add(-time.Hour) }))},
		{name: "a leaf not yet valid is refused as not yet valid", reason: trust.ReasonNotYetValid,
			chain: chainOf(with(func(o *certtest.LeafOpts) { o.NotBefore, o.NotAfter = now.Add(time.Hour), now.Add(72*time.Hour) }))},
		{name: "a leaf under an expired intermediate is refused as expired", reason: trust.ReasonExpired, depth: 1,
			chain: chainOf(with(func(o *certtest.LeafOpts) { o.Issuer, o.NotBefore = expiredInter, now.Add(-47*time.Hour) }))},
		{name: "a leaf under an intermediate not yet valid is refused as not yet valid", reason: trust.ReasonNotYetValid, depth: 1,
			chain: chainOf(with(func(o *certtest.LeafOpts) { o.Issuer, o.NotAfter = futureInter, now.Add(47*time.Hour) }))},
		{name: "a leaf of an expired trust anchor is refused as expired", creds: expiredRootCreds, reason: trust.ReasonExpired, depth: 1,
			chain: chainOf(expiredRoot.Leaf(certtest.LeafOpts{Names: []string{"office-b"}, NotBefore: now.Add(-47 * time.Hour)}))},
		{name: "a leaf without clientAuth is refused as wrong EKU", reason: trust.ReasonWrongEKU,
			chain: chainOf(with(func(o *certtest.LeafOpts) { o.EKU = serverAuth }))},
		{name: "a leaf with anyExtendedKeyUsage alone is refused as wrong EKU", reason: trust.ReasonWrongEKU,
			chain: chainOf(with(func(o *certtest.LeafOpts) { o.EKU = []x509.ExtKeyUsage{x509.ExtKeyUsageAny} }))},
		{name: "a leaf without the EKU extension is refused as wrong EKU", reason: trust.ReasonWrongEKU,
			chain: chainOf(with(func(o *certtest.LeafOpts) { o.NoEKU = true }))},
		{name: "a leaf under an intermediate that allows only serverAuth is refused as wrong EKU", reason: trust.ReasonWrongEKU, depth: 1,
			chain: chainOf(with(func(o *certtest.LeafOpts) { o.Issuer = serverOnly }))},
		{name: "the same leaf is accepted as a server by that intermediate", usages: serverAuth,
			chain: chainOf(with(func(o *certtest.LeafOpts) { o.Issuer = serverOnly }))},
		{name: "a CA certificate presented as leaf is refused", reason: trust.ReasonCAAsLeaf,
			chain: chainOf(with(func(o *certtest.LeafOpts) { o.IsCA = true }))},
		{name: "an RSA-1024 leaf is refused as a weak key", reason: trust.ReasonWeakKey,
			chain: chainOf(with(func(o *certtest.LeafOpts) { o.RSABits = 1024 }))},
		{name: "an RSA-1024 intermediate is refused as a weak key", reason: trust.ReasonWeakKey, depth: 1,
			chain: chainOf(with(func(o *certtest.LeafOpts) { o.Issuer = weakInter }))},
		{name: "address blocks outside the issuer's are refused", reason: trust.ReasonAddressBlocks,
			chain: chainOf(with(func(o *certtest.LeafOpts) {
				o.Issuer, o.Routes = narrow, []netip.Prefix{netip.MustParsePrefix("10.3.0.0/24")}
			}))},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			c := tc.creds
			if c == nil {
				c = creds
			}
			usages := tc.usages
			if usages == nil {
				usages = clientAuth
			}
			r := checkReason(t, c, tc.chain, trust.Check{Usages: usages, Now: now}, tc.reason)
			if r != nil && r.Depth != tc.depth {
				t.Errorf("refusal about the certificate at depth %d, want %d", r.Depth, tc.depth)
			}
		})
	}
}

func TestVerifyReturnsWhatItLearnt(t *testing.T) {
	f := certtest.New(t, now)
	inter := f.Intermediate(time.Time{}, now.Add(30*time.Hour), nil)
	leaf := f.Leaf(certtest.LeafOpts{Names: []string{"office-b"}, Issuer: inter, NotAfter: now.Add(40 * time.Hour),
		Routes: []netip.Prefix{netip.MustParsePrefix("10.2.0.0/24")}})
	creds := mustLoad(t, input(f.CA().PEM(), f.Leaf(certtest.LeafOpts{})))
	v, err := creds.Verify(chainOf(leaf), trust.Check{Usages: clientAuth, Now: now})
	if err != nil {
		t.Fatal(err)
	}
	if len(v.Chain) != 3 || !v.Chain[2].Equal(f.CA().Cert) {
		t.Errorf("verified path of %d certificates, want leaf, intermediate, anchor", len(v.Chain))
	}
	if !v.Expires.Equal(inter.Cert.NotAfter) {
		t.Errorf("expires %v, want the intermediate's NotAfter %v", v.Expires, inter.Cert.NotAfter)
	}
	if !v.Covers(netip.MustParsePrefix("10.2.0.128/25")) || v.Covers(netip.MustParsePrefix("10.2.0.0/23")) {
		t.Errorf("blocks %v: Covers is wrong", v.Blocks)
	}
}

func TestAuditReportsEveryProblemOfTheOwnCertificate(t *testing.T) {
	f := certtest.New(t, now)
	own := f.Leaf(certtest.LeafOpts{Names: []string{"office-a"}, EKU: serverAuth, RSABits: 1024,
		NotBefore: now.Add(-72 * time.Hour), NotAfter: now.Add(-time.Hour)})
	creds := mustLoad(t, input(f.CA().PEM(), own))
	_, found := creds.Audit(creds.Chain(), trust.Check{Usages: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth, x509.ExtKeyUsageClientAuth}, Now: now})
	var got []string
	for _, r := range found {
		got = append(got, r.Reason)
	}
	want := []string{trust.ReasonWrongEKU, trust.ReasonExpired, trust.ReasonWeakKey}
	if len(got) != len(want) {
		t.Fatalf("Audit found %q, want %q", got, want)
	}
	for i := range want {
		if got[i] != want[i] {
			t.Fatalf("Audit found %q, want %q", got, want)
		}
	}
	if found[0].Usage != x509.ExtKeyUsageClientAuth {
		t.Errorf("the EKU refusal names %v, want clientAuth", found[0].Usage)
	}
}

func TestClientAnchorsAreASeparateSet(t *testing.T) {
	sites := certtest.New(t, now)
	clients := sites.OtherCA()
	in := input(sites.CA().PEM(), sites.Leaf(certtest.LeafOpts{Names: []string{"hq"}}))
	in.Clients = trust.Source{Path: "clients-ca.pem", Data: clients.CA().PEM()}
	creds := mustLoad(t, in)
	laptop := chainOf(clients.Leaf(certtest.LeafOpts{Names: []string{"laptop"}, Groups: []string{"admins"}}))
	site := chainOf(sites.Leaf(certtest.LeafOpts{Names: []string{"office-b"}}))

	checkReason(t, creds, laptop, trust.Check{Set: trust.Clients, Usages: clientAuth, Now: now}, "")
	checkReason(t, creds, laptop, trust.Check{Set: trust.Peers, Usages: clientAuth, Now: now}, trust.ReasonUnknownAuthority)
	checkReason(t, creds, site, trust.Check{Set: trust.Clients, Usages: clientAuth, Now: now}, trust.ReasonUnknownAuthority)
	if got := creds.Anchors(trust.Clients); len(got) != 1 || !got[0].Equal(clients.CA().Cert) {
		t.Errorf("client anchors %v", got)
	}

	none := mustLoad(t, input(sites.CA().PEM(), sites.Leaf(certtest.LeafOpts{Names: []string{"hq"}})))
	checkReason(t, none, laptop, trust.Check{Set: trust.Clients, Usages: clientAuth, Now: now}, trust.ReasonUnknownAuthority)
}

// TestSameSerialFromAnotherCA is the reason revocation matches issuer and serial: two CAs may well
// issue the same serial number.
func TestSameSerialFromAnotherCA(t *testing.T) {
	a := certtest.NewCA(t, now, certtest.CAOpts{Name: "CA one"})
	b := certtest.NewCA(t, now, certtest.CAOpts{Name: "CA two"})
	serial := big.NewInt(4242)
	revoked := a.Leaf(certtest.LeafOpts{Names: []string{"office-b"}, Serial: serial})
	twin := b.Leaf(certtest.LeafOpts{Names: []string{"office-c"}, Serial: serial})
	anchors := append(a.CA().PEM(), b.CA().PEM()...)
	creds := mustLoad(t, input(anchors, a.Leaf(certtest.LeafOpts{}),
		a.CRLWith(certtest.CRLOpts{Revoked: []*certtest.Cert{revoked}}), b.CRLWith(certtest.CRLOpts{})))
	k := trust.Check{Usages: clientAuth, Now: now}
	checkReason(t, creds, chainOf(revoked), k, trust.ReasonRevoked)
	checkReason(t, creds, chainOf(twin), k, "")
}
