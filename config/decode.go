package config

import (
	"fmt"
	"net/netip"
	"path/filepath"
	"strconv"
	"strings"
	"time"
)

// Examples used in messages, one per key, so that a fix can be copied into the file.
const (
	exName       = `name = "office-a"`
	exTLS        = "[tls] with ca, cert and key"
	exCA         = `ca = "pki/ca.pem"`
	exCert       = `cert = "pki/office-a.pem"`
	exKey        = `key = "pki/office-a.key"`
	exCRL        = `crl = "pki/crl.pem"`
	exCRLs       = `crl = ["pki/crl.pem", "pki/clients-crl.pem"]`
	exInterface  = `[interface] with address = ["100.64.0.1/24"]`
	exIfName     = `name = "tlsvpn0"`
	exAddress    = `address = ["100.64.0.1/24", "fd64::1/64"]`
	exMTU        = "mtu = 1500"
	exOffload    = `offload = "auto"`
	exListen     = "[listen] with address = \"0.0.0.0:4433\""
	exListenAddr = `address = "0.0.0.0:4433"`
	exControl    = "[control] with socket = \"/run/tlsvpn/office-a.sock\""
	exSocket     = `socket = "/run/tlsvpn/office-a.sock"`
	exTransport  = `[transport] with congestion_control = "cubic"`
	exCongestion = `congestion_control = "cubic"`
	exPeer       = "[[peer]] sections, each with name and allowed_ips"
	exPeerName   = `name = "office-b"`
	exEndpoint   = `endpoint = "198.18.0.2:4433"`
	exAllowedIPs = `allowed_ips = ["100.64.0.2/32", "10.2.0.0/24"]`
	exKeepalive  = `keepalive = "10s"`

	exExpiryWarning = `expiry_warning = "21d"`
	exRotateAfter   = `rotate_after = "1h"`
)

// decode builds a Config from the decoded document root, recording every problem in r. The Config is
// filled as far as the values allow; it is only handed out when r has no problem. index[i][j] is the
// position in the file of c.Peers[i].AllowedIPs[j], for messages.
func decode(r *report, root map[string]any, path string) (c *Config, index [][]int) {
	t := &table{r: r, m: root}
	t.unknown("name", "tls", "interface", "listen", "control", "transport", "peer")
	c = &Config{Path: path}
	if name, ok := t.str("name", exName, true); ok {
		if why := checkIdentity(name); why != "" {
			r.addf("name", "%s", why)
		}
		c.Name = name
	}
	c.TLS = decodeTLS(t, filepath.Dir(path))
	c.Interface = decodeInterface(t)
	c.Listen = decodeListen(t)
	c.Control = decodeControl(t, c.Interface.Name)
	c.Transport = decodeTransport(t)
	c.Peers, index = decodePeers(t)
	checkPeers(r, c, index)
	return c, index
}

func decodeTLS(root *table, dir string) TLS {
	t, ok := root.sub("tls", exTLS)
	if !ok {
		if _, present := root.m["tls"]; !present {
			root.r.addf("tls", "missing; add %s", exTLS)
		}
		return TLS{}
	}
	t.unknown("ca", "cert", "key", "crl", "expiry_warning", "rotate_after")
	file := func(name, example string, required bool) string {
		p, ok := t.str(name, example, required)
		if !ok {
			return ""
		}
		if !filepath.IsAbs(p) {
			p = filepath.Join(dir, p)
		}
		return filepath.Clean(p)
	}
	tls := TLS{
		CA:   file("ca", exCA, true),
		Cert: file("cert", exCert, true),
		Key:  file("key", exKey, true),
		CRLs: decodeCRLs(t, dir),

		ExpiryWarning: ExpiryWarning,
		RotateAfter:   DefaultRotateAfter,
	}
	if d, ok := decodeDuration(t, "expiry_warning", exExpiryWarning); ok {
		if d < 0 {
			t.r.addf(t.key("expiry_warning"), "%s is negative; write a window like %s, or \"0s\" for no warnings", d, exExpiryWarning)
		} else {
			tls.ExpiryWarning = d
		}
	}
	if d, ok := decodeDuration(t, "rotate_after", exRotateAfter); ok {
		if d < MinRotateAfter {
			t.r.addf(t.key("rotate_after"), "%s is shorter than %s; write at least \"10s\" (%s is the default)", d, MinRotateAfter, exRotateAfter)
		} else {
			tls.RotateAfter = d
		}
	}
	return tls
}

// decodeCRLs reads tls.crl: one file, or an array of files.
func decodeCRLs(t *table, dir string) []string {
	var paths []string
	switch v := t.m["crl"].(type) {
	case nil:
		return nil
	case []any:
		for _, e := range t.strs("crl", exCRLs, false) {
			paths = append(paths, e.value)
		}
		if len(v) == 0 {
			t.r.addf(t.key("crl"), "is empty; list the CRL files, like %s, or remove the crl key", exCRLs)
		}
	case string:
		if p, ok := t.str("crl", exCRL, false); ok {
			paths = []string{p}
		}
	default:
		t.r.addf(t.key("crl"), "is %s, must be a file or an array of files; write %s or %s", typeName(v), exCRL, exCRLs)
	}
	for i, p := range paths {
		if !filepath.IsAbs(p) {
			p = filepath.Join(dir, p)
		}
		paths[i] = filepath.Clean(p)
	}
	return paths
}

func decodeInterface(root *table) Interface {
	in := Interface{Name: DefaultInterfaceName, MTU: DefaultMTU, Offload: OffloadAuto}
	t, ok := root.sub("interface", exInterface)
	if !ok {
		if _, present := root.m["interface"]; !present {
			root.r.addf("interface", "missing; add %s", exInterface)
		}
		return in
	}
	t.unknown("name", "address", "mtu", "offload")
	if name, ok := t.str("name", exIfName, false); ok {
		if why := checkInterfaceName(name); why != "" {
			t.r.addf(t.key("name"), "%s", why)
		}
		in.Name = name
	}
	in.Addresses = decodeAddresses(t)
	if mtu, ok := t.integer("mtu", exMTU); ok {
		if mtu < MinMTU || mtu > MaxMTU {
			t.r.addf(t.key("mtu"), "%d is outside %d-%d; write a value in that range, the same on both ends (%s is the default)",
				mtu, MinMTU, MaxMTU, exMTU)
		} else {
			in.MTU = int(mtu)
		}
	}
	if mode, ok := t.str("offload", exOffload, false); ok {
		if mode != OffloadAuto && mode != OffloadOff && mode != OffloadSplit {
			t.r.addf(t.key("offload"), "%q is not a mode; write offload = %q, %q or %q", mode, OffloadAuto, OffloadSplit, OffloadOff)
		}
		in.Offload = mode
	}
	return in
}

// decodeAddresses reads interface.address: prefixes with host bits, each address listed once.
func decodeAddresses(t *table) []netip.Prefix {
	var out []netip.Prefix
	for _, e := range t.strs("address", exAddress, true) {
		key := indexKey(t.key("address"), e.index)
		p, why := parsePrefix(e.value, true, "100.64.0.1/24")
		switch {
		case why != "":
			t.r.addf(key, "%s", why)
			continue
		case p.Addr().IsUnspecified() || p.Addr().IsMulticast():
			t.r.addf(key, "%s cannot be an interface address; write this node's tunnel address, like \"100.64.0.1/24\"", p.Addr())
			continue
		}
		for _, q := range out {
			if q.Addr() == p.Addr() {
				t.r.addf(key, "%s is listed twice; remove one", p.Addr())
			}
		}
		out = append(out, p)
	}
	return out
}

func decodeListen(root *table) *Listen {
	t, ok := root.sub("listen", exListen)
	if !ok {
		return nil
	}
	t.unknown("address")
	l := &Listen{}
	if addr, ok := t.str("address", exListenAddr, true); ok {
		if why := checkListen(addr); why != "" {
			t.r.addf(t.key("address"), "%s", why)
		}
		l.Address = addr
	}
	return l
}

func decodeControl(root *table, ifname string) Control {
	c := Control{Socket: "@tlsvpn/" + ifname}
	t, ok := root.sub("control", exControl)
	if !ok {
		return c
	}
	t.unknown("socket")
	if s, ok := t.str("socket", exSocket, false); ok {
		if why := checkSocket(s); why != "" {
			t.r.addf(t.key("socket"), "%s", why)
		}
		c.Socket = s
	}
	return c
}

func decodeTransport(root *table) Transport {
	tr := Transport{CongestionControl: DefaultCongestionControl}
	t, ok := root.sub("transport", exTransport)
	if !ok {
		return tr
	}
	t.unknown("congestion_control")
	if s, ok := t.str("congestion_control", exCongestion, false); ok {
		if s == CongestionSystem {
			s = ""
		} else if why := checkCongestion(s); why != "" {
			t.r.addf(t.key("congestion_control"), "%s", why)
		}
		tr.CongestionControl = s
	}
	return tr
}

// checkCongestion checks the form of a congestion control name; whether the
// kernel has it is only known when a connection asks for it.
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

func decodePeers(root *table) ([]Peer, [][]int) {
	tables, present := root.tables("peer", exPeer)
	if list, ok := root.m["peer"].([]any); !present || ok && len(list) == 0 {
		root.r.addf("peer", "no peer is configured; add %s", exPeer)
	}
	peers := make([]Peer, 0, len(tables))
	index := make([][]int, 0, len(tables))
	for _, t := range tables {
		if t == nil {
			peers = append(peers, Peer{Keepalive: DefaultKeepalive})
			index = append(index, nil)
			continue
		}
		p, idx := decodePeer(t)
		peers = append(peers, p)
		index = append(index, idx)
	}
	return peers, index
}

// decodePeer reads one [[peer]]; index holds the position in the file of each parsed allowed_ips prefix.
func decodePeer(t *table) (p Peer, index []int) {
	t.unknown("name", "endpoint", "allowed_ips", "keepalive")
	p = Peer{Keepalive: DefaultKeepalive}
	if name, ok := t.str("name", exPeerName, true); ok {
		if why := checkIdentity(name); why != "" {
			t.r.addf(t.key("name"), "%s", why)
		}
		p.Name = name
	}
	if ep, ok := t.str("endpoint", exEndpoint, false); ok {
		if _, why := checkEndpoint(ep); why != "" {
			t.r.addf(t.key("endpoint"), "%s", why)
		}
		p.Endpoint = ep
	}
	for _, e := range t.strs("allowed_ips", exAllowedIPs, true) {
		pfx, why := parsePrefix(e.value, false, "10.2.0.0/24")
		if why != "" {
			t.r.addf(indexKey(t.key("allowed_ips"), e.index), "%s", why)
			continue
		}
		p.AllowedIPs = append(p.AllowedIPs, pfx)
		index = append(index, e.index)
	}
	if ka, ok := decodeDuration(t, "keepalive", exKeepalive); ok {
		if ka < MinKeepalive {
			t.r.addf(t.key("keepalive"), "%s is shorter than %s; write at least \"1s\" (%s is the default)", ka, MinKeepalive, exKeepalive)
		} else {
			p.Keepalive = ka
		}
	}
	return p, index
}

// decodeDuration reads a duration written as a Go duration string ("10s",
// "1m30s") or a whole number of days ("21d").
func decodeDuration(t *table, name, example string) (time.Duration, bool) {
	s, ok := t.str(name, example, false)
	if !ok {
		return 0, false
	}
	d, err := parseDuration(s)
	if err != nil {
		t.r.addf(t.key(name), "%q is not a duration; write a number with a unit (ms, s, m, h, d), like %s", s, example)
		return 0, false
	}
	return d, true
}

// parseDuration is time.ParseDuration plus whole days ("21d").
func parseDuration(s string) (time.Duration, error) {
	if days, ok := strings.CutSuffix(s, "d"); ok {
		n, err := strconv.Atoi(days)
		if err != nil || n < 0 || n > 36500 {
			return 0, fmt.Errorf("bad number of days %q", days)
		}
		return time.Duration(n) * 24 * time.Hour, nil
	}
	return time.ParseDuration(s)
}

// indexKey returns the key path of element i of the array at key.
func indexKey(key string, i int) string {
	return key + "[" + strconv.Itoa(i) + "]"
}
