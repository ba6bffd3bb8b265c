package config

import (
	"errors"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
)

// howToCreate says how to make the file at path that key names.
func (c *checker) howToCreate(key, path string) string {
	dir := filepath.Dir(path)
	switch {
	case key == "tls.ca":
		return "create it with: tlsvpn pki init --dir " + dir
	case strings.HasPrefix(key, "tls.crl"):
		return "create it with: tlsvpn pki crl --dir " + dir + ", or remove it from the crl key"
	}
	return "create it with: tlsvpn pki issue " + c.name() + " --dir " + dir
}

// read returns the content of the file at path named by key, or records in rep why it cannot be read.
func (c *checker) read(rep *report, key, path string) ([]byte, bool) {
	st, err := os.Stat(path)
	switch {
	case errors.Is(err, fs.ErrNotExist):
		rep.addf(key, "%s does not exist; %s, or correct the path", path, c.howToCreate(key, path))
		return nil, false
	case err != nil:
		rep.addf(key, "%s cannot be read: %v; fix the path or its folder's permissions", path, reason(err))
		return nil, false
	case st.IsDir():
		rep.addf(key, "%s is a directory; point %s at the PEM file inside it", path, key)
		return nil, false
	}
	data, err := readFile(path)
	if err != nil {
		if errors.Is(err, fs.ErrPermission) {
			rep.addf(key, "%s cannot be read: permission denied; run as root, or give the file to the user running tlsvpn", path)
		} else {
			rep.addf(key, "%s cannot be read: %v; point %s at a readable PEM file", path, reason(err), key)
		}
		return nil, false
	}
	return data, true
}

// checkKeyMode refuses a private key that group or others may read or write.
func (c *checker) checkKeyMode(path string) {
	st, err := os.Stat(path)
	if err != nil {
		return // read reports it
	}
	if mode := st.Mode().Perm(); mode&0o077 != 0 {
		c.errs.addf("tls.key", "%s has mode %04o, so users other than its owner may read the private key; restrict it: chmod 600 %s",
			path, mode, path)
	}
}
