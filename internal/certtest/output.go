package certtest

import (
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"math/big"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"time"

	"github.com/tlsvpn/tlsvpn/internal/trust"
)

// TLSCertificate returns c with its intermediates, for tls.Config.
func (c *Cert) TLSCertificate() tls.Certificate {
	chain := [][]byte{c.DER}
	for _, ic := range c.Chain {
		chain = append(chain, ic.DER)
	}
	return tls.Certificate{Certificate: chain, PrivateKey: c.Key, Leaf: c.Cert}
}

// PEM returns c followed by its intermediates, PEM-encoded.
func (c *Cert) PEM() []byte {
	out := pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: c.DER})
	for _, ic := range c.Chain {
		out = append(out, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: ic.DER})...)
	}
	return out
}

// CertsPEM returns the certificates (without their intermediates),
// PEM-encoded, in order.
func CertsPEM(certs ...*Cert) []byte {
	var out []byte
	for _, c := range certs {
		out = append(out, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: c.DER})...)
	}
	return out
}

// KeyPEM returns c's private key as PKCS #8 PEM.
func (c *Cert) KeyPEM() []byte {
	c.tb.Helper()
	der, err := x509.MarshalPKCS8PrivateKey(c.Key)
	if err != nil {
		c.tb.Fatalf("certtest: encode key of %q: %v", c.Cert.Subject.CommonName, err)
	}
	return pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: der})
}

// WritePEM writes dir/base.pem (c and its intermediates, mode 0644) and
// dir/base.key (PKCS #8, mode 0600) and returns their paths.
func (c *Cert) WritePEM(dir, base string) (certPath, keyPath string) {
	c.tb.Helper()
	certPath = filepath.Join(dir, base+".pem")
	keyPath = filepath.Join(dir, base+".key")
	if err := os.WriteFile(certPath, c.PEM(), 0o644); err != nil {
		c.tb.Fatalf("certtest: %v", err)
	}
	if err := os.WriteFile(keyPath, c.KeyPEM(), 0o600); err != nil {
		c.tb.Fatalf("certtest: %v", err)
	}
	// WriteFile keeps the mode of a file that exists; a key must not.
	if err := os.Chmod(keyPath, 0o600); err != nil {
		c.tb.Fatalf("certtest: %v", err)
	}
	return certPath, keyPath
}

// CRLOpts describes a CRL for Factory.CRLWith.
type CRLOpts struct {
	Signer  *Cert      // the CA that signs it; nil means the root
	Revoked []*Cert    // revoked certificates, each revoked at ThisUpdate
	Serials []*big.Int // more revoked serials, for certificates made elsewhere
	// Number is the CRL number; 0 takes the Factory's next one.
	Number int64
	// ThisUpdate defaults to Now-1h, NextUpdate to ThisUpdate+30 days.
	ThisUpdate, NextUpdate time.Time
	// Extensions are added as given (a critical delta CRL indicator, say).
	Extensions []pkix.Extension
}

// CRL returns a PEM CRL signed by signer (nil: the root) listing revoked,
// each revoked at thisUpdate. Each call takes the next CRL number.
func (f *Factory) CRL(revoked []*Cert, thisUpdate, nextUpdate time.Time, signer *Cert) []byte {
	f.tb.Helper()
	return f.CRLWith(CRLOpts{Signer: signer, Revoked: revoked, ThisUpdate: thisUpdate, NextUpdate: nextUpdate})
}

// CRLWith returns a PEM CRL made to o.
func (f *Factory) CRLWith(o CRLOpts) []byte {
	f.tb.Helper()
	signer := f.issuer(o.Signer)
	if o.Number == 0 {
		f.crlNumber++
		o.Number = f.crlNumber
	}
	if o.ThisUpdate.IsZero() {
		o.ThisUpdate = f.Now.Add(-time.Hour)
	}
	if o.NextUpdate.IsZero() {
		o.NextUpdate = o.ThisUpdate.AddDate(0, 0, 30)
	}
	tmpl := &x509.RevocationList{
		Number:          big.NewInt(o.Number),
		ThisUpdate:      o.ThisUpdate,
		NextUpdate:      o.NextUpdate,
		ExtraExtensions: o.Extensions,
	}
	serials := slices.Clone(o.Serials)
	for _, c := range o.Revoked {
		serials = append(serials, c.Cert.SerialNumber)
	}
	for _, s := range serials {
		tmpl.RevokedCertificateEntries = append(tmpl.RevokedCertificateEntries,
			x509.RevocationListEntry{SerialNumber: s, RevocationTime: o.ThisUpdate})
	}
	der, err := x509.CreateRevocationList(rand.Reader, tmpl, signer.Cert, signer.Key)
	if err != nil {
		f.tb.Fatalf("certtest: sign CRL: %v", err)
	}
	return pem.EncodeToMemory(&pem.Block{Type: "X509 CRL", Bytes: der})
}

// Credentials loads leaf, its intermediates and its key through
// trust.Load, trusting the root of f, with crls as the CRL files (PEM, one
// file each); any problem ends the test.
func (f *Factory) Credentials(leaf *Cert, crls ...[]byte) *trust.Credentials {
	f.tb.Helper()
	in := trust.Input{
		Peers: trust.Source{Path: "ca.pem", Data: f.root.PEM()},
		Cert:  trust.Source{Path: "cert.pem", Data: leaf.PEM()},
		Key:   trust.Source{Path: "cert.key", Data: leaf.KeyPEM()},
	}
	for i, crl := range crls {
		in.CRLs = append(in.CRLs, trust.Source{Path: "crl" + strconv.Itoa(i) + ".pem", Data: crl})
	}
	c, probs := trust.Load(in)
	if len(probs) > 0 {
		f.tb.Fatalf("certtest: credentials of %q: %v", leaf.Cert.Subject.CommonName, probs)
	}
	return c
}
