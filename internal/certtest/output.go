package certtest

import (
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"encoding/pem"
	"math/big"
	"os"
	"path/filepath"
	"time"
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

// WritePEM writes dir/base.pem (c and its intermediates, mode 0644) and
// dir/base.key (PKCS #8, mode 0600) and returns their paths.
func (c *Cert) WritePEM(dir, base string) (certPath, keyPath string) {
	c.tb.Helper()
	der, err := x509.MarshalPKCS8PrivateKey(c.Key)
	if err != nil {
		c.tb.Fatalf("certtest: encode key of %q: %v", c.Cert.Subject.CommonName, err)
	}
	certPath = filepath.Join(dir, base+".pem")
	keyPath = filepath.Join(dir, base+".key")
	if err := os.WriteFile(certPath, c.PEM(), 0o644); err != nil {
		c.tb.Fatalf("certtest: %v", err)
	}
	keyPEM := pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: der})
	if err := os.WriteFile(keyPath, keyPEM, 0o600); err != nil {
		c.tb.Fatalf("certtest: %v", err)
	}
	// WriteFile keeps the mode of a file that exists; a key must not.
	if err := os.Chmod(keyPath, 0o600); err != nil {
		c.tb.Fatalf("certtest: %v", err)
	}
	return certPath, keyPath
}

// CRL returns a PEM CRL signed by signer (nil: the root) listing revoked,
// each revoked at thisUpdate. Each call takes the next CRL number.
func (f *Factory) CRL(revoked []*Cert, thisUpdate, nextUpdate time.Time, signer *Cert) []byte {
	f.tb.Helper()
	signer = f.issuer(signer)
	f.crlNumber++
	tmpl := &x509.RevocationList{
		Number:     big.NewInt(f.crlNumber),
		ThisUpdate: thisUpdate,
		NextUpdate: nextUpdate,
	}
	for _, c := range revoked {
		tmpl.RevokedCertificateEntries = append(tmpl.RevokedCertificateEntries,
			x509.RevocationListEntry{SerialNumber: c.Cert.SerialNumber, RevocationTime: thisUpdate})
	}
	der, err := x509.CreateRevocationList(rand.Reader, tmpl, signer.Cert, signer.Key)
	if err != nil {
		f.tb.Fatalf("certtest: sign CRL: %v", err)
	}
	return pem.EncodeToMemory(&pem.Block{Type: "X509 CRL", Bytes: der})
}
