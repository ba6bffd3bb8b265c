package trust_test

import (
	"crypto/x509"
	"encoding/pem"
	"errors"
	"testing"
	"time"

	"github.com/tlsvpn/tlsvpn/internal/certtest"
	"github.com/tlsvpn/tlsvpn/internal/trust"
)

func TestRevocation(t *testing.T) {
	f := certtest.New(t, now)
	other := f.OtherCA()
	inter := f.Intermediate(time.Time{}, time.Time{}, nil)
	bare := f.Intermediate(time.Time{}, time.Time{}, nil) // no CRL of its own anywhere
	leafOf := func(issuer *certtest.Cert) *certtest.Cert {
		return f.Leaf(certtest.LeafOpts{Names: []string{"office-b"}, Issuer: issuer})
	}
	peer, revokedPeer := leafOf(nil), leafOf(nil)
	underInter, revokedUnderInter := leafOf(inter), leafOf(inter)
	underBare := leafOf(bare)
	revokedInter := f.Intermediate(time.Time{}, time.Time{}, nil)
	underRevokedInter := leafOf(revokedInter)
	otherPeer := other.Leaf(certtest.LeafOpts{Names: []string{"office-c"}})
	own := f.Leaf(certtest.LeafOpts{Names: []string{"office-a"}})
	both := append(f.CA().PEM(), other.CA().PEM()...)

	rootCRL := f.CRLWith(certtest.CRLOpts{Revoked: []*certtest.Cert{revokedPeer, revokedInter}})
	interCRL := f.CRLWith(certtest.CRLOpts{Signer: inter, Revoked: []*certtest.Cert{revokedUnderInter}})
	otherCRL := other.CRLWith(certtest.CRLOpts{Revoked: []*certtest.Cert{otherPeer}})
	staleCRL := f.CRLWith(certtest.CRLOpts{ThisUpdate: now.Add(-48 * time.Hour), NextUpdate: now.Add(-time.Hour)})
	badInterCRL := corrupt(t, f.CRLWith(certtest.CRLOpts{Signer: inter}))

	tests := []struct {
		name   string
		in     trust.Input
		chain  *certtest.Cert
		live   bool
		reason string
		depth  int
	}{
		{name: "a leaf the root's CRL does not list is accepted", in: input(f.CA().PEM(), own, rootCRL), chain: peer},
		{name: "a leaf the root's CRL lists is refused", in: input(f.CA().PEM(), own, rootCRL), chain: revokedPeer, reason: trust.ReasonRevoked},
		{name: "without CRLs nothing is looked up", in: input(f.CA().PEM(), own), chain: revokedPeer},
		{name: "an intermediate the root's CRL lists is refused with its leaf", in: input(f.CA().PEM(), own, rootCRL, interCRL),
			chain: underRevokedInter, reason: trust.ReasonRevoked, depth: 1},
		{name: "a leaf its intermediate's CRL lists is refused", in: input(f.CA().PEM(), own, rootCRL, interCRL),
			chain: revokedUnderInter, reason: trust.ReasonRevoked},
		{name: "a leaf its intermediate's CRL does not list is accepted", in: input(f.CA().PEM(), own, rootCRL, interCRL), chain: underInter},
		{name: "a leaf whose issuing intermediate has no CRL is refused while CRLs are configured (fail closed)",
			in: input(f.CA().PEM(), own, rootCRL, interCRL), chain: underBare, reason: trust.ReasonNoCRL},
		{name: "a leaf whose intermediate's CRL has a bad signature is refused as without CRL",
			in: input(f.CA().PEM(), own, rootCRL, badInterCRL), chain: underInter, reason: trust.ReasonNoCRL},
		{name: "two CRLs in one file each revoke for their own CA", in: input(both, own, append(rootCRL, otherCRL...)),
			chain: otherPeer, reason: trust.ReasonRevoked},
		{name: "two CRLs in one file leave the other CA's good leaves alone", in: input(both, own, append(otherCRL, rootCRL...)), chain: peer},
		{name: "a list of CRL files revokes for each CA", in: input(both, own, otherCRL, rootCRL), chain: revokedPeer, reason: trust.ReasonRevoked},
		{name: "a CRL in DER form revokes", in: input(f.CA().PEM(), own, der(t, rootCRL)), chain: revokedPeer, reason: trust.ReasonRevoked},
		{name: "a stale CRL refuses a new handshake", in: input(f.CA().PEM(), own, staleCRL), chain: peer, reason: trust.ReasonCRLStale},
		{name: "a stale CRL does not refuse a live session", in: input(f.CA().PEM(), own, staleCRL), chain: peer, live: true},
		{name: "a stale CRL of another CA does not refuse this CA's leaves", in: input(both, own, rootCRL,
			other.CRLWith(certtest.CRLOpts{ThisUpdate: now.Add(-48 * time.Hour), NextUpdate: now.Add(-time.Hour)})), chain: peer},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			creds := mustLoad(t, tc.in)
			r := checkReason(t, creds, chainOf(tc.chain), trust.Check{Usages: clientAuth, Now: now, Live: tc.live}, tc.reason)
			if r != nil && r.Depth != tc.depth {
				t.Errorf("refusal about the certificate at depth %d, want %d", r.Depth, tc.depth)
			}
			if r != nil && r.Reason == trust.ReasonRevoked && (r.CRL == nil || r.At.IsZero()) {
				t.Errorf("a revocation without its CRL or time: %+v", r)
			}
		})
	}
}

// der converts a PEM CRL to DER.
func der(t *testing.T, pemCRL []byte) []byte {
	t.Helper()
	b, _ := pem.Decode(pemCRL)
	if b == nil {
		t.Fatal("not PEM")
	}
	return b.Bytes
}

// corrupt flips the last byte of a PEM CRL's signature: it still parses, but no key verifies it.
func corrupt(t *testing.T, pemCRL []byte) []byte {
	t.Helper()
	b := der(t, pemCRL)
	b[len(b)-1] ^= 0x01
	return pem.EncodeToMemory(&pem.Block{Type: "X509 CRL", Bytes: b})
}

func TestCheckRollback(t *testing.T) {
	f := certtest.New(t, now)
	other := f.OtherCA()
	own := f.Leaf(certtest.LeafOpts{Names: []string{"office-a"}})
	both := append(f.CA().PEM(), other.CA().PEM()...)
	crl := func(c *certtest.Factory, number int64, thisUpdate time.Time) []byte {
		return c.CRLWith(certtest.CRLOpts{Number: number, ThisUpdate: thisUpdate})
	}
	inForce := mustLoad(t, input(both, own, crl(f, 5, now.Add(-time.Hour)), crl(other, 9, now.Add(-time.Hour))))
	tests := []struct {
		name string
		crls [][]byte
		bad  int // how many rollbacks
	}{
		{"the same CRLs again pass", [][]byte{crl(f, 5, now.Add(-time.Hour)), crl(other, 9, now.Add(-time.Hour))}, 0},
		{"newer CRLs pass", [][]byte{crl(f, 6, now), crl(other, 10, now)}, 0},
		{"a lower CRL number is a rollback", [][]byte{crl(f, 4, now), crl(other, 10, now)}, 1},
		{"an earlier thisUpdate is a rollback", [][]byte{crl(f, 6, now.Add(-2*time.Hour)), crl(other, 10, now)}, 1},
		{"both CAs rolled back are both reported", [][]byte{crl(f, 1, now), crl(other, 1, now)}, 2},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			next := mustLoad(t, input(both, own, tc.crls...))
			probs := next.CheckRollback(inForce)
			if len(probs) != tc.bad {
				t.Fatalf("%d problems %v, want %d", len(probs), probs, tc.bad)
			}
			for _, p := range probs {
				var ce *trust.CRLError
				if p.Part != trust.PartCRL || !errors.Is(p.Err, trust.ErrCRLRollback) || !errors.As(p.Err, &ce) || ce.Other == nil {
					t.Errorf("problem %#v is not a CRL rollback naming the CRL in force", p)
				}
				t.Log(p)
			}
		})
	}
	if probs := mustLoad(t, input(both, own, crl(f, 1, now), crl(other, 1, now))).CheckRollback(nil); probs != nil {
		t.Errorf("with no credentials in force: %v", probs)
	}
}

func TestRevokedCRLEntryTimes(t *testing.T) {
	f := certtest.New(t, now)
	leaf := f.Leaf(certtest.LeafOpts{})
	creds := mustLoad(t, input(f.CA().PEM(), f.Leaf(certtest.LeafOpts{}),
		f.CRLWith(certtest.CRLOpts{Revoked: []*certtest.Cert{leaf}, ThisUpdate: now.Add(-3 * time.Hour)})))
	crls := creds.CRLs()
	if len(crls) != 1 {
		t.Fatalf("%d CRLs loaded", len(crls))
	}
	at, ok := crls[0].RevokedAt(leaf.Cert)
	if !ok || !at.Equal(now.Add(-3*time.Hour)) {
		t.Errorf("RevokedAt = %v, %v", at, ok)
	}
	if crls[0].Stale(now) || !crls[0].Stale(now.AddDate(0, 1, 0)) {
		t.Errorf("Stale is wrong around nextUpdate %v", crls[0].NextUpdate)
	}
	var x509CRL *x509.RevocationList = crls[0].RevocationList
	if x509CRL.Number.Int64() != 1 {
		t.Errorf("number %v", x509CRL.Number)
	}
}
