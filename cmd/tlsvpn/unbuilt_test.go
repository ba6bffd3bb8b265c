package main

import (
	"strings"
	"testing"

	"github.com/tlsvpn/tlsvpn/config"
)

func TestUnbuiltFeaturesAreRefusedByName(t *testing.T) {
	for _, tc := range []struct {
		name string
		cfg  config.Config
		want string // "" when the config may start
	}{
		{"a site-to-site node starts", config.Config{Interface: config.Interface{Mode: config.ModeTUN}, Peers: []config.Peer{{Name: "b"}}}, ""},
		{"a hub is refused", config.Config{RemoteAccess: &config.RemoteAccess{}}, "[remote_access]"},
		{"groups are refused", config.Config{Groups: []config.Group{{Name: "admins"}}}, "[[group]]"},
		{"a remote-access client is refused", config.Config{Peers: []config.Peer{{Name: "hq", RemoteAccess: true}}}, "a remote-access client"},
		{"a node in TAP mode starts", config.Config{Interface: config.Interface{Mode: config.ModeTAP}, Peers: []config.Peer{{Name: "b"}}}, ""},
		{"a node serving metrics starts", config.Config{Interface: config.Interface{Mode: config.ModeTUN}, Metrics: &config.Metrics{Listen: "127.0.0.1:9687"}}, ""},
		{"a node with a required peer starts", config.Config{Interface: config.Interface{Mode: config.ModeTUN}, Peers: []config.Peer{{Name: "b", Required: true}}}, ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			tc.cfg.Path = "/etc/tlsvpn/a.toml"
			err := refuseUnbuilt(&tc.cfg)
			switch {
			case tc.want == "" && err != nil:
				t.Errorf("refused: %v", err)
			case tc.want != "" && (err == nil || !strings.Contains(err.Error(), tc.want) || !strings.Contains(err.Error(), tc.cfg.Path)):
				t.Errorf("error %v, want one naming the file and %q", err, tc.want)
			}
		})
	}
}
