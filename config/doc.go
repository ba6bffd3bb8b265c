// Package config reads a tlsvpn configuration file (TOML) into a validated Config and runs every check
// behind `tlsvpn check`.
//
// It works in two halves (docs/design.md, "Check first, then touch the host"):
//
//   - Parse reads the file, decodes it and validates every value: key names, types, prefixes, names,
//     addresses, the rules that tie peers together. It touches no other file.
//   - Load runs Parse, then reads the files the configuration names (CA, certificate, key, CRLs) once,
//     loads them with internal/trust and checks the node's own certificate with the validator the
//     handshake uses, reporting each finding at the key of the file to fix. The checked credentials
//     come back in Config.Credentials. It also returns warnings (IP forwarding off while LAN prefixes
//     are routed, certificates expiring soon, a stale CRL).
//
// Neither binds a socket, resolves a name, opens a device nor changes the host. Both report every problem
// they find at once, as an *Error holding Problems that name the file, the key path
// ("peer[1].allowed_ips[0]") and, where it is known, the line.
//
// All functions are safe for concurrent use; a returned *Config is never modified by this package and may
// be shared read-only between goroutines.
package config

//go:generate go run ./internal/gendoc ../docs/config.md
