package pki

import (
	"archive/tar"
	"bytes"
	"compress/gzip"
	"fmt"
	"io"
	"path"
	"slices"
	"strings"
	"time"
)

// File modes inside a bundle: the folder and the key are the owner's only.
const (
	bundleDirMode  = 0o700
	bundleFileMode = 0o644
	bundleKeyMode  = 0o600
	bundleMode     = 0o600 // the bundle itself, which holds a key
)

// gzipSuffixes are the endings of a bundle's name that ask for gzip.
var gzipSuffixes = []string{".gz", ".tgz"}

// member is one file of a bundle.
type member struct {
	name string
	data []byte
	mode int64
}

// members lists the bundle's files, in the order of the tar, below the
// folder NAME/.
func (f *clientFiles) members(now time.Time) []member {
	ms := []member{
		{f.name + ".toml", append([]byte(f.header(now)), f.config...), bundleFileMode},
		{caCertFile, f.ca, bundleFileMode},
		{f.name + ".pem", f.cert, bundleFileMode},
	}
	if f.key != nil {
		ms = append(ms, member{f.name + ".key", f.key, bundleKeyMode})
	}
	return append(ms, member{crlFile, f.crl, bundleFileMode})
}

// write writes the bundle to out atomically, mode 0600.
func (f *clientFiles) write(now time.Time, out string) (*Bundled, error) {
	var buf bytes.Buffer
	var w io.Writer = &buf
	var zw *gzip.Writer
	if slices.ContainsFunc(gzipSuffixes, func(x string) bool { return strings.HasSuffix(out, x) }) {
		zw = gzip.NewWriter(&buf)
		w = zw
	}
	done := &Bundled{CRLUpdate: f.crlUpdate}
	tw := tar.NewWriter(w)
	hdr := func(name string, typ byte, mode, size int64) *tar.Header {
		// Owned by root (uid and gid 0, no names), as the node that
		// unpacks it runs as root.
		return &tar.Header{Name: name, Typeflag: typ, Mode: mode, Size: size, ModTime: now}
	}
	dir := f.name + "/"
	if err := tw.WriteHeader(hdr(dir, tar.TypeDir, bundleDirMode, 0)); err != nil {
		return nil, fmt.Errorf("write %s: %w", out, err)
	}
	done.Files = append(done.Files, dir)
	for _, m := range f.members(now) {
		name := path.Join(dir, m.name)
		if err := tw.WriteHeader(hdr(name, tar.TypeReg, m.mode, int64(len(m.data)))); err != nil {
			return nil, fmt.Errorf("write %s: %w", out, err)
		}
		if _, err := tw.Write(m.data); err != nil {
			return nil, fmt.Errorf("write %s: %w", out, err)
		}
		done.Files = append(done.Files, name)
	}
	if err := tw.Close(); err != nil {
		return nil, fmt.Errorf("write %s: %w", out, err)
	}
	if zw != nil {
		if err := zw.Close(); err != nil {
			return nil, fmt.Errorf("write %s: %w", out, err)
		}
	}
	if err := writeFile(out, buf.Bytes(), bundleMode); err != nil {
		return nil, err
	}
	return done, nil
}
