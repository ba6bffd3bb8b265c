package config

import "net/netip"

// checkPeers runs the rules that relate peers to each other and to the node: unique names, not the
// node's own name, no destination claimed by two peers, no endpoint carried by its own tunnel, and some
// way to connect at all.
func checkPeers(r *report, c *Config, all []allowedIP) {
	checkPeerNames(r, c)
	checkOverlaps(r, c, all)
	checkEndpoints(r, c, all)
	if c.Listen == nil && !c.Dials() {
		r.addf("", "this node neither listens nor dials; add %s, or an endpoint to a [[peer]] (%s)",
			lookup("listen").example, lookup("peer.endpoint").example)
	}
}

func peerKey(i int) string { return indexKey("peer", i) }

func checkPeerNames(r *report, c *Config) {
	first := map[string]int{}
	for i, p := range c.Peers {
		if p.Name == "" {
			continue
		}
		key := peerKey(i) + ".name"
		if p.Name == c.Name {
			r.addf(key, "%q is this node's own name; a peer is another node: write that node's name", p.Name)
		}
		if j, dup := first[p.Name]; dup {
			r.addf(key, "%q is already the name of %s (names compare without case); give each peer its own name, or merge the two sections", p.Name, peerKey(j))
			continue
		}
		first[p.Name] = i
	}
}

// allowedIP is one prefix of one peer's allowed_ips, with the key path where it was written.
type allowedIP struct {
	peer   int
	prefix netip.Prefix
	key    string
}

// allAllowedIPs lists every peer's allowed_ips; index[i][j] is the position in the file of
// c.Peers[i].AllowedIPs[j] (they differ when an earlier element did not parse).
func allAllowedIPs(c *Config, index [][]int) []allowedIP {
	var out []allowedIP
	for i, p := range c.Peers {
		for j, pfx := range p.AllowedIPs {
			out = append(out, allowedIP{peer: i, prefix: pfx, key: allowedKey(index, i, j)})
		}
	}
	return out
}

// allowedKey returns the key path of c.Peers[peer].AllowedIPs[j].
func allowedKey(index [][]int, peer, j int) string {
	pos := j
	if peer < len(index) && j < len(index[peer]) {
		pos = index[peer][j]
	}
	return indexKey(peerKey(peer)+".allowed_ips", pos)
}

func checkOverlaps(r *report, c *Config, all []allowedIP) {
	for i, a := range all {
		for _, b := range all[:i] {
			if a.peer == b.peer || !a.prefix.Overlaps(b.prefix) {
				continue
			}
			r.addf(a.key, "%s overlaps %s of peer %q (%s), so peer %q and peer %q would both claim its addresses; "+
				"remove or narrow one of them", a.prefix, b.prefix, c.Peers[b.peer].Name, b.key,
				c.Peers[a.peer].Name, c.Peers[b.peer].Name)
			break
		}
	}
}

// checkEndpoints refuses literal-IP endpoints that the tunnel itself would carry: inside the peer's own
// allowed_ips, or inside the interface's own prefixes.
func checkEndpoints(r *report, c *Config, all []allowedIP) {
	for i, p := range c.Peers {
		if p.Endpoint == "" {
			continue
		}
		ip, why := checkEndpoint(p.Endpoint)
		if why != "" || !ip.IsValid() {
			continue
		}
		for _, a := range all {
			if a.peer == i && a.prefix.Contains(ip) {
				r.addf(a.key, "%s contains %s, the endpoint of this peer: the tunnel would carry its own packets; "+
					"leave the endpoint's address out of allowed_ips (split the prefix around it)", a.prefix, ip)
			}
		}
		for _, a := range c.Interface.Addresses {
			if a.Masked().Contains(ip) {
				r.addf(peerKey(i)+".endpoint", "%s is inside this node's tunnel prefix %s, so it could only be reached "+
					"through the tunnel itself; write the peer's underlay address, like %q", ip, a.Masked(), "198.18.0.2:4433")
			}
		}
	}
}
