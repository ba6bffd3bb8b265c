package netif

// NATTable is the name of the nftables table (family inet) that StartNAT
// makes for the tunnel interface ifname: "tlsvpn-" and the name.
func NATTable(ifname string) string { return "tlsvpn-" + ifname }
