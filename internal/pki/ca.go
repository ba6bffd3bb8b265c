package pki

import (
	"crypto"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"fmt"
	"math/big"
	"net/netip"
	"os"
	"path/filepath"

	"github.com/tlsvpn/tlsvpn/internal/ipblocks"
)

// allAddresses is the ipAddrBlocks of the CA: every address, so that the
// blocks of any node certificate nest inside it (RFC 3779 path validation,
// which OpenSSL applies).
var allAddresses = []netip.Prefix{netip.MustParsePrefix("0.0.0.0/0"), netip.MustParsePrefix("::/0")}

// ca is a loaded CA with the state of its directory, locked.
type ca struct {
	dir    string
	cert   *x509.Certificate
	key    crypto.Signer
	index  *index
	unlock func()
}

// Init creates a CA in o.Dir (made 0700 when missing) named name, valid for
// days: ca.key, ca.pem, index.json and an empty crl.pem. It refuses when the
// directory already holds a CA.
func Init(o Options, name string, days int) error {
	if err := validateCAName(name); err != nil {
		return fmt.Errorf("pki init: %w", err)
	}
	if err := validateDays(days); err != nil {
		return fmt.Errorf("pki init: %w", err)
	}
	if err := os.MkdirAll(o.Dir, dirMode); err != nil {
		return fmt.Errorf("pki init: create %s: %w", o.Dir, err)
	}
	unlock, err := lockDir(o.Dir)
	if err != nil {
		return fmt.Errorf("pki init: %w", err)
	}
	defer unlock()
	for _, f := range []string{caKeyFile, caCertFile, indexFile} {
		if exists(filepath.Join(o.Dir, f)) {
			return fmt.Errorf("pki init: %w", errorf(ErrExists, "%s exists in %s; a CA is there already (use another --dir for a new CA)", f, o.Dir))
		}
	}
	c, err := createCA(o, name, days)
	if err != nil {
		return fmt.Errorf("pki init: %w", err)
	}
	if err := c.writeCRL(o.now()); err != nil {
		return fmt.Errorf("pki init: %w", err)
	}
	return nil
}

// createCA makes the CA key and certificate and writes them with a new index.
func createCA(o Options, name string, days int) (*ca, error) {
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return nil, fmt.Errorf("generate CA key: %w", err)
	}
	blocks, err := ipblocks.Marshal(allAddresses)
	if err != nil {
		return nil, err
	}
	now := o.now()
	tmpl := &x509.Certificate{
		Subject:               pkix.Name{CommonName: name},
		NotBefore:             now.Add(-backdate),
		NotAfter:              now.AddDate(0, 0, days),
		KeyUsage:              x509.KeyUsageCertSign | x509.KeyUsageCRLSign,
		BasicConstraintsValid: true,
		IsCA:                  true,
		MaxPathLenZero:        true, // node certificates only, no intermediates
		SignatureAlgorithm:    x509.ECDSAWithSHA256,
		ExtraExtensions:       []pkix.Extension{{Id: ipblocks.OID, Critical: true, Value: blocks}},
	}
	if tmpl.SerialNumber, err = newSerial(); err != nil {
		return nil, err
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, key.Public(), key)
	if err != nil {
		return nil, fmt.Errorf("sign CA certificate: %w", err)
	}
	cert, err := x509.ParseCertificate(der)
	if err != nil {
		return nil, fmt.Errorf("parse CA certificate: %w", err)
	}
	keyPEM, err := encodeKey(key)
	if err != nil {
		return nil, err
	}
	if err := writeFile(filepath.Join(o.Dir, caKeyFile), keyPEM, keyMode); err != nil {
		return nil, err
	}
	if err := writeFile(filepath.Join(o.Dir, caCertFile), encodeCert(der), publicMode); err != nil {
		return nil, err
	}
	return &ca{dir: o.Dir, cert: cert, key: key, index: &index{Version: indexVersion}}, nil
}

// withCurrent runs f, holding the CA of o.Dir locked, on the current
// certificate of name: the command op (named in every error) acts on a
// certificate the CA issued. hint follows the error for a name it never
// issued to.
func withCurrent(o Options, op, name, hint string, f func(c *ca, r *record) error) error {
	if err := ValidateName(name); err != nil {
		return fmt.Errorf("pki %s: %w", op, err)
	}
	c, err := openCA(o)
	if err != nil {
		return fmt.Errorf("pki %s: %w", op, err)
	}
	defer c.unlock()
	r := c.index.current(name)
	if r == nil {
		return fmt.Errorf("pki %s: %w", op, errorf(ErrUnknownName, "the CA in %s never issued a certificate to %q%s", o.Dir, name, hint))
	}
	if err := f(c, r); err != nil {
		return fmt.Errorf("pki %s: %w", op, err)
	}
	return nil
}

// openCA locks o.Dir and loads its CA; the caller must call c.unlock.
func openCA(o Options) (*ca, error) {
	if err := checkCA(o.Dir); err != nil {
		return nil, err
	}
	unlock, err := lockDir(o.Dir)
	if err != nil {
		return nil, err
	}
	c, err := loadCA(o.Dir)
	if err != nil {
		unlock()
		return nil, err
	}
	c.unlock = unlock
	return c, nil
}

func loadCA(dir string) (*ca, error) {
	keyPath := filepath.Join(dir, caKeyFile)
	if err := checkKeyMode(keyPath); err != nil {
		return nil, err
	}
	key, err := readKey(keyPath)
	if err != nil {
		return nil, err
	}
	cert, err := readCert(filepath.Join(dir, caCertFile))
	if err != nil {
		return nil, err
	}
	if pub, ok := key.Public().(interface{ Equal(crypto.PublicKey) bool }); !ok || !pub.Equal(cert.PublicKey) {
		return nil, fmt.Errorf("%s does not match %s", keyPath, filepath.Join(dir, caCertFile))
	}
	x, err := loadIndex(dir)
	if err != nil {
		return nil, err
	}
	return &ca{dir: dir, cert: cert, key: key, index: x}, nil
}

// checkKeyMode refuses a key file that group or others may read.
func checkKeyMode(path string) error {
	fi, err := os.Stat(path)
	if err != nil {
		return err
	}
	if mode := fi.Mode().Perm(); mode&0o077 != 0 {
		return errorf(ErrInsecureKey, "%s has mode %04o; run chmod 600 %s", path, mode, path)
	}
	return nil
}

// checkCA returns ErrNoCA, with the fix, when dir holds no CA key.
func checkCA(dir string) error {
	if !exists(filepath.Join(dir, caKeyFile)) {
		return errorf(ErrNoCA, "no CA in %s (%s missing); create one with: tlsvpn pki init --dir %s", dir, caKeyFile, dir)
	}
	return nil
}

// newSerial returns a random serial number of 128 bits, never zero.
func newSerial() (*big.Int, error) {
	limit := new(big.Int).Lsh(big.NewInt(1), 128)
	for {
		n, err := rand.Int(rand.Reader, limit)
		if err != nil {
			return nil, fmt.Errorf("generate serial: %w", err)
		}
		if n.Sign() > 0 {
			return n, nil
		}
	}
}

// serialHex formats a serial as index.json, `tlsvpn pki list` and `tlsvpn
// status` show it: lowercase hex (openssl prints the same digits in uppercase).
func serialHex(n *big.Int) string {
	return fmt.Sprintf("%x", n)
}
