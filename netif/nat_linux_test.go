package netif_test

import (
	"bytes"
	"github.com/tlsvpn/tlsvpn/internal/testutil"
	"log/slog"
	"net"
	"net/netip"
	"os/exec"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/google/nftables"
	"github.com/tlsvpn/tlsvpn/internal/lab"
	"github.com/tlsvpn/tlsvpn/netif"
)

// Client pools of the remote-access address plan (TESTING.md).
var (
	pool4 = netip.MustParsePrefix("100.64.8.0/22")
	pool6 = netip.MustParsePrefix("fd64:8::/64")
)

// hubLab is the lab topology with gwB as a hub and gwA as one of its
// clients: ul0 plays the tunnel (gwA holds pool addresses .2 on it, gwB the
// hub's .1), and lanB's host has no default route, so it can answer a
// client only when gwB masquerades the client's packets.
func hubLab(t *testing.T) *lab.Topology {
	top := lab.New(t, lab.Options{LANs: true})
	for _, cmd := range [][]string{
		{"-n", top.GwA, "addr", "add", "100.64.8.2/22", "dev", lab.UnderlayDev},
		{"-n", top.GwA, "addr", "add", "fd64:8::2/64", "dev", lab.UnderlayDev, "nodad"},
		{"-n", top.GwB, "addr", "add", "100.64.8.1/22", "dev", lab.UnderlayDev},
		{"-n", top.GwB, "addr", "add", "fd64:8::1/64", "dev", lab.UnderlayDev, "nodad"},
		{"-n", top.GwA, "route", "add", lan4.String(), "via", "100.64.8.1"},
		{"-n", top.GwA, "route", "add", lan6.String(), "via", "fd64:8::1"},
		{"-n", top.LanB, "-4", "route", "del", "default"},
		{"-n", top.LanB, "-6", "route", "del", "default"},
	} {
		ipCmd(t, cmd...)
	}
	return top
}

// ipCmd runs ip(8) with args and fails the test on error.
func ipCmd(t *testing.T, args ...string) {
	t.Helper()
	if out, err := exec.Command("ip", args...).CombinedOutput(); err != nil {
		t.Fatalf("ip %s: %v: %s", strings.Join(args, " "), err, out)
	}
}

// pingFrom pings to from namespace ns with source address src and returns
// how many of count echoes were answered.
func pingFrom(t *testing.T, top *lab.Topology, ns, src, to string, count int) int {
	t.Helper()
	n, out, err := top.PingFrom(ns, src, to, count)
	if err != nil {
		t.Fatalf("ping %s from %s in %s: %v: %s", to, src, ns, err, out)
	}
	return n
}

// seenSource opens a TCP connection from src (in namespace from) to a
// listener on dst (in namespace to) and returns the source address the
// listener sees.
func seenSource(t *testing.T, top *lab.Topology, from, src, to, dst string) netip.Addr {
	t.Helper()
	var ln net.Listener
	if err := top.Do(to, func() (err error) {
		ln, err = net.Listen("tcp", net.JoinHostPort(dst, "0"))
		return err
	}); err != nil {
		t.Fatalf("listen on %s in %s: %v", dst, to, err)
	}
	defer ln.Close()
	accepted := make(chan net.Conn, 1)
	go func() {
		c, err := ln.Accept()
		if err != nil {
			close(accepted)
			return
		}
		accepted <- c
	}()
	var c net.Conn
	d := net.Dialer{LocalAddr: &net.TCPAddr{IP: net.ParseIP(src)}, Timeout: 10 * time.Second}
	if err := top.Do(from, func() (err error) {
		c, err = d.Dial("tcp", ln.Addr().String())
		return err
	}); err != nil {
		t.Fatalf("connect from %s in %s to %s in %s: %v", src, from, ln.Addr(), to, err)
	}
	defer c.Close()
	sc, ok := <-accepted
	if !ok {
		t.Fatalf("accept on %s in %s failed", ln.Addr(), to)
	}
	defer sc.Close()
	return sc.RemoteAddr().(*net.TCPAddr).AddrPort().Addr().Unmap()
}

// natTables lists the nftables tables of family inet in namespace ns.
func natTables(t *testing.T, top *lab.Topology, ns string) []string {
	t.Helper()
	var names []string
	err := top.Do(ns, func() error {
		conn, err := nftables.New()
		if err != nil {
			return err
		}
		tables, err := conn.ListTablesOfFamily(nftables.TableFamilyINet)
		for _, tb := range tables {
			names = append(names, tb.Name)
		}
		return err
	})
	if err != nil {
		t.Fatalf("list nftables tables in %s: %v", ns, err)
	}
	return names
}

func TestNATMasqueradesClientsLeavingTheHub(t *testing.T) {
	top := hubLab(t)
	if got := pingFrom(t, top, top.GwA, "100.64.8.2", lab.HostB4, 1); got != 0 {
		t.Fatalf("lanB answered a pool address without NAT (%d replies): the test cannot show NAT works", got)
	}
	var stop func() error
	if err := top.Do(top.GwB, func() (err error) {
		stop, err = netif.StartNAT(lab.UnderlayDev, []netip.Prefix{pool4, pool6}, testutil.Logger(t))
		return err
	}); err != nil {
		t.Fatalf("StartNAT: %v", err)
	}
	defer stop()
	if tables := natTables(t, top, top.GwB); !slices.Contains(tables, netif.NATTable(lab.UnderlayDev)) {
		t.Fatalf("tables after StartNAT: %v, want %s", tables, netif.NATTable(lab.UnderlayDev))
	}

	for _, c := range []struct{ src, host, hub string }{
		{"100.64.8.2", lab.HostB4, lab.GatewayB4},
		{"fd64:8::2", lab.HostB6, lab.GatewayB6},
	} {
		if got := pingFrom(t, top, top.GwA, c.src, c.host, 3); got != 3 {
			t.Errorf("ping %s from client %s: %d of 3 answered through the masquerade", c.host, c.src, got)
		}
		if got := seenSource(t, top, top.GwA, c.src, top.LanB, c.host); got.String() != c.hub {
			t.Errorf("LAN host saw a connection from client %s come from %s, want the hub's LAN address %s", c.src, got, c.hub)
		}
	}
	// The hub's own pool address, leaving through the tunnel interface: not
	// masqueraded (it would become 198.18.0.2).
	if got := seenSource(t, top, top.GwB, "100.64.8.1", top.GwA, lab.UnderlayA); got.String() != "100.64.8.1" {
		t.Errorf("a packet leaving through the tunnel interface was rewritten to %s, want 100.64.8.1 kept", got)
	}

	if err := stop(); err != nil {
		t.Fatalf("stop: %v", err)
	}
	if tables := natTables(t, top, top.GwB); slices.Contains(tables, netif.NATTable(lab.UnderlayDev)) {
		t.Errorf("table %s still there after stop: %v", netif.NATTable(lab.UnderlayDev), tables)
	}
	if got := pingFrom(t, top, top.GwA, "100.64.8.2", lab.HostB4, 1); got != 0 {
		t.Errorf("lanB still answers a pool address after stop (%d replies)", got)
	}
	if err := stop(); err != nil {
		t.Errorf("second stop: %v", err)
	}
}

// natChains lists the chains of table (family inet), in the test's namespace.
func natChains(t *testing.T, table string) []string {
	t.Helper()
	conn, err := nftables.New()
	if err != nil {
		t.Fatal(err)
	}
	chains, err := conn.ListChainsOfTableFamily(nftables.TableFamilyINet)
	if err != nil {
		t.Fatalf("list chains: %v", err)
	}
	var names []string
	for _, c := range chains {
		if c.Table.Name == table {
			names = append(names, c.Name)
		}
	}
	return names
}

func TestNATReplacesATableLeftByACrash(t *testing.T) {
	enterNetns(t)
	table := netif.NATTable(tunName)
	conn, err := nftables.New()
	if err != nil {
		t.Fatal(err)
	}
	left := conn.AddTable(&nftables.Table{Name: table, Family: nftables.TableFamilyINet})
	conn.AddChain(&nftables.Chain{Name: "leftover", Table: left})
	if err := conn.Flush(); err != nil {
		t.Fatalf("make the crashed run's table: %v", err)
	}

	var logs bytes.Buffer
	stop, err := netif.StartNAT(tunName, []netip.Prefix{pool4}, slog.New(slog.NewTextHandler(&logs, nil)))
	if err != nil {
		t.Fatalf("StartNAT over a stale table: %v", err)
	}
	if got := natChains(t, table); !slices.Equal(got, []string{"postrouting"}) {
		t.Errorf("chains of %s after StartNAT: %v, want only postrouting", table, got)
	}
	if !strings.Contains(logs.String(), "left by an earlier run") || !strings.Contains(logs.String(), table) {
		t.Errorf("the replaced table was not logged; logs: %q", logs.String())
	}
	if err := stop(); err != nil {
		t.Fatalf("stop: %v", err)
	}
	if got := natChains(t, table); len(got) != 0 {
		t.Errorf("chains of %s after stop: %v, want the table gone", table, got)
	}
}

func TestNATInstancesOfTwoInterfacesCoexist(t *testing.T) {
	enterNetns(t)
	testutil.CheckLeaks(t)
	var logs bytes.Buffer
	log := slog.New(slog.NewTextHandler(&logs, nil))
	stopA, err := netif.StartNAT("tvhub0", []netip.Prefix{pool4}, log)
	if err != nil {
		t.Fatalf("StartNAT(tvhub0): %v", err)
	}
	stopB, err := netif.StartNAT("tvhub1", []netip.Prefix{netip.MustParsePrefix("100.64.12.0/22"), pool6}, log)
	if err != nil {
		stopA()
		t.Fatalf("StartNAT(tvhub1): %v", err)
	}
	for _, name := range []string{"tvhub0", "tvhub1"} {
		if got := natChains(t, netif.NATTable(name)); !slices.Equal(got, []string{"postrouting"}) {
			t.Errorf("chains of %s with both running: %v", netif.NATTable(name), got)
		}
	}
	if logs.Len() != 0 {
		t.Errorf("a second instance logged about the first one's table: %q", logs.String())
	}
	if err := stopA(); err != nil {
		t.Fatalf("stop tvhub0: %v", err)
	}
	if got := natChains(t, netif.NATTable("tvhub0")); len(got) != 0 {
		t.Errorf("table of tvhub0 still there after its stop: %v", got)
	}
	if got := natChains(t, netif.NATTable("tvhub1")); !slices.Equal(got, []string{"postrouting"}) {
		t.Errorf("stopping tvhub0 touched tvhub1's table: chains %v", got)
	}
	if err := stopB(); err != nil {
		t.Fatalf("stop tvhub1: %v", err)
	}
}

func TestNATRefusesBadArguments(t *testing.T) {
	for _, c := range []struct {
		name   string
		ifname string
		pools  []netip.Prefix
		want   string
	}{
		{"an empty interface name", "", []netip.Prefix{pool4}, "empty"},
		{"an interface name over 15 bytes", "tvhub0123456789x", []netip.Prefix{pool4}, "longer"},
		{"an invalid pool", "tvhub0", []netip.Prefix{{}}, "invalid pool"},
	} {
		t.Run(c.name, func(t *testing.T) {
			stop, err := netif.StartNAT(c.ifname, c.pools, nil)
			if err == nil {
				stop()
				t.Fatal("StartNAT accepted it")
			}
			if !strings.Contains(err.Error(), c.want) {
				t.Errorf("error %q does not say %q", err, c.want)
			}
		})
	}
}
