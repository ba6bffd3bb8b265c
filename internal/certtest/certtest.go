// Package certtest is the project's one certificate factory for tests: a
// root CA per Factory (NewCA for one made to CAOpts), leaves (LeafOpts:
// names, validity window, EKUs, RSA sizes, serials, OUs for client groups,
// address blocks) and intermediates (IntermediateCA: validity, key, EKU
// restrictions, address blocks) around an injected clock, unrelated CAs,
// CRLs per issuer with chosen numbers and times (CRLWith), and trust
// credentials loaded from them (Factory.Credentials). Every failure ends
// the test through testing.TB.Fatalf, so callers never check errors.
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

// CAOpts describes a CA: a root for NewCA, an intermediate for Factory.IntermediateCA. The zero value
// is an ECDSA P-256 CA valid from Now-1h, for 10 years (a root) or 5 (an intermediate), carrying
// ipAddrBlocks for every address and no extended key usage.
type CAOpts struct {
	Name                string // the CommonName; "" gives a unique one
	NotBefore, NotAfter time.Time
	RSABits             int                // an RSA key of that size; 0 means ECDSA P-256
	EKU                 []x509.ExtKeyUsage // when set, the only usages the CA allows below it
	Routes              []netip.Prefix     // its ipAddrBlocks; nil means every address
	NoRoutes            bool               // leave the ipAddrBlocks extension out
	Issuer              *Cert              // IntermediateCA: the CA that signs it; nil means the root
}

// New returns a Factory whose root CA is valid from now-1h to now+10y.
func New(tb testing.TB, now time.Time) *Factory {
	tb.Helper()
	return NewCA(tb, now, CAOpts{Name: "tlsvpn test CA"})
}

// NewCA returns a Factory whose root CA is made to o (o.Issuer is ignored).
func NewCA(tb testing.TB, now time.Time, o CAOpts) *Factory {
	tb.Helper()
	f := &Factory{Now: now, tb: tb}
	if o.NotAfter.IsZero() {
		o.NotAfter = now.AddDate(10, 0, 0)
	}
	f.root = f.sign(f.caTemplate(o), nil, f.key(o.RSABits))
	f.root.isRoot = true
	return f
}

// CA returns the root CA.
func (f *Factory) CA() *Cert { return f.root }

// OtherCA returns a Factory with a root CA unrelated to f's, on the same
// clock.
func (f *Factory) OtherCA() *Factory {
	f.tb.Helper()
	return NewCA(f.tb, f.Now, CAOpts{Name: "tlsvpn other test CA " + strconv.FormatInt(caCount.Add(1), 10)})
}

// Intermediate returns an intermediate CA signed by issuer (nil: the root).
// Zero times default to Now-1h and Now+5y.
func (f *Factory) Intermediate(notBefore, notAfter time.Time, issuer *Cert) *Cert {
	f.tb.Helper()
	return f.IntermediateCA(CAOpts{NotBefore: notBefore, NotAfter: notAfter, Issuer: issuer})
}

// IntermediateCA returns an intermediate CA made to o, signed by o.Issuer
// (nil: the root).
func (f *Factory) IntermediateCA(o CAOpts) *Cert {
	f.tb.Helper()
	if o.Name == "" {
		o.Name = "tlsvpn test intermediate " + strconv.FormatInt(caCount.Add(1), 10)
	}
	if o.NotAfter.IsZero() {
		o.NotAfter = f.Now.AddDate(5, 0, 0)
	}
	return f.sign(f.caTemplate(o), f.issuer(o.Issuer), f.key(o.RSABits))
}

// caTemplate returns the template of a CA that may sign CAs and CRLs.
func (f *Factory) caTemplate(o CAOpts) *x509.Certificate {
	f.tb.Helper()
	if o.Name == "" {
		o.Name = "tlsvpn test CA " + strconv.FormatInt(caCount.Add(1), 10)
	}
	if o.NotBefore.IsZero() {
		o.NotBefore = f.Now.Add(-time.Hour)
	}
	tmpl := &x509.Certificate{
		Subject:               pkix.Name{CommonName: o.Name},
		NotBefore:             o.NotBefore,
		NotAfter:              o.NotAfter,
		KeyUsage:              x509.KeyUsageCertSign | x509.KeyUsageCRLSign | x509.KeyUsageDigitalSignature,
		ExtKeyUsage:           o.EKU,
		BasicConstraintsValid: true,
		IsCA:                  true,
	}
	if !o.NoRoutes {
		routes := o.Routes
		if routes == nil {
			routes = allAddresses
		}
		tmpl.ExtraExtensions = []pkix.Extension{f.ipBlocks(routes)}
	}
	return tmpl
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

// sign fills in a random serial, unless tmpl has one, and signs tmpl with
// parent (nil: self-signed).
func (f *Factory) sign(tmpl *x509.Certificate, parent *Cert, key crypto.Signer) *Cert {
	f.tb.Helper()
	if tmpl.SerialNumber == nil {
		serial, err := rand.Int(rand.Reader, new(big.Int).Lsh(big.NewInt(1), 128))
		if err != nil {
			f.tb.Fatalf("certtest: serial: %v", err)
		}
		tmpl.SerialNumber = serial.Add(serial, big.NewInt(1))
	}
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

// key returns an RSA key of bits, or an ECDSA P-256 key when bits is 0.
func (f *Factory) key(bits int) crypto.Signer {
	if bits != 0 {
		return f.rsaKey(bits)
	}
	return f.ecdsaKey()
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
