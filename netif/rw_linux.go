package netif

// Read reads one packet, a virtio_net_hdr followed by an IP packet or GSO
// super-packet, into b and returns its length. b should hold MaxPacket
// bytes: a packet that fills b entirely is reported as ErrTruncated (and is
// lost). With wait false Read returns 0, nil when nothing is queued; with
// wait true it parks on Go's poller until a packet arrives or Close.
//
// One goroutine may Read at a time; Read may run concurrently with Write
// and SetOffload. Read does not keep b and allocates nothing. After Close
// it returns ErrClosed.
func (t *TUN) Read(b []byte, wait bool) (int, error) { return t.read(b, wait, VirtioHdrLen) }

// Write writes b, a virtio_net_hdr followed by one IP packet or GSO
// super-packet, in one write(2); the kernel takes it whole or not at all.
// A TUN write does not block. The kernel's refusal comes back wrapped:
// errors.Is(err, unix.EINVAL) means it rejected the header or the packet
// (for a GSO packet: this GSO type), unix.EIO that the link is down.
//
// Write may run concurrently with Read, SetOffload and other Writes; it
// does not keep b and allocates nothing unless it fails. After Close it
// returns ErrClosed.
func (t *TUN) Write(b []byte) error { return t.write(b) }
