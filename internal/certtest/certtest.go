// Package certtest makes certificates for tests: a root CA per Factory,
// leaves and intermediates with explicit validity windows around an injected
// clock, unrelated CAs and CRLs. Every failure ends the test through
// testing.TB.Fatalf, so callers never check errors.
//
// Like the CA of internal/pki, every CA made here carries a critical
// ipAddrBlocks extension covering all addresses; a verifier must pass each
// certificate through ipblocks.MarkHandled before x509 verification.
//
// A Factory is not safe for concurrent use; the Certs it returns are
// read-only values that may be shared.
package certtest

import (
	"crypto"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"crypto/x509/pkix"
	"math/big"
	"net/netip"
	"strconv"
	"sync/atomic"
	"testing"
	"time"

	"github.com/tlsvpn/tlsvpn/internal/ipblocks"
)

// Factory makes certificates under one root CA.
type Factory struct {
	// Now is the clock the default validity windows are set around; tests
	// may move it between calls.
	Now time.Time

	tb        testing.TB
	root      *Cert
	crlNumber int64
}

// Cert is a certificate with its private key. Chain holds the
// intermediates between it and its root, nearest first; it is empty for
// certificates the root signed and for the root itself.
type Cert struct {
	Cert  *x509.Certificate
	Key   crypto.Signer
	DER   []byte
	Chain []*Cert

	tb     testing.TB
	isRoot bool
}

// caCount numbers the CAs and intermediates of a test binary, so that their
// names never collide in a trust store.
var caCount atomic.Int64

// allAddresses is the ipAddrBlocks of every CA made here.
var allAddresses = []netip.Prefix{netip.MustParsePrefix("0.0.0.0/0"), netip.MustParsePrefix("::/0")}

// New returns a Factory whose root CA is valid from now-1h to now+10y.
func New(tb testing.TB, now time.Time) *Factory {
	tb.Helper()
	return newFactory(tb, now, "tlsvpn test CA")
}

func newFactory(tb testing.TB, now time.Time, cn string) *Factory {
	tb.Helper()
	f := &Factory{Now: now, tb: tb}
	tmpl := f.caTemplate(cn, now.Add(-time.Hour), now.AddDate(10, 0, 0))
	f.root = f.sign(tmpl, nil, f.ecdsaKey())
	f.root.isRoot = true
	return f
}

// CA returns the root CA.
func (f *Factory) CA() *Cert { return f.root }

// OtherCA returns a Factory with a root CA unrelated to f's, on the same
// clock.
func (f *Factory) OtherCA() *Factory {
	f.tb.Helper()
	return newFactory(f.tb, f.Now, "tlsvpn other test CA "+strconv.FormatInt(caCount.Add(1), 10))
}

// Intermediate returns an intermediate CA signed by issuer (nil: the root).
// Zero times default to Now-1h and Now+5y.
func (f *Factory) Intermediate(notBefore, notAfter time.Time, issuer *Cert) *Cert {
	f.tb.Helper()
	if notBefore.IsZero() {
		notBefore = f.Now.Add(-time.Hour)
	}
	if notAfter.IsZero() {
		notAfter = f.Now.AddDate(5, 0, 0)
	}
	tmpl := f.caTemplate("tlsvpn test intermediate "+strconv.FormatInt(caCount.Add(1), 10), notBefore, notAfter)
	return f.sign(tmpl, f.issuer(issuer), f.ecdsaKey())
}

// caTemplate returns the template of a CA that may sign CAs and CRLs.
func (f *Factory) caTemplate(cn string, notBefore, notAfter time.Time) *x509.Certificate {
	f.tb.Helper()
	return &x509.Certificate{
		Subject:               pkix.Name{CommonName: cn},
		NotBefore:             notBefore,
		NotAfter:              notAfter,
		KeyUsage:              x509.KeyUsageCertSign | x509.KeyUsageCRLSign | x509.KeyUsageDigitalSignature,
		BasicConstraintsValid: true,
		IsCA:                  true,
		ExtraExtensions:       []pkix.Extension{f.ipBlocks(allAddresses)},
	}
}

// ipBlocks returns a critical ipAddrBlocks extension listing prefixes.
func (f *Factory) ipBlocks(prefixes []netip.Prefix) pkix.Extension {
	f.tb.Helper()
	der, err := ipblocks.Marshal(prefixes)
	if err != nil {
		f.tb.Fatalf("certtest: %v", err)
	}
	return pkix.Extension{Id: ipblocks.OID, Critical: true, Value: der}
}

// issuer returns c, or the root when c is nil.
func (f *Factory) issuer(c *Cert) *Cert {
	if c == nil {
		return f.root
	}
	return c
}

// sign fills in a serial and signs tmpl with parent (nil: self-signed).
func (f *Factory) sign(tmpl *x509.Certificate, parent *Cert, key crypto.Signer) *Cert {
	f.tb.Helper()
	serial, err := rand.Int(rand.Reader, new(big.Int).Lsh(big.NewInt(1), 128))
	if err != nil {
		f.tb.Fatalf("certtest: serial: %v", err)
	}
	tmpl.SerialNumber = serial.Add(serial, big.NewInt(1))
	signerCert, signerKey := tmpl, key
	if parent != nil {
		signerCert, signerKey = parent.Cert, parent.Key
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, signerCert, key.Public(), signerKey)
	if err != nil {
		f.tb.Fatalf("certtest: sign %q: %v", tmpl.Subject.CommonName, err)
	}
	cert, err := x509.ParseCertificate(der)
	if err != nil {
		f.tb.Fatalf("certtest: parse %q: %v", tmpl.Subject.CommonName, err)
	}
	c := &Cert{Cert: cert, Key: key, DER: der, tb: f.tb}
	if parent != nil && !parent.isRoot {
		c.Chain = append([]*Cert{parent}, parent.Chain...)
	}
	return c
}

func (f *Factory) ecdsaKey() crypto.Signer {
	f.tb.Helper()
	k, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		f.tb.Fatalf("certtest: ECDSA key: %v", err)
	}
	return k
}

func (f *Factory) rsaKey(bits int) crypto.Signer {
	f.tb.Helper()
	k, err := rsa.GenerateKey(rand.Reader, bits)
	if err != nil {
		f.tb.Fatalf("certtest: RSA-%d key: %v", bits, err)
	}
	return k
}
