package config

import (
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/asn1"
	"encoding/pem"
	"errors"
	"math/big"
	"net/netip"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/tlsvpn/tlsvpn/internal/certtest"
)

// testNow is the fixed clock of the Load tests.
var testNow = time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)

const (
	day  = 24 * time.Hour
	year = 365 * day
)

// nodeConfig listens and dials, so its certificate needs both serverAuth and clientAuth.
const nodeConfig = `name = "office-a"

[tls]
ca   = "pki/ca.pem"
cert = "pki/office-a.pem"
key  = "pki/office-a.key"
crl  = "pki/crl.pem"

[interface]
address = ["100.64.0.1/24", "fd64::1/64"]

[listen]
address = "0.0.0.0:4433"

[[peer]]
name        = "office-b"
endpoint    = "198.18.0.2:4433"
allowed_ips = ["100.64.0.2/32", "fd64::2/128", "10.2.0.0/24", "fd02::/64"]
`

// node is a configuration with its PKI in a temporary folder, valid at testNow until a test breaks it.
type node struct {
	t    *testing.T
	dir  string
	ca   *certtest.Factory
	leaf *certtest.Cert
	proc string // fake /proc/sys, forwarding on

	office *certtest.Cert // office-b's certificate, made by peer
}

func newNode(t *testing.T) *node {
	t.Helper()
	n := &node{t: t, dir: t.TempDir()}
	n.ca = certtest.NewCA(t, testNow, certtest.CAOpts{Name: "Test VPN CA", NotBefore: testNow.Add(-day), NotAfter: testNow.Add(10 * year)})
	n.writeFile("pki/ca.pem", n.ca.CA().PEM(), 0o644)
	n.setLeaf(n.ca, n.spec())
	n.writeFile("pki/crl.pem", n.crl(n.ca, nil), 0o644)
	n.writeFile("office-a.toml", []byte(nodeConfig), 0o644)
	n.proc = filepath.Join(n.dir, "proc")
	n.writeFile("proc/net/ipv4/ip_forward", []byte("1\n"), 0o644)
	n.writeFile("proc/net/ipv6/conf/all/forwarding", []byte("1\n"), 0o644)
	return n
}

// spec is the certificate the node needs: its name, valid now, both usages.
func (n *node) spec() certtest.LeafOpts {
	return certtest.LeafOpts{Names: []string{"office-a"}, NotBefore: testNow.Add(-day), NotAfter: testNow.Add(year)}
}

// setLeaf writes a new certificate from f (its root, or o.Issuer) followed by intermediates, and its key
// with mode 0600.
func (n *node) setLeaf(f *certtest.Factory, o certtest.LeafOpts, intermediates ...*certtest.Cert) {
	n.t.Helper()
	n.leaf = f.Leaf(o)
	n.writeFile("pki/office-a.pem", certtest.CertsPEM(append([]*certtest.Cert{n.leaf}, intermediates...)...), 0o644)
	n.writeFile("pki/office-a.key", n.leaf.KeyPEM(), 0o600)
}

// leafWith writes a certificate of the node's CA made to its spec changed by mod.
func (n *node) leafWith(mod func(s *certtest.LeafOpts)) {
	n.t.Helper()
	s := n.spec()
	mod(&s)
	n.setLeaf(n.ca, s)
}

// crl is a CRL of f's root (or of signer) valid around testNow, revoking revoked.
func (n *node) crl(f *certtest.Factory, signer *certtest.Cert, revoked ...*certtest.Cert) []byte {
	n.t.Helper()
	return f.CRLWith(certtest.CRLOpts{Signer: signer, Revoked: revoked, ThisUpdate: testNow.Add(-time.Hour), NextUpdate: testNow.Add(30 * day)})
}

func (n *node) writeFile(rel string, data []byte, mode os.FileMode) {
	n.t.Helper()
	path := filepath.Join(n.dir, rel)
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		n.t.Fatal(err)
	}
	if err := os.WriteFile(path, data, mode); err != nil {
		n.t.Fatal(err)
	}
	if err := os.Chmod(path, mode); err != nil {
		n.t.Fatal(err)
	}
}

// editConfig replaces old by new in the node's configuration.
func (n *node) editConfig(old, new string) {
	n.t.Helper()
	if !strings.Contains(nodeConfig, old) {
		n.t.Fatalf("nodeConfig has no %q", old)
	}
	n.writeFile("office-a.toml", []byte(strings.Replace(nodeConfig, old, new, 1)), 0o644)
}

func (n *node) load() (*Config, []Problem, error) {
	return Loader{Now: func() time.Time { return testNow }, ProcSys: n.proc}.Load(filepath.Join(n.dir, "office-a.toml"))
}

// loadProblems runs Load and returns its errors, failing the test when the error is not an *Error.
func (n *node) loadProblems() []Problem {
	n.t.Helper()
	_, _, err := n.load()
	if err == nil {
		return nil
	}
	var e *Error
	if !errors.As(err, &e) {
		n.t.Fatalf("error is %T, want *Error: %v", err, err)
	}
	return e.Problems
}

func TestLoadAcceptsAValidNode(t *testing.T) {
	n := newNode(t)
	c, warnings, err := n.load()
	if err != nil {
		t.Fatalf("Load: %v", err)
	}
	if len(warnings) > 0 {
		t.Errorf("unexpected warnings: %v", warnings)
	}
	if c.TLS.Cert != filepath.Join(n.dir, "pki/office-a.pem") {
		t.Errorf("cert path %q is not resolved against the file's folder", c.TLS.Cert)
	}
	if c.Credentials == nil || !c.Credentials.Chain()[0].Equal(n.leaf.Cert) || len(c.Credentials.CRLs()) != 1 {
		t.Errorf("Load did not hand out the credentials it checked: %+v", c.Credentials)
	}
}

func TestLoadAccepts(t *testing.T) {
	cases := []struct {
		name  string
		setup func(n *node)
	}{
		{"a listen-only node whose certificate has serverAuth alone", func(n *node) {
			n.editConfig(`endpoint    = "198.18.0.2:4433"`, "")
			s := n.spec()
			s.EKU = []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth}
			n.setLeaf(n.ca, s)
		}},
		{"a certificate issued by an intermediate that follows it in the cert file, with the CRLs of both in one file", func(n *node) {
			inter := n.ca.IntermediateCA(certtest.CAOpts{Name: "Test Intermediate"})
			s := n.spec()
			s.Issuer = inter
			n.setLeaf(n.ca, s, inter)
			n.writeFile("pki/crl.pem", append(n.crl(n.ca, nil), n.crl(n.ca, inter)...), 0o644)
		}},
		{"address blocks on the certificate that cover the interface addresses", func(n *node) {
			n.leafWith(func(s *certtest.LeafOpts) {
				s.Routes = []netip.Prefix{netip.MustParsePrefix("100.64.0.0/24"), netip.MustParsePrefix("fd64::/64")}
			})
		}},
		{"a node without a CRL", func(n *node) {
			n.editConfig("crl  = \"pki/crl.pem\"\n", "")
		}},
		{"a CRL in DER form", func(n *node) {
			block, _ := pem.Decode(n.crl(n.ca, nil))
			n.writeFile("pki/crl.pem", block.Bytes, 0o644)
		}},
		{"a list of CRL files, one for each CA of tls.ca", func(n *node) {
			other := n.ca.OtherCA()
			n.writeFile("pki/ca.pem", certtest.CertsPEM(n.ca.CA(), other.CA()), 0o644)
			n.writeFile("pki/other-crl.pem", n.crl(other, nil), 0o644)
			n.editConfig(`crl  = "pki/crl.pem"`, `crl  = ["pki/crl.pem", "pki/other-crl.pem"]`)
		}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			n := newNode(t)
			tc.setup(n)
			if _, warnings, err := n.load(); err != nil || len(warnings) > 0 {
				t.Fatalf("Load: %v; warnings %v", err, warnings)
			}
		})
	}
}

func TestLoadRejects(t *testing.T) {
	cases := []struct {
		name  string
		setup func(n *node)
		key   string // the key path the problem names
		fix   string // part of the message that tells the fix
	}{
		{"a missing CA file", func(n *node) { os.Remove(filepath.Join(n.dir, "pki/ca.pem")) },
			"tls.ca", "tlsvpn pki init --dir"},
		{"a missing certificate file", func(n *node) { os.Remove(filepath.Join(n.dir, "pki/office-a.pem")) },
			"tls.cert", "tlsvpn pki issue office-a --dir"},
		{"a missing key file", func(n *node) { os.Remove(filepath.Join(n.dir, "pki/office-a.key")) },
			"tls.key", "tlsvpn pki issue office-a --dir"},
		{"a missing CRL file", func(n *node) { os.Remove(filepath.Join(n.dir, "pki/crl.pem")) },
			"tls.crl", "tlsvpn pki crl --dir"},
		{"a CA path that is a directory, which cannot be read as a file", func(n *node) {
			n.editConfig(`ca   = "pki/ca.pem"`, `ca   = "pki"`)
		}, "tls.ca", "point tls.ca at the PEM file"},
		{"a CA file that holds no PEM", func(n *node) { n.writeFile("pki/ca.pem", []byte("not pem\n"), 0o644) },
			"tls.ca", "write the CA certificate in PEM form"},
		{"a certificate that does not parse", func(n *node) {
			n.writeFile("pki/office-a.pem", pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: []byte{1, 2, 3}}), 0o644)
		}, "tls.cert", "replace it with the certificate in PEM form"},
		{"a key file that holds no PEM", func(n *node) { n.writeFile("pki/office-a.key", []byte("secret\n"), 0o600) },
			"tls.key", "write the key issued with the certificate"},
		{"a key block that does not parse", func(n *node) {
			n.writeFile("pki/office-a.key", pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: []byte{1}}), 0o600)
		}, "tls.key", "write the key issued with the certificate"},
		{"an encrypted key", func(n *node) {
			n.writeFile("pki/office-a.key", pem.EncodeToMemory(&pem.Block{Type: "ENCRYPTED PRIVATE KEY", Bytes: []byte{1}}), 0o600)
		}, "tls.key", "openssl pkey"},
		{"a CRL that does not parse", func(n *node) {
			n.writeFile("pki/crl.pem", pem.EncodeToMemory(&pem.Block{Type: "X509 CRL", Bytes: []byte{1, 2}}), 0o644)
		}, "tls.crl", "re-create it: tlsvpn pki crl"},
		{"a key that does not match the certificate", func(n *node) {
			n.writeFile("pki/office-a.key", n.ca.Leaf(n.spec()).KeyPEM(), 0o600)
		}, "tls.key", "use the key issued with that certificate"},
		{"a key readable by others", func(n *node) {
			os.Chmod(filepath.Join(n.dir, "pki/office-a.key"), 0o644)
		}, "tls.key", "chmod 600 "},
		{"a key readable by its group", func(n *node) {
			os.Chmod(filepath.Join(n.dir, "pki/office-a.key"), 0o640)
		}, "tls.key", "chmod 600 "},
		{"an expired certificate", func(n *node) {
			n.leafWith(func(s *certtest.LeafOpts) { s.NotBefore, s.NotAfter = testNow.Add(-year), testNow.Add(-day) })
		}, "tls.cert", "renew it: tlsvpn pki renew office-a"},
		{"a certificate not yet valid", func(n *node) { n.leafWith(func(s *certtest.LeafOpts) { s.NotBefore = testNow.Add(day) }) }, "tls.cert", "check this host's clock"},
		{"a certificate from another CA", func(n *node) {
			n.setLeaf(n.ca.OtherCA(), n.spec())
		}, "tls.cert", "point tls.ca at the CA that issued it"},
		{"a certificate from an intermediate missing from the cert file", func(n *node) {
			n.leafWith(func(s *certtest.LeafOpts) { s.Issuer = n.ca.IntermediateCA(certtest.CAOpts{Name: "Test Intermediate"}) })
		}, "tls.cert", "point tls.ca at the CA that issued it"},
		{"an expired CA", func(n *node) {
			n.ca = certtest.NewCA(t, testNow, certtest.CAOpts{Name: "Old CA", NotBefore: testNow.Add(-2 * year), NotAfter: testNow.Add(-day)})
			n.writeFile("pki/ca.pem", n.ca.CA().PEM(), 0o644)
			n.setLeaf(n.ca, n.spec())
			n.writeFile("pki/crl.pem", n.crl(n.ca, nil), 0o644)
		}, "tls.ca", "renew that CA"},
		{"a listening node whose certificate lacks serverAuth", func(n *node) {
			n.leafWith(func(s *certtest.LeafOpts) { s.EKU = []x509.ExtKeyUsage{x509.ExtKeyUsageClientAuth} })
		}, "tls.cert", "lacks the extended key usage serverAuth"},
		{"a dialing node whose certificate lacks clientAuth", func(n *node) {
			n.leafWith(func(s *certtest.LeafOpts) { s.EKU = []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth} })
		}, "tls.cert", "lacks the extended key usage clientAuth"},
		{"a certificate with anyExtendedKeyUsage alone", func(n *node) {
			n.leafWith(func(s *certtest.LeafOpts) { s.EKU = []x509.ExtKeyUsage{x509.ExtKeyUsageAny} })
		}, "tls.cert", "anyExtendedKeyUsage is not enough"},
		{"a certificate without extended key usages", func(n *node) { n.leafWith(func(s *certtest.LeafOpts) { s.NoEKU = true }) }, "tls.cert", "issue a certificate with serverAuth and clientAuth"},
		{"a name that is not a DNS SAN of the certificate", func(n *node) { n.leafWith(func(s *certtest.LeafOpts) { s.Names = []string{"office-z"} }) }, "name", "set name to the certificate's name"},
		{"a CRL signed by another CA", func(n *node) {
			n.writeFile("pki/crl.pem", n.crl(n.ca.OtherCA(), nil), 0o644)
		}, "tls.crl", "use the CRL of that CA"},
		{"a certificate revoked by the CRL", func(n *node) {
			n.writeFile("pki/crl.pem", n.crl(n.ca, nil, n.leaf), 0o644)
		}, "tls.cert", "issue a new certificate"},
		{"an interface address outside the certificate's address blocks", func(n *node) {
			n.leafWith(func(s *certtest.LeafOpts) {
				s.Routes = []netip.Prefix{netip.MustParsePrefix("100.64.1.0/24"), netip.MustParsePrefix("fd64::/64")}
			})
		}, "interface.address[0]", "issue the certificate with --route covering it"},
		{"a certificate whose address blocks exceed its intermediate's", func(n *node) {
			inter := n.ca.IntermediateCA(certtest.CAOpts{Routes: []netip.Prefix{netip.MustParsePrefix("100.64.0.0/24")}})
			s := n.spec()
			s.Issuer, s.Routes = inter, []netip.Prefix{netip.MustParsePrefix("100.64.0.0/16")}
			n.setLeaf(n.ca, s, inter)
			n.writeFile("pki/crl.pem", append(n.crl(n.ca, nil), n.crl(n.ca, inter)...), 0o644)
		}, "tls.cert", "issue the certificate from a CA whose address blocks cover it"},
		{"a CA certificate as the node's certificate", func(n *node) { n.leafWith(func(s *certtest.LeafOpts) { s.IsCA = true }) }, "tls.cert", "issue a node certificate (tlsvpn pki issue office-a)"},
		{"an RSA-1024 certificate", func(n *node) { n.leafWith(func(s *certtest.LeafOpts) { s.RSABits = 1024 }) }, "tls.cert", "1024-bit RSA key"},
		{"an intermediate CA in the cert file revoked by the root's CRL", func(n *node) {
			inter := n.ca.IntermediateCA(certtest.CAOpts{Name: "Test Intermediate"})
			s := n.spec()
			s.Issuer = inter
			n.setLeaf(n.ca, s, inter)
			n.writeFile("pki/crl.pem", append(n.crl(n.ca, nil, inter), n.crl(n.ca, inter)...), 0o644)
		}, "tls.cert", `the intermediate CA "CN=Test Intermediate"`},
		{"a certificate whose intermediate CA has no CRL in tls.crl", func(n *node) {
			inter := n.ca.IntermediateCA(certtest.CAOpts{Name: "Test Intermediate"})
			s := n.spec()
			s.Issuer = inter
			n.setLeaf(n.ca, s, inter)
		}, "tls.crl", "add that CA's CRL to tls.crl"},
		{"a CA of tls.ca without a CRL", func(n *node) {
			n.writeFile("pki/ca.pem", certtest.CertsPEM(n.ca.CA(), n.ca.OtherCA().CA()), 0o644)
		}, "tls.crl", "use the CRL of that CA"},
		{"two CRLs of the same CA in a list of files", func(n *node) {
			n.writeFile("pki/crl2.pem", n.crl(n.ca, nil), 0o644)
			n.editConfig(`crl  = "pki/crl.pem"`, "crl  = [\n  \"pki/crl.pem\",\n  \"pki/crl2.pem\",\n]")
		}, "tls.crl[1]", "keep one CRL per CA"},
		{"a missing file in a list of CRLs", func(n *node) {
			n.editConfig(`crl  = "pki/crl.pem"`, "crl  = [\n  \"pki/crl.pem\",\n  \"pki/gone.pem\",\n]")
		}, "tls.crl[1]", "does not exist"},
		{"a CRL with a critical extension tlsvpn does not implement", func(n *node) {
			n.writeFile("pki/crl.pem", deltaCRL(t, n.ca), 0o644)
		}, "tls.crl", "does not implement"},
		{"an empty list of CRLs", func(n *node) {
			n.editConfig(`crl  = "pki/crl.pem"`, `crl  = []`)
		}, "tls.crl", "or leave the key out"},
		{"a CRL key that is a number", func(n *node) {
			n.editConfig(`crl  = "pki/crl.pem"`, `crl  = 5`)
		}, "tls.crl", "must be a string or an array of strings"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			n := newNode(t)
			tc.setup(n)
			p := findProblem(t, n.loadProblems(), tc.key, tc.fix)
			t.Log(p)
			if p.Line == 0 {
				t.Errorf("problem has no line: %v", p)
			}
		})
	}
}

func TestLoadReportsParseAndFileProblemsTogether(t *testing.T) {
	n := newNode(t)
	n.editConfig("[interface]\n", "[interface]\nmtu = 100\n")
	os.Chmod(filepath.Join(n.dir, "pki/office-a.key"), 0o644)
	os.Remove(filepath.Join(n.dir, "pki/crl.pem"))
	c, _, err := n.load()
	if c != nil {
		t.Error("Load returned a Config with an error")
	}
	var e *Error
	if !errors.As(err, &e) {
		t.Fatalf("error is %T, want *Error: %v", err, err)
	}
	findProblem(t, e.Problems, "interface.mtu", "write a value in that range")
	findProblem(t, e.Problems, "tls.key", "chmod 600")
	findProblem(t, e.Problems, "tls.crl", "does not exist")
	if len(e.Problems) != 3 {
		t.Errorf("got %d problems, want 3: %v", len(e.Problems), e)
	}
}

func TestLoadStopsAtSyntaxErrors(t *testing.T) {
	n := newNode(t)
	n.editConfig(`name = "office-a"`, `name = `)
	c, warnings, err := n.load()
	if c != nil || warnings != nil || err == nil {
		t.Fatalf("Load = %v, %v, %v; want only an error", c, warnings, err)
	}
	if !strings.Contains(err.Error(), "office-a.toml:1: syntax error") {
		t.Errorf("error %q does not name the file and line", err)
	}
}

func TestLoadWarns(t *testing.T) {
	cases := []struct {
		name  string
		setup func(n *node)
		key   string
		fix   string
	}{
		{"when IPv4 forwarding is off while a LAN is routed", func(n *node) {
			n.writeFile("proc/net/ipv4/ip_forward", []byte("0\n"), 0o644)
		}, "peer[0].allowed_ips[2]", "sysctl -w net.ipv4.ip_forward=1"},
		{"when IPv6 forwarding is off while an IPv6 LAN is routed", func(n *node) {
			n.writeFile("proc/net/ipv6/conf/all/forwarding", []byte("0\n"), 0o644)
		}, "peer[0].allowed_ips[3]", "sysctl -w net.ipv6.conf.all.forwarding=1"},
		{"when the certificate expires within 21 days", func(n *node) { n.leafWith(func(s *certtest.LeafOpts) { s.NotAfter = testNow.Add(10 * day) }) }, "tls.cert", "renew it: tlsvpn pki renew office-a"},
		{"when the CA expires within 21 days", func(n *node) {
			n.ca = certtest.NewCA(t, testNow, certtest.CAOpts{Name: "Old CA", NotBefore: testNow.Add(-2 * year), NotAfter: testNow.Add(20 * day)})
			n.writeFile("pki/ca.pem", n.ca.CA().PEM(), 0o644)
			s := n.spec()
			s.NotAfter = testNow.Add(15 * day)
			n.setLeaf(n.ca, s)
			n.writeFile("pki/crl.pem", n.ca.CRLWith(certtest.CRLOpts{ThisUpdate: testNow.Add(-time.Hour), NextUpdate: testNow.Add(10 * day)}), 0o644)
		}, "tls.ca", "make a new CA"},
		{"when the CRL is past its next update", func(n *node) {
			n.writeFile("pki/crl.pem", n.ca.CRLWith(certtest.CRLOpts{ThisUpdate: testNow.Add(-40 * day), NextUpdate: testNow.Add(-10 * day)}), 0o644)
		}, "tls.crl", "re-sign it (tlsvpn pki crl"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			n := newNode(t)
			tc.setup(n)
			c, warnings, err := n.load()
			if err != nil || c == nil {
				t.Fatalf("a warning made Load fail: %v", err)
			}
			p := findProblem(t, warnings, tc.key, tc.fix)
			t.Log(p)
		})
	}
}

func TestNoForwardingWarningWhenOnlyTunnelAddressesAreRouted(t *testing.T) {
	n := newNode(t)
	n.editConfig(`allowed_ips = ["100.64.0.2/32", "fd64::2/128", "10.2.0.0/24", "fd02::/64"]`,
		`allowed_ips = ["100.64.0.2/32", "fd64::2/128"]`)
	n.writeFile("proc/net/ipv4/ip_forward", []byte("0\n"), 0o644)
	n.writeFile("proc/net/ipv6/conf/all/forwarding", []byte("0\n"), 0o644)
	if _, warnings, err := n.load(); err != nil || len(warnings) > 0 {
		t.Fatalf("Load: %v; warnings %v", err, warnings)
	}
}

// deltaCRL is a delta CRL of f's root: its critical delta CRL indicator is an extension tlsvpn does not
// implement.
func deltaCRL(t *testing.T, f *certtest.Factory) []byte {
	t.Helper()
	base, err := asn1.Marshal(big.NewInt(1))
	if err != nil {
		t.Fatal(err)
	}
	return f.CRLWith(certtest.CRLOpts{Extensions: []pkix.Extension{{Id: asn1.ObjectIdentifier{2, 5, 29, 27}, Critical: true, Value: base}}})
}
