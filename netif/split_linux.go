package netif

import (
	"errors"
	"fmt"
	"os"
	"sync"

	"github.com/tlsvpn/tlsvpn/internal/packet"
	"golang.org/x/sys/unix"
	"golang.zx2c4.com/wireguard/tun"
)

// splitOffset is the room golang.zx2c4.com/wireguard/tun needs in front of
// each packet for its virtio header.
const splitOffset = 16

// splitBatch is how many packets one read may split into and one write may
// coalesce: the package's own batch size.
const splitBatch = 128

// Split is a TUN whose packets go through golang.zx2c4.com/wireguard/tun's
// own Read and Write: the kernel still hands over GSO super-packets, which
// Read splits into packets of at most the MTU in userspace, and WriteBatch
// coalesces what it writes (GRO) before it reaches the kernel. Nothing but
// plain packets crosses the tunnel: Offload reports none, so peers send
// plain packets too. It is the path of `offload = "off"`, for peers and
// kernels that do not take GSO super-packets.
type Split struct {
	*TUN

	// Read state; one reader at a time.
	rbufs    [][]byte
	rsizes   []int
	rn, rpos int
	pfd      [1]unix.PollFd

	wmu   sync.Mutex // one batch write at a time
	wbufs [][]byte   // each its own array of splitOffset+65535 bytes, as the coalescer requires
	wlist [][]byte
}

// NewSplit wraps t, which must have been created with offloads (so that
// the kernel hands over super-packets to split). Close closes t.
func NewSplit(t *TUN) *Split {
	s := &Split{TUN: t, rbufs: make([][]byte, splitBatch), rsizes: make([]int, splitBatch),
		wbufs: make([][]byte, splitBatch), wlist: make([][]byte, splitBatch)}
	for i := range s.rbufs {
		s.rbufs[i] = make([]byte, splitOffset+t.mtu)
	}
	for i := range s.wbufs {
		s.wbufs[i] = make([]byte, 0, splitOffset+65535)
	}
	s.pfd[0] = unix.PollFd{Fd: int32(t.fd), Events: unix.POLLIN}
	return s
}

// Offload reports no GSO type: peers must send plain packets.
func (s *Split) Offload() Offload { return 0 }

// SetOffload does nothing: the kernel keeps handing over super-packets,
// which Read splits.
func (s *Split) SetOffload(Offload) error { return nil }

// Read returns the next packet, behind a zeroed virtio header. A
// super-packet from the kernel is split once into up to splitBatch packets,
// which the following Reads return.
func (s *Split) Read(b []byte, wait bool) (int, error) {
	for s.rpos >= s.rn {
		if s.closed.Load() {
			return 0, ErrClosed
		}
		if !wait && !s.readable() {
			return 0, nil
		}
		n, err := s.dev.Read(s.rbufs, s.rsizes, splitOffset)
		if err != nil && !errors.Is(err, tun.ErrTooManySegments) {
			if s.closed.Load() || errors.Is(err, os.ErrClosed) {
				return 0, ErrClosed
			}
			return 0, fmt.Errorf("read %s: %w", s.name, err)
		}
		s.rn, s.rpos = n, 0
	}
	size := s.rsizes[s.rpos]
	if VirtioHdrLen+size > len(b) {
		s.rpos++
		return 0, ErrTruncated
	}
	clear(b[:VirtioHdrLen])
	copy(b[VirtioHdrLen:], s.rbufs[s.rpos][splitOffset:splitOffset+size])
	s.rpos++
	return VirtioHdrLen + size, nil
}

// readable polls the device without waiting.
func (s *Split) readable() bool {
	n, err := unix.Poll(s.pfd[:], 0)
	return err == nil && n > 0 && s.pfd[0].Revents&unix.POLLIN != 0
}

// Write writes one packet.
func (s *Split) Write(b []byte) error {
	one := [1][]byte{b}
	return s.WriteBatch(one[:])
}

// WriteBatch writes plain packets (a GSO super-packet is refused: peers
// never send one to a Split), coalescing those of one TCP or UDP flow.
func (s *Split) WriteBatch(pkts [][]byte) error {
	s.wmu.Lock()
	defer s.wmu.Unlock()
	var errs []error
	for len(pkts) > 0 {
		n := min(len(pkts), splitBatch)
		if err := s.writeSome(pkts[:n]); err != nil {
			errs = append(errs, err)
		}
		pkts = pkts[n:]
	}
	return errors.Join(errs...)
}

func (s *Split) writeSome(pkts [][]byte) error {
	list := s.wlist[:0]
	for i, p := range pkts {
		if h, ok := packet.ParseVirtioHdr(p); !ok || h.GSOType != packet.GSONone {
			return fmt.Errorf("write %s: a GSO super-packet on a device without offloads", s.name)
		}
		buf := s.wbufs[i][:splitOffset+len(p)-VirtioHdrLen]
		copy(buf[splitOffset:], p[VirtioHdrLen:])
		list = append(list, buf)
	}
	if s.closed.Load() {
		return ErrClosed
	}
	if _, err := s.dev.Write(list, splitOffset); err != nil {
		return fmt.Errorf("write %s: %w", s.name, err)
	}
	return nil
}
