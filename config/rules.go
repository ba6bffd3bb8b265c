package config

import (
	"slices"
	"strings"

	"github.com/tlsvpn/tlsvpn/internal/l2"
)

// checkRules runs the rules that relate keys to each other, once every key is read and the defaults
// are filled. Rules about single values are in the codecs of the schema (keys.go).
func checkRules(d *decoder, c *Config) {
	all := allAllowedIPs(c, d.allowedIndex(c))
	checkModes(d, c)
	checkTAP(d, c)
	checkRoles(d, c)
	checkPeers(d.r, c, all)
	checkRemoteAccess(d, c, all)
	checkGroups(d, c)
	warnMetrics(d, c)
}

// checkModes refuses the keys of the other interface mode (the schema's "only").
func checkModes(d *decoder, c *Config) {
	if c.Interface.Mode == "" { // a bad mode: reported
		return
	}
	keys := make([]string, 0, len(d.present))
	for key, s := range d.present {
		if !s.inMode(c) {
			keys = append(keys, key)
		}
	}
	slices.Sort(keys)
	for _, key := range keys {
		if d.present[key].only == ModeTAP {
			d.r.addf(key, "is only used in TAP mode; remove it, or write mode = %q under [interface]", ModeTAP)
		} else {
			d.r.addf(key, "is not used in TAP mode (interface.mode = %q): remove it", ModeTAP)
		}
	}
}

// checkTAP runs the rules of TAP mode's values: an MTU whose frames fit the 16-bit length of every
// frame (docs/layer2.md), and a bridge other than the device itself.
func checkTAP(d *decoder, c *Config) {
	if c.Interface.Mode != ModeTAP {
		return
	}
	if c.Interface.MTU > l2.MaxMTU {
		d.r.addf("interface.mtu", "%d is too large for TAP mode: a frame is the MTU plus up to %d bytes of Ethernet header and must fit %d bytes; set mtu = %d or less",
			c.Interface.MTU, l2.MaxOverhead, l2.MaxFrame, l2.MaxMTU)
	}
	if c.Interface.Bridge != "" && c.Interface.Bridge == c.Interface.Name {
		d.r.addf("interface.bridge", "%q is the TAP device's own name (interface.name); name the existing bridge it joins", c.Interface.Bridge)
	}
}

// checkRoles runs the rules of the keys that some nodes need and others must not have: a node's
// addresses, its peers' allowed_ips, the remote-access peer of a client.
func checkRoles(d *decoder, c *Config) {
	tun := c.Interface.Mode == ModeTUN
	client := -1
	for i, p := range c.Peers {
		key := peerKey(i)
		_, hasIPs := d.present[key+".allowed_ips"]
		switch {
		case p.RemoteAccess && hasIPs:
			d.r.addf(key+".allowed_ips", "a remote_access peer pushes the routes this node takes; remove allowed_ips")
		case !p.RemoteAccess && !hasIPs && tun:
			d.missing(key+".allowed_ips", "")
		}
		if !p.RemoteAccess {
			continue
		}
		if _, has := d.present[key+".endpoint"]; !has {
			d.missing(key+".endpoint", "a remote-access client dials its hub")
		}
		if client >= 0 {
			d.r.addf(key+".remote_access", "%s is already the remote_access peer, and a node takes its addresses from one hub; set remote_access = true on one peer only",
				peerKey(client))
			continue
		}
		client = i
	}
	_, hasAddress := d.present["interface.address"]
	switch {
	case client >= 0 && hasAddress:
		d.r.addf("interface.address", "a remote-access client takes its addresses from its hub (peer %q); remove address", c.Peers[client].Name)
	case client < 0 && tun && !hasAddress:
		d.missing("interface.address", "")
	}
	if client >= 0 && c.RemoteAccess != nil {
		d.r.addf("remote_access", "this node is a remote-access client of peer %q (%s.remote_access), and a node is a hub or a client, not both; remove one of them",
			c.Peers[client].Name, peerKey(client))
	}
	if len(c.Peers) == 0 && c.RemoteAccess == nil && !d.r.has("peer") {
		d.r.addf("peer", "no peer is configured; add %s (a hub with [remote_access] may have none)", lookup("peer").example)
	}
}

// missing reports that the key at path, which only some nodes need, is absent; why says why this one
// needs it, when the key's table does not say.
func (d *decoder) missing(path, why string) {
	i := strings.LastIndexByte(path, '.')
	t := &table{d: d, path: path[:max(i, 0)]}
	t.missingBecause(path[i+1:], lookup(stripIndexes(path)).example, why)
}

// stripIndexes turns a key path into its schema path: "peer[1].allowed_ips" into "peer.allowed_ips".
func stripIndexes(path string) string {
	var b strings.Builder
	skip := false
	for _, r := range path {
		switch {
		case r == '[':
			skip = true
		case r == ']':
			skip = false
		case !skip:
			b.WriteRune(r)
		}
	}
	return b.String()
}
