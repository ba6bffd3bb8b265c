package trust

import (
	"crypto"
	"crypto/tls"
	"crypto/x509"
	"fmt"
	"sync"

	"github.com/tlsvpn/tlsvpn/internal/ipblocks"
)

// Set chooses a set of trust anchors.
type Set int

const (
	// Peers are the anchors of configured peers, [tls] ca; the node's own certificate chains to them.
	Peers Set = iota
	// Clients are the anchors of dial-in clients ([remote_access] ca); empty unless Input.Clients names
	// a file.
	Clients
)

func (s Set) String() string {
	if s == Clients {
		return "client CA"
	}
	return "CA"
}

// Part names one input of Load, so that a problem can be reported against the file (and the
// configuration key) it came from.
type Part int

const (
	PartCA       Part = iota // Input.Peers
	PartClientCA             // Input.Clients
	PartCert                 // Input.Cert
	PartKey                  // Input.Key
	PartCRL                  // Input.CRLs
)

// Problem is one thing wrong with the input of Load.
type Problem struct {
	Part  Part
	Index int    // PartCRL: the index into Input.CRLs, or -1 when the problem is about the CRLs as a whole
	Path  string // the file; "" when Index is -1
	Err   error  // ErrNoPEM, a *BlockError, ErrKeyMismatch, a *CRLError, a *MissingCRLError
}

func (p Problem) Error() string {
	if p.Path == "" {
		return p.Err.Error()
	}
	return fmt.Sprintf("%s: %v", p.Path, p.Err)
}

func (p Problem) Unwrap() error { return p.Err }

// Source is the content of one file, read by the caller (who reports why a file cannot be read).
type Source struct {
	Path string // the file, for messages; "" when the input is not configured
	Data []byte // its content; nil when it could not be read: Load leaves that input out
}

// Input is what Load builds credentials from.
type Input struct {
	Peers   Source   // trust anchors of peers, PEM certificates (required)
	Clients Source   // trust anchors of dial-in clients; Path "" when the node has none
	Cert    Source   // the own certificate, then the intermediate CAs above it, PEM
	Key     Source   // the own private key, PEM
	CRLs    []Source // revocation lists, each file one DER CRL or any number of PEM ones; none: no revocation checks
}

// Credentials are a node's trust anchors, own certificate chain with its key, and revocation lists,
// loaded once. They are immutable (a reload loads new ones) and safe for concurrent use.
type Credentials struct {
	cert    tls.Certificate     // own chain with its key, Leaf set
	chain   []*x509.Certificate // the same chain, parsed, marked for x509 (ipblocks.MarkHandled)
	anchors [2]*anchors         // by Set
	crls    []*CRL              // nil: revocation is not checked, unless crlErr is set
	crlErr  error               // set: CRLs are configured but did not load, and every chain is refused
	sigs    sync.Map            // sigKey -> bool: CRL signatures checked against CAs presented in chains
}

// anchors is one set of trust anchors.
type anchors struct {
	file  string
	certs []*x509.Certificate // marked for x509
	pool  *x509.CertPool
}

func newAnchors(file string, certs []*x509.Certificate) *anchors {
	a := &anchors{file: file, pool: x509.NewCertPool()}
	for _, c := range certs {
		c = ipblocks.MarkHandled(c)
		a.certs = append(a.certs, c)
		a.pool.AddCert(c)
	}
	return a
}

// Load parses the input and checks that its parts fit together: the key belongs to the certificate,
// each CRL is signed by the CA it names (when that CA is a trust anchor or an intermediate of the own
// chain; the CRL of a CA that only peers present is checked against it in Verify), no CA has two CRLs,
// and, when there are CRLs, every trust anchor of both sets has one.
//
// Every problem found is returned. Credentials are returned, even with problems, whenever the trust
// anchors of peers and the own chain parsed, so that Audit can still tell what else is wrong with the
// own certificate; with problems they are for such reports only and must not be used for handshakes.
// The one exception is a problem of the CRLs alone (PartCRL, or a CRL source without Data): then no CRL
// is in force and the credentials fail closed, refusing every chain with ReasonCRLUnavailable
// (CRLUnavailable says why), which is what `tlsvpn up` runs with when its CRL does not load at start.
func Load(in Input) (*Credentials, []Problem) {
	l := &loader{in: in}
	c := &Credentials{}
	c.anchors[Peers] = newAnchors(in.Peers.Path, l.certs(PartCA, in.Peers))
	c.anchors[Clients] = newAnchors(in.Clients.Path, l.certs(PartClientCA, in.Clients))
	if chain := l.certs(PartCert, in.Cert); len(chain) > 0 {
		c.cert = tls.Certificate{Leaf: chain[0]}
		for _, cert := range chain {
			c.cert.Certificate = append(c.cert.Certificate, cert.Raw)
			c.chain = append(c.chain, ipblocks.MarkHandled(cert))
		}
	}
	if key := l.key(); key != nil && c.cert.Leaf != nil {
		c.cert.PrivateKey = key
		l.checkKeyMatch(c.cert.Leaf, key)
	}
	c.crls, c.crlErr = l.crls(c)
	if len(c.anchors[Peers].certs) == 0 || len(c.chain) == 0 {
		return nil, l.probs
	}
	return c, l.probs
}

// loader collects the problems of one Load.
type loader struct {
	in    Input
	probs []Problem
}

func (l *loader) add(part Part, index int, path string, err error) {
	l.probs = append(l.probs, Problem{Part: part, Index: index, Path: path, Err: err})
}

func (l *loader) certs(part Part, src Source) []*x509.Certificate {
	if src.Data == nil {
		return nil
	}
	certs, err := ParseCertificates(src.Data)
	if err != nil {
		l.add(part, 0, src.Path, err)
	}
	return certs
}

func (l *loader) key() crypto.Signer {
	if l.in.Key.Data == nil {
		return nil
	}
	key, err := ParsePrivateKey(l.in.Key.Data)
	if err != nil {
		l.add(PartKey, 0, l.in.Key.Path, err)
	}
	return key
}

// checkKeyMatch refuses a key whose public half is not the certificate's.
func (l *loader) checkKeyMatch(leaf *x509.Certificate, key crypto.Signer) {
	pub, ok := key.Public().(interface{ Equal(crypto.PublicKey) bool })
	if !ok || !pub.Equal(leaf.PublicKey) {
		l.add(PartKey, 0, l.in.Key.Path, ErrKeyMismatch)
	}
}

// Certificate returns the own certificate chain with its private key, for tls.Config.
func (c *Credentials) Certificate() tls.Certificate { return c.cert }

// Chain returns the own certificate, then the intermediate CAs of the cert file. The slice is shared:
// do not modify it.
func (c *Credentials) Chain() []*x509.Certificate { return c.chain }

// Anchors returns the trust anchors of set, as loaded. The slice is shared: do not modify it.
func (c *Credentials) Anchors(set Set) []*x509.Certificate { return c.anchors[set].certs }

// AnchorFile returns the file the anchors of set came from; "" when the set is not configured.
func (c *Credentials) AnchorFile(set Set) string { return c.anchors[set].file }

// CRLs returns the revocation lists in force, in the order of the input; none when revocation is not
// checked or CRLUnavailable is set. The slice is shared: do not modify it.
func (c *Credentials) CRLs() []*CRL { return c.crls }

// CRLUnavailable returns why no CRL is in force although the input names CRLs (a *CRLUnavailableError),
// or nil. While it is set, Verify refuses every chain with ReasonCRLUnavailable.
func (c *Credentials) CRLUnavailable() error { return c.crlErr }
