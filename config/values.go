package config

import (
	"fmt"
	"net"
	"net/netip"
	"strconv"
	"strings"
)

// Each check below returns "" for a good value, or a message saying what is wrong and how to fix it.

// maxDNSName is the longest DNS name in text form, without the trailing dot (RFC 1035).
const maxDNSName = 253

// maxSocketPath is the longest Unix socket name the kernel takes (sun_path is 108 bytes with its NUL).
const maxSocketPath = 107

// checkIdentity checks a node or peer name: a DNS name as it appears in a certificate's DNS SANs.
func checkIdentity(name string) string {
	switch {
	case strings.Contains(name, "*"):
		return fmt.Sprintf("%q has a wildcard; a name identifies one certificate: write the exact DNS name", name)
	case strings.HasSuffix(name, "."):
		return fmt.Sprintf("%q ends with a dot; write it without: %q", name, strings.TrimSuffix(name, "."))
	}
	if _, err := netip.ParseAddr(name); err == nil {
		return fmt.Sprintf("%q is an IP address; write the DNS name of the certificate (its DNS SAN)", name)
	}
	if why := dnsNameProblem(name); why != "" {
		return fmt.Sprintf("%q is not a valid DNS name: %s; use letters, digits, '-' and '.', like \"office-b\"", name, why)
	}
	return ""
}

// dnsNameProblem says why name is not a DNS host name (RFC 1123 labels), or "".
func dnsNameProblem(name string) string {
	if len(name) > maxDNSName {
		return fmt.Sprintf("longer than %d characters", maxDNSName)
	}
	for _, label := range strings.Split(name, ".") {
		switch {
		case label == "":
			return "empty label"
		case len(label) > 63:
			return "label longer than 63 characters"
		case label[0] == '-' || label[len(label)-1] == '-':
			return fmt.Sprintf("label %q starts or ends with '-'", label)
		}
		for i := 0; i < len(label); i++ {
			if c := label[i]; !isAlnum(c) && c != '-' {
				return fmt.Sprintf("character %q is not allowed", rune(c))
			}
		}
	}
	return ""
}

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
		if why := dnsNameProblem(strings.TrimSuffix(host, ".")); why != "" {
			return netip.Addr{}, fmt.Sprintf("host %q is neither an IP address nor a DNS name (%s); write it like %q", host, why, example)
		}
		return netip.Addr{}, ""
	}
	if addr.IsUnspecified() || addr.IsMulticast() {
		return netip.Addr{}, fmt.Sprintf("%s cannot be dialed; write the peer's unicast address, like %q", addr, example)
	}
	return addr.Unmap(), ""
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

// parsePrefix parses an address prefix; hostBits allows host bits (interface addresses).
func parsePrefix(s string, hostBits bool, example string) (netip.Prefix, string) {
	p, err := netip.ParsePrefix(s)
	if err != nil {
		if !strings.Contains(s, "/") {
			if a, err := netip.ParseAddr(s); err == nil && !hostBits {
				return netip.Prefix{}, fmt.Sprintf("%q has no prefix length; write %q for this one address", s,
					netip.PrefixFrom(a, a.BitLen()).String())
			}
		}
		return netip.Prefix{}, fmt.Sprintf("%q is not an IP prefix (%s); write an address and a length, like %q",
			s, reason(err), example)
	}
	if !hostBits && p.Masked() != p {
		return netip.Prefix{}, fmt.Sprintf("host bits set in %s; write %s (or %s for that one address)",
			p, p.Masked(), netip.PrefixFrom(p.Addr(), p.Addr().BitLen()))
	}
	return p, ""
}

// reason strips the function-call prefix that net and netip put in front of their error messages.
func reason(err error) string {
	msg := err.Error()
	if i := strings.LastIndex(msg, "): "); i >= 0 {
		return msg[i+3:]
	}
	if i := strings.LastIndex(msg, ": "); i >= 0 {
		return msg[i+2:]
	}
	return msg
}
