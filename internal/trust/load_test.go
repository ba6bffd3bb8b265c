package trust_test

import (
	"crypto/x509/pkix"
	"encoding/asn1"
	"encoding/pem"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/tlsvpn/tlsvpn/internal/certtest"
	"github.com/tlsvpn/tlsvpn/internal/trust"
)

func TestLoadProblems(t *testing.T) {
	f := certtest.New(t, now)
	other := f.OtherCA()
	own := f.Leaf(certtest.LeafOpts{Names: []string{"office-a"}})
	both := append(f.CA().PEM(), other.CA().PEM()...)
	mismatched := input(f.CA().PEM(), own)
	mismatched.Key.Data = f.Leaf(certtest.LeafOpts{}).KeyPEM()
	encrypted := input(f.CA().PEM(), own)
	encrypted.Key.Data = pem.EncodeToMemory(&pem.Block{Type: "ENCRYPTED PRIVATE KEY", Bytes: []byte{1}})
	unread := input(f.CA().PEM(), own, nil)
	unread.CRLs[0].Data = nil

	tests := []struct {
		name  string
		in    trust.Input
		part  trust.Part
		index int
		err   error
		creds bool // credentials still returned for an audit
	}{
		{"a CA file without PEM", input([]byte("not pem"), own), trust.PartCA, 0, trust.ErrNoPEM, false},
		{"a CA file with a key block", input(own.KeyPEM(), own), trust.PartCA, 0, trust.ErrBlockType, false},
		{"a certificate that does not parse", input(f.CA().PEM(), own), trust.PartCert, 0, trust.ErrMalformed, false},
		{"a key of another certificate", mismatched, trust.PartKey, 0, trust.ErrKeyMismatch, true},
		{"an encrypted key", encrypted, trust.PartKey, 0, trust.ErrEncryptedKey, true},
		{"a CRL file holding a certificate", input(f.CA().PEM(), own, f.CA().PEM()), trust.PartCRL, 0, trust.ErrBlockType, true},
		{"a CRL that does not parse", input(f.CA().PEM(), own, []byte{0x30, 0x03, 1, 2, 3}), trust.PartCRL, 0, trust.ErrMalformed, true},
		{"a CRL of a trust anchor with a bad signature", input(f.CA().PEM(), own, corrupt(t, f.CRLWith(certtest.CRLOpts{}))),
			trust.PartCRL, 0, trust.ErrCRLSignature, true},
		{"two CRLs of the same CA", input(f.CA().PEM(), own, f.CRLWith(certtest.CRLOpts{}), f.CRLWith(certtest.CRLOpts{})),
			trust.PartCRL, 1, trust.ErrCRLDuplicate, true},
		{"a trust anchor without a CRL", input(both, own, f.CRLWith(certtest.CRLOpts{})), trust.PartCRL, -1, trust.ErrCRLMissing, true},
		{"the CRL of another CA only", input(f.CA().PEM(), own, other.CRLWith(certtest.CRLOpts{})), trust.PartCRL, -1, trust.ErrCRLMissing, true},
		{"a CRL with an unknown critical extension", input(f.CA().PEM(), own, withCriticalExtension(t, f)), trust.PartCRL, 0, trust.ErrCRLExtension, true},
	}
	tests[2].in.Cert.Data = pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: []byte{1, 2, 3}})
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			creds, probs := trust.Load(tc.in)
			if len(probs) != 1 {
				t.Fatalf("%d problems %v, want 1", len(probs), probs)
			}
			p := probs[0]
			if p.Part != tc.part || p.Index != tc.index || !errors.Is(p.Err, tc.err) {
				t.Fatalf("problem %#v (%v); want part %d, index %d, %v", p, p, tc.part, tc.index, tc.err)
			}
			if (creds != nil) != tc.creds {
				t.Errorf("credentials returned: %v, want %v", creds != nil, tc.creds)
			}
			if p.Part == trust.PartCRL {
				checkFailsClosed(t, creds, f, errors.Is(creds.CRLUnavailable(), tc.err))
			} else if creds != nil && creds.CRLUnavailable() != nil {
				t.Errorf("CRLs unavailable after a problem of another file: %v", creds.CRLUnavailable())
			}
			t.Log(p)
		})
	}
	t.Run("an unread CRL file is left to the caller to report, and every chain is refused", func(t *testing.T) {
		creds, probs := trust.Load(unread)
		if len(probs) != 0 || creds == nil {
			t.Fatalf("problems %v, credentials %v", probs, creds)
		}
		checkFailsClosed(t, creds, f, errors.Is(creds.CRLUnavailable(), trust.ErrCRLUnread))
	})
}

// checkFailsClosed checks that creds, loaded with a CRL problem, hold no CRL and refuse a good peer
// and their own certificate with ReasonCRLUnavailable; why: CRLUnavailable names the problem.
func checkFailsClosed(t *testing.T, creds *trust.Credentials, f *certtest.Factory, why bool) {
	t.Helper()
	if creds.CRLs() != nil {
		t.Errorf("CRLs in force despite a CRL problem")
	}
	if !why {
		t.Errorf("CRLUnavailable = %v, does not carry the problem", creds.CRLUnavailable())
	}
	peer := f.Leaf(certtest.LeafOpts{Names: []string{"office-b"}})
	for _, k := range []trust.Check{{Usages: clientAuth, Now: now}, {Usages: clientAuth, Now: now, Live: true}} {
		r := checkReason(t, creds, chainOf(peer), k, trust.ReasonCRLUnavailable)
		if r.Unavailable == nil || !strings.Contains(r.Detail, creds.CRLUnavailable().Error()) {
			t.Errorf("the refusal %v does not say why no CRL is in force", r)
		}
	}
	if _, found := creds.Audit(creds.Chain(), trust.Check{Now: now}); len(found) != 1 || found[0].Reason != trust.ReasonCRLUnavailable {
		t.Errorf("Audit of the own chain found %v, want one %q", found, trust.ReasonCRLUnavailable)
	}
}

// withCriticalExtension signs a CRL with a critical issuing distribution point, which makes it a
// partial CRL that tlsvpn does not implement.
func withCriticalExtension(t *testing.T, f *certtest.Factory) []byte {
	t.Helper()
	idp, err := asn1.Marshal(struct{}{})
	if err != nil {
		t.Fatal(err)
	}
	return f.CRLWith(certtest.CRLOpts{Extensions: []pkix.Extension{{Id: asn1.ObjectIdentifier{2, 5, 29, 28}, Critical: true, Value: idp}}})
}

func TestLoadAcceptsIntermediatesAndTheirCRLs(t *testing.T) {
	f := certtest.New(t, now)
	inter := f.Intermediate(time.Time{}, time.Time{}, nil)
	own := f.Leaf(certtest.LeafOpts{Names: []string{"office-a"}, Issuer: inter})
	creds := mustLoad(t, input(f.CA().PEM(), own,
		append(f.CRLWith(certtest.CRLOpts{}), f.CRLWith(certtest.CRLOpts{Signer: inter})...)))
	if len(creds.Chain()) != 2 || len(creds.Certificate().Certificate) != 2 || creds.Certificate().Leaf == nil {
		t.Errorf("own chain of %d certificates", len(creds.Chain()))
	}
	if len(creds.CRLs()) != 2 || creds.CRLs()[1].Block != 2 {
		t.Errorf("CRLs %v", creds.CRLs())
	}
	if _, err := creds.Verify(creds.Chain(), trust.Check{Usages: serverAuth, Now: now}); err != nil {
		t.Errorf("the own chain does not verify: %v", err)
	}
}
