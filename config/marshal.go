package config

import (
	"bytes"
	"fmt"

	"github.com/BurntSushi/toml"
)

// MarshalTOML writes c as a configuration file with every key the schema has explicit (defaults
// included; a key without a value and without a default, like an unset endpoint, is left out) and
// absolute paths. Keys are sorted within each table. Parsing the result at c.Path gives back a Config
// equal to c.
func (c *Config) MarshalTOML() ([]byte, error) {
	return c.marshal(c.encodeAll())
}

// encodeAll returns the TOML document of c with every key the schema has explicit, as MarshalTOML
// writes it.
func (c *Config) encodeAll() map[string]any {
	return encodeTable(c, &encoding{mode: c.Interface.Mode}, schema)
}

// marshal writes doc, the TOML document of c.
func (c *Config) marshal(doc map[string]any) ([]byte, error) {
	var buf bytes.Buffer
	enc := toml.NewEncoder(&buf)
	enc.Indent = ""
	if err := enc.Encode(doc); err != nil {
		return nil, fmt.Errorf("encode configuration %s: %w", c.Path, err)
	}
	return buf.Bytes(), nil
}
