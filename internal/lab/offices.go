package lab

import (
	"fmt"
	"path/filepath"
	"strconv"
	"strings"
)

// Office is one of the two tlsvpn nodes of the test topology, as the
// demo and the benchmark run them.
type Office struct {
	Name, Peer string
	Addresses  []string // tunnel interface addresses with prefix length
	Listen     string   // "" when it only dials
	Endpoint   string   // "" when it only listens
	AllowedIPs []string // the peer's tunnel addresses and LAN; unused with TAP
	// TAP runs the office in TAP mode: its interface is an Ethernet device
	// with Addresses on it, and routes nothing (no allowed_ips).
	TAP bool
}

const (
	TunnelDev    = "tlsvpn0"           // the offices' tunnel interface
	OfficeListen = UnderlayA + ":4433" // where office-a listens
)

// Offices are office-a on gwA, which listens, and office-b on gwB, which
// dials it; tunnel 100.64.0.1/24 fd64::1/64 and .2. Each routes the other's
// tunnel address and LAN to it.
var Offices = [2]Office{
	{
		Name: "office-a", Peer: "office-b",
		Addresses:  []string{"100.64.0.1/24", "fd64::1/64"},
		Listen:     OfficeListen,
		AllowedIPs: []string{"100.64.0.2/32", "fd64::2/128", "10.2.0.0/24", "fd02::/64"},
	},
	{
		Name: "office-b", Peer: "office-a",
		Addresses:  []string{"100.64.0.2/24", "fd64::2/64"},
		Endpoint:   OfficeListen,
		AllowedIPs: []string{"100.64.0.1/32", "fd64::1/128", "10.1.0.0/24", "fd01::/64"},
	},
}

// Config returns the office's configuration file. pki is the folder holding
// ca.pem, crl.pem, NAME.pem and NAME.key (absolute, or relative to the config
// file's folder); mtu 0 leaves the default; by names the program writing it,
// in a comment.
func (o Office) Config(pki string, mtu int, by string) string {
	var b strings.Builder
	fmt.Fprintf(&b, "# %s: written by %s\nname = %q\n\n", o.Name, by, o.Name)
	fmt.Fprintf(&b, "[tls]\nca   = %q\ncert = %q\nkey  = %q\ncrl  = %q\n\n",
		filepath.Join(pki, "ca.pem"), filepath.Join(pki, o.Name+".pem"), filepath.Join(pki, o.Name+".key"), filepath.Join(pki, "crl.pem"))
	fmt.Fprintf(&b, "[interface]\nname    = %q\naddress = %s\n", TunnelDev, tomlList(o.Addresses))
	if o.TAP {
		b.WriteString("mode    = \"tap\"\n")
	}
	if mtu != 0 {
		fmt.Fprintf(&b, "mtu     = %d\n", mtu)
	}
	b.WriteString("\n")
	if o.Listen != "" {
		fmt.Fprintf(&b, "[listen]\naddress = %q\n\n", o.Listen)
	}
	fmt.Fprintf(&b, "[[peer]]\nname        = %q\n", o.Peer)
	if o.Endpoint != "" {
		fmt.Fprintf(&b, "endpoint    = %q\n", o.Endpoint)
	}
	if !o.TAP {
		fmt.Fprintf(&b, "allowed_ips = %s\n", tomlList(o.AllowedIPs))
	}
	return b.String()
}

// tomlList formats plain ASCII strings as a TOML array.
func tomlList(items []string) string {
	q := make([]string, len(items))
	for i, s := range items {
		q[i] = strconv.Quote(s)
	}
	return "[" + strings.Join(q, ", ") + "]"
}
