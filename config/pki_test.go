package config

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"math/big"
	"testing"
	"time"
)

// testCA is a certificate authority made in a test: ECDSA P-256, explicit validity.
type testCA struct {
	t    testing.TB
	cert *x509.Certificate
	key  *ecdsa.PrivateKey
}

// newTestCA makes a self-signed root valid from notBefore to notAfter. extra extensions are added as given.
func newTestCA(t testing.TB, name string, notBefore, notAfter time.Time, extra ...pkix.Extension) *testCA {
	t.Helper()
	tmpl := &x509.Certificate{
		Subject:               pkix.Name{CommonName: name},
		NotBefore:             notBefore,
		NotAfter:              notAfter,
		IsCA:                  true,
		BasicConstraintsValid: true,
		KeyUsage:              x509.KeyUsageCertSign | x509.KeyUsageCRLSign,
		ExtraExtensions:       extra,
	}
	cert, key := signCert(t, tmpl, nil, nil)
	return &testCA{t: t, cert: cert, key: key}
}

// intermediate makes a CA signed by ca.
func (ca *testCA) intermediate(name string, notBefore, notAfter time.Time) *testCA {
	ca.t.Helper()
	tmpl := &x509.Certificate{
		Subject:               pkix.Name{CommonName: name},
		NotBefore:             notBefore,
		NotAfter:              notAfter,
		IsCA:                  true,
		BasicConstraintsValid: true,
		KeyUsage:              x509.KeyUsageCertSign | x509.KeyUsageCRLSign,
	}
	cert, key := signCert(ca.t, tmpl, ca.cert, ca.key)
	return &testCA{t: ca.t, cert: cert, key: key}
}

// leafSpec describes a node certificate.
type leafSpec struct {
	names               []string
	notBefore, notAfter time.Time
	eku                 []x509.ExtKeyUsage
	extra               []pkix.Extension
}

// issue makes a node certificate signed by ca.
func (ca *testCA) issue(s leafSpec) (*x509.Certificate, *ecdsa.PrivateKey) {
	ca.t.Helper()
	tmpl := &x509.Certificate{
		Subject:         pkix.Name{CommonName: s.names[0]},
		DNSNames:        s.names,
		NotBefore:       s.notBefore,
		NotAfter:        s.notAfter,
		KeyUsage:        x509.KeyUsageDigitalSignature,
		ExtKeyUsage:     s.eku,
		ExtraExtensions: s.extra,
	}
	return signCert(ca.t, tmpl, ca.cert, ca.key)
}

// crl makes a CRL signed by ca revoking the given certificates.
func (ca *testCA) crl(thisUpdate, nextUpdate time.Time, revoked ...*x509.Certificate) []byte {
	ca.t.Helper()
	tmpl := &x509.RevocationList{Number: big.NewInt(1), ThisUpdate: thisUpdate, NextUpdate: nextUpdate}
	for _, c := range revoked {
		tmpl.RevokedCertificateEntries = append(tmpl.RevokedCertificateEntries,
			x509.RevocationListEntry{SerialNumber: c.SerialNumber, RevocationTime: thisUpdate})
	}
	der, err := x509.CreateRevocationList(rand.Reader, tmpl, ca.cert, ca.key)
	if err != nil {
		ca.t.Fatalf("create CRL: %v", err)
	}
	return pem.EncodeToMemory(&pem.Block{Type: "X509 CRL", Bytes: der})
}

// signCert signs tmpl with parent (self-signed when parent is nil) and returns the parsed certificate.
func signCert(t testing.TB, tmpl, parent *x509.Certificate, parentKey *ecdsa.PrivateKey) (*x509.Certificate, *ecdsa.PrivateKey) {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatalf("generate key: %v", err)
	}
	serial, err := rand.Int(rand.Reader, new(big.Int).Lsh(big.NewInt(1), 128))
	if err != nil {
		t.Fatalf("serial: %v", err)
	}
	tmpl.SerialNumber = serial
	if parent == nil {
		parent, parentKey = tmpl, key
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, parent, &key.PublicKey, parentKey)
	if err != nil {
		t.Fatalf("create certificate %s: %v", tmpl.Subject.CommonName, err)
	}
	cert, err := x509.ParseCertificate(der)
	if err != nil {
		t.Fatalf("parse certificate: %v", err)
	}
	return cert, key
}

// pemCerts encodes certificates as PEM, in order.
func pemCerts(certs ...*x509.Certificate) []byte {
	var out []byte
	for _, c := range certs {
		out = append(out, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: c.Raw})...)
	}
	return out
}

// pemKey encodes a private key as PKCS #8 PEM.
func pemKey(t testing.TB, key *ecdsa.PrivateKey) []byte {
	t.Helper()
	der, err := x509.MarshalPKCS8PrivateKey(key)
	if err != nil {
		t.Fatalf("marshal key: %v", err)
	}
	return pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: der})
}
