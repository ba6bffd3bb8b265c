package config

// checkRules runs the rules that relate keys to each other, once every key is read and the defaults
// are filled. Rules about single values are in the codecs of the schema (keys.go).
func checkRules(d *decoder, c *Config) {
	if len(c.Peers) == 0 && !d.r.has("peer") {
		d.r.addf("peer", "no peer is configured; add %s", lookup("peer").example)
	}
	checkPeers(d.r, c, d.allowedIndex(c))
}
