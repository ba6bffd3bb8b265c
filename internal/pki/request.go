package pki

import (
	"crypto"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/elliptic"
	"crypto/rsa"
	"crypto/x509"
	"encoding/pem"
	"strings"

	"github.com/tlsvpn/tlsvpn/internal/netparse"
	"github.com/tlsvpn/tlsvpn/internal/trust"
)

// PEM types of a certificate request: the standard one, and the one older
// OpenSSL wrote with -newhdr.
const (
	pemRequest    = "CERTIFICATE REQUEST"
	pemNewRequest = "NEW CERTIFICATE REQUEST"
)

// request is what Sign takes from a certificate request: the name and the
// public key. Everything else in it (subject attributes, requested
// extensions) is ignored: the CA decides the rest.
type request struct {
	name string // lower-case, a valid name (ValidateName)
	key  crypto.PublicKey
}

// parseRequest reads a PEM certificate request and checks it: one request
// and nothing else in the file (above all no private key), a key that TLS
// 1.3 can use and that is not weak (RSA of at least trust.MinRSABits bits,
// ECDSA P-256, P-384 or P-521, or Ed25519), a signature made with that key,
// and one name: its one DNS SAN, or without SANs its CommonName, taken
// lower-case and checked as ValidateName checks names. IP, e-mail and URI
// SANs are refused. Errors wrap ErrBadRequest.
func parseRequest(data []byte) (*request, error) {
	der, err := requestDER(data)
	if err != nil {
		return nil, err
	}
	csr, err := x509.ParseCertificateRequest(der)
	if err != nil {
		return nil, errorf(ErrBadRequest, "the certificate request does not parse (%v); make a new one", err)
	}
	// The key first: a weak RSA key may be too short to check a signature with.
	if err := checkRequestKey(csr.PublicKey); err != nil {
		return nil, err
	}
	if err := csr.CheckSignature(); err != nil {
		return nil, errorf(ErrBadRequest, "the request's signature does not verify (%v): it was altered, or not signed by its key; make a new one", err)
	}
	name, err := requestName(csr)
	if err != nil {
		return nil, err
	}
	return &request{name: name, key: csr.PublicKey}, nil
}

// requestDER returns the DER of the one request block of a PEM file.
func requestDER(data []byte) ([]byte, error) {
	var der []byte
	for n := 1; ; n++ {
		var b *pem.Block
		b, data = pem.Decode(data)
		switch {
		case b == nil && der == nil:
			return nil, errorf(ErrBadRequest, "no PEM %s block; a DER request converts with: openssl req -inform der -in FILE -out FILE.pem", pemRequest)
		case b == nil:
			return der, nil
		case strings.HasSuffix(b.Type, "PRIVATE KEY"):
			return nil, errorf(ErrBadRequest, "PEM block %d is a %s: send only the request, the key stays on the machine that made it "+
				"(this one has been shared: make a new key and request)", n, b.Type)
		case b.Type != pemRequest && b.Type != pemNewRequest:
			return nil, errorf(ErrBadRequest, "PEM block %d is a %s, not a %s", n, b.Type, pemRequest)
		case der != nil:
			return nil, errorf(ErrBadRequest, "more than one %s; sign one request at a time", pemRequest)
		}
		der = b.Bytes
	}
}

// checkRequestKey refuses keys the handshake would refuse or TLS 1.3
// cannot sign with.
func checkRequestKey(key crypto.PublicKey) error {
	switch k := key.(type) {
	case *rsa.PublicKey:
		if bits := k.N.BitLen(); bits < trust.MinRSABits {
			return errorf(ErrBadRequest, "the request's key is %d-bit RSA, which peers refuse as weak; make a key of %d bits or more, or better an EC P-256 key",
				bits, trust.MinRSABits)
		}
	case *ecdsa.PublicKey:
		if c := k.Curve; c != elliptic.P256() && c != elliptic.P384() && c != elliptic.P521() {
			return errorf(ErrBadRequest, "the request's key is on curve %s, for which TLS 1.3 has no signature scheme; make an EC P-256 key", c.Params().Name)
		}
	case ed25519.PublicKey:
	default:
		return errorf(ErrBadRequest, "the request's key is a %T; make an EC P-256, Ed25519 or RSA key", key)
	}
	return nil
}

// requestName returns the name a request asks for.
func requestName(csr *x509.CertificateRequest) (string, error) {
	switch {
	case len(csr.IPAddresses) > 0:
		return "", errorf(ErrBadRequest, "the request asks for IP address SANs %v; a node or client is named by one DNS name", csr.IPAddresses)
	case len(csr.EmailAddresses) > 0:
		return "", errorf(ErrBadRequest, "the request asks for e-mail SANs %v; a node or client is named by one DNS name", csr.EmailAddresses)
	case len(csr.URIs) > 0:
		return "", errorf(ErrBadRequest, "the request asks for URI SANs %v; a node or client is named by one DNS name", csr.URIs)
	case len(csr.DNSNames) > 1:
		return "", errorf(ErrBadRequest, "the request names %d DNS names %v; a certificate names one node or client: make a request with one",
			len(csr.DNSNames), csr.DNSNames)
	}
	name := csr.Subject.CommonName
	if len(csr.DNSNames) == 1 {
		name = csr.DNSNames[0]
	}
	if name == "" {
		return "", errorf(ErrBadRequest, "the request names nothing; put the name in a DNS SAN (-addext subjectAltName=DNS:NAME) or the CN (-subj /CN=NAME)")
	}
	name = netparse.CanonicalName(name)
	if err := ValidateName(name); err != nil {
		return "", errorf(ErrBadRequest, "the request's %v", err)
	}
	return name, nil
}
