// Package pki is tlsvpn's built-in certificate authority: one directory
// holding a CA, the certificates it issued to nodes and to remote-access
// clients, their revocation list and a small index (docs/pki.md describes
// the layout). It also signs certificate requests (Sign), so that a key
// never leaves the machine that made it, and packs a client's files into a
// ready-to-run bundle (Bundle).
//
// Layout of Options.Dir:
//
//	ca.pem      CA certificate                        0644
//	ca.key      CA private key (PKCS #8 PEM)          0600
//	crl.pem     CRL signed by the CA                  0644
//	NAME.pem    certificate of node or client NAME    0644
//	NAME.key    private key of NAME (PKCS #8 PEM)     0600
//	index.json  every certificate issued: name, serial, validity, routes,
//	            groups, from-request, replaced-at, revoked-at; and the
//	            number of the last CRL
//
// A name whose certificate Sign made has no NAME.key: its owner holds it.
// Keys the CA makes are ECDSA P-256, signatures ECDSA with SHA-256, serials
// random 128-bit numbers. Each function is one complete command: it takes an
// exclusive lock on the directory (Linux flock), so concurrent commands on
// the same directory run one after another, and replaces files by atomic
// rename.
package pki

import (
	"math/big"
	"net/netip"
	"time"
)

// Default lifetimes, in days. The CRL is short-lived on purpose: a node that
// holds a stale CRL refuses handshakes, so `tlsvpn pki crl` must run (from a
// timer) more often than DefaultCRLDays.
const (
	DefaultCADays   = 3650 // ten years: replacing a CA means touching every node
	DefaultNodeDays = 365  // one year: renew yearly; revoke for anything sooner
	DefaultCRLDays  = 30   // nextUpdate of every CRL written
)

// maxDays bounds every lifetime, keeping dates far from overflow.
const maxDays = 36500

// backdate is how far NotBefore lies before the moment of issue, so that a
// peer whose clock runs a little behind accepts a fresh certificate.
const backdate = 5 * time.Minute

// File names inside Options.Dir.
const (
	caCertFile = "ca.pem"
	caKeyFile  = "ca.key"
	crlFile    = "crl.pem"
	indexFile  = "index.json"
)

// Options says where the CA lives and what time it is.
type Options struct {
	Dir string           // the PKI directory
	Now func() time.Time // the clock; nil means time.Now
}

// now returns the current time in UTC at the precision of X.509 dates.
func (o Options) now() time.Time {
	f := o.Now
	if f == nil {
		f = time.Now
	}
	return f().UTC().Truncate(time.Second)
}

// Profile says what a certificate is for, besides its name and key.
type Profile struct {
	Days int // lifetime in days
	// Routes go into a critical ipAddrBlocks extension: the prefixes a node may route. Not with Groups.
	Routes []netip.Prefix
	// Groups make a client certificate, for remote access: each is an organizationalUnitName of the
	// subject (the hub's [[group]] names), and the only extended key usage is clientAuth. Without
	// groups the certificate is a node's: serverAuth and clientAuth.
	Groups []string
}

// Client reports whether p makes a client certificate.
func (p Profile) Client() bool { return len(p.Groups) > 0 }

// Entry describes one certificate issued by the CA.
type Entry struct {
	Name      string
	Serial    *big.Int
	NotAfter  time.Time
	Routes    []netip.Prefix // its ipAddrBlocks; nil when it has none
	Groups    []string       // a client's groups; nil for a node
	Current   bool           // it is the one in NAME.pem (not replaced by renew or issue --force)
	Revoked   bool
	RevokedAt time.Time // zero unless Revoked
	// FromRequest is set when the CA signed a certificate request (Sign): it never held the key.
	FromRequest bool
}

// Client reports whether e is a client certificate (it has groups).
func (e Entry) Client() bool { return len(e.Groups) > 0 }
