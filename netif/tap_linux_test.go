package netif_test

import (
	"bytes"
	"errors"
	"net"
	"os/exec"
	"strings"
	"testing"
	"time"

	"github.com/tlsvpn/tlsvpn/internal/testutil"
	"github.com/tlsvpn/tlsvpn/netif"
	"github.com/vishvananda/netlink"
)

const (
	tapName    = "tvtap0"
	bridgeName = "tvbr0"
	nodeName   = "office-a"
)

// newTAP creates a TAP in the current (test) namespace and closes it in
// Cleanup.
func newTAP(t *testing.T, c netif.TAPConfig) *netif.TAP {
	t.Helper()
	if c.Logger == nil {
		c.Logger = testutil.Logger(t)
	}
	if c.MAC == nil {
		c.MAC = netif.StableMAC(nodeName, c.Name)
	}
	dev, err := netif.CreateTAP(c)
	if err != nil {
		t.Fatalf("CreateTAP(%+v): %v", c, err)
	}
	t.Cleanup(func() { dev.Close() })
	return dev
}

// addBridge makes an empty bridge that is up.
func addBridge(t *testing.T, name string) netlink.Link {
	t.Helper()
	br := &netlink.Bridge{LinkAttrs: netlink.LinkAttrs{Name: name}}
	if err := netlink.LinkAdd(br); err != nil {
		t.Fatalf("add bridge %s: %v", name, err)
	}
	if err := netlink.LinkSetUp(br); err != nil {
		t.Fatalf("set %s up: %v", name, err)
	}
	return br
}

// run runs a command (ip, mostly) and fails the test when it fails.
func run(t *testing.T, args ...string) {
	t.Helper()
	if out, err := exec.Command(args[0], args[1:]...).CombinedOutput(); err != nil {
		t.Fatalf("%s: %v\n%s", strings.Join(args, " "), err, out)
	}
}

// tuntap looks up name and fails the test unless it is a TUN/TAP device.
func tuntap(t *testing.T, name string) *netlink.Tuntap {
	t.Helper()
	link, err := netlink.LinkByName(name)
	if err != nil {
		t.Fatalf("look up %s: %v", name, err)
	}
	tt, ok := link.(*netlink.Tuntap)
	if !ok {
		t.Fatalf("%s is a %s, not a TUN/TAP device", name, link.Type())
	}
	return tt
}

func TestTAPIsCreatedWithItsStableMACAndMTUUpAndGoneAfterClose(t *testing.T) {
	enterNetns(t)
	testutil.CheckLeaks(t)
	mac := netif.StableMAC(nodeName, tapName)
	dev, err := netif.CreateTAP(netif.TAPConfig{Name: tapName, MTU: 1400, MAC: mac, TxQueueLen: 64, Logger: testutil.Logger(t)})
	if err != nil {
		t.Fatalf("CreateTAP: %v", err)
	}
	defer dev.Close()

	link := tuntap(t, tapName)
	a := link.Attrs()
	if link.Mode != netlink.TUNTAP_MODE_TAP || !link.NonPersist {
		t.Errorf("%s: mode %v, non-persistent %v; want a non-persistent TAP", tapName, link.Mode, link.NonPersist)
	}
	if !bytes.Equal(a.HardwareAddr, mac) || a.MTU != 1400 || a.TxQLen != 64 || a.Flags&net.FlagUp == 0 {
		t.Errorf("%s: MAC %v, MTU %d, txqueuelen %d, flags %v; want %v, 1400, 64, up", tapName,
			a.HardwareAddr, a.MTU, a.TxQLen, a.Flags, mac)
	}
	if dev.Kind() != netif.KindTAP || dev.Offload() != 0 || dev.MTU() != 1400 || dev.Name() != tapName ||
		!bytes.Equal(dev.MAC(), mac) || dev.Bridge() != "" {
		t.Errorf("device reports kind %v, offload %v, MTU %d, name %q, MAC %v, bridge %q", dev.Kind(), dev.Offload(),
			dev.MTU(), dev.Name(), dev.MAC(), dev.Bridge())
	}
	if err := dev.SetOffload(netif.AllOffloads); err != nil || dev.Offload() != 0 {
		t.Errorf("SetOffload(all) = %v, then Offload() = %v; want nil and still none", err, dev.Offload())
	}
	buf := make([]byte, netif.MaxPacket)
	if err := dev.Write(make([]byte, 13)); err == nil {
		t.Error("Write of a frame shorter than an Ethernet header succeeded")
	}

	if err := dev.Close(); err != nil {
		t.Fatalf("Close: %v", err)
	}
	testutil.Eventually(t, 10*time.Second, "TAP deleted after Close", func() bool {
		_, err := netlink.LinkByName(tapName)
		return err != nil
	})
	if err := dev.Close(); err != nil {
		t.Errorf("second Close: %v", err)
	}
	if _, err := dev.Read(buf, false); !errors.Is(err, netif.ErrClosed) {
		t.Errorf("Read after Close = %v, want ErrClosed", err)
	}
	if err := dev.Write(make([]byte, 60)); !errors.Is(err, netif.ErrClosed) {
		t.Errorf("Write after Close = %v, want ErrClosed", err)
	}
	if err := dev.SetOffload(0); !errors.Is(err, netif.ErrClosed) {
		t.Errorf("SetOffload after Close = %v, want ErrClosed", err)
	}
}

func TestTAPRefusesAnExistingInterfaceAndLeavesItAlone(t *testing.T) {
	enterNetns(t)
	run(t, "ip", "tuntap", "add", "dev", "tvexist0", "mode", "tap") // an admin's persistent TAP
	addBridge(t, "tvexist1")
	mine := newTAP(t, netif.TAPConfig{Name: tapName, MTU: 1500})
	before := tuntap(t, "tvexist0")

	for _, name := range []string{"tvexist0", "tvexist1", mine.Name()} {
		dev, err := netif.CreateTAP(netif.TAPConfig{Name: name, MTU: 1500, MAC: netif.StableMAC(nodeName, name),
			Logger: testutil.Logger(t)})
		if err == nil {
			dev.Close()
			t.Errorf("CreateTAP(%s) took over an existing interface", name)
			continue
		}
		if msg := err.Error(); !strings.Contains(msg, name+" already exists") || !strings.Contains(msg, "ip link del "+name) {
			t.Errorf("CreateTAP(%s) error %q does not name the interface and how to remove it", name, msg)
		}
	}
	after := tuntap(t, "tvexist0")
	if after.NonPersist || after.Mode != netlink.TUNTAP_MODE_TAP || after.Attrs().Index != before.Attrs().Index ||
		!bytes.Equal(after.Attrs().HardwareAddr, before.Attrs().HardwareAddr) || after.Attrs().Flags != before.Attrs().Flags {
		t.Errorf("the refused persistent TAP changed: before %+v persist %v, after %+v persist %v",
			before.Attrs(), !before.NonPersist, after.Attrs(), !after.NonPersist)
	}
}

func TestTAPRefusesABridgeThatIsMissingOrNoBridge(t *testing.T) {
	enterNetns(t)
	run(t, "ip", "tuntap", "add", "dev", "tvnotbr0", "mode", "tap")
	for _, tc := range []struct {
		name, bridge string
		want         []string
	}{
		{"a missing bridge is refused with how to create it", "tvnosuch0",
			[]string{"bridge tvnosuch0 does not exist", "ip link add tvnosuch0 type bridge"}},
		{"an interface that is not a bridge is refused with its type", "tvnotbr0",
			[]string{"tvnotbr0 is not a bridge", "tuntap"}},
		{"a bridge name the kernel cannot hold is refused", "a-name-of-16byte",
			[]string{"bridge interface name", "longer than 15"}},
	} { // no t.Run: a subtest's goroutine would not be in the test's namespace
		dev, err := netif.CreateTAP(netif.TAPConfig{Name: tapName, MTU: 1500, MAC: netif.StableMAC(nodeName, tapName),
			Bridge: tc.bridge, Logger: testutil.Logger(t)})
		if err == nil {
			dev.Close()
			t.Errorf("%s: CreateTAP with bridge %q succeeded", tc.name, tc.bridge)
			continue
		}
		for _, w := range tc.want {
			if !strings.Contains(err.Error(), w) {
				t.Errorf("%s: error %q does not say %q", tc.name, err, w)
			}
		}
		if _, err := netlink.LinkByName(tapName); err == nil {
			t.Errorf("%s: %s was left behind by a refused CreateTAP", tc.name, tapName)
		}
	}
}

func TestTAPRejectsBadConfigBeforeTouchingTheHost(t *testing.T) {
	enterNetns(t) // should validation fail open, the device lands in a throwaway namespace
	good := netif.StableMAC(nodeName, tapName)
	for _, tc := range []struct {
		name string
		c    netif.TAPConfig
		want string
	}{
		{"an empty name", netif.TAPConfig{MTU: 1500, MAC: good}, "name is empty"},
		{"a name too long for the kernel", netif.TAPConfig{Name: "a-name-of-16byte", MTU: 1500, MAC: good}, "longer than 15"},
		{"a name with a slash", netif.TAPConfig{Name: "tv/0", MTU: 1500, MAC: good}, "character"},
		{"an MTU below 68", netif.TAPConfig{Name: tapName, MTU: 67, MAC: good}, "outside 68-65517"},
		{"an MTU whose frames would not fit 64 KiB", netif.TAPConfig{Name: tapName, MTU: netif.MaxTAPMTU + 1, MAC: good}, "outside 68-65517"},
		{"a negative queue length", netif.TAPConfig{Name: tapName, MTU: 1500, MAC: good, TxQueueLen: -1}, "negative"},
		{"no MAC", netif.TAPConfig{Name: tapName, MTU: 1500}, "not a unicast Ethernet address"},
		{"a multicast MAC", netif.TAPConfig{Name: tapName, MTU: 1500, MAC: net.HardwareAddr{1, 0, 0x5e, 0, 0, 1}}, "not a unicast"},
		{"the zero MAC", netif.TAPConfig{Name: tapName, MTU: 1500, MAC: make(net.HardwareAddr, 6)}, "not a unicast"},
		{"an EUI-64 address", netif.TAPConfig{Name: tapName, MTU: 1500, MAC: make(net.HardwareAddr, 8)}, "not a unicast"},
	} { // no t.Run: a subtest's goroutine would not be in the test's namespace
		dev, err := netif.CreateTAP(tc.c)
		if err == nil {
			dev.Close()
			t.Errorf("%s: CreateTAP(%+v) succeeded", tc.name, tc.c)
			continue
		}
		if !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%s: error %q does not say %q", tc.name, err, tc.want)
		}
	}
}
