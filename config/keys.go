package config

import (
	"net/netip"
	"time"
)

// schema declares every key of the configuration file, once: its Go field, how its value is read and
// checked (the codec), its default, whether a reload applies it and what it means. docs/config.md's
// key table is generated from it (go generate ./config); the rules that relate keys to each other are
// in rules.go.
var schema = []entry[Config]{
	field(func(c *Config) *string { return &c.Name }, identity, spec{
		name: "name", required: true, reload: reloadNo, example: `name = "office-a"`,
		meaning: "This node's identity. Must be a DNS SAN of `tls.cert`. A name (see [Names](#names)): letters, digits, `-`, `.`; no wildcard, no trailing dot, not an IP address.",
	}),
	section(func(c *Config) *TLS { return &c.TLS }, spec{
		name: "tls", required: true, example: "[tls] with ca, cert and key",
		meaning: "The node's certificates. Relative paths are relative to the configuration file's folder.",
	}, tlsKeys...),
	section(func(c *Config) *Interface { return &c.Interface }, spec{
		name: "interface", example: `[interface] with address = ["100.64.0.1/24"]`,
		meaning: "The TUN interface.",
	}, interfaceKeys...),
	optional(func(c *Config) **Listen { return &c.Listen }, spec{
		name: "listen", reload: reloadNo, example: `[listen] with address = "0.0.0.0:4433"`,
		meaning: "Present: the node accepts peers. Absent: it only dials.",
	},
		field(func(l *Listen) *string { return &l.Address }, text(checkListen), spec{
			name: "address", required: true, reload: reloadNo, example: `address = "0.0.0.0:4433"`,
			meaning: "`host:port`. Host: an IP address of this host, or empty / `0.0.0.0` / `[::]` for all. IPv6 in brackets: `\"[::]:4433\"`. Names are not accepted (nothing is resolved for listening). Port 1–65535.",
		}),
	),
	section(func(c *Config) *Control { return &c.Control }, spec{
		name: "control", example: `[control] with socket = "/run/tlsvpn/office-a.sock"`,
		meaning: "The local control socket of `tlsvpn status` and `tlsvpn reload`.",
	},
		field(func(c *Control) *string { return &c.Socket }, text(checkSocket), spec{
			name: "socket", reload: reloadNo, example: `socket = "/run/tlsvpn/office-a.sock"`,
			def:     "`\"@tlsvpn/<interface.name>\"`",
			meaning: "An absolute path, or `@name` for an abstract socket (abstract names are per network namespace). At most 107 bytes. The socket answers root and the node's own user only.",
		}).derive(func(c *Config) string { return defaultControlSocket(c.Interface.Name) }),
	),
	section(func(c *Config) *Transport { return &c.Transport }, spec{
		name: "transport", example: `[transport] with congestion_control = "cubic"`,
		meaning: "The TCP connections that carry the tunnel.",
	},
		field(func(t *Transport) *string { return &t.CongestionControl }, congestion, spec{
			name: "congestion_control", reload: reloadNo, example: `congestion_control = "cubic"`,
			meaning: "TCP congestion control of every tunnel connection, dialed or accepted. The connection carries flows that run their own congestion control; BBR's pacing and its periodic probe of the minimum RTT (the window cut to 4 segments for 200 ms every 10 s) delay all of them, and on the benchmark box cubic moved 16 % more through one stream than the host's default BBR, with the same latency behind a 200 Mbit/s bottleneck. `\"system\"`: the host's default (`net.ipv4.tcp_congestion_control`). Any name in `/proc/sys/net/ipv4/tcp_available_congestion_control` (lower-case letters, digits, `_`; at most 15). A name the kernel lacks is logged once at the first connection, which then uses the host's default.",
		}).def(DefaultCongestionControl),
	),
	tables(func(c *Config) *[]Peer { return &c.Peers }, spec{
		name: "peer", reload: reloadYes, example: "[[peer]] sections, each with name and allowed_ips",
		when:    "at least one",
		meaning: "One per peer node. Peers are added, changed and removed by a reload without touching the other tunnels.",
	}, peerKeys...),
}

var tlsKeys = []entry[TLS]{
	field(func(t *TLS) *string { return &t.CA }, file, spec{
		name: "ca", required: true, reload: reloadYes, example: `ca = "pki/ca.pem"`,
		meaning: "PEM file of the trust anchors (one or more CA certificates). Peers' certificates and this node's own must chain to one of them.",
	}),
	field(func(t *TLS) *string { return &t.Cert }, file, spec{
		name: "cert", required: true, reload: reloadYes, example: `cert = "pki/office-a.pem"`,
		meaning: "PEM file: this node's certificate, optionally followed by intermediate CA certificates.",
	}),
	field(func(t *TLS) *string { return &t.Key }, file, spec{
		name: "key", required: true, reload: reloadYes, example: `key = "pki/office-a.key"`,
		meaning: "PEM private key of `tls.cert` (PKCS #8, SEC 1 EC or PKCS #1 RSA; not encrypted). Refused when group or others have any access (`chmod 600`).",
	}),
	field(func(t *TLS) *[]string { return &t.CRLs }, files, spec{
		name: "crl", reload: reloadYes, example: `crl = "pki/crl.pem"`,
		meaning: "Certificate revocation lists: one file (`\"pki/crl.pem\"`) or a list of files, each PEM (one or more CRLs) or DER, signed by a CA of `tls.ca`. Without it no revocation is checked.",
	}),
	field(func(t *TLS) *time.Duration { return &t.ExpiryWarning }, duration(0), spec{
		name: "expiry_warning", reload: reloadYes, example: `expiry_warning = "21d"`,
		meaning: "How long before expiry the own certificate, the CA, a connected peer's certificate, or the CRL's next update is warned about (log and `status`). `\"0s\"`: no warnings. Go duration syntax or whole days (`\"30d\"`).",
	}).def(ExpiryWarning),
	field(func(t *TLS) *time.Duration { return &t.RotateAfter }, duration(MinRotateAfter), spec{
		name: "rotate_after", reload: reloadNo, example: `rotate_after = "1h"`,
		meaning: "Age at which each connection is replaced by a fresh one, make-before-break, without loss (Go's TLS never sends a KeyUpdate; connections also rotate before 2^23 records either way). At least `\"10s\"`.",
	}).def(DefaultRotateAfter),
}

var interfaceKeys = []entry[Interface]{
	field(func(i *Interface) *string { return &i.Name }, text(checkInterfaceName), spec{
		name: "name", reload: reloadNo, example: `name = "tlsvpn0"`,
		meaning: "At most 15 characters of `A-Z a-z 0-9 - _ .`. `up` refuses to take over an existing interface it did not create.",
	}).def(DefaultInterfaceName),
	field(func(i *Interface) *[]netip.Prefix { return &i.Addresses }, addresses, spec{
		name: "address", required: true, reload: reloadNo, example: `address = ["100.64.0.1/24", "fd64::1/64"]`,
		meaning: "The interface's addresses with their prefix length, host bits included (`\"100.64.0.1/24\"`). At least one; each address once. Peers' `allowed_ips` inside these prefixes need no route.",
	}),
	field(func(i *Interface) *int { return &i.MTU }, integer(MinMTU, MaxMTU), spec{
		name: "mtu", reload: reloadNo, example: "mtu = 1500",
		meaning: "1280–65535. Both ends of a connection must use the same value.",
	}).def(DefaultMTU),
	field(func(i *Interface) *string { return &i.Offload }, choice(OffloadAuto, OffloadSplit, OffloadOff), spec{
		name: "offload", reload: reloadNo, example: `offload = "auto"`,
		meaning: "`\"auto\"`: GSO super-packets cross the tunnel whole (TUN offloads on, probed at start). `\"split\"`: the kernel still hands over super-packets, but they are split into plain packets in userspace and plain packets are coalesced again before they are written (golang.zx2c4.com/wireguard/tun's own Read/Write): only plain packets cross the tunnel. `\"off\"`: no offloads at all, one plain packet per read and write — for kernels whose GSO writes misbehave.",
	}).def(OffloadAuto),
}

var peerKeys = []entry[Peer]{
	field(func(p *Peer) *string { return &p.Name }, identity, spec{
		name: "name", required: true, reload: reloadYes, example: `name = "office-b"`,
		meaning: "A DNS SAN of the peer's certificate, which identifies it during the handshake. Same rules as `name`; unique among peers and not the node's own name.",
	}),
	field(func(p *Peer) *string { return &p.Endpoint }, text(checkEndpointText), spec{
		name: "endpoint", reload: reloadYes, example: `endpoint = "198.18.0.2:4433"`,
		meaning: "`host:port` to dial; host is an IP address (IPv6 in brackets) or a DNS name, resolved at each dial. Without it the node waits for the peer to dial in.",
	}),
	field(func(p *Peer) *[]netip.Prefix { return &p.AllowedIPs }, routes, spec{
		name: "allowed_ips", required: true, reload: reloadYes, example: `allowed_ips = ["100.64.0.2/32", "10.2.0.0/24"]`,
		meaning: "Prefixes routed to this peer, and the only inner source addresses accepted from it. At least one. Host bits must be zero (`10.2.0.0/24`, not `10.2.0.1/24`). No prefix may overlap another peer's.",
	}),
	field(func(p *Peer) *time.Duration { return &p.Keepalive }, duration(MinKeepalive), spec{
		name: "keepalive", reload: reloadYes, example: `keepalive = "10s"`,
		meaning: "Keepalive interval; the peer is declared dead after 3 missed. At least `\"1s\"`. Go duration syntax: `\"500ms\"`, `\"10s\"`, `\"1m30s\"`.",
	}).def(DefaultKeepalive),
}
