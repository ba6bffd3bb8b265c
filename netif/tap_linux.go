package netif

import (
	"errors"
	"fmt"
	"log/slog"
	"net"
	"os"
	"sync"

	"github.com/songgao/water"
	"github.com/tlsvpn/tlsvpn/internal/l2"
	"github.com/vishvananda/netlink"
	"golang.org/x/sys/unix"
)

// TAP is a Linux TAP device, opened with github.com/songgao/water. It
// implements Device with KindTAP: every Read and Write is one Ethernet
// frame, with no header in front and no offloads.
//
// The interface lives in the network namespace of the thread that called
// CreateTAP. It is not persistent: when the TAP is closed the kernel
// deletes it, and with it its addresses and its bridge membership.
type TAP struct {
	fdio
	ifce   *water.Interface
	mtu    int
	mac    net.HardwareAddr
	bridge string

	closeOnce sync.Once
	closeErr  error
}

// CreateTAP creates the TAP interface c.Name in the calling thread's
// network namespace, gives it c.MAC and c.MTU, makes it a port of
// c.Bridge when one is named, and sets it up. It has no addresses (see
// Configure).
//
// It refuses a name that is already in use, checked by netlink before the
// device is opened: water would otherwise attach to an existing TAP
// device, persistent ones made by `ip tuntap add` included, and clear
// their persist flag. (A device created under the same name between the
// check and the open would still be taken; only an administrator racing
// the start can do that.) On error nothing is left behind.
func CreateTAP(c TAPConfig) (*TAP, error) {
	if err := c.validate(); err != nil {
		return nil, err
	}
	if err := refuseExisting(c.Name); err != nil {
		return nil, err
	}
	var br netlink.Link
	if c.Bridge != "" {
		var err error
		if br, err = bridgeByName(c.Bridge); err != nil {
			return nil, err
		}
	}
	t, err := openTAP(c)
	if err != nil {
		return nil, err
	}
	if err := t.setUp(c, br); err != nil {
		t.Close()
		return nil, err
	}
	log := c.Logger
	if log == nil {
		log = slog.Default()
	}
	log.Info("TAP device created", "interface", t.name, "mtu", t.mtu, "mac", t.mac.String(),
		"bridge", c.Bridge, "tx_queue_len", c.TxQueueLen)
	return t, nil
}

// validate checks c before anything touches the host.
func (c TAPConfig) validate() error {
	if err := validateLink("TAP", c.Name, c.MTU, MaxTAPMTU, c.TxQueueLen); err != nil {
		return err
	}
	if len(c.MAC) != l2.MACLen || !l2.MAC(c.MAC).ValidSource() {
		return fmt.Errorf("MAC address %q of %s is not a unicast Ethernet address", c.MAC, c.Name)
	}
	if c.Bridge != "" {
		if err := validateLink("bridge", c.Bridge, minMTU, minMTU, 0); err != nil {
			return err
		}
	}
	return nil
}

// openTAP opens the device with water (IFF_TAP | IFF_NO_PI, not
// persistent) and takes over its non-blocking descriptor. When TUNSETIFF
// fails, water returns without closing the descriptor it opened; that can
// only happen when the name was taken after refuseExisting, and then the
// node does not start.
func openTAP(c TAPConfig) (*TAP, error) {
	ifce, err := water.New(water.Config{DeviceType: water.TAP,
		PlatformSpecificParams: water.PlatformSpecificParams{Name: c.Name}})
	if err != nil {
		return nil, fmt.Errorf("create TAP %s: %w", c.Name, err)
	}
	t := &TAP{ifce: ifce, mtu: c.MTU, mac: append(net.HardwareAddr(nil), c.MAC...), bridge: c.Bridge}
	t.name, t.fd = c.Name, -1
	file, ok := ifce.ReadWriteCloser.(*os.File)
	switch {
	case !ok:
		err = fmt.Errorf("create TAP %s: water returned a %T, not a file", c.Name, ifce.ReadWriteCloser)
	case ifce.Name() != c.Name:
		err = fmt.Errorf("create TAP %s: the kernel named it %q", c.Name, ifce.Name())
	default:
		err = t.fdio.init(c.Name, file)
	}
	if err == nil {
		// water opens /dev/net/tun without O_CLOEXEC.
		err = t.control(func(fd int) error { unix.CloseOnExec(fd); return nil })
	}
	if err != nil {
		ifce.Close()
		return nil, err
	}
	return t, nil
}

// setUp gives the new interface its MAC, MTU and queue length, attaches
// it to br (when not nil) and sets it up.
func (t *TAP) setUp(c TAPConfig, br netlink.Link) error {
	link, err := linkByName(t.name)
	if err != nil {
		return err
	}
	if err := netlink.LinkSetHardwareAddr(link, t.mac); err != nil {
		return fmt.Errorf("set MAC address of %s to %s: %w", t.name, t.mac, err)
	}
	if err := netlink.LinkSetMTU(link, t.mtu); err != nil {
		return fmt.Errorf("set MTU of %s to %d: %w", t.name, t.mtu, err)
	}
	if c.TxQueueLen > 0 {
		if err := netlink.LinkSetTxQLen(link, c.TxQueueLen); err != nil {
			return fmt.Errorf("set transmit queue length of %s to %d: %w", t.name, c.TxQueueLen, err)
		}
	}
	if br != nil {
		if err := netlink.LinkSetMasterByIndex(link, br.Attrs().Index); err != nil {
			return fmt.Errorf("attach %s to bridge %s: %w", t.name, c.Bridge, err)
		}
	}
	if err := netlink.LinkSetUp(link); err != nil {
		return fmt.Errorf("set %s up: %w", t.name, err)
	}
	return nil
}

// bridgeByName returns the bridge called name, refusing an interface that
// is missing or is not a bridge.
func bridgeByName(name string) (netlink.Link, error) {
	link, err := netlink.LinkByName(name)
	var nf netlink.LinkNotFoundError
	switch {
	case errors.As(err, &nf):
		return nil, fmt.Errorf("bridge %s does not exist: create it first (`ip link add %s type bridge`)", name, name)
	case err != nil:
		return nil, fmt.Errorf("look up bridge %s: %w", name, err)
	case link.Type() != "bridge":
		return nil, fmt.Errorf("interface %s is not a bridge but of type %s: name a bridge (`ip -d link show type bridge`)",
			name, link.Type())
	}
	return link, nil
}

// Name is the interface name.
func (t *TAP) Name() string { return t.name }

// Kind is KindTAP: whole Ethernet frames.
func (t *TAP) Kind() Kind { return KindTAP }

// MTU is the MTU the interface was created with.
func (t *TAP) MTU() int { return t.mtu }

// MAC is the interface's Ethernet address; the caller must not modify it.
func (t *TAP) MAC() net.HardwareAddr { return t.mac }

// Bridge is the bridge the interface is a port of, or "".
func (t *TAP) Bridge() string { return t.bridge }

// Offload is 0: a TAP device offloads nothing, so peers send it plain
// frames.
func (t *TAP) Offload() Offload { return 0 }

// SetOffload does nothing: the device is opened without a virtio header,
// so the kernel segments and checksums every frame before Read. After
// Close it returns ErrClosed.
func (t *TAP) SetOffload(Offload) error {
	if t.closed.Load() {
		return ErrClosed
	}
	return nil
}

// Read reads one Ethernet frame into b and returns its length. b should
// hold MTU + l2.MaxOverhead + 1 bytes (MaxPacket always does): a frame
// that fills b entirely is reported as ErrTruncated (and is lost). With
// wait false Read returns 0, nil when nothing is queued; with wait true it
// parks on Go's poller until a frame arrives or Close.
//
// One goroutine may Read at a time; Read may run concurrently with Write.
// Read does not keep b and allocates nothing. After Close it returns
// ErrClosed.
func (t *TAP) Read(b []byte, wait bool) (int, error) { return t.read(b, wait, l2.HeaderLen) }

// Write writes b, one Ethernet frame, in one write(2); the kernel takes it
// whole or not at all, and hands it to the bridge or the host's stack as
// if it had arrived on the wire. A frame shorter than an Ethernet header
// fails with EINVAL (wrapped); so does one the link is down for (EIO).
//
// Write may run concurrently with Read and other Writes; it does not keep
// b and allocates nothing unless it fails. After Close it returns
// ErrClosed.
func (t *TAP) Write(b []byte) error { return t.write(b) }

// Close closes the device; the kernel then deletes the interface, which
// leaves its bridge. A Read blocked in another goroutine returns
// ErrClosed, and so does every later call. Close waits for in-flight
// Writes. It is idempotent; later calls return the first call's result.
func (t *TAP) Close() error {
	t.closeOnce.Do(func() {
		if err := t.closeFile(t.ifce.Close); err != nil {
			t.closeErr = fmt.Errorf("close TAP %s: %w", t.name, err)
		}
	})
	return t.closeErr
}

var _ Device = (*TAP)(nil)
