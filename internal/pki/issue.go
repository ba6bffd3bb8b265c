package pki

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"fmt"
	"net/netip"
	"path/filepath"
	"slices"
	"time"

	"github.com/tlsvpn/tlsvpn/internal/ipblocks"
)

// Issue creates NAME.key and NAME.pem: a certificate for node name, valid
// for days, for TLS server and client use, with name as its CommonName and
// DNS SAN. With routes, it carries them in a critical ipAddrBlocks
// extension. It refuses to replace an existing NAME.pem or NAME.key unless
// force; a replaced certificate is not revoked.
func Issue(o Options, name string, days int, routes []netip.Prefix, force bool) error {
	if err := checkIssueArgs(name, days, routes); err != nil {
		return fmt.Errorf("pki issue: %w", err)
	}
	c, err := openCA(o)
	if err != nil {
		return fmt.Errorf("pki issue: %w", err)
	}
	defer c.unlock()
	if !force {
		for _, f := range []string{name + ".pem", name + ".key"} {
			if exists(filepath.Join(o.Dir, f)) {
				return fmt.Errorf("pki issue: %w", errorf(ErrExists, "%s exists in %s; use --force to replace it", f, o.Dir))
			}
		}
	}
	if err := c.issue(o.now(), name, days, routes); err != nil {
		return fmt.Errorf("pki issue: %w", err)
	}
	return nil
}

// Renew gives node name a new key and certificate with the lifetime and
// routes of its current one. The old certificate is not revoked: it keeps
// working until it expires, so nodes can switch over. A revoked name is
// refused; issue it anew with Issue and force.
func Renew(o Options, name string) error {
	return withCurrent(o, "renew", name, "; use tlsvpn pki issue "+name, func(c *ca, r *record) error {
		if r.RevokedAt != nil {
			return errorf(ErrRevoked, "%s was revoked at %s; issue a new certificate with tlsvpn pki issue %s --force",
				name, r.RevokedAt.Format(time.RFC3339), name)
		}
		return c.issue(o.now(), name, r.Days, r.Routes)
	})
}

func checkIssueArgs(name string, days int, routes []netip.Prefix) error {
	if err := ValidateName(name); err != nil {
		return err
	}
	if err := validateDays(days); err != nil {
		return err
	}
	for _, p := range routes {
		if !p.IsValid() {
			return errorf(ErrInvalidArgument, "invalid route %v", p)
		}
		if p.Masked() != p {
			return errorf(ErrInvalidArgument, "route %s has host bits set (did you mean %s?)", p, p.Masked())
		}
	}
	return nil
}

// issue signs and writes a new certificate for name, and records it as the
// current one in the index.
func (c *ca) issue(now time.Time, name string, days int, routes []netip.Prefix) error {
	notAfter := now.AddDate(0, 0, days)
	if notAfter.After(c.cert.NotAfter) {
		left := int(c.cert.NotAfter.Sub(now).Hours() / 24)
		return errorf(ErrInvalidArgument, "a %d-day certificate would outlive the CA, which expires %s; use --days %d or less", days, c.cert.NotAfter.Format(time.DateOnly), max(left, 0))
	}
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return fmt.Errorf("generate key: %w", err)
	}
	tmpl, err := leafTemplate(name, now, notAfter, routes)
	if err != nil {
		return err
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, c.cert, key.Public(), c.key)
	if err != nil {
		return fmt.Errorf("sign certificate of %s: %w", name, err)
	}
	keyPEM, err := encodeKey(key)
	if err != nil {
		return err
	}
	if err := writeFile(filepath.Join(c.dir, name+".key"), keyPEM, keyMode); err != nil {
		return err
	}
	if err := writeFile(filepath.Join(c.dir, name+".pem"), encodeCert(der), publicMode); err != nil {
		return err
	}
	if old := c.index.current(name); old != nil {
		old.ReplacedAt = &now
	}
	c.index.Certs = append(c.index.Certs, record{
		Name: name, Serial: serialHex(tmpl.SerialNumber), NotBefore: tmpl.NotBefore, NotAfter: notAfter,
		Days: days, Routes: slices.Clone(routes),
	})
	return c.index.save(c.dir)
}

// leafTemplate returns the certificate template of a node.
func leafTemplate(name string, now, notAfter time.Time, routes []netip.Prefix) (*x509.Certificate, error) {
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
	if len(routes) > 0 {
		blocks, err := ipblocks.Marshal(routes)
		if err != nil {
			return nil, errorf(ErrInvalidArgument, "%v", err)
		}
		tmpl.ExtraExtensions = []pkix.Extension{{Id: ipblocks.OID, Critical: true, Value: blocks}}
	}
	return tmpl, nil
}
