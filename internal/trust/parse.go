package trust

import (
	"crypto"
	"crypto/x509"
	"encoding/asn1"
	"encoding/pem"
	"fmt"
	"slices"
	"strings"
)

// PEM block types.
const (
	pemCertificate = "CERTIFICATE"
	pemCRL         = "X509 CRL"
	pemECParams    = "EC PARAMETERS"
	pemEncrypted   = "ENCRYPTED PRIVATE KEY"
)

// ParseCertificates parses every CERTIFICATE block of a PEM file, in order. A block of another type or
// a certificate that does not parse is a *BlockError; a file without any block is ErrNoPEM.
func ParseCertificates(data []byte) ([]*x509.Certificate, error) {
	var certs []*x509.Certificate
	for n := 1; ; n++ {
		var block *pem.Block
		block, data = pem.Decode(data)
		if block == nil {
			break
		}
		if block.Type != pemCertificate {
			return nil, &BlockError{Index: n, Type: block.Type, Err: ErrBlockType}
		}
		cert, err := x509.ParseCertificate(block.Bytes)
		if err != nil {
			return nil, &BlockError{Index: n, Type: block.Type, Err: ErrMalformed, Cause: err}
		}
		certs = append(certs, cert)
	}
	if len(certs) == 0 {
		return nil, ErrNoPEM
	}
	return certs, nil
}

// ParsePrivateKey parses the first private key of a PEM file: PKCS #8, SEC 1 EC or PKCS #1 RSA. Blocks of
// other types (EC PARAMETERS, certificates) before it are skipped. An encrypted key is ErrEncryptedKey
// (tlsvpn starts unattended), a key that cannot sign ErrNotSigner, one that does not parse ErrMalformed,
// each in a *BlockError; a file without a key is ErrNoPEM.
func ParsePrivateKey(data []byte) (crypto.Signer, error) {
	for n := 1; ; n++ {
		var block *pem.Block
		block, data = pem.Decode(data)
		switch {
		case block == nil:
			return nil, ErrNoPEM
		case block.Type == pemEncrypted || block.Headers["Proc-Type"] != "":
			return nil, &BlockError{Index: n, Type: block.Type, Err: ErrEncryptedKey}
		case !strings.HasSuffix(block.Type, "PRIVATE KEY"):
			continue
		}
		key, err := parseKeyBlock(block)
		if err != nil {
			return nil, &BlockError{Index: n, Type: block.Type, Err: ErrMalformed, Cause: err}
		}
		signer, ok := key.(crypto.Signer)
		if !ok {
			return nil, &BlockError{Index: n, Type: block.Type, Err: ErrNotSigner, Cause: fmt.Errorf("a %T", key)}
		}
		return signer, nil
	}
}

func parseKeyBlock(block *pem.Block) (any, error) {
	switch block.Type {
	case "PRIVATE KEY":
		return x509.ParsePKCS8PrivateKey(block.Bytes)
	case "EC PRIVATE KEY":
		return x509.ParseECPrivateKey(block.Bytes)
	case "RSA PRIVATE KEY":
		return x509.ParsePKCS1PrivateKey(block.Bytes)
	}
	return nil, fmt.Errorf("%s is not a supported private key type", strings.ToLower(block.Type))
}

// ParseCRLs parses the revocation lists of a file: every X509 CRL block of a PEM file, or the file as
// one DER CRL when it holds no PEM block. A block of another type, a CRL that does not parse, and a CRL
// with a critical extension tlsvpn does not implement (delta CRLs, indirect CRLs, issuing distribution
// points) are a *BlockError; an empty file is ErrNoPEM.
func ParseCRLs(data []byte) ([]*x509.RevocationList, error) {
	if block, _ := pem.Decode(data); block == nil {
		if len(data) == 0 {
			return nil, ErrNoPEM
		}
		crl, err := parseCRL(data, 1, "")
		if err != nil {
			return nil, err
		}
		return []*x509.RevocationList{crl}, nil
	}
	var crls []*x509.RevocationList
	for n := 1; ; n++ {
		var block *pem.Block
		block, data = pem.Decode(data)
		if block == nil {
			return crls, nil
		}
		if block.Type != pemCRL {
			return nil, &BlockError{Index: n, Type: block.Type, Err: ErrBlockType}
		}
		crl, err := parseCRL(block.Bytes, n, block.Type)
		if err != nil {
			return nil, err
		}
		crls = append(crls, crl)
	}
}

func parseCRL(der []byte, n int, typ string) (*x509.RevocationList, error) {
	crl, err := x509.ParseRevocationList(der)
	if err != nil {
		return nil, &BlockError{Index: n, Type: typ, Err: ErrMalformed, Cause: err}
	}
	if oid, ok := unknownCritical(crl); ok {
		return nil, &BlockError{Index: n, Type: typ, Err: ErrCRLExtension, Cause: fmt.Errorf("extension %s", oid)}
	}
	return crl, nil
}

// Extensions whose meaning this package implements. RFC 5280 section 5.2 and 5.3: a CRL, or an entry,
// with a critical extension the reader does not implement must not be used.
var (
	crlExtensions = []asn1.ObjectIdentifier{
		{2, 5, 29, 35}, // authority key identifier
		{2, 5, 29, 20}, // CRL number
	}
	entryExtensions = []asn1.ObjectIdentifier{
		{2, 5, 29, 21}, // reason code
		{2, 5, 29, 24}, // invalidity date
	}
)

// unknownCritical returns a critical extension of crl or of one of its entries that is not
// implemented.
func unknownCritical(crl *x509.RevocationList) (asn1.ObjectIdentifier, bool) {
	known := func(list []asn1.ObjectIdentifier) func(id asn1.ObjectIdentifier) bool {
		return func(id asn1.ObjectIdentifier) bool { return slices.ContainsFunc(list, id.Equal) }
	}
	for _, e := range crl.Extensions {
		if e.Critical && !known(crlExtensions)(e.Id) {
			return e.Id, true
		}
	}
	for _, entry := range crl.RevokedCertificateEntries {
		for _, e := range entry.Extensions {
			if e.Critical && !known(entryExtensions)(e.Id) {
				return e.Id, true
			}
		}
	}
	return nil, false
}
