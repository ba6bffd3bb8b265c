package config

import (
	"encoding/json"
	"fmt"
	"net/netip"
	"strings"
	"testing"

	"github.com/tlsvpn/tlsvpn/handshake"
	"github.com/tlsvpn/tlsvpn/internal/wire"
)

// hubConfig is a valid hub with one site peer; clientConfig a valid remote-access client; tapConfig a
// valid node in TAP mode. The cases below break them one way each.
const hubConfig = `name = "hq"

[tls]
ca   = "pki/ca.pem"
cert = "pki/hq.pem"
key  = "pki/hq.key"

[interface]
address = ["100.64.8.1/22", "fd64:8::1/64"]

[listen]
address = "0.0.0.0:4433"

[remote_access]
pool   = ["100.64.8.0/22", "fd64:8::/64"]
routes = ["10.1.0.0/24", "fd01::/64"]
dns    = ["10.1.0.53"]

[[group]]
name  = "admins"
allow = ["10.1.0.0/24", "fd01::/64 tcp/22,443"]

[[peer]]
name        = "office-b"
endpoint    = "198.18.0.2:4433"
allowed_ips = ["100.64.0.2/32", "10.2.0.0/24"]
`

const clientConfig = `name = "laptop-1"

[tls]
ca   = "pki/ca.pem"
cert = "pki/laptop-1.pem"
key  = "pki/laptop-1.key"

[[peer]]
name          = "hq"
endpoint      = "vpn.example.com:4433"
remote_access = true
`

const tapConfig = `name = "site-a"

[tls]
ca   = "pki/ca.pem"
cert = "pki/site-a.pem"
key  = "pki/site-a.key"

[interface]
mode = "tap"

[listen]
address = "0.0.0.0:4433"

[[peer]]
name = "site-b"
`

// change returns text with old replaced by new, failing the test when old is absent.
func change(t *testing.T, text, old, new string) string {
	t.Helper()
	if !strings.Contains(text, old) {
		t.Fatalf("config has no %q", old)
	}
	return strings.Replace(text, old, new, 1)
}

// lineOf returns the 1-based line of the first occurrence of s in text, 0 for "".
func lineOf(t *testing.T, text, s string) int {
	t.Helper()
	if s == "" {
		return 0
	}
	i := strings.Index(text, s)
	if i < 0 {
		t.Fatalf("config has no %q", s)
	}
	return strings.Count(text[:i], "\n") + 1
}

func TestRolesAndModesAreAccepted(t *testing.T) {
	for _, tc := range []struct{ name, text string }{
		{"a hub with a site peer", hubConfig},
		{"a hub without peers", hubConfig[:strings.Index(hubConfig, "[[peer]]")]},
		{"a remote-access client without interface addresses", clientConfig},
		{"a node in TAP mode without addresses or allowed_ips", tapConfig},
		{"a node in TAP mode with the largest MTU", change(t, tapConfig, `mode = "tap"`, "mode = \"tap\"\nmtu = 65517")},
		{"a node in TAP mode with an address and a bridge", change(t, tapConfig, `mode = "tap"`, "mode = \"tap\"\naddress = [\"100.64.0.1/24\"]\nbridge = \"br0\"")},
		{"a hub whose /30 pool keeps one address beside its own", change(t, change(t, hubConfig,
			`"100.64.8.1/22"`, `"100.64.8.1/30"`), `"100.64.8.0/22"`, `"100.64.8.0/30"`)},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if probs := problems(t, tc.text); len(probs) > 0 {
				t.Fatalf("problems: %v", probs)
			}
		})
	}
}

func TestParseRejectsRemoteAccessTAPAndOperationsMistakes(t *testing.T) {
	manyRoutes := make([]string, MaxPushedRoutes+1)
	for i := range manyRoutes {
		manyRoutes[i] = fmt.Sprintf("%q", netip.PrefixFrom(netip.AddrFrom4([4]byte{10, byte(i), 0, 0}), 16))
	}
	longRoutes := make([]string, 60)
	for i := range longRoutes {
		longRoutes[i] = fmt.Sprintf(`"fd01:1111:2222:3333:4444:5555:6666:%x/128"`, 0x1000+i)
	}
	cases := []struct {
		name string
		text func(t *testing.T) string
		key  string // the key path the problem names
		at   string // text on the line the problem is reported on; "" for no line
		fix  string // part of the message that tells the fix
	}{
		{"a hub without [listen]", func(t *testing.T) string {
			return change(t, hubConfig, "[listen]\naddress = \"0.0.0.0:4433\"\n", "")
		}, "remote_access", "[remote_access]", "a hub accepts clients, so it needs [listen]"},
		{"a hub without interface addresses", func(t *testing.T) string {
			return change(t, hubConfig, "address = [\"100.64.8.1/22\", \"fd64:8::1/64\"]\n", "mtu = 1500\n")
		}, "interface.address", "[interface]", "add address ="},
		{"a pool overlapping a peer's allowed_ips", func(t *testing.T) string {
			return change(t, hubConfig, `"10.2.0.0/24"]`, `"10.2.0.0/24", "100.64.9.0/24"]`)
		}, "remote_access.pool[0]", "pool   =", `overlaps 100.64.9.0/24 of peer "office-b" (peer[0].allowed_ips[2])`},
		{"an IPv4 pool of two addresses, the first and the last", func(t *testing.T) string {
			return change(t, hubConfig, `"100.64.8.0/22"`, `"100.64.12.0/31"`)
		}, "remote_access.pool[0]", "pool   =", "has no address to lease"},
		{"an IPv6 pool of one address", func(t *testing.T) string {
			return change(t, hubConfig, `"fd64:8::/64"]`, `"fd64:9::/128"]`)
		}, "remote_access.pool[1]", "pool   =", `write a larger prefix, like "fd64:8::/64"`},
		{"a /30 pool whose two addresses are the hub's", func(t *testing.T) string {
			text := change(t, hubConfig, `["100.64.8.1/22", "fd64:8::1/64"]`, `["100.64.8.1/30", "100.64.8.2/30"]`)
			return change(t, text, `"100.64.8.0/22"`, `"100.64.8.0/30"`)
		}, "remote_access.pool[0]", "pool   =", "the hub's own addresses"},
		{"two IPv4 prefixes in the pool", func(t *testing.T) string {
			return change(t, hubConfig, `"fd64:8::/64"]`, `"100.64.16.0/22"]`)
		}, "remote_access.pool[1]", "pool   =", "keep one prefix per family"},
		{"a pool with host bits", func(t *testing.T) string {
			return change(t, hubConfig, `"100.64.8.0/22"`, `"100.64.8.1/22"`)
		}, "remote_access.pool[0]", "pool   =", "write 100.64.8.0/22"},
		{"more pushed routes than a lease carries", func(t *testing.T) string {
			return change(t, hubConfig, `routes = ["10.1.0.0/24", "fd01::/64"]`, "routes = ["+strings.Join(manyRoutes, ", ")+"]")
		}, "remote_access.routes", "routes =", fmt.Sprintf("more than the %d a lease carries", MaxPushedRoutes)},
		{"a lease larger than the parameter exchange", func(t *testing.T) string {
			domain := strings.Repeat("d", 60) + "." + strings.Repeat("e", 60) + ".example"
			return change(t, hubConfig, `routes = ["10.1.0.0/24", "fd01::/64"]`, "routes = ["+strings.Join(longRoutes, ", ")+"]\n"+
				`domains = ["`+strings.Repeat(domain+`", "`, 3)+domain+`"]`)
		}, "remote_access.routes", "routes =", "push fewer or shorter routes"},
		{"a DNS server that is not an address", func(t *testing.T) string {
			return change(t, hubConfig, `"10.1.0.53"`, `"ns1.corp.example"`)
		}, "remote_access.dns[0]", "dns    =", "is not an IP address"},
		{"a search domain with a trailing dot", func(t *testing.T) string {
			return change(t, hubConfig, "dns    = [\"10.1.0.53\"]", "dns    = [\"10.1.0.53\"]\ndomains = [\"corp.example.\"]")
		}, "remote_access.domains[0]", "domains =", "without a trailing dot"},
		{"a lease time under a minute", func(t *testing.T) string {
			return change(t, hubConfig, "dns    = [\"10.1.0.53\"]", "dns    = [\"10.1.0.53\"]\nlease_time = \"30s\"")
		}, "remote_access.lease_time", "lease_time", `write at least "1m"`},
		{"a [remote_access] without pool", func(t *testing.T) string {
			return change(t, hubConfig, "pool   = [\"100.64.8.0/22\", \"fd64:8::/64\"]\n", "")
		}, "remote_access.pool", "[remote_access]", "add pool ="},
		{"an allow entry with an unknown protocol", func(t *testing.T) string {
			return change(t, hubConfig, `"fd01::/64 tcp/22,443"`, `"fd01::/64 sctp/22"`)
		}, "group[0].allow[1]", "allow =", `unknown protocol "sctp"`},
		{"an allow entry with a bad port", func(t *testing.T) string {
			return change(t, hubConfig, `"fd01::/64 tcp/22,443"`, `"fd01::/64 tcp/22,70000"`)
		}, "group[0].allow[1]", "allow =", "not a number from 1 to 65535"},
		{"an allow entry with a backwards range", func(t *testing.T) string {
			return change(t, hubConfig, `"fd01::/64 tcp/22,443"`, `"fd01::/64 udp/5100-5000"`)
		}, "group[0].allow[1]", "allow =", "write 5000-5100"},
		{"an allow entry with host bits", func(t *testing.T) string {
			return change(t, hubConfig, `allow = ["10.1.0.0/24"`, `allow = ["10.1.0.9/24"`)
		}, "group[0].allow[0]", "allow =", "write 10.1.0.0/24"},
		{"a group named twice", func(t *testing.T) string {
			return change(t, hubConfig, "[[peer]]", "[[group]]\nname  = \"admins\"\nallow = [\"10.9.0.0/24\"]\n\n[[peer]]")
		}, "group[1].name", `name  = "admins"` + "\nallow = [\"10.9", `already the name of group[0]`},
		{"a group without allow", func(t *testing.T) string {
			return change(t, hubConfig, "allow = [\"10.1.0.0/24\", \"fd01::/64 tcp/22,443\"]\n", "")
		}, "group[0].allow", "[[group]]", "add allow ="},
		{"a group name longer than an OU", func(t *testing.T) string {
			return change(t, hubConfig, `name  = "admins"`, `name  = "`+strings.Repeat("a", 65)+`"`)
		}, "group[0].name", "name  =", "an OU at most 64"},
		{"groups without [remote_access]", func(t *testing.T) string {
			return change(t, hubConfig, "[remote_access]\npool   = [\"100.64.8.0/22\", \"fd64:8::/64\"]\nroutes = [\"10.1.0.0/24\", \"fd01::/64\"]\ndns    = [\"10.1.0.53\"]\n", "")
		}, "group", "[[group]]", "groups are for a hub's remote-access clients"},
		{"a peer without allowed_ips that is not a remote_access peer", func(t *testing.T) string {
			return change(t, hubConfig, "allowed_ips = [\"100.64.0.2/32\", \"10.2.0.0/24\"]\n", "")
		}, "peer[0].allowed_ips", "[[peer]]", "add allowed_ips ="},
		{"a remote_access peer with allowed_ips", func(t *testing.T) string {
			return clientConfig + "allowed_ips = [\"10.1.0.0/24\"]\n"
		}, "peer[0].allowed_ips", "allowed_ips", "pushes the routes this node takes; remove allowed_ips"},
		{"a remote_access peer without endpoint", func(t *testing.T) string {
			return change(t, clientConfig, "endpoint      = \"vpn.example.com:4433\"\n", "")
		}, "peer[0].endpoint", "[[peer]]", "a remote-access client dials its hub"},
		{"two remote_access peers", func(t *testing.T) string {
			return clientConfig + "\n[[peer]]\nname = \"hq2\"\nendpoint = \"vpn2.example.com:4433\"\nremote_access=true\n"
		}, "peer[1].remote_access", "remote_access=true", "already the remote_access peer"},
		{"a client with interface addresses", func(t *testing.T) string {
			return change(t, clientConfig, "[[peer]]", "[interface]\naddress = [\"100.64.8.5/22\"]\n\n[[peer]]")
		}, "interface.address", "address =", `takes its addresses from its hub (peer "hq")`},
		{"a node that is hub and client at once", func(t *testing.T) string {
			return change(t, hubConfig, "allowed_ips = [\"100.64.0.2/32\", \"10.2.0.0/24\"]", "remote_access = true")
		}, "remote_access", "[remote_access]", "a hub or a client, not both"},
		{"allowed_ips in TAP mode", func(t *testing.T) string {
			return tapConfig + "allowed_ips = [\"10.2.0.0/24\"]\n"
		}, "peer[0].allowed_ips", "allowed_ips", "not used in TAP mode"},
		{"offload in TAP mode", func(t *testing.T) string {
			return change(t, tapConfig, `mode = "tap"`, "mode = \"tap\"\noffload = \"off\"")
		}, "interface.offload", "offload", "not used in TAP mode"},
		{"remote_access on a peer in TAP mode", func(t *testing.T) string {
			return tapConfig + "endpoint = \"198.18.0.2:4433\"\nremote_access = true\n"
		}, "peer[0].remote_access", "remote_access", "not used in TAP mode"},
		{"[remote_access] in TAP mode", func(t *testing.T) string {
			return change(t, tapConfig, "[[peer]]", "[remote_access]\npool = [\"100.64.8.0/22\"]\n\n[[peer]]")
		}, "remote_access", "[remote_access]", "not used in TAP mode"},
		{"[[group]] in TAP mode", func(t *testing.T) string {
			return tapConfig + "\n[[group]]\nname = \"admins\"\nallow = [\"10.1.0.0/24\"]\n"
		}, "group", "[[group]]", "not used in TAP mode"},
		{"a bridge in TUN mode", func(t *testing.T) string {
			return change(t, hubConfig, "[interface]\n", "[interface]\nbridge = \"br0\"\n")
		}, "interface.bridge", "bridge", `write mode = "tap" under [interface]`},
		{"forward_between_peers in TUN mode", func(t *testing.T) string {
			return change(t, hubConfig, "[interface]\n", "[interface]\nforward_between_peers = true\n")
		}, "interface.forward_between_peers", "forward_between_peers", "only used in TAP mode"},
		{"an unknown mode", func(t *testing.T) string {
			return change(t, tapConfig, `mode = "tap"`, `mode = "tup"`)
		}, "interface.mode", "mode", `write mode = "tun" or "tap"`},
		{"a TAP MTU whose frames would not fit 65535 bytes", func(t *testing.T) string {
			return change(t, tapConfig, `mode = "tap"`, "mode = \"tap\"\nmtu = 65518")
		}, "interface.mtu", "mtu", "set mtu = 65517 or less"},
		{"a bridge named like the TAP device itself", func(t *testing.T) string {
			return change(t, tapConfig, `mode = "tap"`, "mode = \"tap\"\nname = \"br0\"\nbridge = \"br0\"")
		}, "interface.bridge", "bridge", "the TAP device's own name"},
		{"a bridge name with a slash", func(t *testing.T) string {
			return change(t, tapConfig, `mode = "tap"`, "mode = \"tap\"\nbridge = \"br/0\"")
		}, "interface.bridge", "bridge", `like "tlsvpn0"`},
		{"a metrics address without port", func(t *testing.T) string {
			return hubConfig + "\n[metrics]\nlisten = \"127.0.0.1\"\n"
		}, "metrics.listen", "listen = \"127.0.0.1\"", "has no port"},
		{"[metrics] without listen", func(t *testing.T) string {
			return hubConfig + "\n[metrics]\n"
		}, "metrics.listen", "[metrics]", `add listen = "127.0.0.1:9687" under [metrics]`},
		{"required that is not a boolean", func(t *testing.T) string {
			return hubConfig + "required = \"yes\"\n"
		}, "peer[0].required", "required", "must be true or false; write required = false"},
		{"a crl that is neither a path nor a list", func(t *testing.T) string {
			return change(t, hubConfig, "key  = \"pki/hq.key\"", "key  = \"pki/hq.key\"\ncrl  = 5")
		}, "tls.crl", "crl  =", "must be a string or an array of strings"},
		{"an empty crl list", func(t *testing.T) string {
			return change(t, hubConfig, "key  = \"pki/hq.key\"", "key  = \"pki/hq.key\"\ncrl  = []")
		}, "tls.crl", "crl  =", "list at least one"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			text := tc.text(t)
			p := problemIn(t, text, tc.key, tc.fix)
			if want := lineOf(t, text, tc.at); p.Line != want {
				t.Errorf("problem on line %d, want %d (%q)", p.Line, want, tc.at)
			}
		})
	}
}

func TestMetricsBeyondLoopbackAreWarnedAbout(t *testing.T) {
	for _, tc := range []struct {
		listen string
		warn   bool
	}{{"127.0.0.1:9687", false}, {"[::1]:9687", false}, {"0.0.0.0:9687", true}, {":9687", true}, {"198.18.0.1:9687", true}} {
		text := hubConfig + "\n[metrics]\nlisten = \"" + tc.listen + "\"\n"
		p := parseBytes([]byte(text), testPath)
		if err := p.rep.err(); err != nil {
			t.Fatalf("%s: %v", tc.listen, err)
		}
		warned := p.warn.has("metrics.listen")
		if warned != tc.warn {
			t.Errorf("metrics on %s: warned %v, want %v (%v)", tc.listen, warned, tc.warn, p.warn.probs)
		}
		if warned && p.warn.probs[0].Line != lineOf(t, text, "listen = \""+tc.listen) {
			t.Errorf("warning on line %d: %v", p.warn.probs[0].Line, p.warn.probs[0])
		}
	}
}

func TestHubDefaults(t *testing.T) {
	c, err := parse([]byte(hubConfig), testPath)
	if err != nil {
		t.Fatal(err)
	}
	ra := c.RemoteAccess
	if ra.CA != "/etc/tlsvpn/pki/ca.pem" || ra.Leases != "/var/lib/tlsvpn/hq.leases" || ra.LeaseTime != DefaultLeaseTime || ra.NAT {
		t.Errorf("defaults: ca %q, leases %q, lease_time %v, nat %v", ra.CA, ra.Leases, ra.LeaseTime, ra.NAT)
	}
	if !c.IsHub() || c.IsClient() {
		t.Errorf("IsHub %v, IsClient %v", c.IsHub(), c.IsClient())
	}
	if got := c.Groups[0].Allow[1].String(); got != "fd01::/64 tcp/22,443" {
		t.Errorf("allow entry %q", got)
	}
}

// TestThePushedRoutesBoundIsReasoned checks the arithmetic behind MaxPushedRoutes: the longest route
// text, the budget left by a parameter message of the longest fields, and the routes in it.
func TestThePushedRoutesBoundIsReasoned(t *testing.T) {
	longest := netip.MustParsePrefix("ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff/128").String()
	if got := len(`"` + longest + `",`); got != maxRouteJSON {
		t.Errorf("the longest route takes %d bytes in JSON, maxRouteJSON says %d", got, maxRouteJSON)
	}
	if MaxPushedRoutes*maxRouteJSON > pushedBudget {
		t.Errorf("%d routes of %d bytes exceed the budget of %d", MaxPushedRoutes, maxRouteJSON, pushedBudget)
	}
	body, err := json.Marshal(handshake.Params{Version: handshake.ProtocolVersion, Node: strings.Repeat("n", 253),
		BootID: strings.Repeat("b", 64), MTU: MaxMTU, GSO: []string{"tcpv4", "tcpv6", "udp"}, Purpose: handshake.PurposeRotate})
	if err != nil {
		t.Fatal(err)
	}
	// The lease's keys and its two address fields' names take under 256 bytes more.
	if len(body)+256 > leaseFixedBytes {
		t.Errorf("a parameter message of %d bytes leaves too little of the %d reserved for the lease's fixed part", len(body), leaseFixedBytes)
	}
	if leaseFixedBytes+pushedBudget != wire.MaxControlPayload {
		t.Errorf("the budget does not add up to the frame limit")
	}
}
