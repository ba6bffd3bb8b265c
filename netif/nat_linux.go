package netif

import (
	"errors"
	"fmt"
	"log/slog"
	"net/netip"
	"sync"

	"github.com/google/nftables"
	"github.com/google/nftables/expr"
	"golang.org/x/sys/unix"
)

// NAT table layout (docs/hub-host.md):
//
//	table inet tlsvpn-IFNAME {
//		chain postrouting {
//			type nat hook postrouting priority srcnat; policy accept;
//			oifname != "IFNAME" ip saddr POOL4 counter masquerade
//			oifname != "IFNAME" ip6 saddr POOL6 counter masquerade
//		}
//	}
const natChain = "postrouting"

// StartNAT masquerades packets whose source lies in one of pools and that
// leave the host through any interface other than the tunnel interface
// ifname, in the calling thread's network namespace, with one nftables
// table of family inet named NATTable(ifname). A table of that name left
// behind by a process that did not stop (a crash) is replaced, in the same
// transaction that makes the new one, and logged. Forwarding itself
// (net.ipv4.ip_forward, net.ipv6.conf.all.forwarding) is the host's to
// enable.
//
// stop deletes the table. It may be called from any goroutine and more than
// once; it keeps working on the namespace StartNAT ran in. Instances with
// different interface names have different tables and do not touch each
// other's.
func StartNAT(ifname string, pools []netip.Prefix, log *slog.Logger) (stop func() error, err error) {
	if err := checkIfname(ifname); err != nil {
		return nil, fmt.Errorf("start NAT: %w", err)
	}
	for _, p := range pools {
		if !p.IsValid() {
			return nil, fmt.Errorf("start NAT for %s: invalid pool %v", ifname, p)
		}
	}
	if log == nil {
		log = slog.Default()
	}
	// A lasting connection keeps its socket in this namespace for stop.
	conn, err := nftables.New(nftables.AsLasting())
	if err != nil {
		return nil, fmt.Errorf("start NAT for %s: open nftables netlink socket: %w", ifname, err)
	}
	table := &nftables.Table{Name: NATTable(ifname), Family: nftables.TableFamilyINet}
	stale, err := natTableExists(conn, table)
	if err != nil {
		conn.CloseLasting()
		return nil, fmt.Errorf("start NAT for %s: look up table %s: %w", ifname, table.Name, err)
	}
	// Add (a no-op if it exists) then delete: the batch starts from no
	// table whatever was there, and the kernel applies it all or nothing.
	conn.AddTable(table)
	conn.DelTable(table)
	addNATRules(conn, conn.AddTable(table), ifname, pools)
	if err := conn.Flush(); err != nil {
		conn.CloseLasting()
		return nil, fmt.Errorf("start NAT for %s: create table inet %s: %w", ifname, table.Name, err)
	}
	if stale {
		log.Warn("replaced a NAT table left by an earlier run",
			"detail", "table inet "+table.Name+": the previous process did not stop cleanly")
	}
	return sync.OnceValue(func() error { return stopNAT(conn, table) }), nil
}

// stopNAT deletes table and closes conn. A table someone else removed
// already is not an error.
func stopNAT(conn *nftables.Conn, table *nftables.Table) error {
	defer conn.CloseLasting()
	conn.DelTable(table)
	err := conn.Flush()
	if err != nil && !errors.Is(err, unix.ENOENT) {
		return fmt.Errorf("stop NAT: delete table inet %s: %w", table.Name, err)
	}
	return nil
}

// natTableExists reports whether table (name and family) is in the ruleset.
func natTableExists(conn *nftables.Conn, table *nftables.Table) (bool, error) {
	tables, err := conn.ListTablesOfFamily(table.Family)
	if err != nil {
		return false, err
	}
	for _, t := range tables {
		if t.Name == table.Name {
			return true, nil
		}
	}
	return false, nil
}

// addNATRules queues the postrouting chain of table with one masquerade
// rule per pool.
func addNATRules(conn *nftables.Conn, table *nftables.Table, ifname string, pools []netip.Prefix) {
	chain := conn.AddChain(&nftables.Chain{
		Name:     natChain,
		Table:    table,
		Type:     nftables.ChainTypeNAT,
		Hooknum:  nftables.ChainHookPostrouting,
		Priority: nftables.ChainPriorityNATSource,
	})
	for _, p := range pools {
		conn.AddRule(&nftables.Rule{Table: table, Chain: chain, Exprs: masqueradeFrom(ifname, p.Masked())})
	}
}

// masqueradeFrom is the rule `oifname != IFNAME ip[6] saddr P counter
// masquerade`, as nft(8) would compile it for a table of family inet.
func masqueradeFrom(ifname string, p netip.Prefix) []expr.Any {
	proto, offset := byte(unix.NFPROTO_IPV4), uint32(12) // source address in the IPv4 header
	if p.Addr().Is6() {
		proto, offset = unix.NFPROTO_IPV6, 8 // in the IPv6 header
	}
	addr := p.Addr().AsSlice()
	mask := ipNet(p).Mask
	n := uint32(len(addr))
	return []expr.Any{
		&expr.Meta{Key: expr.MetaKeyOIFNAME, Register: 1},
		&expr.Cmp{Op: expr.CmpOpNeq, Register: 1, Data: ifnameBytes(ifname)},
		&expr.Meta{Key: expr.MetaKeyNFPROTO, Register: 1},
		&expr.Cmp{Op: expr.CmpOpEq, Register: 1, Data: []byte{proto}},
		&expr.Payload{DestRegister: 1, Base: expr.PayloadBaseNetworkHeader, Offset: offset, Len: n},
		&expr.Bitwise{SourceRegister: 1, DestRegister: 1, Len: n, Mask: mask, Xor: make([]byte, n)},
		&expr.Cmp{Op: expr.CmpOpEq, Register: 1, Data: addr},
		&expr.Counter{},
		&expr.Masq{},
	}
}

// ifnameBytes is name as the kernel compares interface names: IFNAMSIZ
// bytes, zero-padded.
func ifnameBytes(name string) []byte {
	b := make([]byte, unix.IFNAMSIZ)
	copy(b, name)
	return b
}
