package config

import (
	"net/netip"
	"slices"
	"strings"
	"time"

	"github.com/tlsvpn/tlsvpn/internal/acl"
	"github.com/tlsvpn/tlsvpn/internal/trust"
)

// Defaults and limits of the configuration (documented in docs/config.md).
const (
	DefaultInterfaceName = "tlsvpn0"        // [interface] name
	DefaultMTU           = 1500             // [interface] mtu
	MinMTU               = 1280             // the IPv6 minimum link MTU
	MaxMTU               = 65535            // the largest IP packet
	DefaultKeepalive     = 10 * time.Second // [[peer]] keepalive
	MinKeepalive         = time.Second      // [[peer]] keepalive lower bound
	MaxInterfaceName     = 15               // IFNAMSIZ - 1 on Linux

	OffloadAuto = "auto" // [interface] offload: use GSO/GRO when the kernel offers it (default)
	OffloadOff  = "off"  // [interface] offload: plain packets, no GSO/GRO
	// OffloadSplit is the [interface] offload mode in which the kernel hands over super-packets that
	// are split in userspace, and writes are coalesced (GRO) in userspace: plain packets on the wire.
	OffloadSplit = "split"

	// ExpiryWarning is how long before its NotAfter Load starts warning about a certificate.
	ExpiryWarning = 21 * 24 * time.Hour
	// DefaultCongestionControl is [transport] congestion_control's default.
	// The tunnel's connection carries flows that run their own congestion
	// control; BBR's pacing and its periodic probe of the minimum RTT (the
	// window cut to 4 segments for 200 ms every 10 s) delay every one of them.
	DefaultCongestionControl = "cubic"
	// CongestionSystem as [transport] congestion_control keeps the host's
	// default (net.ipv4.tcp_congestion_control).
	CongestionSystem = "system"
	// DefaultRotateAfter and MinRotateAfter bound [tls] rotate_after.
	DefaultRotateAfter = time.Hour
	MinRotateAfter     = 10 * time.Second

	ModeTUN = "tun" // [interface] mode: an IP (layer 3) device, the default
	ModeTAP = "tap" // [interface] mode: an Ethernet (layer 2) device

	// DefaultLeaseDir holds a hub's leases file when [remote_access] leases is not set: <name>.leases.
	DefaultLeaseDir = "/var/lib/tlsvpn"
	// DefaultLeaseTime and MinLeaseTime bound [remote_access] lease_time.
	DefaultLeaseTime = 30 * 24 * time.Hour
	MinLeaseTime     = time.Minute
)

// Config is a validated configuration. Parse and Load return it only when it has no problem; it is
// never modified afterwards, so it may be read from several goroutines at once.
type Config struct {
	Path      string // absolute path of the file
	Name      string // this node's identity: a DNS SAN of TLS.Cert, lower-case
	TLS       TLS
	Interface Interface
	Listen    *Listen // nil when there is no [listen]
	Control   Control
	Transport Transport
	Metrics   *Metrics // nil when there is no [metrics]
	// RemoteAccess makes the node a hub for dial-in clients; nil when there is no [remote_access].
	RemoteAccess *RemoteAccess
	Groups       []Group // the [[group]]s of a hub's clients
	Peers        []Peer

	// Credentials are the certificates, key and CRLs the [tls] files hold, loaded and checked by Load
	// (nil from Parse): the node starts from these, never from a second read.
	Credentials *trust.Credentials
}

// TLS holds absolute paths (relative ones in the file are resolved against the file's folder).
type TLS struct {
	CA   string // trust anchors, PEM
	Cert string // own certificate, PEM, optionally followed by intermediates
	Key  string // own private key, PEM, mode 0600
	// CRLs are the certificate revocation lists' files (PEM or DER); nil when there are none.
	CRLs []string

	// ExpiryWarning is how long before expiry a certificate (own, CA or a
	// peer's) or the CRL's next update is warned about; default 21 days.
	ExpiryWarning time.Duration
	// RotateAfter is the age at which a connection is replaced by a fresh
	// one (Go never sends a TLS KeyUpdate); default 1 hour.
	RotateAfter time.Duration
}

// Interface is the TUN or TAP interface of the node.
type Interface struct {
	Name string // default "tlsvpn0", at most 15 characters
	Mode string // ModeTUN (default) or ModeTAP
	// Addresses are the interface's addresses, host bits allowed (100.64.0.1/24). None on a
	// remote-access client (its hub leases them) and possibly none in TAP mode.
	Addresses []netip.Prefix
	MTU       int    // default 1500, 1280..65535
	Offload   string // TUN: OffloadAuto (default), OffloadSplit or OffloadOff; "" in TAP mode
	Bridge    string // TAP: an existing bridge to attach the device to; "" for none
	// ForwardBetweenPeers (TAP) forwards frames from one peer to the others (the hub of a star);
	// otherwise frames from a peer go to the local device only.
	ForwardBetweenPeers bool
}

// Listen is where the node accepts peers.
type Listen struct {
	Address string // host:port, host an IP literal or empty; IPv6 as "[::]:4433"
}

// Control is the local control socket answered for `tlsvpn status`.
type Control struct {
	Socket string // a path, or "@name" for an abstract socket; default "@tlsvpn/<interface name>"
}

// Metrics is where Prometheus metrics are served, at /metrics.
type Metrics struct {
	Listen string // host:port, host an IP literal or empty (all addresses)
}

// RemoteAccess is a hub's [remote_access]: it leases addresses to dial-in clients, which are not
// configured one by one but identified by their certificates (docs/config.md).
type RemoteAccess struct {
	Pool      []netip.Prefix // at most one IPv4 and one IPv6 prefix; each client gets one address of each
	Routes    []netip.Prefix // pushed to clients, routed by them into the tunnel
	DNS       []netip.Addr   // pushed DNS servers
	Domains   []string       // pushed search domains
	CA        string         // trust anchors for clients (absolute path); TLS.CA unless set
	Leases    string         // the leases file (absolute path); DefaultLeaseDir/<name>.leases unless set
	LeaseTime time.Duration  // an unused lease is reclaimed after this; DefaultLeaseTime unless set
	NAT       bool           // masquerade clients' traffic leaving the hub
}

// Group is one [[group]]: the destinations its clients may reach. A client is in a group when an OU
// of its certificate's subject is the group's name, exactly.
type Group struct {
	Name  string
	Allow []acl.Rule
}

// Transport tunes the TCP connections that carry the tunnel.
type Transport struct {
	// CongestionControl is the TCP congestion control of every tunnel
	// connection, dialed or accepted: DefaultCongestionControl unless set;
	// "" (written "system") keeps the host's default.
	CongestionControl string
}

// Peer is one [[peer]] section.
type Peer struct {
	Name       string         // a DNS SAN of the peer's certificate (no wildcards)
	Endpoint   string         // "" when not set; host:port, host may be a DNS name (not resolved here)
	AllowedIPs []netip.Prefix // destinations routed to the peer and the inner sources accepted from it
	Keepalive  time.Duration  // default 10s, at least 1s
	// RemoteAccess marks the hub this node is a remote-access client of: it takes its addresses,
	// routes and DNS from the lease the peer pushes. At most one peer; it has no AllowedIPs.
	RemoteAccess bool
	// Required peers must be connected (a remote-access peer: its lease applied) before the node
	// tells systemd it is ready.
	Required bool
}

// Routes returns every peer's allowed_ips that is not covered by one of the interface's own prefixes
// (those reach the peer through the interface's connected route), in file order, without duplicates.
// These are the routes to install on the interface. The slice is new; the caller owns it.
func (c *Config) Routes() []netip.Prefix {
	var out []netip.Prefix
	for _, p := range c.Peers {
		for _, pfx := range p.AllowedIPs {
			if !c.coveredByInterface(pfx) && !slices.Contains(out, pfx) {
				out = append(out, pfx)
			}
		}
	}
	return out
}

// coveredByInterface reports whether pfx lies inside the prefix of one of the interface's addresses.
func (c *Config) coveredByInterface(pfx netip.Prefix) bool {
	for _, a := range c.Interface.Addresses {
		if covers(a.Masked(), pfx) {
			return true
		}
	}
	return false
}

// covers reports whether outer contains all of inner.
func covers(outer, inner netip.Prefix) bool {
	return outer.Bits() <= inner.Bits() && outer.Contains(inner.Addr())
}

// Dials reports whether the node dials at least one peer (some peer has an endpoint).
func (c *Config) Dials() bool {
	return slices.ContainsFunc(c.Peers, func(p Peer) bool { return p.Endpoint != "" })
}

// Listens reports whether the node accepts peers ([listen] is present).
func (c *Config) Listens() bool { return c.Listen != nil }

// IsClient reports whether the node is a remote-access client (one of its peers is marked
// remote_access).
func (c *Config) IsClient() bool {
	return slices.ContainsFunc(c.Peers, func(p Peer) bool { return p.RemoteAccess })
}

// IsHub reports whether the node accepts remote-access clients ([remote_access] is present).
func (c *Config) IsHub() bool { return c.RemoteAccess != nil }

// Peer returns the peer with the given name, compared without regard to case as DNS names are, or nil.
// The pointer refers into c.Peers and must not be modified.
func (c *Config) Peer(name string) *Peer {
	for i := range c.Peers {
		if strings.EqualFold(c.Peers[i].Name, name) {
			return &c.Peers[i]
		}
	}
	return nil
}
