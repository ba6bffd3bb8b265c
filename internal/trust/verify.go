package trust

import (
	"crypto/rsa"
	"crypto/x509"
	"errors"
	"net/netip"
	"slices"
	"time"

	"github.com/tlsvpn/tlsvpn/internal/ipblocks"
)

// Limits of the rules.
const (
	// MinRSABits is the smallest RSA modulus accepted anywhere in a chain.
	MinRSABits = 2048
	// MaxChain is the most certificates a presented chain may hold (leaf and intermediates): more is
	// refused before any signature is checked.
	MaxChain = 8
)

// Check says what Verify checks a chain for.
type Check struct {
	Set    Set                // the trust anchors the chain must reach: Peers (the zero value) or Clients
	Usages []x509.ExtKeyUsage // each one the leaf must list, and every CA above it allow
	Now    time.Time          // the moment of the check; zero means time.Now()
	Live   bool               // re-checking a live session: a stale CRL does not refuse it
}

// Verified is what Verify learns about a chain it accepts.
type Verified struct {
	Chain     []*x509.Certificate // the verified path: leaf first, trust anchor last (copies marked for x509)
	Expires   time.Time           // the earliest NotAfter of Chain: a session must end then
	Blocks    []netip.Prefix      // the leaf's RFC 3779 address blocks
	HasBlocks bool                // the leaf carries the extension; without it any prefix is covered
}

// Covers reports whether the leaf's address blocks cover p; a leaf without blocks covers every prefix.
func (v Verified) Covers(p netip.Prefix) bool {
	return !v.HasBlocks || ipblocks.Covers(v.Blocks, p)
}

// Verify applies every rule to chain (leaf first, then the intermediates its owner sent, as
// tls.ConnectionState.PeerCertificates holds them) and returns the first refusal, a *Refusal, or what it
// learnt. The rules, in order (docs/pki.md):
//
//   - the leaf is no CA, lists each usage of k.Usages (anyExtendedKeyUsage is not enough) and is valid
//     at k.Now (expired and not yet valid told apart);
//   - no certificate has an RSA key under MinRSABits; at most MaxChain certificates are presented;
//   - the chain reaches a trust anchor of k.Set through the intermediates, each valid at k.Now, and the
//     CAs on the path allow each usage;
//   - RFC 3779: each issuer's address blocks cover its subject's, and the leaf's blocks parse;
//   - revocation, when CRLs are loaded: each certificate of the path is looked up by issuer and serial
//     in the CRL of its issuer, whose signature is checked; the leaf's issuer must have a CRL (fail
//     closed), an intermediate's is used where given; a CRL past its nextUpdate refuses unless k.Live.
//     When CRLs are configured but did not load (CRLUnavailable), every chain is refused here.
//
// chain is not modified. Verify is safe for concurrent use.
func (c *Credentials) Verify(chain []*x509.Certificate, k Check) (Verified, error) {
	v, found := c.run(chain, k, false)
	if len(found) > 0 {
		return v, found[0]
	}
	return v, nil
}

// Audit applies the rules of Verify and returns every refusal instead of the first: what `tlsvpn check`
// reports about the node's own certificate. Rules that need a verified path are left out when there is
// none; an expired leaf still has its path checked, at the last moment it was valid.
func (c *Credentials) Audit(chain []*x509.Certificate, k Check) (Verified, []*Refusal) {
	return c.run(chain, k, true)
}

// verifier runs the rules on one chain. all: go on after a refusal.
type verifier struct {
	c     *Credentials
	k     Check
	all   bool
	found []*Refusal
}

// fail records r and reports whether to go on.
func (r *verifier) fail(ref *Refusal) bool {
	r.found = append(r.found, ref)
	return r.all
}

func (c *Credentials) run(chain []*x509.Certificate, k Check, all bool) (Verified, []*Refusal) {
	if k.Now.IsZero() {
		k.Now = time.Now()
	}
	r := &verifier{c: c, k: k, all: all}
	var v Verified
	switch {
	case len(chain) == 0:
		r.fail(refusal(ReasonInvalid, nil, 0, "no certificate to verify"))
		return v, r.found
	case len(chain) > MaxChain:
		r.fail(refusal(ReasonInvalid, chain[0], 0, "a chain of %d certificates; at most %d are accepted", len(chain), MaxChain))
		return v, r.found
	}
	marked := make([]*x509.Certificate, len(chain))
	for i, cert := range chain {
		marked[i] = ipblocks.MarkHandled(cert)
	}
	if !r.leaf(marked[0]) || !r.weakKeys(marked, 0) {
		return v, r.found
	}
	path, ok := r.path(marked)
	if !ok || !r.weakKeys(path[len(path)-1:], len(path)-1) {
		return v, r.found
	}
	v.Chain, v.Expires = path, earliestExpiry(path)
	if !r.blocks(&v) {
		return v, r.found
	}
	r.revocation(path)
	return v, r.found
}

// leaf applies the rules about the leaf alone.
func (r *verifier) leaf(leaf *x509.Certificate) bool {
	if leaf.IsCA && !r.fail(refusal(ReasonCAAsLeaf, leaf, 0, "certificate %q is a CA certificate; a node presents an end-entity certificate", name(leaf))) {
		return false
	}
	for _, u := range r.k.Usages {
		if slices.Contains(leaf.ExtKeyUsage, u) {
			continue
		}
		ref := refusal(ReasonWrongEKU, leaf, 0, "certificate %q lacks extended key usage %s", name(leaf), UsageName(u))
		ref.Usage = u
		if !r.fail(ref) {
			return false
		}
	}
	switch now := r.k.Now; {
	case now.Before(leaf.NotBefore):
		return r.fail(refusal(ReasonNotYetValid, leaf, 0, "certificate %q is valid from %s", name(leaf), stamp(leaf.NotBefore)))
	case now.After(leaf.NotAfter):
		return r.fail(refusal(ReasonExpired, leaf, 0, "certificate %q expired at %s", name(leaf), stamp(leaf.NotAfter)))
	}
	return true
}

// weakKeys refuses RSA keys under MinRSABits; certs start at depth first of the chain.
func (r *verifier) weakKeys(certs []*x509.Certificate, first int) bool {
	for i, cert := range certs {
		k, ok := cert.PublicKey.(*rsa.PublicKey)
		if !ok || k.N.BitLen() >= MinRSABits {
			continue
		}
		ref := refusal(ReasonWeakKey, cert, first+i, "certificate %q has a %d-bit RSA key; at least %d bits are required",
			name(cert), k.N.BitLen(), MinRSABits)
		ref.Anchor = r.isAnchor(cert)
		if !r.fail(ref) {
			return false
		}
	}
	return true
}

// path verifies the chain to an anchor of the set asked for, at Now or, for an expired or not yet
// valid leaf (already refused), at the nearest moment the leaf is valid, and returns the first path on
// which the CAs allow every usage.
func (r *verifier) path(marked []*x509.Certificate) ([]*x509.Certificate, bool) {
	leaf, set := marked[0], r.c.anchors[r.k.Set]
	if len(set.certs) == 0 {
		r.fail(refusal(ReasonUnknownAuthority, leaf, 0, "no %s is configured to verify %q", r.k.Set, name(leaf)))
		return nil, false
	}
	at := clamp(r.k.Now, leaf.NotBefore, leaf.NotAfter)
	opts := x509.VerifyOptions{Roots: set.pool, Intermediates: x509.NewCertPool(), CurrentTime: at,
		KeyUsages: []x509.ExtKeyUsage{x509.ExtKeyUsageAny}}
	for _, cert := range marked[1:] {
		opts.Intermediates.AddCert(cert)
	}
	chains, err := leaf.Verify(opts)
	if err != nil {
		r.fail(r.classify(err, marked, at))
		return nil, false
	}
	var restricted *Refusal
	for _, path := range chains {
		if ref := r.usagesAllowed(path); ref != nil {
			if restricted == nil {
				restricted = ref
			}
			continue
		}
		return path, true
	}
	return chains[0], r.fail(restricted)
}

// usagesAllowed refuses a path on which a CA lists extended key usages without one of those asked for
// (as crypto/x509 does: a CA without the extension, or with anyExtendedKeyUsage, allows every usage).
func (r *verifier) usagesAllowed(path []*x509.Certificate) *Refusal {
	for i, ca := range path[1:] {
		if len(ca.ExtKeyUsage) == 0 && len(ca.UnknownExtKeyUsage) == 0 || slices.Contains(ca.ExtKeyUsage, x509.ExtKeyUsageAny) {
			continue
		}
		for _, u := range r.k.Usages {
			if !slices.Contains(ca.ExtKeyUsage, u) {
				ref := refusal(ReasonWrongEKU, ca, i+1, "CA %q above %q does not allow extended key usage %s", name(ca), name(path[0]), UsageName(u))
				ref.Usage, ref.Anchor = u, i+1 == len(path)-1
				return ref
			}
		}
	}
	return nil
}

// classify turns a failed x509 verification into a refusal. The path is verified at a moment the leaf
// is valid, so an expired or not yet valid certificate here is a CA of the chain.
func (r *verifier) classify(err error, marked []*x509.Certificate, at time.Time) *Refusal {
	var inv x509.CertificateInvalidError
	var ua x509.UnknownAuthorityError
	leaf := marked[0]
	switch {
	case errors.As(err, &inv) && inv.Reason == x509.Expired:
		return r.outOfValidity(inv.Cert, marked, at)
	case errors.As(err, &ua):
		return refusal(ReasonUnknownAuthority, leaf, 0, "certificate %q (issued by %q) does not chain to the %s of %s (%v)",
			name(leaf), leaf.Issuer.String(), r.k.Set, r.c.anchors[r.k.Set].file, err)
	}
	return refusal(ReasonInvalid, leaf, 0, "%v", err)
}

// outOfValidity refuses cert, a CA of the chain outside its validity at at.
func (r *verifier) outOfValidity(cert *x509.Certificate, marked []*x509.Certificate, at time.Time) *Refusal {
	depth := slices.IndexFunc(marked, func(c *x509.Certificate) bool { return c.Equal(cert) })
	if depth < 0 {
		depth = len(marked) // an anchor, above what was presented
	}
	reason, what := ReasonExpired, "expired at "+stamp(cert.NotAfter)
	if at.Before(cert.NotBefore) {
		reason, what = ReasonNotYetValid, "is valid from "+stamp(cert.NotBefore)
	}
	ref := refusal(reason, cert, depth, "CA certificate %q in the chain of %q %s", name(cert), name(marked[0]), what)
	ref.Anchor = r.isAnchor(cert)
	return ref
}

// blocks applies RFC 3779 to the path and reads the leaf's blocks.
func (r *verifier) blocks(v *Verified) bool {
	leaf := v.Chain[0]
	if err := ipblocks.CheckChain(v.Chain); err != nil && !r.fail(refusal(ReasonAddressBlocks, leaf, 0, "%v", err)) {
		return false
	}
	blocks, present, err := ipblocks.FromCertificate(leaf)
	if err != nil {
		return r.fail(refusal(ReasonAddressBlocks, leaf, 0, "cannot parse the address blocks of %q: %v", name(leaf), err))
	}
	v.Blocks, v.HasBlocks = blocks, present
	return true
}

// revocation looks each certificate of the path up in the CRL of its issuer, from the anchor down, so
// that a revoked intermediate is told as such before anything about the certificates below it.
func (r *verifier) revocation(path []*x509.Certificate) {
	if err := r.c.crlErr; err != nil {
		ref := refusal(ReasonCRLUnavailable, nil, 0, "no CRL is in force, so no certificate can be checked for revocation: %v", err)
		ref.Unavailable = err
		r.fail(ref)
		return
	}
	if r.c.crls == nil {
		return
	}
	for i := len(path) - 2; i >= 0; i-- {
		cert, issuer := path[i], path[i+1]
		crl := r.c.crlOf(issuer)
		if crl == nil {
			if i > 0 {
				continue // an intermediate's CRL is used where given
			}
			ref := refusal(ReasonNoCRL, cert, i, "no CRL of %q, the issuer of %q, is loaded; with CRLs configured every issuing CA needs one",
				issuer.Subject.String(), name(cert))
			ref.Issuer = issuer
			if !r.fail(ref) {
				return
			}
			continue
		}
		if at, ok := crl.RevokedAt(cert); ok {
			ref := refusal(ReasonRevoked, cert, i, "certificate %q (serial %x) was revoked at %s by the CRL %s",
				name(cert), cert.SerialNumber, stamp(at), crl.Where())
			ref.CRL, ref.At = crl, at
			if !r.fail(ref) {
				return
			}
		}
		if !r.k.Live && crl.Stale(r.k.Now) {
			ref := refusal(ReasonCRLStale, cert, i, "the CRL %s is past its next update %s; re-sign it (tlsvpn pki crl)",
				crl.describe(), stamp(crl.NextUpdate))
			ref.CRL = crl
			if !r.fail(ref) {
				return
			}
		}
	}
}

// isAnchor reports whether cert is one of the trust anchors of the set checked against.
func (r *verifier) isAnchor(cert *x509.Certificate) bool {
	return slices.ContainsFunc(r.c.anchors[r.k.Set].certs, cert.Equal)
}

// clamp returns t moved into [lo, hi].
func clamp(t, lo, hi time.Time) time.Time {
	switch {
	case t.Before(lo):
		return lo
	case t.After(hi):
		return hi
	}
	return t
}

func earliestExpiry(path []*x509.Certificate) time.Time {
	t := path[0].NotAfter
	for _, c := range path[1:] {
		if c.NotAfter.Before(t) {
			t = c.NotAfter
		}
	}
	return t
}

// UsageName names the extended key usages tlsvpn asks for, as OpenSSL and docs/pki.md write them.
func UsageName(u x509.ExtKeyUsage) string {
	switch u {
	case x509.ExtKeyUsageServerAuth:
		return "serverAuth"
	case x509.ExtKeyUsageClientAuth:
		return "clientAuth"
	case x509.ExtKeyUsageAny:
		return "anyExtendedKeyUsage"
	}
	return "unknown"
}

// name names a certificate for messages: its common name, or its serial.
func name(c *x509.Certificate) string {
	if c.Subject.CommonName != "" {
		return c.Subject.CommonName
	}
	return "serial " + c.SerialNumber.Text(16)
}

func stamp(t time.Time) string { return t.UTC().Format(time.RFC3339) }
