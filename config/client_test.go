package config

import (
	"errors"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
)

var aliceFile = ClientFile{Name: "alice", Hub: "hq", Endpoint: "vpn.example.com:4433",
	CA: "ca.pem", Cert: "alice.pem", Key: "alice.key", CRL: "crl.pem"}

func TestMarshalClientWritesAShortValidClientConfig(t *testing.T) {
	data, err := MarshalClient(aliceFile)
	if err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(t.TempDir(), "alice", "alice.toml")
	c, err := parse(data, path)
	if err != nil {
		t.Fatalf("the client config does not parse: %v\n%s", err, data)
	}
	dir := filepath.Dir(path)
	want := &Config{
		Path: path, Name: "alice",
		TLS: TLS{CA: filepath.Join(dir, "ca.pem"), Cert: filepath.Join(dir, "alice.pem"), Key: filepath.Join(dir, "alice.key"),
			CRLs: []string{filepath.Join(dir, "crl.pem")}, ExpiryWarning: ExpiryWarning, RotateAfter: DefaultRotateAfter},
		Interface: Interface{Name: DefaultInterfaceName, Mode: ModeTUN, MTU: DefaultMTU, Offload: OffloadAuto},
		Control:   Control{Socket: defaultControlSocket(DefaultInterfaceName)},
		Transport: Transport{CongestionControl: DefaultCongestionControl},
		Peers:     []Peer{{Name: "hq", Endpoint: "vpn.example.com:4433", Keepalive: DefaultKeepalive, RemoteAccess: true}},
	}
	if !reflect.DeepEqual(c, want) {
		t.Errorf("the client config parses to\n%+v\nwant\n%+v\n%s", c, want, data)
	}
	if !c.IsClient() || c.Listens() || len(c.Interface.Addresses) != 0 {
		t.Errorf("IsClient %v, Listens %v, addresses %v: want a client without [listen] or addresses", c.IsClient(), c.Listens(), c.Interface.Addresses)
	}
	for _, key := range []string{"mtu", "keepalive", "mode", "socket", "congestion_control", "required", "expiry_warning"} {
		if strings.Contains(string(data), key) {
			t.Errorf("the client config writes %s, which is at its default:\n%s", key, data)
		}
	}
}

func TestMarshalClientWithoutCRL(t *testing.T) {
	f := aliceFile
	f.CRL = ""
	data, err := MarshalClient(f)
	if err != nil {
		t.Fatal(err)
	}
	c, err := parse(data, testPath)
	if err != nil || c.TLS.CRLs != nil {
		t.Errorf("without a CRL: %v, tls.crl %v\n%s", err, c.TLS.CRLs, data)
	}
}

func TestMarshalClientRefusesBadValues(t *testing.T) {
	tests := []struct {
		name string
		edit func(*ClientFile)
		key  string
	}{
		{"an endpoint without a port", func(f *ClientFile) { f.Endpoint = "vpn.example.com" }, "peer[0].endpoint"},
		{"a hub named like the client", func(f *ClientFile) { f.Hub = "alice" }, "peer[0].name"},
		{"a wildcard hub", func(f *ClientFile) { f.Hub = "*.example.com" }, "peer[0].name"},
		{"a client name that is an IP address", func(f *ClientFile) { f.Name = "10.0.0.1" }, "name"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f := aliceFile
			tt.edit(&f)
			_, err := MarshalClient(f)
			var e *Error
			if !errors.As(err, &e) || !strings.Contains(err.Error(), tt.key+":") {
				t.Errorf("MarshalClient = %v, want an *Error at %s", err, tt.key)
			}
		})
	}
}

func TestCheckEndpoint(t *testing.T) {
	tests := []struct {
		endpoint string
		want     string // "" for a good one
	}{
		{"vpn.example.com:4433", ""},
		{"198.18.0.1:4433", ""},
		{"[fd00::1]:4433", ""},
		{"vpn.example.com", "missing port"},
		{"fd00::1:4433", "brackets"},
		{"0.0.0.0:4433", "cannot be dialed"},
		{"vpn_example:4433", "neither an IP address nor a DNS name"},
		{"vpn.example.com:0", "1 to 65535"},
	}
	for _, tt := range tests {
		err := CheckEndpoint(tt.endpoint)
		if tt.want == "" && err != nil || tt.want != "" && (err == nil || !strings.Contains(err.Error(), tt.want)) {
			t.Errorf("CheckEndpoint(%q) = %v, want %q", tt.endpoint, err, tt.want)
		}
	}
}
