package netif

import (
	"encoding/binary"
	"errors"
	"fmt"
	"os"
	"strings"

	"github.com/vishvananda/netlink"
	"golang.org/x/sys/unix"
)

const cloneDevice = "/dev/net/tun"

// validate checks c before anything touches the host.
func (c TUNConfig) validate() error {
	return validateLink("TUN", c.Name, c.MTU, maxMTU, c.TxQueueLen)
}

// validateLink checks the settings TUN and TAP devices share; kind names
// the device in messages.
func validateLink(kind, name string, mtu, maxMTU, txQueueLen int) error {
	if err := checkIfname(name); err != nil {
		return fmt.Errorf("%s %w", kind, err)
	}
	switch {
	case mtu < minMTU || mtu > maxMTU:
		return fmt.Errorf("MTU %d of %s is outside %d-%d", mtu, name, minMTU, maxMTU)
	case txQueueLen < 0:
		return fmt.Errorf("transmit queue length %d of %s is negative", txQueueLen, name)
	}
	return nil
}

// checkIfname refuses a name the kernel would not give an interface.
func checkIfname(name string) error {
	switch {
	case name == "":
		return errors.New("interface name is empty")
	case len(name) >= unix.IFNAMSIZ:
		return fmt.Errorf("interface name %q is longer than %d bytes", name, unix.IFNAMSIZ-1)
	case strings.ContainsAny(name, "%/: \t\n"):
		return fmt.Errorf("interface name %q contains a character the kernel does not allow", name)
	}
	return nil
}

// existsError is the refusal to take over an interface we did not create.
func existsError(name string) error {
	return fmt.Errorf("interface %s already exists and was not created by this process; "+
		"remove it with `ip link del %s` or choose another interface name", name, name)
}

// refuseExisting fails when an interface called name exists in the
// current network namespace.
func refuseExisting(name string) error {
	_, err := netlink.LinkByName(name)
	if err == nil {
		return existsError(name)
	}
	var nf netlink.LinkNotFoundError
	if errors.As(err, &nf) {
		return nil
	}
	return fmt.Errorf("look up interface %s: %w", name, err)
}

// openTUN creates the non-persistent TUN interface name in the calling
// thread's network namespace, with a virtio_net_hdr on every packet. The
// returned file is non-blocking (so Go's poller serves it); closing it
// deletes the interface. IFF_TUN_EXCL makes the kernel refuse, rather than
// attach to, an existing device of that name.
func openTUN(name string) (*os.File, error) {
	fd, err := unix.Open(cloneDevice, unix.O_RDWR|unix.O_CLOEXEC, 0)
	if err != nil {
		return nil, fmt.Errorf("open %s: %w", cloneDevice, err)
	}
	if err := setIff(fd, name); err != nil {
		unix.Close(fd)
		return nil, err
	}
	if err := unix.SetNonblock(fd, true); err != nil {
		unix.Close(fd)
		return nil, fmt.Errorf("make %s non-blocking: %w", name, err)
	}
	return os.NewFile(uintptr(fd), cloneDevice), nil
}

func setIff(fd int, name string) error {
	ifr, err := unix.NewIfreq(name)
	if err != nil {
		return fmt.Errorf("create TUN %s: %w", name, err)
	}
	ifr.SetUint16(unix.IFF_TUN | unix.IFF_NO_PI | unix.IFF_VNET_HDR | unix.IFF_TUN_EXCL)
	err = unix.IoctlIfreq(fd, unix.TUNSETIFF, ifr)
	switch {
	case errors.Is(err, unix.EBUSY), errors.Is(err, unix.EEXIST):
		return existsError(name)
	case err != nil:
		return fmt.Errorf("create TUN %s (TUNSETIFF): %w", name, err)
	}
	return nil
}

// tunFlags maps an Offload set to TUNSETOFFLOAD flags. Any GSO type needs
// TUN_F_CSUM; the empty set turns even checksum offload off.
func tunFlags(o Offload) int {
	if o == 0 {
		return 0
	}
	f := unix.TUN_F_CSUM
	if o&OffloadTCPv4 != 0 {
		f |= unix.TUN_F_TSO4
	}
	if o&OffloadTCPv6 != 0 {
		f |= unix.TUN_F_TSO6
	}
	if o&OffloadUDP != 0 {
		f |= unix.TUN_F_USO4 | unix.TUN_F_USO6
	}
	return f
}

// setVnetLE makes the kernel use little-endian virtio headers on a
// big-endian host (TUNSETVNETLE), as the Device contract promises; on
// little-endian hosts that is already so and nothing is done.
func setVnetLE(fd int) error {
	if binary.NativeEndian.Uint16([]byte{1, 0}) == 1 {
		return nil
	}
	return unix.IoctlSetPointerInt(fd, unix.TUNSETVNETLE, 1)
}
