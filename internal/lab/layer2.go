package lab

// The layer-2 topology of TAP mode (Options.Layer2, Options.ThirdSite):
// the sites' LANs are one bridged segment, 10.9.0.0/24 and fd09::/64, and
// each gateway holds a bridge with its LAN veth in it, for the TAP device
// of a tlsvpn node to join. With ThirdSite, gwC is a spoke of a star whose
// hub is gwA, reached over a second underlay:
//
//	lanA host 10.9.0.11 ── lan0 [br0] gwA ul0 198.18.0.1 ══ 198.18.0.2 ul0 gwB [br0] lan0 ── lanB host 10.9.0.12
//	                                     ul1 198.18.1.1 ══ 198.18.1.2 ul0 gwC [br0] lan0 ── lanC host 10.9.0.13
//
// The gateways have no address on the LAN; the hosts have no default
// route. The bridges run no STP, so their ports forward at once.

// Devices and addresses of the layer-2 topology.
const (
	BridgeDev         = "br0" // the bridge in each gateway, holding lan0
	SecondUnderlayDev = "ul1" // gwA's end of its veth to gwC

	UnderlayHubC = "198.18.1.1" // gwA on ul1
	UnderlayC    = "198.18.1.2" // gwC on ul0

	L2HostA4 = "10.9.0.11" // lanA host on the layer-2 LAN
	L2HostA6 = "fd09::11"
	L2HostB4 = "10.9.0.12" // lanB host
	L2HostB6 = "fd09::12"
	L2HostC4 = "10.9.0.13" // lanC host
	L2HostC6 = "fd09::13"
)

// layer2Cmds wires the layer-2 sites: each site's LAN veth into a bridge
// on its gateway, the hosts' layer-2 addresses, and with a third site its
// underlay to gwA.
func (t *Topology) layer2Cmds() [][]string {
	cmds := append(bridgedSite(t.GwA, t.LanA, L2HostA4, L2HostA6), bridgedSite(t.GwB, t.LanB, L2HostB4, L2HostB6)...)
	if t.GwC == "" {
		return cmds
	}
	cmds = append(cmds,
		vethCmd(t.GwA, SecondUnderlayDev, t.GwC, UnderlayDev),
		addrCmd(t.GwA, SecondUnderlayDev, UnderlayHubC+"/24"),
		addrCmd(t.GwC, UnderlayDev, UnderlayC+"/24"),
		upCmd(t.GwA, SecondUnderlayDev),
		upCmd(t.GwC, UnderlayDev),
	)
	return append(cmds, bridgedSite(t.GwC, t.LanC, L2HostC4, L2HostC6)...)
}

// bridgedSite wires one site of the layer-2 LAN: a bridge in gw with the
// gateway's end of the LAN veth in it, and the host's addresses.
func bridgedSite(gw, host, host4, host6 string) [][]string {
	return [][]string{
		{"-n", gw, "link", "add", BridgeDev, "type", "bridge", "stp_state", "0"},
		vethCmd(gw, GatewayDev, host, HostDev),
		{"-n", gw, "link", "set", GatewayDev, "master", BridgeDev},
		addrCmd(host, HostDev, host4+"/24"),
		addrCmd(host, HostDev, host6+"/64"),
		upCmd(gw, BridgeDev),
		upCmd(gw, GatewayDev),
		upCmd(host, HostDev),
	}
}
