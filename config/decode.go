package config

import "strconv"

// decoder is the state of decoding one file: where problems go, the file's folder for relative
// paths, and what the rules that relate keys to each other need to know about the file.
type decoder struct {
	r    *report // errors
	warn *report // warnings
	dir  string  // folder of the file
	// defaults set the keys the file leaves out, once every key is read (some follow other keys);
	// modeDefaults then set those of keys that belong to one interface mode, when it is the node's.
	defaults, modeDefaults []func(*Config)
	// present holds the key path of every key and table the file sets, with its spec.
	present map[string]*spec
	// positions holds, for every array of values, the position in the file of each element kept (they
	// differ after an element that did not decode): positions["peer[0].allowed_ips"][j] is where
	// AllowedIPs[j] was written.
	positions map[string][]int
}

// decodeRoot builds a Config from the decoded document, recording every problem. The Config is filled
// as far as the values allow; it is only handed out when there is no problem.
func decodeRoot(d *decoder, root map[string]any, path string) *Config {
	c := &Config{Path: path}
	decodeTable(&table{d: d, m: root}, c, schema)
	for _, f := range append(d.defaults, d.modeDefaults...) {
		f(c)
	}
	checkRules(d, c)
	return c
}

// elemKey returns the key path of element j of the decoded array at key, which is the element's
// position in the file unless an earlier element was dropped.
func (d *decoder) elemKey(key string, j int) string {
	if pos, ok := d.positions[key]; ok && j < len(pos) {
		j = pos[j]
	}
	return indexKey(key, j)
}

// allowedIndex returns, for each peer, the position in the file of each of its allowed_ips.
func (d *decoder) allowedIndex(c *Config) [][]int {
	index := make([][]int, len(c.Peers))
	for i := range c.Peers {
		index[i] = d.positions[peerKey(i)+".allowed_ips"]
	}
	return index
}

// indexKey returns the path of element i of the array at key.
func indexKey(key string, i int) string {
	return key + "[" + strconv.Itoa(i) + "]"
}
