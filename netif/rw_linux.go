package netif

import (
	"errors"
	"fmt"

	"golang.org/x/sys/unix"
)

// Read reads one packet, a virtio_net_hdr followed by an IP packet or GSO
// super-packet, into b and returns its length. b should hold MaxPacket
// bytes: a packet that fills b entirely is reported as ErrTruncated (and is
// lost). With wait false Read returns 0, nil when nothing is queued; with
// wait true it parks on Go's poller until a packet arrives or Close.
//
// One goroutine may Read at a time; Read may run concurrently with Write
// and SetOffload. Read does not keep b and allocates nothing. After Close
// it returns ErrClosed.
func (t *TUN) Read(b []byte, wait bool) (int, error) {
	if t.closed.Load() {
		return 0, ErrClosed
	}
	if len(b) <= VirtioHdrLen {
		return 0, fmt.Errorf("read %s: buffer of %d bytes cannot hold a packet", t.name, len(b))
	}
	t.rbuf, t.rn, t.rerr, t.rgot = b, 0, nil, false
	var err error
	if wait {
		err = t.rc.Read(t.readWait)
	} else {
		err = t.rc.Control(t.readNow)
	}
	n, rerr, got := t.rn, t.rerr, t.rgot
	t.rbuf, t.rerr = nil, nil
	switch {
	case err != nil:
		return 0, t.wrapIOErr("read from", err)
	case rerr != nil:
		return 0, t.wrapIOErr("read from", rerr)
	case !got:
		return 0, nil
	case n >= len(b):
		return 0, fmt.Errorf("read from %s: %w", t.name, ErrTruncated)
	case n < VirtioHdrLen:
		return 0, fmt.Errorf("read from %s: short read of %d bytes", t.name, n)
	}
	return n, nil
}

// readOnce is one read(2) into t.rbuf, retried on EINTR. It reports false
// on EAGAIN, which makes RawConn.Read wait for readability.
func (t *TUN) readOnce(fd uintptr) bool {
	for {
		n, err := unix.Read(int(fd), t.rbuf)
		switch err {
		case unix.EINTR:
			continue
		case unix.EAGAIN:
			return false
		}
		t.rn, t.rerr, t.rgot = n, err, true
		return true
	}
}

// Write writes b, a virtio_net_hdr followed by one IP packet or GSO
// super-packet, in one write(2); the kernel takes it whole or not at all.
// A TUN write does not block. The kernel's refusal comes back wrapped:
// errors.Is(err, unix.EINVAL) means it rejected the header or the packet
// (for a GSO packet: this GSO type), unix.EIO that the link is down.
//
// Write may run concurrently with Read, SetOffload and other Writes; it
// does not keep b and allocates nothing unless it fails. After Close it
// returns ErrClosed.
func (t *TUN) Write(b []byte) error {
	t.wmu.RLock()
	if t.closed.Load() {
		t.wmu.RUnlock()
		return ErrClosed
	}
	n, err := writeFD(t.fd, b)
	t.wmu.RUnlock()
	if err != nil {
		return t.wrapIOErr("write to", err)
	}
	if n != len(b) {
		return fmt.Errorf("write to %s: short write of %d of %d bytes", t.name, n, len(b))
	}
	return nil
}

func writeFD(fd int, b []byte) (int, error) {
	for {
		n, err := unix.Write(fd, b)
		if !errors.Is(err, unix.EINTR) {
			return n, err
		}
	}
}
