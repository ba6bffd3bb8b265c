package lab

import (
	"os"
	"path/filepath"
	"testing"

	"github.com/tlsvpn/tlsvpn/config"
)

// TestOfficeConfigsParse checks that both offices' configurations, as the
// benchmark (absolute PKI paths, default MTU) and the demo (relative paths,
// explicit MTU) write them, pass the config parser, and that office-a listens
// and office-b dials it.
func TestOfficeConfigsParse(t *testing.T) {
	dir := t.TempDir()
	for _, v := range []struct {
		pki string
		mtu int
		tap bool
	}{{filepath.Join(dir, "pki"), 0, false}, {"pki", 1500, false}, {filepath.Join(dir, "pki"), 0, true}} {
		var parsed [2]*config.Config
		for i, o := range Offices {
			o.TAP = v.tap
			path := filepath.Join(dir, o.Name+".toml")
			text := o.Config(v.pki, v.mtu, "lab test")
			if err := os.WriteFile(path, []byte(text), 0o644); err != nil {
				t.Fatal(err)
			}
			c, err := config.Parse(path)
			if err != nil {
				t.Fatalf("config of %s (pki %q, mtu %d): %v\n%s", o.Name, v.pki, v.mtu, err, text)
			}
			parsed[i] = c
		}
		a, b := parsed[0], parsed[1]
		if !a.Listens() || a.Dials() || b.Listens() || !b.Dials() {
			t.Fatalf("pki %q: office-a listens %v, dials %v; office-b listens %v, dials %v; want only office-a listening and only office-b dialing",
				v.pki, a.Listens(), a.Dials(), b.Listens(), b.Dials())
		}
		if a.Listen.Address != OfficeListen || len(b.Peers) != 1 || b.Peers[0].Endpoint != a.Listen.Address {
			t.Errorf("pki %q: office-b must dial office-a's listen address %q: peers of office-b %+v", v.pki, a.Listen.Address, b.Peers)
		}
		for _, c := range parsed {
			if want := filepath.Join(dir, "pki", c.Name+".pem"); c.TLS.Cert != want {
				t.Errorf("pki %q: %s's certificate is %s, want %s", v.pki, c.Name, c.TLS.Cert, want)
			}
			if c.Interface.Name != TunnelDev || c.Interface.MTU != 1500 || (c.Interface.Mode == config.ModeTAP) != v.tap {
				t.Errorf("pki %q, TAP %v: %s's interface %+v", v.pki, v.tap, c.Name, c.Interface)
			}
		}
	}
	a, b := Offices[0], Offices[1]
	if a.Listen != OfficeListen || a.Endpoint != "" || b.Listen != "" || b.Endpoint != a.Listen {
		t.Errorf("office-b must dial office-a's listen address %q: %+v, %+v", OfficeListen, a, b)
	}
	if a.Peer != b.Name || b.Peer != a.Name {
		t.Errorf("each office must have the other as its peer: %+v, %+v", a, b)
	}
}
