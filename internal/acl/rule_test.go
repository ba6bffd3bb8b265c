package acl

import (
	"net/netip"
	"reflect"
	"strings"
	"testing"
)

func TestParseRuleReadsEveryForm(t *testing.T) {
	pfx := netip.MustParsePrefix("10.1.0.0/24")
	for _, tc := range []struct {
		name, in string
		want     Rule
	}{
		{"a prefix alone allows every protocol", "10.1.0.0/24", Rule{Prefix: pfx}},
		{"tcp with ports", "10.1.0.0/24 tcp/22,443", Rule{pfx, TCP, []PortRange{{22, 22}, {443, 443}}}},
		{"udp with a range", "10.1.0.0/24 udp/5000-5100", Rule{pfx, UDP, []PortRange{{5000, 5100}}}},
		{"icmp", "10.1.0.0/24 icmp", Rule{Prefix: pfx, Proto: ICMP}},
		{"tcp without ports allows every port", "10.1.0.0/24 tcp", Rule{Prefix: pfx, Proto: TCP}},
		{"an IPv6 prefix and upper-case protocol", "fd01::/64  TCP/1-65535", Rule{netip.MustParsePrefix("fd01::/64"), TCP, []PortRange{{1, 65535}}}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got, err := ParseRule(tc.in)
			if err != nil || !reflect.DeepEqual(got, tc.want) {
				t.Fatalf("ParseRule(%q) = %+v, %v; want %+v", tc.in, got, err, tc.want)
			}
			again, err := ParseRule(got.String())
			if err != nil || !reflect.DeepEqual(again, got) {
				t.Errorf("%q does not read back: %+v, %v", got.String(), again, err)
			}
		})
	}
}

func TestParseRuleRefuses(t *testing.T) {
	for _, tc := range []struct{ name, in, fix string }{
		{"an empty entry", "  ", `write "PREFIX"`},
		{"host bits in the prefix", "10.1.0.1/24 tcp/22", "write 10.1.0.0/24"},
		{"an address without length", "10.1.0.5", `write "10.1.0.5/32"`},
		{"an unknown protocol", "10.1.0.0/24 sctp/5", `unknown protocol "sctp"; write tcp, udp or icmp`},
		{"icmp with ports", "10.1.0.0/24 icmp/8", `icmp has no ports; write "10.1.0.0/24 icmp"`},
		{"port 0", "10.1.0.0/24 tcp/0", "not a number from 1 to 65535"},
		{"a port beyond 65535", "10.1.0.0/24 udp/70000", "not a number from 1 to 65535"},
		{"a service name", "10.1.0.0/24 tcp/ssh", `port "ssh"`},
		{"a backwards range", "10.1.0.0/24 udp/5100-5000", "write 5000-5100"},
		{"a slash without ports", "10.1.0.0/24 tcp/", `no port after "/"`},
		{"an open range", "10.1.0.0/24 tcp/22-", `port ""`},
		{"a space in the port list", "10.1.0.0/24 tcp/22, 443", "no space inside the port list"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if r, err := ParseRule(tc.in); err == nil || !strings.Contains(err.Error(), tc.fix) {
				t.Errorf("ParseRule(%q) = %+v, %v; want an error saying %q", tc.in, r, err, tc.fix)
			}
		})
	}
}

func TestCheckGroupName(t *testing.T) {
	for _, tc := range []struct{ in, fix string }{
		{"admins", ""},
		{"Site Reliability", ""},
		{"", "empty group name"},
		{" admins", `write "admins"`},
		{strings.Repeat("g", 65), "at most 64"},
		{"a\x00b", "non-printable"},
	} {
		err := CheckGroupName(tc.in)
		if tc.fix == "" && err != nil || tc.fix != "" && (err == nil || !strings.Contains(err.Error(), tc.fix)) {
			t.Errorf("CheckGroupName(%q) = %v, want %q", tc.in, err, tc.fix)
		}
	}
}

// FuzzParseRule: never panics, and an accepted entry writes back to a string that reads as the same
// rule, with a masked prefix and well-formed ranges.
func FuzzParseRule(f *testing.F) {
	for _, s := range []string{"10.1.0.0/24", "10.1.0.0/24 tcp/22,443", "fd01::/64 udp/5000-5100", "0.0.0.0/0 icmp", "x tcp/", "1.2.3.0/24 tcp/9-1"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		r, err := ParseRule(s)
		if err != nil {
			return
		}
		if r.Prefix != r.Prefix.Masked() {
			t.Fatalf("%q: prefix %v has host bits", s, r.Prefix)
		}
		for _, p := range r.Ports {
			if p.First == 0 || p.First > p.Last {
				t.Fatalf("%q: bad range %+v", s, p)
			}
		}
		again, err := ParseRule(r.String())
		if err != nil || !reflect.DeepEqual(again, r) {
			t.Fatalf("%q -> %q -> %+v, %v", s, r.String(), again, err)
		}
	})
}
