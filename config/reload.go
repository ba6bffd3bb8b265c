package config

import "slices"

// RestartKeys returns the key paths whose values differ between c, the configuration in force, and
// next, a newly loaded one, and that a reload (SIGHUP) cannot apply; the node keeps the old values of
// these until it restarts, and the caller should log them. Everything else — [tls] files and every
// [[peer]] — a reload applies. See docs/config.md, column "Reload".
func (c *Config) RestartKeys(next *Config) []string {
	var keys []string
	changed := func(key string, differs bool) {
		if differs {
			keys = append(keys, key)
		}
	}
	changed("name", c.Name != next.Name)
	changed("interface.name", c.Interface.Name != next.Interface.Name)
	changed("interface.address", !slices.Equal(c.Interface.Addresses, next.Interface.Addresses))
	changed("interface.mtu", c.Interface.MTU != next.Interface.MTU)
	changed("interface.offload", c.Interface.Offload != next.Interface.Offload)
	changed("listen", (c.Listen == nil) != (next.Listen == nil))
	changed("listen.address", c.Listen != nil && next.Listen != nil && c.Listen.Address != next.Listen.Address)
	changed("control.socket", c.Control.Socket != next.Control.Socket)
	changed("tls.rotate_after", c.TLS.RotateAfter != next.TLS.RotateAfter)
	changed("transport.congestion_control", c.Transport.CongestionControl != next.Transport.CongestionControl)
	return keys
}
