package config

import (
	"fmt"
	"net"
	"net/netip"
	"slices"
	"strconv"
	"strings"

	"github.com/tlsvpn/tlsvpn/internal/acl"
	"github.com/tlsvpn/tlsvpn/internal/netparse"
)

// Each check below returns "" for a good value, or a message saying what is wrong and how to fix it.

// maxSocketPath is the longest Unix socket name the kernel takes (sun_path is 108 bytes with its NUL).
const maxSocketPath = 107

func isAlnum(c byte) bool {
	return c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9'
}

// checkInterfaceName checks a Linux interface name. The kernel takes more than letters, digits and
// "-_.", but other characters ('%' patterns, '/', ':', spaces, control bytes) break tools or name lookups.
func checkInterfaceName(name string) string {
	const fix = `use at most 15 letters, digits, '-', '_' or '.', like "tlsvpn0"`
	switch {
	case len(name) > MaxInterfaceName:
		return fmt.Sprintf("%q is %d characters, Linux allows %d; %s", name, len(name), MaxInterfaceName, fix)
	case name == "." || name == "..":
		return fmt.Sprintf("%q is not a valid interface name; %s", name, fix)
	}
	for i := 0; i < len(name); i++ {
		if c := name[i]; !isAlnum(c) && c != '-' && c != '_' && c != '.' {
			return fmt.Sprintf("%q contains %q; %s", name, rune(c), fix)
		}
	}
	return ""
}

// splitHostPort splits s like net.SplitHostPort and checks the port (1-65535, digits only).
func splitHostPort(s, example string) (host string, port uint16, problem string) {
	host, portText, err := net.SplitHostPort(s)
	if err != nil {
		return "", 0, hostPortProblem(s, err, example)
	}
	n, err := strconv.ParseUint(portText, 10, 16)
	if err != nil || n == 0 {
		return "", 0, fmt.Sprintf("port %q in %q is not a number from 1 to 65535; write it like %q", portText, s, example)
	}
	return host, uint16(n), ""
}

// hostPortProblem explains why s is not host:port, guessing the fix for the common mistakes.
func hostPortProblem(s string, err error, example string) string {
	if i := strings.LastIndexByte(s, ':'); i > 0 && !strings.Contains(s, "[") && isDigits(s[i+1:]) {
		if a, aerr := netip.ParseAddr(s[:i]); aerr == nil && a.Is6() {
			return fmt.Sprintf("%q is not host:port; put IPv6 addresses in brackets: \"[%s]%s\"", s, a, s[i:])
		}
	}
	if a, aerr := netip.ParseAddr(s); aerr == nil {
		return fmt.Sprintf("%q has no port; write it like %q", s, netip.AddrPortFrom(a, 4433).String())
	}
	return fmt.Sprintf("%q is not host:port (%s); write it like %q", s, reason(err), example)
}

func isDigits(s string) bool {
	return s != "" && strings.Trim(s, "0123456789") == ""
}

// checkListen checks a listen address: an IP literal of this host, or empty / 0.0.0.0 / [::] for all.
func checkListen(s string) string {
	const example = "0.0.0.0:4433"
	host, _, why := splitHostPort(s, example)
	if why != "" || host == "" {
		return why
	}
	addr, err := netip.ParseAddr(host)
	switch {
	case err != nil:
		return fmt.Sprintf("host %q is not an IP address (names are not resolved for listening); write an address of this host, or \"0.0.0.0:4433\" / \"[::]:4433\" for all", host)
	case addr.IsMulticast():
		return fmt.Sprintf("%s is a multicast address; write an address of this host, or \"0.0.0.0:4433\" for all", addr)
	}
	return ""
}

// checkEndpoint checks a peer endpoint: host:port where host is an IP literal or a DNS name. It returns
// the literal address when there is one.
func checkEndpoint(s string) (netip.Addr, string) {
	const example = "198.18.0.2:4433"
	host, _, why := splitHostPort(s, example)
	switch {
	case why != "":
		return netip.Addr{}, why
	case host == "":
		return netip.Addr{}, fmt.Sprintf("%q has no host; write the peer's address or DNS name, like %q", s, example)
	}
	addr, err := netip.ParseAddr(host)
	if err != nil {
		if err := netparse.DNSName(strings.TrimSuffix(host, ".")); err != nil {
			return netip.Addr{}, fmt.Sprintf("host %q is neither an IP address nor a DNS name (%v); write it like %q", host, err, example)
		}
		return netip.Addr{}, ""
	}
	if addr.IsUnspecified() || addr.IsMulticast() {
		return netip.Addr{}, fmt.Sprintf("%s cannot be dialed; write the peer's unicast address, like %q", addr, example)
	}
	return addr.Unmap(), ""
}

// checkEndpointText is checkEndpoint for a codec.
func checkEndpointText(s string) string {
	_, why := checkEndpoint(s)
	return why
}

// checkSocket checks a control socket: an absolute path, or "@name" for an abstract socket.
func checkSocket(s string) string {
	const fix = `write an absolute path like "/run/tlsvpn/office-a.sock", or "@name" for an abstract socket`
	switch {
	case strings.ContainsRune(s, 0):
		return "contains a NUL byte; " + fix
	case len(s) > maxSocketPath:
		return fmt.Sprintf("is %d bytes, a Unix socket name has at most %d; %s", len(s), maxSocketPath, fix)
	case s == "@":
		return "abstract socket without a name; " + fix
	case strings.HasPrefix(s, "@") || strings.HasPrefix(s, "/"):
		return ""
	}
	return fmt.Sprintf("%q is a relative path; %s", s, fix)
}

// checkCongestion checks the form of a congestion control name; whether the kernel has it is only
// known when a connection asks for it.
func checkCongestion(s string) string {
	if len(s) > 15 {
		return fmt.Sprintf("%q is longer than the kernel's 15 characters; use a name from /proc/sys/net/ipv4/tcp_available_congestion_control, or \"system\" for the host's default", s)
	}
	for _, r := range s {
		if !(r >= 'a' && r <= 'z' || r >= '0' && r <= '9' || r == '_') {
			return fmt.Sprintf("%q is not a congestion control name (lower-case letters, digits, _): use e.g. \"cubic\" or \"bbr\", or \"system\" for the host's default", s)
		}
	}
	return ""
}

// reason strips the function-call prefix that net and netip put in front of their error messages.
func reason(err error) string { return netparse.Reason(err) }

// routes is the codec of prefixes routed somewhere: host bits are an error.
var routes = stringList(func(s string) (netip.Prefix, string) {
	p, err := netparse.Prefix(s, false, "10.2.0.0/24")
	if err != nil {
		return p, err.Error()
	}
	return p, ""
}, netip.Prefix.String)

// hosts is the codec of IP addresses of hosts (DNS servers).
var hosts = stringList(func(s string) (netip.Addr, string) {
	a, err := netip.ParseAddr(s)
	switch {
	case err != nil:
		return a, fmt.Sprintf("%q is not an IP address (%s); write one like \"10.1.0.53\" or \"fd01::53\"", s, reason(err))
	case a.Zone() != "" || a.IsUnspecified() || a.IsMulticast():
		return a, fmt.Sprintf("%s is not a host's unicast address; write the address of a server, like \"10.1.0.53\"", s)
	}
	return a, ""
}, netip.Addr.String)

// domains is the codec of DNS domains (search domains).
var domains = stringList(func(s string) (string, string) {
	if err := netparse.DNSName(s); err != nil {
		return "", fmt.Sprintf("%q is not a DNS domain (%v); write it like \"corp.example\", without a trailing dot", s, err)
	}
	return s, ""
}, func(s string) string { return s })

// rules is the codec of a group's allow list.
var rules = stringList(func(s string) (acl.Rule, string) {
	r, err := acl.ParseRule(s)
	if err != nil {
		return r, err.Error()
	}
	return r, ""
}, acl.Rule.String)

// groupName is the codec of a group's name.
var groupName = text(func(s string) string {
	if err := acl.CheckGroupName(s); err != nil {
		return err.Error()
	}
	return ""
})

// addresses is the codec of interface addresses: prefixes whose host bits are the address, each
// address once.
var addresses = codec[[]netip.Prefix]{
	typ: "array of strings",
	decode: func(v value) ([]netip.Prefix, bool) {
		var seen []netip.Addr
		return each(v, func(v value) (netip.Prefix, bool) {
			p, ok := prefix(v, true, "100.64.0.1/24")
			switch {
			case !ok:
				return p, false
			case p.Addr().IsUnspecified() || p.Addr().IsMulticast():
				v.problemf("%s cannot be an interface address; write this node's tunnel address, like \"100.64.0.1/24\"", p.Addr())
				return p, false
			case slices.Contains(seen, p.Addr()):
				v.problemf("%s is listed twice; remove one", p.Addr())
				return p, false
			}
			seen = append(seen, p.Addr())
			return p, true
		})
	},
	encode: routes.encode,
}

// congestion is the codec of [transport] congestion_control: "system" is kept as "", the host's
// default.
var congestion = codec[string]{
	typ: "string",
	decode: rewrite(func(s string) (string, string) {
		if s == CongestionSystem {
			return "", ""
		}
		return s, checkCongestion(s)
	}).decode,
	encode: func(s string) (any, bool) {
		if s == "" {
			return CongestionSystem, true
		}
		return s, true
	},
}
