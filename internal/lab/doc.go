// Package lab builds the test topology of docs/design.md ("The test
// topology") out of Linux network namespaces, runs programs inside it and
// tears it down again.
// The integration tests, the demo (cmd/tlsvpn-demo) and the benchmark use it.
//
//	lanA host 10.1.0.10/24 fd01::10/64                       lanB host 10.2.0.10/24 fd02::10/64
//	    eth0 ── lan0  gwA  ul0 198.18.0.1/24 ══ 198.18.0.2/24 ul0  gwB  lan0 ── eth0
//	         10.1.0.1 fd01::1                                  10.2.0.1 fd02::1
//
// Safety: every namespace name starts with the topology's prefix, veth pairs
// are created directly inside the namespaces (never in the root namespace),
// no route leads out of them, and Close kills what runs inside and deletes
// them. The only change to the root namespace is adding and deleting the
// named namespaces. All host changes are made with iproute2 ("ip") except the
// forwarding sysctls, which are written from a thread switched into the
// gateway namespace.
//
// Containers: Boot starts a Debian 12 system with a real systemd as PID 1
// (systemd-nspawn), for what needs systemd, D-Bus or systemd-resolved and
// cannot have it from a host whose PID 1 is something else. Root builds its
// file system once with debootstrap and caches it in CacheDir, outside the
// repository; every container runs on an overlay in memory above it, in a
// cgroup and network namespace of its own, joined to a topology's namespace
// by JoinVeth. Close powers it off and checks that nothing is left. BuildDeb
// makes the Debian package with make deb, for a container to Install.
//
// The package needs root and Linux; New, Root and Boot skip a test when not
// root.
package lab

// Device names inside the namespaces.
const (
	UnderlayDev = "ul0"  // the gateway-to-gateway veth end, in gwA and in gwB
	GatewayDev  = "lan0" // the gateway's end of its LAN veth
	HostDev     = "eth0" // the LAN host's end of its LAN veth
)

// Addresses of the topology, without prefix length (ready for command lines).
const (
	UnderlayA = "198.18.0.1" // gwA on ul0
	UnderlayB = "198.18.0.2" // gwB on ul0

	GatewayA4 = "10.1.0.1"  // gwA on lan0
	GatewayA6 = "fd01::1"   // gwA on lan0
	HostA4    = "10.1.0.10" // lanA host
	HostA6    = "fd01::10"  // lanA host

	GatewayB4 = "10.2.0.1"  // gwB on lan0
	GatewayB6 = "fd02::1"   // gwB on lan0
	HostB4    = "10.2.0.10" // lanB host
	HostB6    = "fd02::10"  // lanB host
)
