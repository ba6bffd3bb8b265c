package config

import (
	"crypto/x509"
	"net/netip"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/tlsvpn/tlsvpn/internal/certtest"
)

func prefixes(t *testing.T, ss ...string) []netip.Prefix {
	t.Helper()
	out := make([]netip.Prefix, len(ss))
	for i, s := range ss {
		out[i] = netip.MustParsePrefix(s)
	}
	return out
}

func TestTheExamplesMatchTheTestTopology(t *testing.T) {
	dir, err := filepath.Abs("../examples")
	if err != nil {
		t.Fatal(err)
	}
	pki := filepath.Join(dir, "pki")
	want := map[string]*Config{
		"office-a.toml": {
			Path: filepath.Join(dir, "office-a.toml"),
			Name: "office-a",
			TLS: TLS{CA: filepath.Join(pki, "ca.pem"), Cert: filepath.Join(pki, "office-a.pem"),
				Key: filepath.Join(pki, "office-a.key"), CRLs: []string{filepath.Join(pki, "crl.pem")},
				ExpiryWarning: ExpiryWarning, RotateAfter: DefaultRotateAfter},
			Interface: Interface{Name: "tlsvpn0", Mode: ModeTUN, Addresses: prefixes(t, "100.64.0.1/24", "fd64::1/64"), MTU: 1500, Offload: "auto"},
			Listen:    &Listen{Address: "0.0.0.0:4433"},
			Control:   Control{Socket: "@tlsvpn/tlsvpn0"},
			Transport: Transport{CongestionControl: DefaultCongestionControl},
			Peers: []Peer{{Name: "office-b",
				AllowedIPs: prefixes(t, "100.64.0.2/32", "fd64::2/128", "10.2.0.0/24", "fd02::/64"),
				Keepalive:  10 * time.Second}},
		},
		"office-b.toml": {
			Path: filepath.Join(dir, "office-b.toml"),
			Name: "office-b",
			TLS: TLS{CA: filepath.Join(pki, "ca.pem"), Cert: filepath.Join(pki, "office-b.pem"),
				Key: filepath.Join(pki, "office-b.key"), CRLs: []string{filepath.Join(pki, "crl.pem")},
				ExpiryWarning: ExpiryWarning, RotateAfter: DefaultRotateAfter},
			Interface: Interface{Name: "tlsvpn0", Mode: ModeTUN, Addresses: prefixes(t, "100.64.0.2/24", "fd64::2/64"), MTU: 1500, Offload: "auto"},
			Control:   Control{Socket: "@tlsvpn/tlsvpn0"},
			Transport: Transport{CongestionControl: DefaultCongestionControl},
			Peers: []Peer{{Name: "office-a", Endpoint: "198.18.0.1:4433",
				AllowedIPs: prefixes(t, "100.64.0.1/32", "fd64::1/128", "10.1.0.0/24", "fd01::/64"),
				Keepalive:  10 * time.Second}},
		},
	}
	for file, w := range want {
		t.Run(file, func(t *testing.T) {
			c, err := Parse(filepath.Join(dir, file))
			if err != nil {
				t.Fatalf("Parse: %v", err)
			}
			if !reflect.DeepEqual(c, w) {
				t.Errorf("Parse(%s) =\n%+v\nwant\n%+v", file, c, w)
			}
		})
	}
}

// TestTheExamplesLoadWithTheirCertificates copies both examples next to a fresh PKI, as `tlsvpn pki`
// lays it out, and expects no problem and no warning.
func TestTheExamplesLoadWithTheirCertificates(t *testing.T) {
	dir := t.TempDir()
	ca := certtest.NewCA(t, testNow, certtest.CAOpts{Name: "tlsvpn demo CA", NotBefore: testNow.Add(-day), NotAfter: testNow.Add(10 * year)})
	n := &node{t: t, dir: dir}
	n.writeFile("pki/ca.pem", ca.CA().PEM(), 0o644)
	n.writeFile("pki/crl.pem", n.crl(ca, nil), 0o644)
	n.writeFile("proc/net/ipv4/ip_forward", []byte("1\n"), 0o644)
	n.writeFile("proc/net/ipv6/conf/all/forwarding", []byte("1\n"), 0o644)
	for _, name := range []string{"office-a", "office-b"} {
		leaf := ca.Leaf(certtest.LeafOpts{Names: []string{name}, NotBefore: testNow.Add(-day), NotAfter: testNow.Add(year)})
		n.writeFile("pki/"+name+".pem", leaf.PEM(), 0o644)
		n.writeFile("pki/"+name+".key", leaf.KeyPEM(), 0o600)
		example, err := os.ReadFile("../examples/" + name + ".toml")
		if err != nil {
			t.Fatal(err)
		}
		n.writeFile(name+".toml", example, 0o644)
	}
	loader := Loader{Now: func() time.Time { return testNow }, ProcSys: filepath.Join(dir, "proc")}
	for _, name := range []string{"office-a", "office-b"} {
		c, warnings, err := loader.Load(filepath.Join(dir, name+".toml"))
		if err != nil || len(warnings) > 0 {
			t.Errorf("Load(%s): %v; warnings %v", name, err, warnings)
			continue
		}
		if c.Name != name {
			t.Errorf("Load(%s).Name = %q", name, c.Name)
		}
	}
}

func TestRoutesLeaveOutTheTunnelPrefixAndDuplicates(t *testing.T) {
	c := &Config{
		Interface: Interface{Addresses: prefixes(t, "100.64.0.1/24", "fd64::1/64")},
		Peers: []Peer{
			{Name: "b", AllowedIPs: prefixes(t, "100.64.0.2/32", "10.2.0.0/24", "fd64::2/128", "fd02::/64", "10.2.0.0/24")},
			{Name: "c", AllowedIPs: prefixes(t, "100.64.0.0/16", "0.0.0.0/0")},
		},
	}
	want := prefixes(t, "10.2.0.0/24", "fd02::/64", "100.64.0.0/16", "0.0.0.0/0")
	if got := c.Routes(); !reflect.DeepEqual(got, want) {
		t.Errorf("Routes() = %v, want %v", got, want)
	}
}

func TestRolesFollowListenAndEndpoints(t *testing.T) {
	c := &Config{Peers: []Peer{{Name: "b"}, {Name: "c"}}}
	if c.Dials() || c.Listens() {
		t.Errorf("a node without endpoints and [listen]: Dials=%v Listens=%v", c.Dials(), c.Listens())
	}
	c.Peers[1].Endpoint = "gw-c.example:4433"
	c.Listen = &Listen{Address: ":4433"}
	if !c.Dials() || !c.Listens() {
		t.Errorf("a node with an endpoint and [listen]: Dials=%v Listens=%v", c.Dials(), c.Listens())
	}
}

func TestPeerIsFoundByNameIgnoringCase(t *testing.T) {
	c := &Config{Peers: []Peer{{Name: "office-b"}, {Name: "office-c"}}}
	if p := c.Peer("Office-C"); p != &c.Peers[1] {
		t.Errorf("Peer(Office-C) = %v, want the second peer", p)
	}
	if p := c.Peer("office-d"); p != nil {
		t.Errorf("Peer(office-d) = %v, want nil", p)
	}
}

func TestRestartKeysNameWhatAReloadCannotApply(t *testing.T) {
	old, err := parse([]byte(baseConfig), testPath)
	if err != nil {
		t.Fatal(err)
	}
	next, err := parse([]byte(edit(t, "[interface]\n", "[interface]\nmtu = 1400\n")+
		"\n[[peer]]\nname = \"office-c\"\nendpoint = \"gw-c.example:4433\"\nallowed_ips = [\"10.3.0.0/24\"]\n"), testPath)
	if err != nil {
		t.Fatal(err)
	}
	if got := old.RestartKeys(next); !reflect.DeepEqual(got, []string{"interface.mtu"}) {
		t.Errorf("RestartKeys = %v, want only interface.mtu (peers reload)", got)
	}
	if got := old.RestartKeys(old); len(got) != 0 {
		t.Errorf("RestartKeys of an unchanged config = %v", got)
	}
}

func TestMarshalThenParseGivesTheSameConfig(t *testing.T) {
	c, err := Parse("../examples/office-b.toml")
	if err != nil {
		t.Fatal(err)
	}
	roundTrip(t, c)
}

// TestTheDocsExamplesParse: every complete configuration shown in docs/config.md (a TOML block that
// starts with name =) is one the parser accepts.
func TestTheDocsExamplesParse(t *testing.T) {
	doc, err := os.ReadFile("../docs/config.md")
	if err != nil {
		t.Fatal(err)
	}
	blocks := 0
	for _, part := range strings.Split(string(doc), "```toml\n")[1:] {
		text, _, _ := strings.Cut(part, "```")
		body := text
		for strings.HasPrefix(body, "#") {
			_, body, _ = strings.Cut(body, "\n")
		}
		if !strings.HasPrefix(body, "name =") {
			continue
		}
		blocks++
		if _, err := parse([]byte(text), "/etc/tlsvpn/doc.toml"); err != nil {
			t.Errorf("a configuration in docs/config.md does not parse:\n%s\n%v", text, err)
		}
	}
	if blocks < 4 {
		t.Errorf("found %d configurations in docs/config.md, want the site, hub, client and TAP examples", blocks)
	}
}

// docsExample returns the configuration block of docs/config.md that contains marker.
func docsExample(t *testing.T, marker string) string {
	t.Helper()
	doc, err := os.ReadFile("../docs/config.md")
	if err != nil {
		t.Fatal(err)
	}
	for _, part := range strings.Split(string(doc), "```toml\n")[1:] {
		if text, _, _ := strings.Cut(part, "```"); strings.Contains(text, marker) {
			return text
		}
	}
	t.Fatalf("docs/config.md has no configuration with %q", marker)
	return ""
}

// TestTheRemoteAccessExamplesPassCheck puts the files that the hub and client examples of
// docs/config.md name where they name them, made as their comments say (the hub's from the site CA, the
// client's from a CA of its own), and runs tlsvpn check's Load on both.
func TestTheRemoteAccessExamplesPassCheck(t *testing.T) {
	dir := t.TempDir()
	write := func(rel string, data []byte, mode os.FileMode) {
		t.Helper()
		path := filepath.Join(dir, rel)
		if err := os.MkdirAll(filepath.Dir(path), 0o700); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(path, data, mode); err != nil {
			t.Fatal(err)
		}
	}
	now := time.Now()
	site := certtest.NewCA(t, now, certtest.CAOpts{Name: "sites"})
	clients := certtest.NewCA(t, now, certtest.CAOpts{Name: "clients"})
	hq := site.Leaf(certtest.LeafOpts{Names: []string{"hq"}, NotAfter: now.Add(year)})
	laptop := clients.Leaf(certtest.LeafOpts{Names: []string{"laptop-1"}, Groups: []string{"admins"}, NotAfter: now.Add(year),
		EKU: []x509.ExtKeyUsage{x509.ExtKeyUsageClientAuth}})
	crl := func(f *certtest.Factory) []byte {
		return f.CRLWith(certtest.CRLOpts{ThisUpdate: now.Add(-time.Hour), NextUpdate: now.Add(30 * day)})
	}
	write("pki/ca.pem", site.CA().PEM(), 0o644)
	write("pki/hq.pem", hq.PEM(), 0o644)
	write("pki/hq.key", hq.KeyPEM(), 0o600)
	write("pki/crl.pem", crl(site), 0o644)
	write("pki/clients-ca.pem", clients.CA().PEM(), 0o644)
	write("pki/clients-crl.pem", crl(clients), 0o644)
	write("laptop-1/ca.pem", append(site.CA().PEM(), clients.CA().PEM()...), 0o644)
	write("laptop-1/laptop-1.pem", laptop.PEM(), 0o644)
	write("laptop-1/laptop-1.key", laptop.KeyPEM(), 0o600)
	write("hq.toml", []byte(docsExample(t, "[remote_access]")), 0o644)
	write("laptop-1.toml", []byte(docsExample(t, "remote_access = true")), 0o644)

	for _, file := range []string{"hq.toml", "laptop-1.toml"} {
		if _, _, err := Load(filepath.Join(dir, file)); err != nil {
			t.Errorf("tlsvpn check of the example %s:\n%v", file, err)
		}
	}
	// What the client example warns against: only the hub's CA in its tls.ca.
	write("laptop-1/ca.pem", site.CA().PEM(), 0o644)
	if _, _, err := Load(filepath.Join(dir, "laptop-1.toml")); err == nil || !strings.Contains(err.Error(), "does not chain to the CA") {
		t.Errorf("check of the client with only the hub's CA = %v, want its certificate refused", err)
	}
}
