package config

import (
	"net/netip"
	"path/filepath"
	"strconv"
	"time"

	"github.com/tlsvpn/tlsvpn/internal/acl"
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
		meaning: "The TUN or TAP interface.",
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
	optional(func(c *Config) **Metrics { return &c.Metrics }, spec{
		name: "metrics", reload: reloadNo, example: `[metrics] with listen = "127.0.0.1:9687"`,
		meaning: "Present: Prometheus metrics are served over HTTP at `/metrics` (see [Operations](#operations)).",
	},
		field(func(m *Metrics) *string { return &m.Listen }, text(checkListen), spec{
			name: "listen", required: true, reload: reloadNo, example: `listen = "127.0.0.1:9687"`,
			meaning: "`host:port`, as `listen.address`. The metrics name peers, clients and addresses: `check` warns when the host is not a loopback address.",
		}),
	),
	optional(func(c *Config) **RemoteAccess { return &c.RemoteAccess }, spec{
		name: "remote_access", reload: reloadNo, only: ModeTUN, example: `[remote_access] with pool = ["100.64.8.0/22"]`,
		meaning: "Present: the node is a hub that accepts remote-access clients, identified by their certificates (see [Remote access](#remote-access)). Needs `[listen]` and an `interface.address`.",
	}, remoteAccessKeys...),
	tables(func(c *Config) *[]Group { return &c.Groups }, spec{
		name: "group", reload: reloadYes, only: ModeTUN, example: `[[group]] sections, each with name and allow`,
		meaning: "A hub's client groups. A client may reach the union of the allow lists of its groups; only with `[remote_access]`.",
	},
		field(func(g *Group) *string { return &g.Name }, groupName, spec{
			name: "name", required: true, reload: reloadYes, example: `name = "admins"`,
			meaning: "An organizationalUnitName (OU) in the subject of a client's certificate, matched exactly, case included (`tlsvpn pki issue NAME --group admins`). 1–64 printable characters; unique.",
		}),
		field(func(g *Group) *[]acl.Rule { return &g.Allow }, rules, spec{
			name: "allow", required: true, reload: reloadYes, example: `allow = ["10.1.0.0/24", "10.2.0.0/24 tcp/22,443"]`,
			meaning: "Destinations the group's clients may reach: `\"PREFIX\"` (every protocol), `\"PREFIX tcp/22,443\"`, `\"PREFIX udp/5000-5100\"` (ports and ranges; `tcp` or `udp` alone: every port), `\"PREFIX icmp\"` (ICMP and ICMPv6 echo). Host bits must be zero.",
		}),
	),
	tables(func(c *Config) *[]Peer { return &c.Peers }, spec{
		name: "peer", reload: reloadYes, example: "[[peer]] sections, each with name and allowed_ips",
		when:    "at least one, except on a hub",
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
	field(func(i *Interface) *string { return &i.Mode }, choice(ModeTUN, ModeTAP), spec{
		name: "mode", reload: reloadNo, example: `mode = "tun"`,
		meaning: "`\"tun\"`: an IP device; peers are chosen by `allowed_ips`. `\"tap\"`: an Ethernet device; frames cross the tunnel whole and peers are chosen by learned MAC addresses (see [TAP mode](#tap-mode)). Both ends of a connection must run the same mode.",
	}).def(ModeTUN),
	field(func(i *Interface) *[]netip.Prefix { return &i.Addresses }, addresses, spec{
		name: "address", reload: reloadNo, example: `address = ["100.64.0.1/24", "fd64::1/64"]`,
		when:    "required in TUN mode, except on a remote-access client",
		meaning: "The interface's addresses with their prefix length, host bits included (`\"100.64.0.1/24\"`). Each address once. Peers' `allowed_ips` inside these prefixes need no route. A remote-access client has none (its hub leases them); in TAP mode they are optional.",
	}),
	field(func(i *Interface) *int { return &i.MTU }, integer(MinMTU, MaxMTU), spec{
		name: "mtu", reload: reloadNo, example: "mtu = 1500",
		meaning: "1280–65535; in TAP mode at most 65517, so that a frame with its Ethernet header and an 802.1Q tag fits 65535 bytes. Both ends of a connection must use the same value.",
	}).def(DefaultMTU),
	field(func(i *Interface) *string { return &i.Offload }, choice(OffloadAuto, OffloadSplit, OffloadOff), spec{
		name: "offload", reload: reloadNo, only: ModeTUN, example: `offload = "auto"`,
		meaning: "`\"auto\"`: GSO super-packets cross the tunnel whole (TUN offloads on, probed at start). `\"split\"`: the kernel still hands over super-packets, but they are split into plain packets in userspace and plain packets are coalesced again before they are written (golang.zx2c4.com/wireguard/tun's own Read/Write): only plain packets cross the tunnel. `\"off\"`: no offloads at all, one plain packet per read and write — for kernels whose GSO writes misbehave.",
	}).def(OffloadAuto),
	field(func(i *Interface) *string { return &i.Bridge }, text(checkInterfaceName), spec{
		name: "bridge", reload: reloadNo, only: ModeTAP, example: `bridge = "br0"`,
		meaning: "An existing bridge the TAP device is attached to, joining the tunnel to a LAN segment. Without it the device stands alone.",
	}),
	field(func(i *Interface) *bool { return &i.ForwardBetweenPeers }, boolean, spec{
		name: "forward_between_peers", reload: reloadNo, only: ModeTAP, example: "forward_between_peers = false",
		meaning: "`true`: frames from one peer are forwarded to the others too (the hub of a star). `false`: frames from a peer go to the local device only (split horizon).",
	}).def(false),
}

var peerKeys = []entry[Peer]{
	field(func(p *Peer) *string { return &p.Name }, identity, spec{
		name: "name", required: true, reload: reloadYes, example: `name = "office-b"`,
		meaning: "A DNS SAN of the peer's certificate, which identifies it during the handshake. Same rules as `name`; unique among peers and not the node's own name.",
	}),
	field(func(p *Peer) *string { return &p.Endpoint }, text(checkEndpointText), spec{
		name: "endpoint", reload: reloadYes, example: `endpoint = "198.18.0.2:4433"`,
		when:    "required on a `remote_access` peer",
		meaning: "`host:port` to dial; host is an IP address (IPv6 in brackets) or a DNS name, resolved at each dial. Without it the node waits for the peer to dial in.",
	}),
	field(func(p *Peer) *[]netip.Prefix { return &p.AllowedIPs }, routes, spec{
		name: "allowed_ips", reload: reloadYes, only: ModeTUN, example: `allowed_ips = ["100.64.0.2/32", "10.2.0.0/24"]`,
		when:    "required, except on a `remote_access` peer",
		meaning: "Prefixes routed to this peer, and the only inner source addresses accepted from it. Host bits must be zero (`10.2.0.0/24`, not `10.2.0.1/24`). No prefix may overlap another peer's, nor `remote_access.pool`. Not on a `remote_access` peer (it pushes its routes).",
	}),
	field(func(p *Peer) *time.Duration { return &p.Keepalive }, duration(MinKeepalive), spec{
		name: "keepalive", reload: reloadYes, example: `keepalive = "10s"`,
		meaning: "Keepalive interval; the peer is declared dead after 3 missed. At least `\"1s\"`. Go duration syntax: `\"500ms\"`, `\"10s\"`, `\"1m30s\"`.",
	}).def(DefaultKeepalive),
	field(func(p *Peer) *bool { return &p.RemoteAccess }, boolean, spec{
		name: "remote_access", reload: reloadNo, only: ModeTUN, example: "remote_access = false",
		meaning: "`true`: this peer is the hub this node dials into as a remote-access client; the node takes its addresses, routes, DNS servers and search domains from the lease the hub pushes. At most one such peer; it needs an `endpoint` and has no `allowed_ips`, and the node has no `interface.address`.",
	}).def(false),
	field(func(p *Peer) *bool { return &p.Required }, boolean, spec{
		name: "required", reload: reloadYes, example: "required = false",
		meaning: "`true`: the node tells systemd it is ready (`READY=1`) only once this peer is connected (a `remote_access` peer: once its lease is applied); `STATUS=` names the peers still missing, and systemd fails the start at `TimeoutStartSec`.",
	}).def(false),
}

var remoteAccessKeys = []entry[RemoteAccess]{
	field(func(r *RemoteAccess) *[]netip.Prefix { return &r.Pool }, routes, spec{
		name: "pool", required: true, reload: reloadNo, example: `pool = ["100.64.8.0/22", "fd64:8::/64"]`,
		meaning: "The tunnel addresses leased to clients: one IPv4 and/or one IPv6 prefix; each client gets one address of each. Never leased: the hub's own addresses (which may lie inside), an IPv4 pool's first and last address, an IPv6 pool's first. Must not overlap a peer's `allowed_ips`.",
	}),
	field(func(r *RemoteAccess) *[]netip.Prefix { return &r.Routes }, routes, spec{
		name: "routes", reload: reloadYes, example: `routes = ["10.1.0.0/24", "fd01::/64"]`,
		meaning: "Prefixes pushed to clients, which route them into the tunnel (`0.0.0.0/0` or `::/0`: everything). At most " + strconv.Itoa(MaxPushedRoutes) + " (see [Remote access](#remote-access)). A reload sends connected clients the new list.",
	}),
	field(func(r *RemoteAccess) *[]netip.Addr { return &r.DNS }, hosts, spec{
		name: "dns", reload: reloadYes, example: `dns = ["10.1.0.53"]`,
		meaning: "DNS servers pushed to clients (to systemd-resolved, for the tunnel's link); clients route them into the tunnel.",
	}),
	field(func(r *RemoteAccess) *[]string { return &r.Domains }, domains, spec{
		name: "domains", reload: reloadYes, example: `domains = ["corp.example"]`,
		meaning: "Search domains pushed to clients with `dns`.",
	}),
	field(func(r *RemoteAccess) *string { return &r.CA }, file, spec{
		name: "ca", reload: reloadYes, example: `ca = "pki/clients-ca.pem"`,
		def:     "`tls.ca`",
		meaning: "PEM file of the trust anchors for clients only; `tls.crl` covers them too.",
	}).derive(func(c *Config) string { return c.TLS.CA }),
	field(func(r *RemoteAccess) *string { return &r.Leases }, file, spec{
		name: "leases", reload: reloadNo, example: `leases = "/var/lib/tlsvpn/hq.leases"`,
		def:     "`\"/var/lib/tlsvpn/<name>.leases\"`",
		meaning: "The file where leases are kept, so that a client gets the same address after a reconnect and after a hub restart.",
	}).derive(func(c *Config) string { return filepath.Join(DefaultLeaseDir, c.Name+".leases") }),
	field(func(r *RemoteAccess) *time.Duration { return &r.LeaseTime }, duration(MinLeaseTime), spec{
		name: "lease_time", reload: reloadNo, example: `lease_time = "30d"`,
		meaning: "An unused lease is reclaimed after this. At least `\"1m\"`.",
	}).def(DefaultLeaseTime),
	field(func(r *RemoteAccess) *bool { return &r.NAT }, boolean, spec{
		name: "nat", reload: reloadNo, example: "nat = false",
		meaning: "`true`: clients' traffic leaving the hub is masqueraded (nftables), so the networks behind the hub need no route back to the pool.",
	}).def(false),
}
