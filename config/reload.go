package config

import "reflect"

// RestartKeys returns the key paths whose values differ between c, the configuration in force, and
// next, a newly loaded one, and that a reload (SIGHUP) cannot apply; the node keeps the old values of
// these until it restarts, and the caller should log them. Which keys a reload applies is the schema's
// "reload" fact, the column of that name in docs/config.md. A table that a reload cannot add or remove
// is named when it comes or goes; the sections of an array of tables ([[peer]]) are compared by
// position.
func (c *Config) RestartKeys(next *Config) []string {
	var keys []string
	restartKeys(rootSpec.children, "", c.encodeAll(), next.encodeAll(), &keys)
	return keys
}

// restartKeys appends to keys the paths below prefix whose encoded values differ between a and b and
// that a reload cannot apply.
func restartKeys(specs []*spec, prefix string, a, b map[string]any, keys *[]string) {
	for _, s := range specs {
		key := joinKey(prefix, s.name)
		va, inA := a[s.name]
		vb, inB := b[s.name]
		switch {
		case !inA && !inB:
		case inA != inB || s.shape == shapeKey:
			if s.reload == reloadNo && (inA != inB || !reflect.DeepEqual(va, vb)) {
				*keys = append(*keys, key)
			}
		case s.shape == shapeTable:
			restartKeys(s.children, key, va.(map[string]any), vb.(map[string]any), keys)
		case s.shape == shapeArray:
			la, lb := va.([]map[string]any), vb.([]map[string]any)
			for i := range min(len(la), len(lb)) {
				restartKeys(s.children, indexKey(key, i), la[i], lb[i], keys)
			}
		}
	}
}
