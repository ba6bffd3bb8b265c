package netif

import (
	"fmt"
	"log/slog"
	"os"
	"sync"
	"time"

	"golang.org/x/sys/unix"
	"golang.zx2c4.com/wireguard/tun"
)

// closeWait bounds how long Close waits for the wireguard tun package's
// listener goroutines to exit.
const closeWait = 5 * time.Second

// TUN is a Linux TUN device with IFF_VNET_HDR. It implements Device.
//
// Setup (name, MTU, the interface's netlink listeners) is done by
// golang.zx2c4.com/wireguard/tun; packets never go through that package's
// Read/Write, which split and coalesce GSO packets. Read and Write are one
// read(2) or write(2) on the device's file descriptor and allocate nothing.
//
// The interface lives in the network namespace of the thread that called
// CreateTUN, and it is deleted by the kernel when the TUN is closed.
type TUN struct {
	fdio
	dev    tun.Device
	file   *os.File
	mtu    int
	log    *slog.Logger
	probed Offload // GSO types the kernel accepts in Write; fixed at creation
	can    Offload // GSO types SetOffload may enable; 0 when offloads are off

	closeOnce     sync.Once
	closeErr      error
	listenersDone chan struct{} // closed when the wireguard listeners are gone
}

// CreateTUN creates the interface c.Name in the calling thread's network
// namespace and returns it, down and without addresses (see Configure).
//
// It refuses a name that is already in use, so that it never takes over an
// interface it did not create. With c.Offload it probes which GSO types
// the kernel accepts in writes (see Offload) and starts with SetOffload of
// that set; the probe briefly sets the link up and down again.
func CreateTUN(c TUNConfig) (*TUN, error) {
	if err := c.validate(); err != nil {
		return nil, err
	}
	if err := refuseExisting(c.Name); err != nil {
		return nil, err
	}
	file, err := openTUN(c.Name)
	if err != nil {
		return nil, err
	}
	dev, err := tun.CreateTUNFromFile(file, c.MTU)
	if err != nil {
		file.Close()
		return nil, fmt.Errorf("set up TUN %s: %w", c.Name, err)
	}
	t := newTUN(c, dev, file)
	if err := t.init(c); err != nil {
		t.Close()
		return nil, err
	}
	t.log.Info("TUN device created", "interface", t.name, "mtu", t.mtu,
		"offload", t.probed.String(), "tx_queue_len", c.TxQueueLen)
	return t, nil
}

func newTUN(c TUNConfig, dev tun.Device, file *os.File) *TUN {
	t := &TUN{dev: dev, file: file, mtu: c.MTU, log: c.Logger, listenersDone: make(chan struct{})}
	t.name, t.fd = c.Name, -1
	if t.log == nil {
		t.log = slog.Default()
	}
	go t.drainEvents()
	return t
}

// drainEvents consumes the wireguard device's events until it closes the
// channel, which its netlink listener does after both of its goroutines
// are done; otherwise they would block on a full channel and never exit.
func (t *TUN) drainEvents() {
	defer close(t.listenersDone)
	for range t.dev.Events() {
	}
}

func (t *TUN) init(c TUNConfig) error {
	if err := t.fdio.init(t.name, t.file); err != nil {
		return err
	}
	if err := t.control(setVnetLE); err != nil {
		return fmt.Errorf("set little-endian virtio headers on %s: %w", t.name, err)
	}
	if c.TxQueueLen > 0 {
		if err := setTxQueueLen(t.name, c.TxQueueLen); err != nil {
			return err
		}
	}
	if !c.Offload {
		return t.SetOffload(0)
	}
	return t.initOffload()
}

// initOffload finds which GSO types the kernel can hand us (USO needs
// Linux 6.2) and which it accepts in writes, and enables the latter.
func (t *TUN) initOffload() error {
	t.can = OffloadTCPv4 | OffloadTCPv6
	if t.ioctlOffload(AllOffloads) == nil {
		t.can = AllOffloads
	}
	probed, err := t.probe(t.can)
	if err != nil {
		return err
	}
	t.probed = probed
	t.log.Info("GSO write probe", "interface", t.name, "tried", t.can.String(), "accepted", probed.String())
	return t.SetOffload(probed)
}

// Name is the interface name.
func (t *TUN) Name() string { return t.name }

// Kind is KindTUN: packets behind a virtio_net_hdr.
func (t *TUN) Kind() Kind { return KindTUN }

// MTU is the MTU the interface was created with.
func (t *TUN) MTU() int { return t.mtu }

// Offload reports the GSO types the kernel accepted in a probe write at
// creation: what this device can take in Write, and so what a peer may
// send. It is 0 when TUNConfig.Offload was false.
func (t *TUN) Offload() Offload { return t.probed }

// SetOffload sets which GSO types the kernel may hand to Read
// (TUNSETOFFLOAD): TSO for TCP, USO for UDP, always with checksum offload;
// 0 turns every offload off, so Read yields plain, fully checksummed
// packets. Types this kernel cannot offload are left out, and a device
// created without offloads keeps 0. It may run concurrently with Read and
// Write; packets already queued keep their form. After Close it returns
// ErrClosed.
func (t *TUN) SetOffload(o Offload) error {
	if err := t.ioctlOffload(o & t.can); err != nil {
		return fmt.Errorf("set offloads %s on %s: %w", (o & t.can).String(), t.name, err)
	}
	return nil
}

func (t *TUN) ioctlOffload(o Offload) error {
	return t.control(func(fd int) error {
		return unix.IoctlSetInt(fd, unix.TUNSETOFFLOAD, tunFlags(o))
	})
}

// Close closes the device; the kernel then deletes the interface with its
// addresses and routes. A Read blocked in another goroutine returns
// ErrClosed, and so does every later call. Close waits for in-flight Writes
// and for the wireguard tun package's goroutines. It is idempotent; later
// calls return the first call's result.
func (t *TUN) Close() error {
	t.closeOnce.Do(func() {
		if err := t.closeFile(t.dev.Close); err != nil {
			t.closeErr = fmt.Errorf("close TUN %s: %w", t.name, err)
		}
		select {
		case <-t.listenersDone:
		case <-time.After(closeWait):
			t.log.Warn("TUN listener goroutines did not exit", "interface", t.name, "waited", closeWait)
		}
	})
	return t.closeErr
}

var _ Device = (*TUN)(nil)
