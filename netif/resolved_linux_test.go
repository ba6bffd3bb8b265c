package netif_test

import (
	"context"
	"errors"
	"net/netip"
	"strconv"
	"strings"
	"testing"

	"github.com/tlsvpn/tlsvpn/internal/lab"
	"github.com/tlsvpn/tlsvpn/netif"
)

// dnsDev is the TUN the tests make in the container, standing for a
// dial-in client's tunnel.
const dnsDev = "tvdns0"

// resolvedLink boots a container, makes dnsDev in its network namespace and
// returns the container, the TUN's index and a client on the container's bus.
func resolvedLink(t *testing.T) (*lab.Container, int, *netif.ResolvedLink) {
	t.Helper()
	c := lab.Boot(t, lab.BootOptions{})
	index := makeTUN(t, c, dnsDev)
	return c, index, netif.NewResolvedLink(index, c.BusAddress())
}

// makeTUN makes a persistent TUN named dev in the container's network
// namespace, sets it up and returns its index.
func makeTUN(t *testing.T, c *lab.Container, dev string) int {
	t.Helper()
	for _, args := range [][]string{{"tuntap", "add", "dev", dev, "mode", "tun"}, {"link", "set", dev, "up"}} {
		if _, err := c.RunNet("ip", args...); err != nil {
			t.Fatal(err)
		}
	}
	out, err := c.RunNet("ip", "-o", "link", "show", "dev", dev)
	if err != nil {
		t.Fatal(err)
	}
	index, err := strconv.Atoi(strings.SplitN(out, ":", 2)[0])
	if err != nil {
		t.Fatalf("no index in %q", out)
	}
	return index
}

// linkSetting returns what "resolvectl VERB dev" prints inside the
// container after "Link N (dev):", e.g. the servers or "no".
func linkSetting(t *testing.T, c *lab.Container, verb, dev string) string {
	t.Helper()
	out, err := c.Run("resolvectl", verb, dev)
	if err != nil {
		t.Fatal(err)
	}
	_, value, ok := strings.Cut(strings.TrimSpace(out), "("+dev+"):")
	if !ok {
		t.Fatalf("resolvectl %s %s: unexpected output %q", verb, dev, out)
	}
	return strings.TrimSpace(value)
}

// checkLink compares the link's settings in resolved with want (verb →
// value).
func checkLink(t *testing.T, c *lab.Container, when string, want map[string]string) {
	t.Helper()
	for _, verb := range []string{"dns", "domain", "default-route", "llmnr", "mdns"} {
		if w, ok := want[verb]; ok {
			if got := linkSetting(t, c, verb, dnsDev); got != w {
				t.Errorf("%s: resolvectl %s %s = %q; want %q", when, verb, dnsDev, got, w)
			}
		}
	}
}

func TestResolvedLinkSetsDNSInSystemdResolvedAndRevertsIt(t *testing.T) {
	t.Parallel()
	c, _, link := resolvedLink(t)
	ctx := context.Background()
	defaults := map[string]string{
		"dns": "", "domain": "",
		"llmnr": linkSetting(t, c, "llmnr", dnsDev), "mdns": linkSetting(t, c, "mdns", dnsDev),
	}
	if defaults["llmnr"] == "no" {
		t.Fatal("LLMNR is off on a fresh link already: the test could not tell Apply turned it off")
	}
	steps := []struct {
		name string
		cfg  netif.DNSConfig
		want map[string]string
	}{{
		name: "a split tunnel gets its servers and search domains but is no default route",
		cfg: netif.DNSConfig{
			Servers: []netip.Addr{netip.MustParseAddr("10.1.0.53"), netip.MustParseAddr("fd01::53")},
			Domains: []string{"corp.example", "lab.example"},
		},
		want: map[string]string{
			"dns": "10.1.0.53 fd01::53", "domain": "corp.example lab.example",
			"default-route": "no", "llmnr": "no", "mdns": "no",
		},
	}, {
		name: "a pushed default route makes it the default route, and a new lease replaces the old",
		cfg: netif.DNSConfig{
			Servers:      []netip.Addr{netip.MustParseAddr("::ffff:10.2.0.53")},
			DefaultRoute: true,
		},
		want: map[string]string{
			"dns": "10.2.0.53", "domain": "", "default-route": "yes", "llmnr": "no", "mdns": "no",
		},
	}}
	for _, s := range steps {
		if err := link.Apply(ctx, s.cfg); err != nil {
			t.Fatalf("%s: Apply: %v", s.name, err)
		}
		checkLink(t, c, s.name, s.want)
	}
	if err := link.Revert(ctx); err != nil {
		t.Fatalf("Revert: %v", err)
	}
	checkLink(t, c, "after Revert", defaults)
}

func TestResolvedLinkLeavesNothingHalfSetWhenAStepFails(t *testing.T) {
	t.Parallel()
	c, _, link := resolvedLink(t)
	llmnr := linkSetting(t, c, "llmnr", dnsDev)
	err := link.Apply(context.Background(), netif.DNSConfig{
		Servers: []netip.Addr{netip.MustParseAddr("10.1.0.53")},
		Domains: []string{"bad..example"},
	})
	if err == nil || errors.Is(err, netif.ErrNoResolved) || !strings.Contains(err.Error(), "SetLinkDomains") {
		t.Fatalf("Apply with a malformed domain: %v; want resolved's refusal of SetLinkDomains", err)
	}
	// LLMNR was turned off before the domains failed; the rollback turned
	// it back on, and no server was set.
	checkLink(t, c, "after the failed Apply", map[string]string{"llmnr": llmnr, "dns": "", "domain": ""})
}

func TestResolvedLinkForAnInterfaceThatIsGone(t *testing.T) {
	t.Parallel()
	c, _, link := resolvedLink(t)
	ctx := context.Background()
	if err := link.Apply(ctx, netif.DNSConfig{Servers: []netip.Addr{netip.MustParseAddr("10.1.0.53")}}); err != nil {
		t.Fatal(err)
	}
	if _, err := c.RunNet("ip", "link", "del", dnsDev); err != nil {
		t.Fatal(err)
	}
	// Deleting the interface took its settings along: nothing to revert.
	if err := link.Revert(ctx); err != nil {
		t.Errorf("Revert after the interface was deleted: %v; want nil", err)
	}
	err := link.Apply(ctx, netif.DNSConfig{Servers: []netip.Addr{netip.MustParseAddr("10.1.0.53")}})
	if err == nil || errors.Is(err, netif.ErrNoResolved) {
		t.Errorf("Apply to a deleted interface: %v; want resolved's refusal, not ErrNoResolved", err)
	}
}

func TestResolvedLinkWithoutResolvedSaysDNSWasNotApplied(t *testing.T) {
	t.Parallel()
	cfg := netif.DNSConfig{Servers: []netip.Addr{netip.MustParseAddr("10.1.0.53")}, Domains: []string{"corp.example"}}
	ctx := context.Background()

	t.Run("no bus at the address", func(t *testing.T) {
		link := netif.NewResolvedLink(1, "unix:path=/run/tlsvpn-test-no-such-bus/socket")
		if err := link.Apply(ctx, cfg); !errors.Is(err, netif.ErrNoResolved) {
			t.Errorf("Apply: %v; want ErrNoResolved", err)
		}
		if err := link.Revert(ctx); !errors.Is(err, netif.ErrNoResolved) {
			t.Errorf("Revert: %v; want ErrNoResolved", err)
		}
	})

	c, index, link := resolvedLink(t)
	// Masked, resolved cannot be started by the bus either.
	t.Run("resolved stopped and masked", func(t *testing.T) {
		if _, err := c.Run("systemctl", "mask", "--now", "systemd-resolved.service"); err != nil {
			t.Fatal(err)
		}
		if err := link.Apply(ctx, cfg); !errors.Is(err, netif.ErrNoResolved) {
			t.Errorf("Apply: %v; want ErrNoResolved", err)
		}
	})
	// Without its D-Bus service file, the bus does not know the name at all.
	t.Run("resolve1 unknown to the bus", func(t *testing.T) {
		if _, err := c.Run("rm", "/usr/share/dbus-1/system-services/org.freedesktop.resolve1.service"); err != nil {
			t.Fatal(err)
		}
		if _, err := c.Run("systemctl", "reload", "dbus.service"); err != nil {
			t.Fatal(err)
		}
		if err := netif.NewResolvedLink(index, c.BusAddress()).Apply(ctx, cfg); !errors.Is(err, netif.ErrNoResolved) {
			t.Errorf("Apply: %v; want ErrNoResolved", err)
		}
	})
}

func TestResolvedLinkRefusesAServerThatIsNoAddress(t *testing.T) {
	link := netif.NewResolvedLink(1, "unix:path=/run/tlsvpn-test-no-such-bus/socket")
	for _, bad := range []netip.Addr{{}, netip.IPv4Unspecified(), netip.IPv6Unspecified()} {
		err := link.Apply(context.Background(), netif.DNSConfig{Servers: []netip.Addr{bad}})
		if err == nil || errors.Is(err, netif.ErrNoResolved) {
			t.Errorf("Apply with server %q: %v; want a refusal before any bus is reached", bad, err)
		}
	}
}
