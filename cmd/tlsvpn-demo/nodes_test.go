package main

import (
	"net/netip"
	"slices"
	"testing"

	"github.com/BurntSushi/toml"

	"github.com/tlsvpn/tlsvpn/internal/lab"
)

// demoConfig is the subset of tlsvpn's configuration the demo writes; decoding
// into it with no undecoded keys shows the demo writes nothing else.
type demoConfig struct {
	Name      string
	TLS       struct{ CA, Cert, Key, CRL string }
	Interface struct {
		Name    string
		Address []string
		MTU     int
	}
	Listen *struct{ Address string }
	Peer   []struct {
		Name       string
		Endpoint   string
		AllowedIPs []string `toml:"allowed_ips"`
	}
}

func decodeOffice(t *testing.T, o lab.Office) demoConfig {
	t.Helper()
	var c demoConfig
	md, err := toml.Decode(officeConfig(o), &c)
	if err != nil {
		t.Fatalf("%s: config is not valid TOML: %v\n%s", o.Name, err, officeConfig(o))
	}
	if keys := md.Undecoded(); len(keys) > 0 {
		t.Errorf("%s: unexpected keys %v", o.Name, keys)
	}
	return c
}

func TestOfficeConfigsMirrorEachOther(t *testing.T) {
	a, b := decodeOffice(t, lab.Offices[0]), decodeOffice(t, lab.Offices[1])
	if a.Listen == nil || a.Listen.Address != "198.18.0.1:4433" || b.Listen != nil {
		t.Errorf("office-a must listen on 198.18.0.1:4433 and office-b not listen: %+v, %+v", a.Listen, b.Listen)
	}
	if len(a.Peer) != 1 || len(b.Peer) != 1 || a.Peer[0].Name != b.Name || b.Peer[0].Name != a.Name {
		t.Fatalf("each office must have the other as its one peer: %+v, %+v", a.Peer, b.Peer)
	}
	if a.Peer[0].Endpoint != "" || b.Peer[0].Endpoint != a.Listen.Address {
		t.Errorf("office-b must dial office-a's listen address: endpoints %q, %q", a.Peer[0].Endpoint, b.Peer[0].Endpoint)
	}
	for _, c := range []struct{ self, peer demoConfig }{{a, b}, {b, a}} {
		for _, addr := range c.peer.Interface.Address {
			host := netip.MustParsePrefix(addr).Addr()
			hostPrefix := netip.PrefixFrom(host, host.BitLen()).String()
			if !slices.Contains(c.self.Peer[0].AllowedIPs, hostPrefix) {
				t.Errorf("%s does not route %s's tunnel address %s to it", c.self.Name, c.peer.Name, hostPrefix)
			}
		}
		if c.self.TLS.Cert != "pki/"+c.self.Name+".pem" || c.self.TLS.CA != "pki/ca.pem" {
			t.Errorf("%s: certificate paths %+v", c.self.Name, c.self.TLS)
		}
	}
}
