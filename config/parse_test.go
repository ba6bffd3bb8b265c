package config

import (
	"errors"
	"strings"
	"testing"
)

// baseConfig is a small valid configuration that the rejection cases below break one way each.
const baseConfig = `name = "office-a"

[tls]
ca   = "pki/ca.pem"
cert = "pki/office-a.pem"
key  = "pki/office-a.key"

[interface]
address = ["100.64.0.1/24", "fd64::1/64"]

[listen]
address = "0.0.0.0:4433"

[[peer]]
name        = "office-b"
allowed_ips = ["100.64.0.2/32", "10.2.0.0/24"]
`

const testPath = "/etc/tlsvpn/office-a.toml"

// edit returns baseConfig with the first old replaced by new, failing the test when old is absent.
func edit(t *testing.T, old, new string) string {
	t.Helper()
	if !strings.Contains(baseConfig, old) {
		t.Fatalf("baseConfig has no %q", old)
	}
	return strings.Replace(baseConfig, old, new, 1)
}

// problems parses text and returns its problems, failing the test when the error is not an *Error.
func problems(t *testing.T, text string) []Problem {
	t.Helper()
	_, err := parse([]byte(text), testPath)
	if err == nil {
		return nil
	}
	var e *Error
	if !errors.As(err, &e) {
		t.Fatalf("error is %T, want *Error: %v", err, err)
	}
	return e.Problems
}

// problemIn parses text and returns its problem at key whose message contains fix, failing the test
// when there is none or when it does not name the file.
func problemIn(t *testing.T, text, key, fix string) Problem {
	t.Helper()
	p := findProblem(t, problems(t, text), key, fix)
	t.Log(p)
	if p.File != testPath {
		t.Errorf("problem names file %q, want %q", p.File, testPath)
	}
	return p
}

// findProblem returns the problem at key whose message contains fix, failing the test when none does.
func findProblem(t *testing.T, probs []Problem, key, fix string) Problem {
	t.Helper()
	for _, p := range probs {
		if p.Key == key && strings.Contains(p.Message, fix) {
			return p
		}
	}
	var all []string
	for _, p := range probs {
		all = append(all, "  "+p.String())
	}
	t.Fatalf("no problem at %q mentioning %q; got:\n%s", key, fix, strings.Join(all, "\n"))
	return Problem{}
}

func TestBaseConfigIsValid(t *testing.T) {
	if probs := problems(t, baseConfig); len(probs) > 0 {
		t.Fatalf("baseConfig has problems: %v", probs)
	}
}

func TestParseRejects(t *testing.T) {
	cases := []struct {
		name string
		text func(t *testing.T) string
		key  string // the key path the problem names
		fix  string // part of the message that tells the fix
	}{
		{"a syntax error is reported with its line", func(t *testing.T) string {
			return edit(t, `name = "office-a"`, `name = "office-a`)
		}, "", "correct the TOML"},
		{"an unknown top-level key is reported", func(t *testing.T) string {
			return edit(t, `name = "office-a"`, "name = \"office-a\"\nnmae = 1")
		}, "nmae", "remove it"},
		{"an unknown key in a table names the table", func(t *testing.T) string {
			return edit(t, `key  = "pki/office-a.key"`, "key  = \"pki/office-a.key\"\ncrt = \"x\"")
		}, "tls.crt", "did you mean cert?"},
		{"an unknown key in a peer names the peer's index", func(t *testing.T) string {
			return edit(t, `name        = "office-b"`, "name        = \"office-b\"\nallowed_ip = []")
		}, "peer[0].allowed_ip", "did you mean allowed_ips?"},
		{"an unknown table is reported", func(t *testing.T) string {
			return baseConfig + "\n[tunnel]\nmode = 1\n"
		}, "tunnel", "remove it"},
		{"a string where an integer belongs is a wrong type", func(t *testing.T) string {
			return edit(t, `address = ["100.64.0.1/24", "fd64::1/64"]`, "address = [\"100.64.0.1/24\"]\nmtu = \"1500\"")
		}, "interface.mtu", "must be an integer; write mtu = 1500"},
		{"a string where an array belongs is a wrong type", func(t *testing.T) string {
			return edit(t, `address = ["100.64.0.1/24", "fd64::1/64"]`, `address = "100.64.0.1/24"`)
		}, "interface.address", "must be an array of strings"},
		{"a number inside allowed_ips is a wrong type", func(t *testing.T) string {
			return edit(t, `"10.2.0.0/24"]`, `"10.2.0.0/24", 10]`)
		}, "peer[0].allowed_ips[2]", "must be a string"},
		{"a [peer] table instead of [[peer]] is a wrong type", func(t *testing.T) string {
			return edit(t, "[[peer]]", "[peer]")
		}, "peer", "must be an array of tables"},
		{"a missing name is reported", func(t *testing.T) string {
			return edit(t, `name = "office-a"`, "")
		}, "name", `add name = "office-a"`},
		{"a missing tls.ca is reported", func(t *testing.T) string {
			return edit(t, `ca   = "pki/ca.pem"`, "")
		}, "tls.ca", `add ca = "pki/ca.pem" under [tls]`},
		{"a missing tls.cert is reported", func(t *testing.T) string {
			return edit(t, `cert = "pki/office-a.pem"`, "")
		}, "tls.cert", "add cert ="},
		{"a missing tls.key is reported", func(t *testing.T) string {
			return edit(t, `key  = "pki/office-a.key"`, "")
		}, "tls.key", "add key ="},
		{"a missing [tls] is reported", func(t *testing.T) string {
			return "name = \"office-a\"\n" + baseConfig[strings.Index(baseConfig, "[interface]"):]
		}, "tls", "add [tls]"},
		{"a missing interface.address is reported", func(t *testing.T) string {
			return edit(t, `address = ["100.64.0.1/24", "fd64::1/64"]`, `mtu = 1500`)
		}, "interface.address", "add address ="},
		{"an empty interface.address is reported", func(t *testing.T) string {
			return edit(t, `address = ["100.64.0.1/24", "fd64::1/64"]`, `address = []`)
		}, "interface.address", "list at least one"},
		{"a missing peer name is reported", func(t *testing.T) string {
			return edit(t, `name        = "office-b"`, "")
		}, "peer[0].name", "under this [[peer]]"},
		{"a missing allowed_ips is reported", func(t *testing.T) string {
			return edit(t, `allowed_ips = ["100.64.0.2/32", "10.2.0.0/24"]`, "")
		}, "peer[0].allowed_ips", "add allowed_ips ="},
		{"a configuration without peers is rejected", func(t *testing.T) string {
			return baseConfig[:strings.Index(baseConfig, "[[peer]]")]
		}, "peer", "add [[peer]]"},
		{"a bad interface prefix is reported", func(t *testing.T) string {
			return edit(t, `"100.64.0.1/24"`, `"100.64.0/24"`)
		}, "interface.address[0]", `like "100.64.0.1/24"`},
		{"a bad allowed_ips prefix is reported", func(t *testing.T) string {
			return edit(t, `"10.2.0.0/24"`, `"10.2.0.0/33"`)
		}, "peer[0].allowed_ips[1]", "write an address and a length"},
		{"an allowed_ips address without length suggests /32", func(t *testing.T) string {
			return edit(t, `"10.2.0.0/24"`, `"10.2.0.7"`)
		}, "peer[0].allowed_ips[1]", `write "10.2.0.7/32"`},
		{"host bits set in allowed_ips are an error with the masked prefix as fix", func(t *testing.T) string {
			return edit(t, `"10.2.0.0/24"`, `"10.2.0.1/24"`)
		}, "peer[0].allowed_ips[1]", "host bits set in 10.2.0.1/24; write 10.2.0.0/24"},
		{"prefixes overlapping between peers name both peers", func(t *testing.T) string {
			return baseConfig + "\n[[peer]]\nname = \"office-c\"\nallowed_ips = [\"10.2.0.128/25\"]\n"
		}, "peer[1].allowed_ips[0]", `peer "office-c" and peer "office-b" would both claim`},
		{"duplicate peer names are rejected", func(t *testing.T) string {
			return baseConfig + "\n[[peer]]\nname = \"Office-B\"\nallowed_ips = [\"10.3.0.0/24\"]\n"
		}, "peer[1].name", "give each peer its own name"},
		{"a peer named like the node is rejected", func(t *testing.T) string {
			return edit(t, `name        = "office-b"`, `name        = "office-a"`)
		}, "peer[0].name", "this node's own name"},
		{"an MTU below 1280 is rejected", func(t *testing.T) string {
			return edit(t, "[interface]\n", "[interface]\nmtu = 1000\n")
		}, "interface.mtu", "outside 1280-65535"},
		{"an MTU above 65535 is rejected", func(t *testing.T) string {
			return edit(t, "[interface]\n", "[interface]\nmtu = 65536\n")
		}, "interface.mtu", "write a value in that range"},
		{"a bad duration is rejected", func(t *testing.T) string {
			return edit(t, `name        = "office-b"`, "name        = \"office-b\"\nkeepalive = \"10x\"")
		}, "peer[0].keepalive", `like keepalive = "10s"`},
		{"a keepalive under one second is rejected", func(t *testing.T) string {
			return edit(t, `name        = "office-b"`, "name        = \"office-b\"\nkeepalive = \"500ms\"")
		}, "peer[0].keepalive", `write at least "1s"`},
		{"an interface name longer than 15 characters is rejected", func(t *testing.T) string {
			return edit(t, "[interface]\n", "[interface]\nname = \"tlsvpn-office-a-1\"\n")
		}, "interface.name", "at most 15"},
		{"an interface name with a slash is rejected", func(t *testing.T) string {
			return edit(t, "[interface]\n", "[interface]\nname = \"tun/0\"\n")
		}, "interface.name", `like "tlsvpn0"`},
		{"a listen address without port is rejected", func(t *testing.T) string {
			return edit(t, `address = "0.0.0.0:4433"`, `address = "0.0.0.0"`)
		}, "listen.address", `write it like "0.0.0.0:4433"`},
		{"an IPv6 listen address without brackets is rejected", func(t *testing.T) string {
			return edit(t, `address = "0.0.0.0:4433"`, `address = "fd00::1:4433"`)
		}, "listen.address", `"[fd00::1]:4433"`},
		{"a listen address with a host name is rejected", func(t *testing.T) string {
			return edit(t, `address = "0.0.0.0:4433"`, `address = "gw.example:4433"`)
		}, "listen.address", "or \"0.0.0.0:4433\" / \"[::]:4433\" for all"},
		{"a listen port out of range is rejected", func(t *testing.T) string {
			return edit(t, `address = "0.0.0.0:4433"`, `address = "0.0.0.0:70000"`)
		}, "listen.address", "from 1 to 65535"},
		{"an endpoint without port is rejected", func(t *testing.T) string {
			return edit(t, `name        = "office-b"`, "name        = \"office-b\"\nendpoint = \"198.18.0.2\"")
		}, "peer[0].endpoint", `write it like "198.18.0.2:4433"`},
		{"an endpoint with a bad host name is rejected", func(t *testing.T) string {
			return edit(t, `name        = "office-b"`, "name        = \"office-b\"\nendpoint = \"gw_b..example:4433\"")
		}, "peer[0].endpoint", "neither an IP address nor a DNS name"},
		{"an endpoint with the unspecified address is rejected", func(t *testing.T) string {
			return edit(t, `name        = "office-b"`, "name        = \"office-b\"\nendpoint = \"0.0.0.0:4433\"")
		}, "peer[0].endpoint", "write the peer's unicast address"},
		{"an endpoint inside the tunnel prefix is rejected", func(t *testing.T) string {
			return edit(t, `name        = "office-b"`, "name        = \"office-b\"\nendpoint = \"100.64.0.2:4433\"")
		}, "peer[0].endpoint", "write the peer's underlay address"},
		{"a bad offload value is rejected", func(t *testing.T) string {
			return edit(t, "[interface]\n", "[interface]\noffload = \"on\"\n")
		}, "interface.offload", `write offload = "auto", "split" or "off"`},
		{"a node that neither listens nor dials is rejected", func(t *testing.T) string {
			return edit(t, "[listen]\naddress = \"0.0.0.0:4433\"\n", "")
		}, "", "add [listen]"},
		{"allowed_ips containing the peer's own endpoint are rejected", func(t *testing.T) string {
			return edit(t, `allowed_ips = ["100.64.0.2/32", "10.2.0.0/24"]`,
				"endpoint = \"198.18.0.2:4433\"\nallowed_ips = [\"100.64.0.2/32\", \"198.18.0.0/16\"]")
		}, "peer[0].allowed_ips[1]", "leave the endpoint's address out of allowed_ips"},
		{"a default route containing the peer's own endpoint is rejected", func(t *testing.T) string {
			return edit(t, `allowed_ips = ["100.64.0.2/32", "10.2.0.0/24"]`,
				"endpoint = \"[2001:db8::2]:4433\"\nallowed_ips = [\"100.64.0.2/32\", \"::/0\"]")
		}, "peer[0].allowed_ips[1]", "the tunnel would carry its own packets"},
		{"a peer name that is not a DNS name is rejected", func(t *testing.T) string {
			return edit(t, `name        = "office-b"`, `name        = "office b"`)
		}, "peer[0].name", "use letters, digits, '-' and '.'"},
		{"a peer name with a wildcard is rejected", func(t *testing.T) string {
			return edit(t, `name        = "office-b"`, `name        = "*.example.com"`)
		}, "peer[0].name", "write the exact DNS name"},
		{"a node name that is an IP address is rejected", func(t *testing.T) string {
			return edit(t, `name = "office-a"`, `name = "10.0.0.1"`)
		}, "name", "write the DNS name of the certificate"},
		{"a relative control socket path is rejected", func(t *testing.T) string {
			return baseConfig + "\n[control]\nsocket = \"run/tlsvpn.sock\"\n"
		}, "control.socket", "write an absolute path"},
		{"an empty endpoint is rejected rather than ignored", func(t *testing.T) string {
			return edit(t, `name        = "office-b"`, "name        = \"office-b\"\nendpoint = \"\"")
		}, "peer[0].endpoint", "is empty; write endpoint ="},
		{"a congestion control name with upper case is rejected", func(t *testing.T) string {
			return baseConfig + "\n[transport]\ncongestion_control = \"BBR\"\n"
		}, "transport.congestion_control", `use e.g. "cubic" or "bbr"`},
		{"a congestion control name longer than the kernel's is rejected", func(t *testing.T) string {
			return baseConfig + "\n[transport]\ncongestion_control = \"averyveryverylongname\"\n"
		}, "transport.congestion_control", "longer than the kernel's 15 characters"},
		{"an unknown key in [transport] is rejected", func(t *testing.T) string {
			return baseConfig + "\n[transport]\ncongestion = \"cubic\"\n"
		}, "transport.congestion", ""},
		{"an interface address listed twice is rejected", func(t *testing.T) string {
			return edit(t, `"fd64::1/64"]`, `"100.64.0.1/16"]`)
		}, "interface.address[1]", "remove one"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			p := problemIn(t, tc.text(t), tc.key, tc.fix)
			if tc.key != "" && p.Line == 0 && tc.key != "name" && tc.key != "tls" && tc.key != "peer" {
				t.Errorf("problem %q has no line", p)
			}
		})
	}
}

func TestCongestionControl(t *testing.T) {
	for _, tc := range []struct{ text, want string }{
		{baseConfig, DefaultCongestionControl},
		{baseConfig + "\n[transport]\ncongestion_control = \"bbr\"\n", "bbr"},
		{baseConfig + "\n[transport]\ncongestion_control = \"system\"\n", ""},
	} {
		c, err := parse([]byte(tc.text), testPath)
		if err != nil {
			t.Fatal(err)
		}
		if c.Transport.CongestionControl != tc.want {
			t.Errorf("congestion control %q, want %q", c.Transport.CongestionControl, tc.want)
		}
	}
}

func TestParseReportsEveryProblemAtOnce(t *testing.T) {
	text := `name = "office-a"
colour = "blue"
[tls]
ca = "pki/ca.pem"
[interface]
address = ["100.64.0.1/24"]
mtu = 9
[[peer]]
name = "office-a"
allowed_ips = ["10.2.0.1/24"]
keepalive = "soon"
`
	probs := problems(t, text)
	want := []struct{ key, fix string }{
		{"colour", "remove it"},
		{"tls.cert", "add cert"},
		{"tls.key", "add key"},
		{"interface.mtu", "write a value in that range"},
		{"peer[0].name", "this node's own name"},
		{"peer[0].allowed_ips[0]", "write 10.2.0.0/24"},
		{"peer[0].keepalive", "not a duration"},
		{"", "neither listens nor dials"},
	}
	for _, w := range want {
		findProblem(t, probs, w.key, w.fix)
	}
	if len(probs) != len(want) {
		t.Errorf("got %d problems, want %d: %v", len(probs), len(want), probs)
	}
	for i := 1; i < len(probs); i++ {
		if sortLine(probs[i].Line) < sortLine(probs[i-1].Line) {
			t.Errorf("problems are not in line order: %v before %v", probs[i-1], probs[i])
		}
	}
}

func TestParseReadsTheFileFromDisk(t *testing.T) {
	c, err := Parse("../examples/office-a.toml")
	if err != nil {
		t.Fatalf("Parse: %v", err)
	}
	if c.Name != "office-a" {
		t.Errorf("name = %q", c.Name)
	}
	_, err = Parse(t.TempDir() + "/missing.toml")
	var e *Error
	if !errors.As(err, &e) || !strings.Contains(e.Problems[0].Message, "check the path given with -c") {
		t.Fatalf("a missing file gives %v, want a problem saying to check the path", err)
	}
}

func TestProblemStringNamesFileLineAndKey(t *testing.T) {
	p := Problem{File: "/etc/tlsvpn/a.toml", Key: "peer[1].allowed_ips[0]", Line: 14,
		Message: "host bits set in 10.2.0.1/24; write 10.2.0.0/24"}
	want := "/etc/tlsvpn/a.toml:14: peer[1].allowed_ips[0]: host bits set in 10.2.0.1/24; write 10.2.0.0/24"
	if got := p.String(); got != want {
		t.Errorf("String() = %q, want %q", got, want)
	}
	p.Line, p.Key = 0, ""
	if got := p.String(); got != "/etc/tlsvpn/a.toml: host bits set in 10.2.0.1/24; write 10.2.0.0/24" {
		t.Errorf("without line and key, String() = %q", got)
	}
	e := &Error{Problems: []Problem{{File: "a", Message: "x"}, {File: "a", Line: 2, Message: "y"}}}
	if got := e.Error(); got != "a: x\na:2: y" {
		t.Errorf("Error() = %q, want one problem per line", got)
	}
}
