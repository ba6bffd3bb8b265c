// Package netiftest is an in-memory netif.Device for tests without root:
// tests inject the packets (TUN) or frames (TAP) the "kernel" hands to
// Read and collect what the code under test Writes. A generator mode
// serves allocation benchmarks.
package netiftest

import (
	"fmt"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/tlsvpn/tlsvpn/internal/l2"
	"github.com/tlsvpn/tlsvpn/netif"
)

// WrittenBuffer is the capacity of the Written channel.
const WrittenBuffer = 4096

// Device is an in-memory netif.Device, a TUN (New) or a TAP (NewTAP). Its
// methods are safe for concurrent use, within the Device contract (one
// Read at a time).
type Device struct {
	name    string
	kind    netif.Kind
	hdr     int // bytes Inject puts in front of a packet: a virtio header, or none for a TAP
	minLen  int // the shortest packet Write takes
	mtu     int
	offload netif.Offload

	mu    sync.Mutex
	queue [][]byte      // injected packets, header included; guarded by mu
	held  chan struct{} // closed by ReleaseWrites; nil unless writes are held (hold.go); guarded by mu
	ready chan struct{} // holds a token while queue may be non-empty
	done  chan struct{} // closed by Close
	once  sync.Once

	readOffload atomic.Uint32 // last SetOffload
	waiting     atomic.Int32  // Writes waiting while held
	writeErr    atomic.Pointer[error]

	written chan []byte // nil in generator mode
	dropped atomic.Uint64
	count   atomic.Uint64
	target  atomic.Uint64
	reached chan struct{}
	gen     []byte       // generator packet, header included
	genLeft atomic.Int64 // generator packets still to Read
}

// New returns a TUN Device called name with the given MTU whose Offload
// (the GSO types it "accepts" in Write) is offload. Reads return what
// Inject and InjectRaw queue; every Write is copied to Written.
func New(name string, mtu int, offload netif.Offload) *Device {
	d := newDevice(name, netif.KindTUN, mtu, offload)
	d.written = make(chan []byte, WrittenBuffer)
	return d
}

// NewTAP returns a TAP Device called name with the given MTU: Inject
// queues Ethernet frames as they are, Offload is 0, and Write takes any
// frame of at least an Ethernet header (see EthernetFrame).
func NewTAP(name string, mtu int) *Device {
	d := newDevice(name, netif.KindTAP, mtu, 0)
	d.written = make(chan []byte, WrittenBuffer)
	return d
}

func newDevice(name string, kind netif.Kind, mtu int, offload netif.Offload) *Device {
	d := &Device{
		name:    name,
		kind:    kind,
		hdr:     netif.VirtioHdrLen,
		minLen:  netif.VirtioHdrLen + 1,
		mtu:     mtu,
		offload: offload,
		ready:   make(chan struct{}, 1),
		done:    make(chan struct{}),
		reached: make(chan struct{}, 1),
	}
	if kind == netif.KindTAP {
		d.hdr, d.minLen = 0, l2.HeaderLen
	}
	d.readOffload.Store(uint32(offload))
	return d
}

// Name is the name given to New.
func (d *Device) Name() string { return d.name }

// Kind is KindTUN for a Device from New or NewGenerator, KindTAP for one
// from NewTAP or NewTAPGenerator.
func (d *Device) Kind() netif.Kind { return d.kind }

// MTU is the MTU given to New.
func (d *Device) MTU() int { return d.mtu }

// Offload is the set given to New (every type for a generator).
func (d *Device) Offload() netif.Offload { return d.offload }

// SetOffload records o, which ReadOffload reports; it changes nothing
// else, since injected packets are what they are. After Close it returns
// netif.ErrClosed.
func (d *Device) SetOffload(o netif.Offload) error {
	if d.isClosed() {
		return netif.ErrClosed
	}
	d.readOffload.Store(uint32(o))
	return nil
}

// ReadOffload is the set last passed to SetOffload, initially Offload().
func (d *Device) ReadOffload() netif.Offload { return netif.Offload(d.readOffload.Load()) }

// Inject queues pkt for Read: on a TUN an IP packet, which gets a zeroed
// virtio header in front (no GSO, checksum complete); on a TAP an
// Ethernet frame, as it is. pkt is copied. After Close it does nothing.
func (d *Device) Inject(pkt []byte) {
	b := make([]byte, d.hdr+len(pkt))
	copy(b[d.hdr:], pkt)
	d.enqueue(b)
}

// InjectRaw queues exactly hdrAndPkt (on a TUN a virtio header and a
// packet) for Read. It is copied. After Close it does nothing.
func (d *Device) InjectRaw(hdrAndPkt []byte) {
	d.enqueue(append([]byte(nil), hdrAndPkt...))
}

func (d *Device) enqueue(b []byte) {
	if d.isClosed() {
		return
	}
	d.mu.Lock()
	d.queue = append(d.queue, b)
	d.mu.Unlock()
	d.signal()
}

func (d *Device) signal() {
	select {
	case d.ready <- struct{}{}:
	default:
	}
}

// Read copies the next packet (header included) into b, generator packets
// first, then injected ones in order. With wait false it returns 0, nil
// when none is queued; with wait true it blocks until one is injected or
// Close. A packet that fills b entirely is dropped with netif.ErrTruncated,
// as the real device does. After Close it returns netif.ErrClosed.
func (d *Device) Read(b []byte, wait bool) (int, error) {
	for {
		if d.isClosed() {
			return 0, netif.ErrClosed
		}
		if d.genLeft.Load() > 0 {
			d.genLeft.Add(-1)
			return copyPacket(b, d.gen)
		}
		if p, ok := d.dequeue(); ok {
			return copyPacket(b, p)
		}
		if !wait {
			return 0, nil
		}
		select {
		case <-d.ready:
		case <-d.done:
		}
	}
}

func (d *Device) dequeue() ([]byte, bool) {
	d.mu.Lock()
	defer d.mu.Unlock()
	if len(d.queue) == 0 {
		return nil, false
	}
	p := d.queue[0]
	d.queue[0] = nil
	d.queue = d.queue[1:]
	if len(d.queue) > 0 {
		d.signal()
	}
	return p, true
}

func copyPacket(b, p []byte) (int, error) {
	if len(p) >= len(b) {
		return 0, netif.ErrTruncated
	}
	return copy(b, p), nil
}

// Write counts b and, in a Device from New or NewTAP, sends a copy to
// Written. When Written is full the copy is dropped and counted in
// WrittenDropped, as a busy host stack drops packets; Write never blocks,
// unless writes are held (HoldWrites). A b shorter than a virtio header plus one byte (TUN) or an
// Ethernet header (TAP) fails with EINVAL, as does any error set by
// SetWriteError. After Close it returns netif.ErrClosed.
func (d *Device) Write(b []byte) error {
	if !d.waitHeld() || d.isClosed() {
		return netif.ErrClosed
	}
	if e := d.writeErr.Load(); e != nil {
		return *e
	}
	if len(b) < d.minLen {
		return fmt.Errorf("write to %s: %w", d.name, syscall.EINVAL)
	}
	if d.written != nil {
		select {
		case d.written <- append([]byte(nil), b...):
		default:
			d.dropped.Add(1)
		}
	}
	if c := d.count.Add(1); c == d.target.Load() {
		select {
		case d.reached <- struct{}{}:
		default:
		}
	}
	return nil
}

// SetWriteError makes every later Write fail with err (as a kernel that
// refuses a GSO type fails with EINVAL); nil restores normal writes.
func (d *Device) SetWriteError(err error) {
	if err == nil {
		d.writeErr.Store(nil)
		return
	}
	d.writeErr.Store(&err)
}

// Written delivers a copy of every successful Write, header included, in
// order, buffered up to WrittenBuffer (see Write for what happens beyond).
// It is nil for a generator and is never closed.
func (d *Device) Written() <-chan []byte { return d.written }

// WrittenDropped counts the copies Write dropped because Written was full.
func (d *Device) WrittenDropped() uint64 { return d.dropped.Load() }

// WrittenCount counts successful Writes.
func (d *Device) WrittenCount() uint64 { return d.count.Load() }

// WaitWritten waits until WrittenCount reaches n or timeout passes, and
// reports whether it did. One goroutine may wait at a time.
func (d *Device) WaitWritten(n uint64, timeout time.Duration) bool {
	d.target.Store(n)
	if d.count.Load() >= n {
		return true
	}
	timer := time.NewTimer(timeout)
	defer timer.Stop()
	for {
		select {
		case <-d.reached:
			if d.count.Load() >= n {
				return true
			}
		case <-timer.C:
			return d.count.Load() >= n
		}
	}
}

// Close makes Read, Write and SetOffload return netif.ErrClosed, waking a
// blocked Read. It is idempotent and returns nil.
func (d *Device) Close() error {
	d.once.Do(func() { close(d.done) })
	return nil
}

func (d *Device) isClosed() bool {
	select {
	case <-d.done:
		return true
	default:
		return false
	}
}

var _ netif.Device = (*Device)(nil)
