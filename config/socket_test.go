package config

import (
	"os"
	"path/filepath"
	"testing"
)

func TestControlSocketIsFoundInFilesThatDoNotParse(t *testing.T) {
	tests := []struct {
		name, body, want string
	}{
		{"the default socket follows the default interface", "name = \"a\"\n", "@tlsvpn/tlsvpn0"},
		{"the default socket follows the interface name", "[interface]\nname = \"vpn1\"\n", "@tlsvpn/vpn1"},
		{"a configured socket wins", "[control]\nsocket = \"/run/tlsvpn/a.sock\"\n", "/run/tlsvpn/a.sock"},
		{"a broken file is scanned line by line", "name = \"a\nbroken ]]\n[interface]\nname = \"vpn2\" # comment\n", "@tlsvpn/vpn2"},
		{"a broken file with a socket", "[[peer]\n[control]\nsocket = '@x'\n", "@x"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			path := filepath.Join(t.TempDir(), "n.toml")
			if err := os.WriteFile(path, []byte(tc.body), 0o600); err != nil {
				t.Fatal(err)
			}
			got, err := ControlSocket(path)
			if err != nil || got != tc.want {
				t.Fatalf("got %q, %v; want %q", got, err, tc.want)
			}
		})
	}
}
