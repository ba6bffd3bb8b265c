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
	var buf bytes.Buffer
	enc := toml.NewEncoder(&buf)
	enc.Indent = ""
	if err := enc.Encode(encodeTable(c, c, schema)); err != nil {
		return nil, fmt.Errorf("encode configuration %s: %w", c.Path, err)
	}
	return buf.Bytes(), nil
}
