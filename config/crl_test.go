package config

import (
	"crypto/x509"
	"encoding/pem"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/tlsvpn/tlsvpn/internal/certtest"
	"github.com/tlsvpn/tlsvpn/internal/trust"
)

// loadWith runs l (its clock set to at) on the node's configuration.
func (n *node) loadWith(l Loader, at time.Time) (*Config, []Problem, error) {
	l.Now, l.ProcSys = func() time.Time { return at }, n.proc
	return l.Load(filepath.Join(n.dir, "office-a.toml"))
}

// peer is office-b's certificate, made once per node, valid longer than the node's own.
func (n *node) peer() *certtest.Cert {
	if n.office == nil {
		n.office = n.ca.Leaf(certtest.LeafOpts{Names: []string{"office-b"}, NotBefore: testNow.Add(-day), NotAfter: testNow.Add(3 * year)})
	}
	return n.office
}

// verifyPeer runs the handshake's check of office-b's certificate against creds.
func verifyPeer(creds *trust.Credentials, peer *certtest.Cert, at time.Time) string {
	_, err := creds.Verify([]*x509.Certificate{peer.Cert}, trust.Check{Usages: []x509.ExtKeyUsage{x509.ExtKeyUsageClientAuth}, Now: at})
	return trust.ReasonOf(err)
}

func TestDeferCRLStartsWithACRLThatDoesNotLoadAndRefusesEveryHandshake(t *testing.T) {
	cases := []struct {
		name  string
		setup func(n *node)
		fix   string // part of the deferred problem's message
	}{
		{"a CRL that does not parse", func(n *node) {
			n.writeFile("pki/crl.pem", pem.EncodeToMemory(&pem.Block{Type: "X509 CRL", Bytes: []byte{1, 2}}), 0o644)
		}, "re-create it: tlsvpn pki crl"},
		{"a missing CRL file", func(n *node) { os.Remove(filepath.Join(n.dir, "pki/crl.pem")) }, "does not exist"},
		{"an empty CRL file", func(n *node) { n.writeFile("pki/crl.pem", nil, 0o644) }, "is empty"},
		{"a CRL signed by another CA", func(n *node) { n.writeFile("pki/crl.pem", n.crl(n.ca.OtherCA(), nil), 0o644) }, "use the CRL of that CA"},
		{"a CA of tls.ca without its CRL", func(n *node) {
			n.writeFile("pki/ca.pem", append(n.ca.CA().PEM(), n.ca.OtherCA().CA().PEM()...), 0o644)
		}, "use the CRL of that CA"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			n := newNode(t)
			tc.setup(n)
			if _, _, err := n.load(); err == nil || !strings.Contains(err.Error(), "tls.crl") {
				t.Fatalf("tlsvpn check's Load = %v, want an error at tls.crl", err)
			}
			cfg, warnings, err := n.loadWith(Loader{DeferCRL: true}, testNow)
			if err != nil || cfg == nil {
				t.Fatalf("Load with DeferCRL: %v", err)
			}
			p := findProblem(t, warnings, "tls.crl", tc.fix)
			if !strings.Contains(p.Message, "every handshake is refused") || p.Line == 0 {
				t.Errorf("the deferred problem %v does not say what follows, or has no line", p)
			}
			t.Log(p)
			creds := cfg.Credentials
			if creds.CRLUnavailable() == nil {
				t.Fatal("the credentials say a CRL is in force")
			}
			if got := verifyPeer(creds, n.peer(), testNow); got != trust.ReasonCRLUnavailable {
				t.Errorf("a good peer is %q, want refused as %q", got, trust.ReasonCRLUnavailable)
			}

			// The file watcher's reload brings a CRL that loads: handshakes pass again.
			n.writeFile("pki/crl.pem", n.crl(n.ca, nil), 0o644)
			n.writeFile("pki/ca.pem", n.ca.CA().PEM(), 0o644)
			next, _, err := Loader{InForce: creds, Now: func() time.Time { return testNow }}.Credentials(cfg)
			if err != nil {
				t.Fatalf("reload with a good CRL: %v", err)
			}
			if next.CRLUnavailable() != nil || verifyPeer(next, n.peer(), testNow) != "" {
				t.Errorf("after a good CRL: unavailable %v, peer %q", next.CRLUnavailable(), verifyPeer(next, n.peer(), testNow))
			}
		})
	}
}

func TestDeferCRLLeavesEveryOtherProblemAnError(t *testing.T) {
	t.Run("another problem fails the load, and the CRL's is reported with it", func(t *testing.T) {
		n := newNode(t)
		os.Remove(filepath.Join(n.dir, "pki/crl.pem"))
		os.Chmod(filepath.Join(n.dir, "pki/office-a.key"), 0o644)
		cfg, _, err := n.loadWith(Loader{DeferCRL: true}, testNow)
		e, ok := err.(*Error)
		if cfg != nil || !ok {
			t.Fatalf("Load = %v, %v; want an *Error", cfg, err)
		}
		findProblem(t, e.Problems, "tls.key", "chmod 600")
		findProblem(t, e.Problems, "tls.crl", "does not exist")
	})
	t.Run("the own certificate's issuer without a CRL is an error", func(t *testing.T) {
		n := newNode(t)
		inter := n.ca.Intermediate(testNow.Add(-day), testNow.Add(5*year), nil)
		s := n.spec()
		s.Issuer = inter
		n.setLeaf(n.ca, s, inter)
		_, _, err := n.loadWith(Loader{DeferCRL: true}, testNow)
		if e, ok := err.(*Error); !ok {
			t.Fatalf("Load = %v, want an error", err)
		} else {
			findProblem(t, e.Problems, "tls.crl", "add that CA's CRL")
		}
	})
	t.Run("a revoked own certificate is an error", func(t *testing.T) {
		n := newNode(t)
		n.writeFile("pki/crl.pem", n.crl(n.ca, nil, n.leaf), 0o644)
		_, _, err := n.loadWith(Loader{DeferCRL: true}, testNow)
		if e, ok := err.(*Error); !ok {
			t.Fatalf("Load = %v, want an error", err)
		} else {
			findProblem(t, e.Problems, "tls.cert", "is revoked by")
		}
	})
}

func TestReloadKeepsTheOwnCertificateInForceWhenItIsRevokedOrExpires(t *testing.T) {
	later := testNow.Add(2 * year) // the node's certificate has expired, its CA not
	cases := []struct {
		name   string
		change func(n *node) // what changed on disk since the start
		at     time.Time
		key    string
		says   string
	}{
		{"a CRL revoking the node's own certificate and office-b", func(n *node) {
			n.writeFile("pki/crl.pem", n.crl(n.ca, nil, n.leaf, n.peer()), 0o644)
		}, testNow, "tls.cert", "is revoked by"},
		{"the node's own certificate expired since the start", func(n *node) {
			n.writeFile("pki/crl.pem", n.ca.CRLWith(certtest.CRLOpts{Revoked: []*certtest.Cert{n.peer()}, ThisUpdate: later.Add(-time.Hour), NextUpdate: later.Add(30 * day)}), 0o644)
		}, later, "tls.cert", "expired on"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			n := newNode(t)
			n.peer()
			start, _, err := n.load()
			if err != nil {
				t.Fatal(err)
			}
			tc.change(n)
			if _, _, err := n.loadWith(Loader{}, tc.at); err == nil || !strings.Contains(err.Error(), tc.says) {
				t.Errorf("tlsvpn check = %v, want an error saying %q", err, tc.says)
			}
			reload := Loader{InForce: start.Credentials}
			cfg, warnings, err := n.loadWith(reload, tc.at)
			if err != nil {
				t.Fatalf("SIGHUP's Load failed: %v", err)
			}
			p := findProblem(t, warnings, tc.key, tc.says)
			if !strings.Contains(p.Message, "keeps this certificate in force") {
				t.Errorf("the warning does not say the certificate stays: %v", p)
			}
			t.Log(p)
			if got := verifyPeer(cfg.Credentials, n.peer(), tc.at); got != trust.ReasonRevoked {
				t.Errorf("office-b after the reload: %q, want %q (the new CRL applied)", got, trust.ReasonRevoked)
			}
			reload.Now, reload.ProcSys = func() time.Time { return tc.at }, n.proc
			creds, _, err := reload.Credentials(start)
			if err != nil || verifyPeer(creds, n.peer(), tc.at) != trust.ReasonRevoked {
				t.Errorf("the file watcher's reload: %v; office-b %q", err, verifyPeer(creds, n.peer(), tc.at))
			}
		})
	}
	t.Run("a new own certificate that is revoked fails the reload", func(t *testing.T) {
		n := newNode(t)
		start, _, err := n.load()
		if err != nil {
			t.Fatal(err)
		}
		n.setLeaf(n.ca, n.spec())
		n.writeFile("pki/crl.pem", n.crl(n.ca, nil, n.leaf), 0o644)
		if _, _, err := n.loadWith(Loader{InForce: start.Credentials}, testNow); err == nil || !strings.Contains(err.Error(), "is revoked by") {
			t.Errorf("reload = %v, want the revoked new certificate refused", err)
		}
	})
}
