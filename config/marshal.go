package config

import (
	"bytes"
	"fmt"

	"github.com/BurntSushi/toml"
)

// The shapes MarshalTOML writes: every key explicit, paths absolute.
type (
	fileTOML struct {
		Name      string        `toml:"name"`
		TLS       tlsTOML       `toml:"tls"`
		Interface interfaceTOML `toml:"interface"`
		Listen    *listenTOML   `toml:"listen,omitempty"`
		Control   controlTOML   `toml:"control"`
		Peers     []peerTOML    `toml:"peer"`
	}
	tlsTOML struct {
		CA   string   `toml:"ca"`
		Cert string   `toml:"cert"`
		Key  string   `toml:"key"`
		CRL  []string `toml:"crl,omitempty"`

		ExpiryWarning string `toml:"expiry_warning"`
		RotateAfter   string `toml:"rotate_after"`
	}
	interfaceTOML struct {
		Name    string   `toml:"name"`
		Address []string `toml:"address"`
		MTU     int      `toml:"mtu"`
		Offload string   `toml:"offload"`
	}
	listenTOML struct {
		Address string `toml:"address"`
	}
	controlTOML struct {
		Socket string `toml:"socket"`
	}
	peerTOML struct {
		Name       string   `toml:"name"`
		Endpoint   string   `toml:"endpoint,omitempty"`
		AllowedIPs []string `toml:"allowed_ips"`
		Keepalive  string   `toml:"keepalive"`
	}
)

// MarshalTOML writes c as a configuration file with every key explicit (defaults included) and absolute
// paths. Parsing the result at c.Path gives back a Config equal to c.
func (c *Config) MarshalTOML() ([]byte, error) {
	f := fileTOML{
		Name: c.Name,
		TLS: tlsTOML{CA: c.TLS.CA, Cert: c.TLS.Cert, Key: c.TLS.Key, CRL: c.TLS.CRLs,
			ExpiryWarning: c.TLS.ExpiryWarning.String(), RotateAfter: c.TLS.RotateAfter.String()},
		Interface: interfaceTOML{
			Name:    c.Interface.Name,
			Address: texts(c.Interface.Addresses),
			MTU:     c.Interface.MTU,
			Offload: c.Interface.Offload,
		},
		Control: controlTOML{Socket: c.Control.Socket},
	}
	if c.Listen != nil {
		f.Listen = &listenTOML{Address: c.Listen.Address}
	}
	for _, p := range c.Peers {
		f.Peers = append(f.Peers, peerTOML{
			Name:       p.Name,
			Endpoint:   p.Endpoint,
			AllowedIPs: texts(p.AllowedIPs),
			Keepalive:  p.Keepalive.String(),
		})
	}
	var buf bytes.Buffer
	if err := toml.NewEncoder(&buf).Encode(f); err != nil {
		return nil, fmt.Errorf("encode configuration %s: %w", c.Path, err)
	}
	return buf.Bytes(), nil
}

func texts[T fmt.Stringer](values []T) []string {
	out := make([]string, len(values))
	for i, v := range values {
		out[i] = v.String()
	}
	return out
}
