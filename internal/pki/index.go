package pki

import (
	"bytes"
	"cmp"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"math/big"
	"net/netip"
	"os"
	"path/filepath"
	"slices"
	"time"
)

// indexVersion is the version of index.json this code reads and writes.
const indexVersion = 1

// index is the content of index.json: the CA's memory of what it signed.
type index struct {
	Version   int      `json:"version"`
	CRLNumber int64    `json:"crl_number"` // number of the last CRL written
	Certs     []record `json:"certs"`      // in order of issue
}

// record is one certificate the CA issued.
type record struct {
	Name        string         `json:"name"`
	Serial      string         `json:"serial"` // lowercase hex
	NotBefore   time.Time      `json:"not_before"`
	NotAfter    time.Time      `json:"not_after"`
	Days        int            `json:"days"` // lifetime asked for; renew reuses it
	Routes      []netip.Prefix `json:"routes,omitempty"`
	Groups      []string       `json:"groups,omitempty"`       // a client's OUs
	FromRequest bool           `json:"from_request,omitempty"` // signed from a request: no NAME.key here
	ReplacedAt  *time.Time     `json:"replaced_at,omitempty"`  // set by renew or issue --force
	RevokedAt   *time.Time     `json:"revoked_at,omitempty"`
}

// profile returns what the certificate of r is for; renew issues the same.
func (r *record) profile() Profile {
	return Profile{Days: r.Days, Routes: r.Routes, Groups: r.Groups}
}

func (r *record) serial() *big.Int {
	n, _ := new(big.Int).SetString(r.Serial, 16)
	return n
}

// current returns the record of name's certificate in NAME.pem, or nil.
func (x *index) current(name string) *record {
	for i := range x.Certs {
		if r := &x.Certs[i]; r.Name == name && r.ReplacedAt == nil {
			return r
		}
	}
	return nil
}

// loadIndex reads index.json from dir.
func loadIndex(dir string) (*index, error) {
	path := filepath.Join(dir, indexFile)
	data, err := os.ReadFile(path)
	if errors.Is(err, fs.ErrNotExist) {
		return nil, fmt.Errorf("%s missing: %s holds no tlsvpn CA, or it was damaged", path, dir)
	}
	if err != nil {
		return nil, err
	}
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.DisallowUnknownFields()
	var x index
	if err := dec.Decode(&x); err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	if x.Version != indexVersion {
		return nil, fmt.Errorf("%s: version %d, this tlsvpn reads version %d", path, x.Version, indexVersion)
	}
	for _, r := range x.Certs {
		if r.serial() == nil {
			return nil, fmt.Errorf("%s: certificate %q has a bad serial %q", path, r.Name, r.Serial)
		}
	}
	return &x, nil
}

// save writes x to dir/index.json.
func (x *index) save(dir string) error {
	data, err := json.MarshalIndent(x, "", "  ")
	if err != nil {
		return fmt.Errorf("encode %s: %w", indexFile, err)
	}
	return writeFile(filepath.Join(dir, indexFile), append(data, '\n'), publicMode)
}

// List returns every certificate the CA in o.Dir has issued, sorted by name
// and then by date of issue. It takes no lock: files are replaced atomically.
func List(o Options) ([]Entry, error) {
	if err := checkCA(o.Dir); err != nil {
		return nil, fmt.Errorf("pki list: %w", err)
	}
	x, err := loadIndex(o.Dir)
	if err != nil {
		return nil, fmt.Errorf("pki list: %w", err)
	}
	recs := slices.Clone(x.Certs)
	slices.SortStableFunc(recs, func(a, b record) int {
		return cmp.Or(cmp.Compare(a.Name, b.Name), a.NotBefore.Compare(b.NotBefore))
	})
	out := make([]Entry, 0, len(recs))
	for _, r := range recs {
		e := Entry{Name: r.Name, Serial: r.serial(), NotAfter: r.NotAfter, Routes: r.Routes, Groups: r.Groups,
			Current: r.ReplacedAt == nil, Revoked: r.RevokedAt != nil, FromRequest: r.FromRequest}
		if e.Revoked {
			e.RevokedAt = *r.RevokedAt
		}
		out = append(out, e)
	}
	return out, nil
}
