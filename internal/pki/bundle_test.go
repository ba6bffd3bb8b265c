package pki

import (
	"archive/tar"
	"compress/gzip"
	"crypto/elliptic"
	"crypto/x509"
	"errors"
	"io"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/tlsvpn/tlsvpn/config"
	"github.com/tlsvpn/tlsvpn/internal/trust"
)

// tarFile is one member of a bundle as read back.
type tarFile struct {
	name     string
	mode     int64
	typ      byte
	uid, gid int
	data     []byte
}

// readBundle returns the members of the bundle at path, gunzipped when gz.
func readBundle(t *testing.T, path string, gz bool) []tarFile {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	var r io.Reader = f
	if gz {
		zr, err := gzip.NewReader(f)
		if err != nil {
			t.Fatalf("%s is not gzip: %v", path, err)
		}
		r = zr
	}
	var out []tarFile
	tr := tar.NewReader(r)
	for {
		h, err := tr.Next()
		if err == io.EOF {
			return out
		}
		if err != nil {
			t.Fatalf("read %s: %v", path, err)
		}
		data, err := io.ReadAll(tr)
		if err != nil {
			t.Fatal(err)
		}
		out = append(out, tarFile{h.Name, h.Mode, h.Typeflag, h.Uid, h.Gid, data})
	}
}

// unpack writes the members into dir with their modes, as tar -x does, and
// returns the path of the client's configuration.
func unpack(t *testing.T, files []tarFile, dir, name string) string {
	t.Helper()
	for _, f := range files {
		path := filepath.Join(dir, f.name)
		var err error
		if f.typ == tar.TypeDir {
			err = os.Mkdir(path, os.FileMode(f.mode))
		} else {
			err = os.WriteFile(path, f.data, os.FileMode(f.mode))
		}
		if err != nil {
			t.Fatal(err)
		}
	}
	return filepath.Join(dir, name, name+".toml")
}

// loadClient runs the checks of tlsvpn check on the configuration at path.
func loadClient(t *testing.T, path string) *config.Config {
	t.Helper()
	cfg, warnings, err := config.Load(path)
	if err != nil {
		t.Fatalf("tlsvpn check of the unpacked bundle:\n%v", err)
	}
	if len(warnings) > 0 {
		t.Errorf("tlsvpn check warns: %v", warnings)
	}
	return cfg
}

func TestBundleUnpacksToAClientThatPassesCheck(t *testing.T) {
	for _, out := range []string{"alice.tar", "alice.tar.gz", "alice.tgz"} {
		t.Run(out, func(t *testing.T) {
			o, _ := newCA(t)
			mustIssue(t, o, "hq")
			mustIssueClient(t, o, "alice", "admins")
			path := filepath.Join(t.TempDir(), out)
			done, err := Bundle(o, "alice", BundleOptions{Hub: "HQ", Endpoint: "vpn.example.com:4433", Out: path})
			if err != nil {
				t.Fatal(err)
			}
			if fi, err := os.Stat(path); err != nil || fi.Mode().Perm() != 0o600 {
				t.Errorf("the bundle: %v, mode %v; want mode 0600", err, fi.Mode().Perm())
			}
			files := readBundle(t, path, out != "alice.tar")
			want := []tarFile{
				{name: "alice/", mode: 0o700, typ: tar.TypeDir},
				{name: "alice/alice.toml", mode: 0o644, typ: tar.TypeReg},
				{name: "alice/ca.pem", mode: 0o644, typ: tar.TypeReg, data: readFile(t, o, "ca.pem")},
				{name: "alice/alice.pem", mode: 0o644, typ: tar.TypeReg, data: readFile(t, o, "alice.pem")},
				{name: "alice/alice.key", mode: 0o600, typ: tar.TypeReg, data: readFile(t, o, "alice.key")},
				{name: "alice/crl.pem", mode: 0o644, typ: tar.TypeReg, data: readFile(t, o, "crl.pem")},
			}
			if len(files) != len(want) {
				t.Fatalf("the bundle holds %d files, want %d", len(files), len(want))
			}
			for i, f := range files {
				w := want[i]
				if f.name != w.name || f.mode != w.mode || f.typ != w.typ || f.uid != 0 || f.gid != 0 || w.data != nil && string(f.data) != string(w.data) {
					t.Errorf("member %d: %s mode %04o type %c owner %d:%d; want %s mode %04o type %c owner 0:0 with the CA's file",
						i, f.name, f.mode, f.typ, f.uid, f.gid, w.name, w.mode, w.typ)
				}
			}
			var names []string
			for _, f := range files {
				names = append(names, f.name)
			}
			if !slices.Equal(done.Files, names) {
				t.Errorf("Bundle reports files %v, the tar holds %v", done.Files, names)
			}
			if crl := readCRL(t, o); !done.CRLUpdate.Equal(crl.NextUpdate) {
				t.Errorf("Bundle reports the CRL's next update %v, want %v", done.CRLUpdate, crl.NextUpdate)
			}
			cfg := loadClient(t, unpack(t, files, t.TempDir(), "alice"))
			if p := cfg.Peers; cfg.Name != "alice" || !cfg.IsClient() || len(p) != 1 || p[0].Name != "hq" || p[0].Endpoint != "vpn.example.com:4433" {
				t.Errorf("the client config: name %q, peers %+v; want alice dialing hq at vpn.example.com:4433", cfg.Name, p)
			}
			if !strings.HasPrefix(string(files[1].data), "# tlsvpn remote-access client alice of the hub hq") {
				t.Errorf("the config does not start with its header:\n%s", files[1].data)
			}
		})
	}
}

func TestBundleOfASignedClient(t *testing.T) {
	o, _ := newCA(t)
	mustIssue(t, o, "hq")
	admin := t.TempDir()
	key := newECKey(t, elliptic.P256())
	keyPEM, err := encodeKey(key)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(admin, "bob.key"), keyPEM, 0o600); err != nil {
		t.Fatal(err)
	}
	req := writeRequest(t, requestPEM(t, key, &x509.CertificateRequest{DNSNames: []string{"bob"}}))
	if _, err := Sign(o, req, Profile{Days: 30, Groups: []string{"admins"}}, false); err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(t.TempDir(), "bob.tar")
	b := BundleOptions{Hub: "hq", Endpoint: "198.18.0.1:4433", Out: path}
	if _, err := Bundle(o, "bob", b); !errors.Is(err, ErrNoKey) || !strings.Contains(err.Error(), "--no-key") {
		t.Fatalf("a bundle of a signed client with its key = %v, want ErrNoKey pointing at --no-key", err)
	}
	b.NoKey = true
	if _, err := Bundle(o, "bob", b); err != nil {
		t.Fatal(err)
	}
	files := readBundle(t, path, false)
	if slices.ContainsFunc(files, func(f tarFile) bool { return strings.HasSuffix(f.name, ".key") }) {
		t.Error("the --no-key bundle holds a key")
	}
	if !strings.Contains(string(files[1].data), "bob.key is not in the bundle") {
		t.Errorf("the config does not say where the key goes:\n%s", files[1].data)
	}
	unpacked := t.TempDir()
	cfgPath := unpack(t, files, unpacked, "bob")
	if _, _, err := config.Load(cfgPath); err == nil || !strings.Contains(err.Error(), "tls.key") {
		t.Errorf("check without the key = %v, want a problem at tls.key", err)
	}
	if err := os.Rename(filepath.Join(admin, "bob.key"), filepath.Join(unpacked, "bob", "bob.key")); err != nil {
		t.Fatal(err)
	}
	loadClient(t, cfgPath)
}

// TestBundleWithASeparateClientCA follows the recipe of docs/pki.md: the
// hub's certificate comes from the site CA, the clients' from their own
// CA, named by the hub's [remote_access] ca.
func TestBundleWithASeparateClientCA(t *testing.T) {
	site, _ := newCA(t)
	clients, _ := newCA(t)
	mustIssue(t, site, "hq")
	mustIssueClient(t, clients, "alice", "admins")
	path := filepath.Join(t.TempDir(), "alice.tar")
	b := BundleOptions{Hub: "hq", Endpoint: "198.18.0.1:4433", Out: path, HubPKI: site.Dir}
	if _, err := Bundle(clients, "alice", b); err != nil {
		t.Fatal(err)
	}
	cfg := loadClient(t, unpack(t, readBundle(t, path, false), t.TempDir(), "alice"))

	// The client verifies the hub; the hub verifies the client against its
	// clients' CA only.
	hq := loadCert(t, filepath.Join(site.Dir, "hq.pem"))
	if err := verifyAs(cfg.Credentials, trust.Peers, x509.ExtKeyUsageServerAuth, hq); err != nil {
		t.Errorf("the client refuses the hub: %v", err)
	}
	alice := loadCert(t, filepath.Join(clients.Dir, "alice.pem"))
	hub := hubCredentials(t, site, clients, "hq")
	if err := verifyAs(hub, trust.Clients, x509.ExtKeyUsageClientAuth, alice); err != nil {
		t.Errorf("the hub refuses the client: %v", err)
	}
	if err := verifyAs(hub, trust.Peers, x509.ExtKeyUsageClientAuth, alice); trust.ReasonOf(err) != trust.ReasonUnknownAuthority {
		t.Errorf("the client as a site peer = %v, want %q", err, trust.ReasonUnknownAuthority)
	}
}

func TestBundleRefuses(t *testing.T) {
	o, clk := newCA(t)
	mustIssue(t, o, "hq")
	mustIssue(t, o, "office-a")
	mustIssueClient(t, o, "alice", "admins")
	mustIssueClient(t, o, "mallory", "admins")
	if err := Revoke(o, "mallory"); err != nil {
		t.Fatal(err)
	}
	good := BundleOptions{Hub: "hq", Endpoint: "vpn.example.com:4433"}
	tests := []struct {
		name   string
		client string
		edit   func(*BundleOptions)
		want   error
		says   string
	}{
		{"a node certificate", "office-a", func(*BundleOptions) {}, ErrNotClient, "--group"},
		{"a revoked client", "mallory", func(*BundleOptions) {}, ErrRevoked, "revoked"},
		{"a name never issued", "zoe", func(*BundleOptions) {}, ErrUnknownName, "never issued"},
		{"a hub with a bad name", "alice", func(b *BundleOptions) { b.Hub = "hq_1" }, ErrInvalidArgument, "--hub"},
		{"the client as its own hub", "alice", func(b *BundleOptions) { b.Hub = "alice" }, ErrInvalidArgument, "own name"},
		{"an endpoint without a port", "alice", func(b *BundleOptions) { b.Endpoint = "vpn.example.com" }, ErrInvalidArgument, "--endpoint"},
		{"an endpoint that cannot be dialed", "alice", func(b *BundleOptions) { b.Endpoint = "0.0.0.0:4433" }, ErrInvalidArgument, "cannot be dialed"},
		{"the hub's CA in the client's own directory", "alice", func(b *BundleOptions) { b.HubPKI = o.Dir }, ErrInvalidArgument, "leave --hub-pki out"},
		{"a hub CA directory without a CA", "alice", func(b *BundleOptions) { b.HubPKI = t.TempDir() }, os.ErrNotExist, "ca.pem"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			b := good
			tt.edit(&b)
			b.Out = filepath.Join(t.TempDir(), "out.tar")
			_, err := Bundle(o, tt.client, b)
			if err == nil || tt.want != nil && !errors.Is(err, tt.want) || !strings.Contains(err.Error(), tt.says) {
				t.Errorf("Bundle = %v, want %v saying %q", err, tt.want, tt.says)
			}
			if _, err := os.Stat(b.Out); !errors.Is(err, os.ErrNotExist) {
				t.Errorf("a refused bundle was written: %v", err)
			}
		})
	}
	t.Run("a CRL past its next update", func(t *testing.T) {
		clk.t = clk.t.AddDate(0, 0, DefaultCRLDays+1)
		b := good
		b.Out = filepath.Join(t.TempDir(), "out.tar")
		if _, err := Bundle(o, "alice", b); err == nil || !strings.Contains(err.Error(), "tlsvpn pki crl") {
			t.Errorf("Bundle with a stale CRL = %v, want a refusal that says to re-sign it", err)
		}
	})
}
