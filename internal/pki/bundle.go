package pki

import (
	"bytes"
	"crypto"
	"crypto/x509"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/tlsvpn/tlsvpn/config"
	"github.com/tlsvpn/tlsvpn/internal/netparse"
	"github.com/tlsvpn/tlsvpn/internal/trust"
)

// BundleOptions say what a client's bundle holds besides the client's own
// files.
type BundleOptions struct {
	Hub      string // the hub's name: a DNS SAN of its certificate
	Endpoint string // host:port where the hub listens
	// HubPKI is the PKI directory of the CA that issued the hub's
	// certificate, when that is not the client's CA (a hub with its own
	// [remote_access] ca): its ca.pem and crl.pem join the bundle's, so
	// that the client can verify the hub. Only those two files are read.
	HubPKI string
	// NoKey leaves NAME.key out: its owner holds it (a certificate signed
	// from a request), or it travels another way.
	NoKey bool
	// Out is the file written: a tar, compressed with gzip when the name
	// ends in .gz or .tgz.
	Out string
}

// Bundled describes a bundle written by Bundle.
type Bundled struct {
	Files []string // the paths inside the tar, in order
	// CRLUpdate is the earliest nextUpdate of the CRLs in crl.pem: the
	// client refuses its hub after it unless it gets a fresh crl.pem.
	CRLUpdate time.Time
}

// Bundle writes b.Out, mode 0600: a tar of the folder NAME/ holding what
// the remote-access client name needs, ready to run once unpacked:
// NAME.toml (config.MarshalClient: its one peer is the hub, at the
// endpoint), ca.pem, NAME.pem, NAME.key (unless b.NoKey) and crl.pem.
// name must have a client certificate (issued or signed with groups),
// current, neither revoked nor expired, and, unless b.NoKey, its key in
// o.Dir. The files are checked as `tlsvpn check` checks them before
// anything is written.
func Bundle(o Options, name string, b BundleOptions) (*Bundled, error) {
	if err := checkBundleArgs(name, &b); err != nil {
		return nil, fmt.Errorf("pki bundle: %w", err)
	}
	var out *Bundled
	err := withCurrent(o, "bundle", name, "", func(c *ca, r *record) error {
		now := o.now()
		files, err := c.clientFiles(now, r, b)
		if err != nil {
			return err
		}
		out, err = files.write(now, b.Out)
		return err
	})
	return out, err
}

// checkBundleArgs checks the hub's name and endpoint, and writes the name
// in the canonical form.
func checkBundleArgs(name string, b *BundleOptions) error {
	if err := ValidateName(name); err != nil {
		return err
	}
	if err := netparse.NodeName(b.Hub); err != nil {
		return errorf(ErrInvalidArgument, "--hub: %v", err)
	}
	b.Hub = netparse.CanonicalName(b.Hub)
	if b.Hub == name {
		return errorf(ErrInvalidArgument, "--hub %s is the client's own name; name the hub the client dials", b.Hub)
	}
	if err := config.CheckEndpoint(b.Endpoint); err != nil {
		return errorf(ErrInvalidArgument, "--endpoint: %v", err)
	}
	return nil
}

// clientFiles are the contents of a bundle.
type clientFiles struct {
	name, hub, endpoint string
	config              []byte // without its header
	ca, cert, crl       []byte
	key                 []byte // nil: left out
	crlUpdate           time.Time
}

// clientFiles gathers and checks the files of the client r.
func (c *ca) clientFiles(now time.Time, r *record, b BundleOptions) (*clientFiles, error) {
	if err := checkBundleable(now, r, c.dir); err != nil {
		return nil, err
	}
	cert, err := c.currentCert(r)
	if err != nil {
		return nil, err
	}
	f := &clientFiles{name: r.Name, hub: b.Hub, endpoint: b.Endpoint, cert: encodeCert(cert.Raw)}
	if !b.NoKey {
		if f.key, err = c.clientKey(r, cert); err != nil {
			return nil, err
		}
	}
	if f.ca, f.crl, err = c.anchors(b.HubPKI); err != nil {
		return nil, err
	}
	if f.crlUpdate, err = checkClientFiles(now, f); err != nil {
		return nil, err
	}
	f.config, err = config.MarshalClient(config.ClientFile{Name: r.Name, Hub: b.Hub, Endpoint: b.Endpoint,
		CA: caCertFile, Cert: r.Name + ".pem", Key: r.Name + ".key", CRL: crlFile})
	if err != nil {
		return nil, fmt.Errorf("write the configuration of %s: %w", r.Name, err)
	}
	return f, nil
}

// checkBundleable refuses a certificate that is not a current client's.
func checkBundleable(now time.Time, r *record, dir string) error {
	switch {
	case len(r.Groups) == 0:
		return errorf(ErrNotClient, "%s has a node certificate (issued without --group); a bundle is for a remote-access client: "+
			"issue it a client certificate with tlsvpn pki issue %s --dir %s --group GROUP --force", r.Name, r.Name, dir)
	case r.RevokedAt != nil:
		return errorf(ErrRevoked, "%s was revoked at %s; issue it a new certificate with tlsvpn pki issue %s --group GROUP --force",
			r.Name, r.RevokedAt.Format(time.RFC3339), r.Name)
	case now.After(r.NotAfter):
		return fmt.Errorf("the certificate of %s expired at %s; renew it first: tlsvpn pki renew %s --dir %s",
			r.Name, r.NotAfter.Format(time.RFC3339), r.Name, dir)
	}
	return nil
}

// clientKey reads NAME.key and checks that it belongs to cert.
func (c *ca) clientKey(r *record, cert *x509.Certificate) ([]byte, error) {
	path := filepath.Join(c.dir, r.Name+".key")
	if r.FromRequest || !exists(path) {
		return nil, errorf(ErrNoKey, "%s is not in %s: the key of %s stays with whoever made its certificate request; "+
			"make the bundle with --no-key, and have them put %s.key beside %s.toml", r.Name+".key", c.dir, r.Name, r.Name, r.Name)
	}
	if err := checkKeyMode(path); err != nil {
		return nil, err
	}
	key, err := readKey(path)
	if err != nil {
		return nil, err
	}
	if pub, ok := key.Public().(interface{ Equal(crypto.PublicKey) bool }); !ok || !pub.Equal(cert.PublicKey) {
		return nil, fmt.Errorf("%s does not belong to %s; issue both anew: tlsvpn pki issue %s --group GROUP --force", path, r.Name+".pem", r.Name)
	}
	return os.ReadFile(path)
}

// anchors returns the bundle's ca.pem and crl.pem: the CA's own, after
// those of the hub's CA in hubPKI when set.
func (c *ca) anchors(hubPKI string) (ca, crl []byte, err error) {
	read := func(dir string) (ca, crl []byte, err error) {
		if ca, err = os.ReadFile(filepath.Join(dir, caCertFile)); err != nil {
			return nil, nil, err
		}
		crl, err = os.ReadFile(filepath.Join(dir, crlFile))
		return ca, crl, err
	}
	ca, crl, err = read(c.dir)
	if err != nil || hubPKI == "" {
		return ca, crl, err
	}
	hubCA, hubCRL, err := read(hubPKI)
	if err != nil {
		return nil, nil, fmt.Errorf("--hub-pki: %w", err)
	}
	if bytes.Equal(hubCA, ca) {
		return nil, nil, errorf(ErrInvalidArgument, "--hub-pki %s holds the CA of %s; leave --hub-pki out when one CA issues the hub's and the client's certificates", hubPKI, c.dir)
	}
	return append(hubCA, ca...), append(hubCRL, crl...), nil
}

// checkClientFiles runs on the bundle's files the checks `tlsvpn check`
// runs on the client's (the configuration is checked by
// config.MarshalClient): they load together, the certificate passes every
// rule the hub applies to a client's, on the client's side of the CAs,
// and no CRL is past its next update. It returns the earliest next update.
func checkClientFiles(now time.Time, f *clientFiles) (time.Time, error) {
	in := trust.Input{Peers: trust.Source{Path: caCertFile, Data: f.ca}, Cert: trust.Source{Path: f.name + ".pem", Data: f.cert},
		CRLs: []trust.Source{{Path: crlFile, Data: f.crl}}}
	if f.key != nil {
		in.Key = trust.Source{Path: f.name + ".key", Data: f.key}
	}
	creds, probs := trust.Load(in)
	if len(probs) > 0 {
		return time.Time{}, fmt.Errorf("the bundle's files do not fit together: %w", probs[0])
	}
	if _, err := creds.Verify(creds.Chain(), trust.Check{Set: trust.Peers, Now: now,
		Usages: []x509.ExtKeyUsage{x509.ExtKeyUsageClientAuth}}); err != nil {
		return time.Time{}, fmt.Errorf("the certificate of %s would be refused: %w", f.name, err)
	}
	var first time.Time
	for _, l := range creds.CRLs() {
		if l.Stale(now) {
			return time.Time{}, fmt.Errorf("%s is past its next update; re-sign it first (tlsvpn pki crl --dir DIR)", l.Where())
		}
		if next := l.NextUpdate; first.IsZero() || next.Before(first) {
			first = next
		}
	}
	return first, nil
}

// header is the comment at the top of the bundle's configuration.
func (f *clientFiles) header(now time.Time) string {
	var b strings.Builder
	fmt.Fprintf(&b, "# tlsvpn remote-access client %s of the hub %s at %s,\n", f.name, f.hub, f.endpoint)
	fmt.Fprintf(&b, "# written by tlsvpn pki bundle on %s.\n", now.Format(time.DateOnly))
	fmt.Fprintf(&b, "# Check it with: tlsvpn check -c %s.toml; start it (as root) with: tlsvpn up -c %s.toml\n", f.name, f.name)
	fmt.Fprintf(&b, "# crl.pem must be replaced by a fresh one from the CA before %s.\n", f.crlUpdate.UTC().Format(time.DateOnly))
	if f.key == nil {
		fmt.Fprintf(&b, "# %s.key is not in the bundle: put the key beside this file, mode 0600.\n", f.name)
	}
	return b.String() + "\n"
}
