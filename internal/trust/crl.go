package trust

import (
	"bytes"
	"crypto/x509"
	"fmt"
	"slices"
	"strings"
	"sync"
	"time"
)

// CRL is one loaded certificate revocation list. It is immutable.
type CRL struct {
	*x509.RevocationList
	File   string // the file it was read from
	Block  int    // its 1-based position among the file's CRLs
	Source int    // the index of its file in Input.CRLs

	revoked map[string]time.Time // serial (decimal) -> revocation time
	signer  *x509.Certificate    // the CA whose signature Load checked; nil when Load knew no CA of its name
}

func newCRL(list *x509.RevocationList, file string, block, src int) *CRL {
	l := &CRL{RevocationList: list, File: file, Block: block, Source: src,
		revoked: make(map[string]time.Time, len(list.RevokedCertificateEntries))}
	for _, e := range list.RevokedCertificateEntries {
		if e.SerialNumber != nil {
			l.revoked[e.SerialNumber.String()] = e.RevocationTime
		}
	}
	return l
}

// Stale reports whether the CRL is past its nextUpdate at now. A CRL without nextUpdate never is.
func (l *CRL) Stale(now time.Time) bool {
	return !l.NextUpdate.IsZero() && now.After(l.NextUpdate)
}

// RevokedAt returns when the CRL revoked the certificate with serial cert.SerialNumber, if it did. It
// does not check that the CRL is of cert's issuer: Verify does.
func (l *CRL) RevokedAt(cert *x509.Certificate) (time.Time, bool) {
	at, ok := l.revoked[cert.SerialNumber.String()]
	return at, ok
}

// names reports whether the CRL claims to be of the CA ca: same name and, when both carry one, the same
// key identifier. Only a signature check (signedBy) proves it.
func (l *CRL) names(ca *x509.Certificate) bool {
	return bytes.Equal(l.RawIssuer, ca.RawSubject) && sameKeyID(l.AuthorityKeyId, ca.SubjectKeyId)
}

// sameCA reports whether two CRLs claim the same CA, by name and, when both carry one, key identifier:
// the identity by which at most one CRL per CA is loaded and a successor is compared with the CRL in
// force.
func (l *CRL) sameCA(o *CRL) bool {
	return bytes.Equal(l.RawIssuer, o.RawIssuer) && sameKeyID(l.AuthorityKeyId, o.AuthorityKeyId)
}

// sameKeyID compares key identifiers; a missing one matches any.
func sameKeyID(a, b []byte) bool {
	return len(a) == 0 || len(b) == 0 || bytes.Equal(a, b)
}

// olderThan reports whether l comes before o: a lower CRL number, or an earlier thisUpdate.
func (l *CRL) olderThan(o *CRL) bool {
	if l.Number != nil && o.Number != nil && l.Number.Cmp(o.Number) < 0 {
		return true
	}
	return l.ThisUpdate.Before(o.ThisUpdate)
}

// describe names the CRL and its CA for messages.
func (l *CRL) describe() string {
	return fmt.Sprintf("%s of %q", l.Where(), l.Issuer.String())
}

// Where names the CRL for messages: its file, and its place in the file when it is not the first.
func (l *CRL) Where() string {
	if l.Block > 1 {
		return fmt.Sprintf("%s (CRL %d)", l.File, l.Block)
	}
	return l.File
}

// CRLError is a problem with one CRL.
type CRLError struct {
	CRL   *CRL
	Err   error // ErrCRLSignature, ErrCRLDuplicate or ErrCRLRollback
	Other *CRL  // ErrCRLDuplicate: the CRL of the same CA found first; ErrCRLRollback: the CRL in force
}

func (e *CRLError) Error() string {
	switch e.Err {
	case ErrCRLDuplicate:
		return fmt.Sprintf("%s: %v (%s is one too)", e.CRL.describe(), e.Err, e.Other.Where())
	case ErrCRLRollback:
		return fmt.Sprintf("%s: %v: number %v, thisUpdate %s; in force: number %v, thisUpdate %s", e.CRL.describe(), e.Err,
			e.CRL.Number, e.CRL.ThisUpdate.UTC().Format(time.RFC3339), e.Other.Number, e.Other.ThisUpdate.UTC().Format(time.RFC3339))
	}
	return fmt.Sprintf("%s: %v", e.CRL.describe(), e.Err)
}

func (e *CRLError) Unwrap() error { return e.Err }

// MissingCRLError is a trust anchor without a CRL while CRLs are configured: every CA of both sets
// needs one.
type MissingCRLError struct {
	CA   *x509.Certificate
	Set  Set
	File string // the file of the anchors
}

func (e *MissingCRLError) Error() string {
	return fmt.Sprintf("no CRL of the %s %q of %s", e.Set, e.CA.Subject.String(), e.File)
}

func (e *MissingCRLError) Unwrap() error { return ErrCRLMissing }

// crls parses the CRL sources, checks the signature of each CRL whose CA Load knows (a trust anchor, or
// an intermediate of the own chain), refuses a second CRL of a CA, and checks that every trust anchor
// has a CRL. It returns no CRLs and no error when there are no CRL sources, and no CRLs with a
// *CRLUnavailableError when a source cannot be read or has a problem: the credentials then refuse every
// chain (fail closed) instead of checking nothing.
func (l *loader) crls(c *Credentials) ([]*CRL, error) {
	if len(l.in.CRLs) == 0 {
		return nil, nil
	}
	var out []*CRL
	first := len(l.probs)
	var unread []error
	known := slices.Concat(c.anchors[Peers].certs, c.anchors[Clients].certs)
	if len(c.chain) > 1 {
		known = append(known, c.chain[1:]...) // the own intermediates
	}
	for i, src := range l.in.CRLs {
		if src.Data == nil {
			unread = append(unread, fmt.Errorf("%s: %w", src.Path, ErrCRLUnread))
			continue
		}
		lists, err := ParseCRLs(src.Data)
		if err != nil {
			l.add(PartCRL, i, src.Path, err)
			continue
		}
		for n, list := range lists {
			l.addCRL(&out, newCRL(list, src.Path, n+1, i), known)
		}
	}
	if len(l.probs) == first && len(unread) == 0 {
		for _, set := range []Set{Peers, Clients} {
			for _, ca := range c.anchors[set].certs {
				if findCRL(out, ca, nil) == nil {
					l.add(PartCRL, -1, "", &MissingCRLError{CA: ca, Set: set, File: c.anchors[set].file})
				}
			}
		}
	}
	if len(l.probs) == first && len(unread) == 0 {
		return out, nil
	}
	causes := unread
	for _, p := range l.probs[first:] {
		causes = append(causes, p)
	}
	return nil, &CRLUnavailableError{Causes: causes}
}

// CRLUnavailableError is why no CRL is in force although CRLs are configured: a file that cannot be
// read or parsed, a CRL not signed by its CA, two CRLs of one CA, a trust anchor without its CRL.
// Credentials carrying it (Credentials.CRLUnavailable) refuse every chain with ReasonCRLUnavailable.
type CRLUnavailableError struct {
	Causes []error // each a Problem of Load, or ErrCRLUnread wrapped with the file
}

func (e *CRLUnavailableError) Error() string {
	msgs := make([]string, len(e.Causes))
	for i, c := range e.Causes {
		msgs[i] = c.Error()
	}
	return strings.Join(msgs, "; ")
}

func (e *CRLUnavailableError) Unwrap() []error { return e.Causes }

// addCRL appends crl to out after checking it against the CAs known and the CRLs before it; a problem
// is recorded instead.
func (l *loader) addCRL(out *[]*CRL, crl *CRL, known []*x509.Certificate) {
	for _, prev := range *out {
		if prev.sameCA(crl) {
			l.add(PartCRL, crl.Source, crl.File, &CRLError{CRL: crl, Err: ErrCRLDuplicate, Other: prev})
			return
		}
	}
	claimed := false
	for _, ca := range known {
		if !crl.names(ca) {
			continue
		}
		claimed = true
		if crl.CheckSignatureFrom(ca) == nil {
			crl.signer = ca
			break
		}
	}
	if claimed && crl.signer == nil {
		l.add(PartCRL, crl.Source, crl.File, &CRLError{CRL: crl, Err: ErrCRLSignature})
		return
	}
	*out = append(*out, crl)
}

// sigKey is a CRL signature checked against a CA's key.
type sigKey struct {
	crl  *CRL
	spki string
}

// crlOf returns the CRL of the CA ca: one that names ca and carries its signature.
func (c *Credentials) crlOf(ca *x509.Certificate) *CRL { return findCRL(c.crls, ca, &c.sigs) }

// findCRL returns the CRL of ca in list. A CRL whose CA Load did not know (the CA of an intermediate
// that only peers present) is checked against ca here, once: the outcome is kept in sigs. With sigs nil
// such CRLs are passed over.
func findCRL(list []*CRL, ca *x509.Certificate, sigs *sync.Map) *CRL {
	for _, l := range list {
		switch {
		case !l.names(ca):
		case l.signer != nil:
			if bytes.Equal(l.signer.RawSubjectPublicKeyInfo, ca.RawSubjectPublicKeyInfo) {
				return l
			}
		case sigs != nil:
			k := sigKey{l, string(ca.RawSubjectPublicKeyInfo)}
			ok, seen := sigs.Load(k)
			if !seen {
				ok, _ = sigs.LoadOrStore(k, l.CheckSignatureFrom(ca) == nil)
			}
			if ok.(bool) {
				return l
			}
		}
	}
	return nil
}

// CheckRollback compares the CRLs of c, newly loaded, with those of inForce: a CRL older than the CRL
// of the same CA in force (a lower CRL number, or an earlier thisUpdate) is a Problem wrapping
// ErrCRLRollback, so that a stale copy put in place by mistake or by an attacker never undoes a
// revocation. A CA without a CRL in force, or a CRL no older, passes.
func (c *Credentials) CheckRollback(inForce *Credentials) []Problem {
	if inForce == nil {
		return nil
	}
	var probs []Problem
	for _, next := range c.crls {
		for _, cur := range inForce.crls {
			if next.sameCA(cur) && next.olderThan(cur) {
				probs = append(probs, Problem{Part: PartCRL, Index: next.Source, Path: next.File,
					Err: &CRLError{CRL: next, Err: ErrCRLRollback, Other: cur}})
			}
		}
	}
	return probs
}
