package netparse

import (
	"net/netip"
	"strings"
	"testing"
)

func TestNodeName(t *testing.T) {
	for _, tc := range []struct {
		name, in string
		fix      string // part of the error; "" when the name is good
	}{
		{"a lower-case name is good", "office-b", ""},
		{"a dotted name is good", "gw1.office-b.example", ""},
		{"upper case is good: names compare without case", "Office-B", ""},
		{"a name of 253 characters is good", strings.Repeat(strings.Repeat("a", 63)+".", 4)[:253], ""},
		{"a wildcard is refused", "*.example.com", "write the exact DNS name"},
		{"a trailing dot is refused with the name without it", "office-b.", `write it without: "office-b"`},
		{"an IPv4 address is refused", "10.0.0.1", "is an IP address"},
		{"an IPv6 address is refused", "fd00::1", "is an IP address"},
		{"a space is refused", "office b", `character ' ' is not allowed`},
		{"an underscore is refused", "office_b", `character '_' is not allowed`},
		{"a leading hyphen is refused", "-office", "starts or ends with a hyphen"},
		{"an empty label is refused", "a..b", "empty label"},
		{"an empty name is refused", "", "empty name"},
		{"a label of 64 characters is refused", strings.Repeat("a", 64), "longer than 63"},
		{"a name of 254 characters is refused", strings.Repeat(strings.Repeat("a", 63)+".", 4)[:254], "longer than 253"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			err := NodeName(tc.in)
			switch {
			case tc.fix == "" && err != nil:
				t.Errorf("NodeName(%q) = %v, want nil", tc.in, err)
			case tc.fix != "" && (err == nil || !strings.Contains(err.Error(), tc.fix)):
				t.Errorf("NodeName(%q) = %v, want an error saying %q", tc.in, err, tc.fix)
			}
		})
	}
}

func TestCanonicalNameLowersCase(t *testing.T) {
	if got := CanonicalName("Office-B.Example"); got != "office-b.example" {
		t.Errorf("CanonicalName = %q", got)
	}
}

func TestPrefix(t *testing.T) {
	for _, tc := range []struct {
		name     string
		in       string
		hostBits bool
		want     string // the prefix, or part of the error
		ok       bool
	}{
		{"a masked prefix is good", "10.2.0.0/24", false, "10.2.0.0/24", true},
		{"an IPv6 prefix is good", "fd02::/64", false, "fd02::/64", true},
		{"host bits are kept for an interface address", "100.64.0.1/24", true, "100.64.0.1/24", true},
		{"host bits elsewhere are refused with the masked prefix", "10.2.0.1/24", false, "write 10.2.0.0/24 (or 10.2.0.1/32", false},
		{"an address without length gets the host prefix as fix", "10.2.0.7", false, `write "10.2.0.7/32"`, false},
		{"an IPv6 address without length gets /128", "fd02::7", false, `write "fd02::7/128"`, false},
		{"a length beyond 32 is refused with the example", "10.2.0.0/33", false, `like "10.2.0.0/24"`, false},
		{"garbage is refused", "ten", true, "is not an IP prefix", false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			p, err := Prefix(tc.in, tc.hostBits, "10.2.0.0/24")
			switch {
			case tc.ok && (err != nil || p.String() != tc.want):
				t.Errorf("Prefix(%q) = %v, %v; want %s", tc.in, p, err, tc.want)
			case !tc.ok && (err == nil || !strings.Contains(err.Error(), tc.want)):
				t.Errorf("Prefix(%q) = %v, %v; want an error saying %q", tc.in, p, err, tc.want)
			}
		})
	}
}

// FuzzNodeName: the checks never panic, a good name stays good lower-cased, and the fix of a trailing
// dot is a good name or says what is still wrong.
func FuzzNodeName(f *testing.F) {
	for _, s := range []string{"office-b", "Office-B.example", "*.x", "x.", "10.0.0.1", "a..b", "-a", ""} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		if NodeName(s) == nil {
			if DNSName(s) != nil {
				t.Fatalf("%q is a node name but not a DNS name", s)
			}
			if err := NodeName(CanonicalName(s)); err != nil {
				t.Fatalf("%q is good but lower-cased it is not: %v", s, err)
			}
		}
	})
}

// FuzzPrefix: a prefix accepted without host bits is masked and prints back to itself.
func FuzzPrefix(f *testing.F) {
	for _, s := range []string{"10.2.0.0/24", "10.2.0.1/24", "fd02::/64", "::ffff:10.0.0.0/104", "1.2.3.4", "x/y"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		p, err := Prefix(s, false, "10.2.0.0/24")
		if err != nil {
			return
		}
		if p != p.Masked() {
			t.Fatalf("%q accepted with host bits: %v", s, p)
		}
		if q, err := netip.ParsePrefix(p.String()); err != nil || q != p {
			t.Fatalf("%v does not print back: %v, %v", p, q, err)
		}
	})
}
