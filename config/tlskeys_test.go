package config

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

const tlsKeysBase = `name = "office-a"
[tls]
ca = "ca.pem"
cert = "a.pem"
key = "a.key"
%s
[interface]
address = ["100.64.0.1/24"]
[listen]
address = "0.0.0.0:4433"
[[peer]]
name = "office-b"
allowed_ips = ["100.64.0.2/32"]
`

func TestTLSTimingKeys(t *testing.T) {
	tests := []struct {
		name, keys     string
		warn, rotate   time.Duration
		wantKey, wantW string
	}{
		{name: "the defaults are 21 days and 1 hour", warn: ExpiryWarning, rotate: time.Hour},
		{name: "days are accepted", keys: `expiry_warning = "30d"`, warn: 30 * 24 * time.Hour, rotate: time.Hour},
		{name: "Go durations are accepted", keys: "expiry_warning = \"72h\"\nrotate_after = \"15m\"", warn: 72 * time.Hour, rotate: 15 * time.Minute},
		{name: "a rotation age under 10s is refused", keys: `rotate_after = "1s"`, wantKey: "tls.rotate_after", wantW: "at least"},
		{name: "a negative warning window is refused", keys: `expiry_warning = "-1h"`, wantKey: "tls.expiry_warning", wantW: "negative"},
		{name: "a bad number of days is refused", keys: `expiry_warning = "xd"`, wantKey: "tls.expiry_warning", wantW: "not a duration"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			path := filepath.Join(t.TempDir(), "a.toml")
			if err := os.WriteFile(path, []byte(strings.Replace(tlsKeysBase, "%s", tc.keys, 1)), 0o600); err != nil {
				t.Fatal(err)
			}
			c, err := Parse(path)
			if tc.wantKey != "" {
				var e *Error
				if !errors.As(err, &e) || len(e.Problems) != 1 || e.Problems[0].Key != tc.wantKey || !strings.Contains(e.Problems[0].Message, tc.wantW) {
					t.Fatalf("got %v, want one problem at %s mentioning %q", err, tc.wantKey, tc.wantW)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if c.TLS.ExpiryWarning != tc.warn || c.TLS.RotateAfter != tc.rotate {
				t.Fatalf("got %v and %v, want %v and %v", c.TLS.ExpiryWarning, c.TLS.RotateAfter, tc.warn, tc.rotate)
			}
		})
	}
}
