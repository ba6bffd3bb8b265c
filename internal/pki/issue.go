package pki

import (
	"crypto"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"fmt"
	"path/filepath"
	"slices"
	"time"

	"github.com/tlsvpn/tlsvpn/internal/ipblocks"
)

// Issue creates NAME.key and NAME.pem: a certificate for name, with name
// as its CommonName and DNS SAN, made to p (a node's, or with groups a
// client's). It refuses to replace an existing NAME.pem or NAME.key unless
// force; a replaced certificate is not revoked.
func Issue(o Options, name string, p Profile, force bool) error {
	if err := checkIssueArgs(name, p); err != nil {
		return fmt.Errorf("pki issue: %w", err)
	}
	c, err := openCA(o)
	if err != nil {
		return fmt.Errorf("pki issue: %w", err)
	}
	defer c.unlock()
	if !force {
		if err := c.refuseExisting(name); err != nil {
			return fmt.Errorf("pki issue: %w", err)
		}
	}
	if err := c.issue(o.now(), name, p); err != nil {
		return fmt.Errorf("pki issue: %w", err)
	}
	return nil
}

// Renew gives name a new certificate with the lifetime, routes and groups
// of its current one: with a new key, or, when the CA signed a request for
// it (Sign), for the same public key, since the CA never held the private
// one. The old certificate is not revoked: it keeps working until it
// expires, so nodes can switch over. A revoked name is refused; issue it
// anew with Issue and force.
func Renew(o Options, name string) error {
	return withCurrent(o, "renew", name, "; use tlsvpn pki issue "+name, func(c *ca, r *record) error {
		if r.RevokedAt != nil {
			return errorf(ErrRevoked, "%s was revoked at %s; issue a new certificate with tlsvpn pki issue %s --force",
				name, r.RevokedAt.Format(time.RFC3339), name)
		}
		if !r.FromRequest {
			return c.issue(o.now(), name, r.profile())
		}
		cert, err := c.currentCert(r)
		if err != nil {
			return err
		}
		return c.signKey(o.now(), name, r.profile(), cert.PublicKey)
	})
}

// checkIssueArgs checks a name and what its certificate is for.
func checkIssueArgs(name string, p Profile) error {
	if err := ValidateName(name); err != nil {
		return err
	}
	return checkProfile(p)
}

func checkProfile(p Profile) error {
	if err := validateDays(p.Days); err != nil {
		return err
	}
	for _, r := range p.Routes {
		if !r.IsValid() {
			return errorf(ErrInvalidArgument, "invalid route %v", r)
		}
		if r.Masked() != r {
			return errorf(ErrInvalidArgument, "route %s has host bits set (did you mean %s?)", r, r.Masked())
		}
	}
	if p.Client() && len(p.Routes) > 0 {
		return errorf(ErrInvalidArgument, "--route and --group do not go together: a client (--group) routes nothing of its own; "+
			"its hub leases its address and pushes its routes, and the hub's [[group]] allow lists say what it may reach")
	}
	return checkGroups(p.Groups)
}

// refuseExisting returns ErrExists when name has a certificate or key file.
func (c *ca) refuseExisting(name string) error {
	for _, f := range []string{name + ".pem", name + ".key"} {
		if exists(filepath.Join(c.dir, f)) {
			return errorf(ErrExists, "%s exists in %s; use --force to replace it", f, c.dir)
		}
	}
	return nil
}

// issue makes a new key for name, signs its certificate made to p, writes
// both and records the certificate as name's current one.
func (c *ca) issue(now time.Time, name string, p Profile) error {
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return fmt.Errorf("generate key: %w", err)
	}
	der, rec, err := c.certificate(now, name, p, key.Public())
	if err != nil {
		return err
	}
	keyPEM, err := encodeKey(key)
	if err != nil {
		return err
	}
	if err := writeFile(filepath.Join(c.dir, name+".key"), keyPEM, keyMode); err != nil {
		return err
	}
	return c.install(now, rec, der)
}

// certificate signs a certificate for name, made to p, over the public key
// pub, and returns it with the record the index keeps of it. Nothing is
// written.
func (c *ca) certificate(now time.Time, name string, p Profile, pub crypto.PublicKey) ([]byte, record, error) {
	notAfter := now.AddDate(0, 0, p.Days)
	if notAfter.After(c.cert.NotAfter) {
		left := int(c.cert.NotAfter.Sub(now).Hours() / 24)
		return nil, record{}, errorf(ErrInvalidArgument, "a %d-day certificate would outlive the CA, which expires %s; use --days %d or less",
			p.Days, c.cert.NotAfter.Format(time.DateOnly), max(left, 0))
	}
	tmpl, err := leafTemplate(name, p, now, notAfter)
	if err != nil {
		return nil, record{}, err
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, c.cert, pub, c.key)
	if err != nil {
		return nil, record{}, fmt.Errorf("sign certificate of %s: %w", name, err)
	}
	rec := record{Name: name, Serial: serialHex(tmpl.SerialNumber), NotBefore: tmpl.NotBefore, NotAfter: notAfter,
		Days: p.Days, Routes: slices.Clone(p.Routes), Groups: slices.Clone(p.Groups)}
	return der, rec, nil
}

// install writes the certificate der as NAME.pem and records it, rec, as
// the current certificate of its name.
func (c *ca) install(now time.Time, rec record, der []byte) error {
	if err := writeFile(filepath.Join(c.dir, rec.Name+".pem"), encodeCert(der), publicMode); err != nil {
		return err
	}
	if old := c.index.current(rec.Name); old != nil {
		old.ReplacedAt = &now
	}
	c.index.Certs = append(c.index.Certs, rec)
	return c.index.save(c.dir)
}

// currentCert reads NAME.pem and checks that it is the certificate r
// records, so that nothing is done with a file replaced by hand.
func (c *ca) currentCert(r *record) (*x509.Certificate, error) {
	path := filepath.Join(c.dir, r.Name+".pem")
	cert, err := readCert(path)
	if err != nil {
		return nil, err
	}
	if serialHex(cert.SerialNumber) != r.Serial {
		return nil, fmt.Errorf("%s has serial %s, but the CA's current certificate of %s is serial %s (%s); restore that file, or issue %s anew",
			path, serialHex(cert.SerialNumber), r.Name, r.Serial, indexFile, r.Name)
	}
	return cert, nil
}

// leafTemplate returns the certificate template of a node or, with
// groups, of a client.
func leafTemplate(name string, p Profile, now, notAfter time.Time) (*x509.Certificate, error) {
	serial, err := newSerial()
	if err != nil {
		return nil, err
	}
	tmpl := &x509.Certificate{
		SerialNumber:          serial,
		Subject:               pkix.Name{CommonName: name},
		DNSNames:              []string{name},
		NotBefore:             now.Add(-backdate),
		NotAfter:              notAfter,
		KeyUsage:              x509.KeyUsageDigitalSignature,
		ExtKeyUsage:           []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth, x509.ExtKeyUsageClientAuth},
		BasicConstraintsValid: true,
		SignatureAlgorithm:    x509.ECDSAWithSHA256,
	}
	if p.Client() {
		// A client dials its hub and never listens.
		tmpl.ExtKeyUsage = []x509.ExtKeyUsage{x509.ExtKeyUsageClientAuth}
		if tmpl.RawSubject, err = clientSubject(name, p.Groups); err != nil {
			return nil, err
		}
	}
	if len(p.Routes) > 0 {
		blocks, err := ipblocks.Marshal(p.Routes)
		if err != nil {
			return nil, errorf(ErrInvalidArgument, "%v", err)
		}
		tmpl.ExtraExtensions = []pkix.Extension{{Id: ipblocks.OID, Critical: true, Value: blocks}}
	}
	return tmpl, nil
}
