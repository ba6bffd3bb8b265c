package pki

import (
	"crypto"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"time"
)

// maxRequestSize bounds what Sign reads of a request file; a request is a
// few hundred bytes.
const maxRequestSize = 64 << 10

// Sign signs the certificate request (PEM, CERTIFICATE REQUEST) in the
// file path: a certificate made to p for the request's public key, named
// by the request (parseRequest says what it must be), written as NAME.pem.
// No key is written: its owner keeps it. A key file left from an earlier
// certificate of the name is removed, since it no longer matches. Like
// Issue, Sign refuses a name that has a certificate or key unless force.
// It returns the name.
func Sign(o Options, path string, p Profile, force bool) (string, error) {
	if err := checkProfile(p); err != nil {
		return "", fmt.Errorf("pki sign: %w", err)
	}
	data, err := readRequest(path)
	if err != nil {
		return "", fmt.Errorf("pki sign: %w", err)
	}
	req, err := parseRequest(data)
	if err != nil {
		return "", fmt.Errorf("pki sign: %s: %w", path, err)
	}
	c, err := openCA(o)
	if err != nil {
		return "", fmt.Errorf("pki sign: %w", err)
	}
	defer c.unlock()
	if !force {
		if err := c.refuseExisting(req.name); err != nil {
			return "", fmt.Errorf("pki sign: %w", err)
		}
	}
	if err := c.signKey(o.now(), req.name, p, req.key); err != nil {
		return "", fmt.Errorf("pki sign: %w", err)
	}
	return req.name, nil
}

// readRequest reads a request file of at most maxRequestSize bytes.
func readRequest(path string) ([]byte, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	data, err := io.ReadAll(io.LimitReader(f, maxRequestSize+1))
	if err != nil {
		return nil, fmt.Errorf("read %s: %w", path, err)
	}
	if len(data) > maxRequestSize {
		return nil, errorf(ErrBadRequest, "%s is larger than %d bytes; a certificate request is a few hundred", path, maxRequestSize)
	}
	return data, nil
}

// signKey signs a certificate for name, made to p, over a public key whose
// private half the CA does not hold, writes it and records it as name's
// current certificate; then it removes a NAME.key of an earlier one.
func (c *ca) signKey(now time.Time, name string, p Profile, pub crypto.PublicKey) error {
	der, rec, err := c.certificate(now, name, p, pub)
	if err != nil {
		return err
	}
	rec.FromRequest = true
	if err := c.install(now, rec, der); err != nil {
		return err
	}
	stale := filepath.Join(c.dir, name+".key")
	if err := os.Remove(stale); err != nil && !errors.Is(err, fs.ErrNotExist) {
		return fmt.Errorf("remove %s, the key of %s's replaced certificate: %w", stale, name, err)
	}
	return nil
}
