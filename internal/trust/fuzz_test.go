package trust_test

import (
	"encoding/pem"
	"errors"
	"testing"
	"time"

	"github.com/tlsvpn/tlsvpn/internal/certtest"
	"github.com/tlsvpn/tlsvpn/internal/trust"
)

// The parsers take files an operator copies around; they must never panic, must return something or a
// known error, and what they return must be usable. Seeds: testdata/fuzz/<target>, plus files made
// here.

func FuzzParseCRLs(f *testing.F) {
	ca := certtest.New(f, now)
	crl := ca.CRLWith(certtest.CRLOpts{Revoked: []*certtest.Cert{ca.Leaf(certtest.LeafOpts{})}})
	b, _ := pem.Decode(crl)
	f.Add(crl)
	f.Add(b.Bytes)
	f.Add(append(crl, ca.OtherCA().CRLWith(certtest.CRLOpts{})...))
	f.Fuzz(func(t *testing.T, data []byte) {
		crls, err := trust.ParseCRLs(data)
		if err != nil {
			checkKnown(t, err, trust.ErrNoPEM, trust.ErrBlockType, trust.ErrMalformed, trust.ErrCRLExtension)
			return
		}
		for _, c := range crls {
			if c == nil || c.ThisUpdate.IsZero() && c.Number == nil && len(c.RawIssuer) == 0 {
				t.Fatalf("ParseCRLs returned an empty CRL")
			}
		}
	})
}

func FuzzParseCertificates(f *testing.F) {
	ca := certtest.New(f, now)
	leaf := ca.Leaf(certtest.LeafOpts{Names: []string{"office-a"}, Issuer: ca.Intermediate(time.Time{}, time.Time{}, nil)})
	f.Add(leaf.PEM())
	f.Add(leaf.KeyPEM())
	f.Fuzz(func(t *testing.T, data []byte) {
		certs, err := trust.ParseCertificates(data)
		if err != nil {
			checkKnown(t, err, trust.ErrNoPEM, trust.ErrBlockType, trust.ErrMalformed)
			return
		}
		if len(certs) == 0 {
			t.Fatal("no certificate and no error")
		}
	})
}

func FuzzParsePrivateKey(f *testing.F) {
	ca := certtest.New(f, now)
	f.Add(ca.Leaf(certtest.LeafOpts{}).KeyPEM())
	f.Add(append(ca.CA().PEM(), ca.Leaf(certtest.LeafOpts{RSABits: 2048}).KeyPEM()...))
	f.Fuzz(func(t *testing.T, data []byte) {
		key, err := trust.ParsePrivateKey(data)
		if err != nil {
			checkKnown(t, err, trust.ErrNoPEM, trust.ErrMalformed, trust.ErrEncryptedKey, trust.ErrNotSigner)
			return
		}
		if key == nil || key.Public() == nil {
			t.Fatal("a key without a public half")
		}
	})
}

// checkKnown fails unless err is one of known.
func checkKnown(t *testing.T, err error, known ...error) {
	t.Helper()
	for _, k := range known {
		if errors.Is(err, k) {
			return
		}
	}
	t.Fatalf("unexpected error %T: %v", err, err)
}
