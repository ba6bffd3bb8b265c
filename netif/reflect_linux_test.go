package netif_test

import (
	"crypto/sha256"
	"encoding/binary"
	"errors"
	"io"
	"math/rand/v2"
	"net"
	"net/netip"
	"sync/atomic"
	"testing"
	"time"

	"github.com/tlsvpn/tlsvpn/internal/packet"
	"github.com/tlsvpn/tlsvpn/netif"
)

// reflector turns one TUN into a loop for TCP: a client in the namespace
// dials virt (a peer address routed to the TUN); the reflector reads each
// packet and writes it back so that it arrives from seen at the local
// address, where the server listens, and the server's replies to seen come
// back from virt. Only addresses are rewritten (and checksums adjusted),
// the virtio header and any GSO super-packet are passed through unchanged.
type reflector struct {
	local, virt, seen netip.Addr

	packets, gso, needsCsum atomic.Uint64
	maxLen                  atomic.Int64
}

// run reads dev until Close; it is started and waited for by reflect.
func (r *reflector) run(t *testing.T, dev netif.Device) {
	buf := make([]byte, netif.MaxPacket)
	for {
		n, err := dev.Read(buf, true)
		if errors.Is(err, netif.ErrClosed) {
			return
		}
		if err != nil {
			t.Errorf("reflector Read: %v", err)
			return
		}
		if !r.rewrite(buf[:n]) {
			continue
		}
		if err := dev.Write(buf[:n]); errors.Is(err, netif.ErrClosed) {
			return
		} else if err != nil {
			t.Errorf("reflector Write of %d bytes: %v", n, err)
			return
		}
	}
}

// rewrite maps local->virt to seen->local and local->seen to virt->local,
// and records what the kernel handed over. It reports false for packets
// that are not part of the TCP test flow.
func (r *reflector) rewrite(frame []byte) bool {
	hdr, _ := packet.ParseVirtioHdr(frame)
	ip := frame[netif.VirtioHdrLen:]
	h, err := packet.ParseHeader(ip)
	if err != nil || h.L4Len(ip) == 0 || h.Proto != packet.ProtoTCP || h.Src != r.local {
		return false
	}
	src, dst, l4 := h.Src, h.Dst, ip[h.Len:]
	var newSrc netip.Addr
	switch dst {
	case r.virt:
		newSrc = r.seen
	case r.seen:
		newSrc = r.virt
	default:
		return false
	}
	r.record(hdr, len(ip))
	old := append(src.AsSlice(), dst.AsSlice()...)
	repl := append(newSrc.AsSlice(), r.local.AsSlice()...)
	if src.Is4() {
		copy(ip[12:20], repl)
		binary.BigEndian.PutUint16(ip[10:], 0)
		binary.BigEndian.PutUint16(ip[10:], packet.Checksum(ip[:h.Len], 0))
	} else {
		copy(ip[8:40], repl)
	}
	adjustTCPChecksum(l4, hdr.Flags&packet.VirtioNeedsCsum != 0, old, repl)
	return true
}

func (r *reflector) record(hdr packet.VirtioHdr, n int) {
	r.packets.Add(1)
	if hdr.GSOType != packet.GSONone {
		r.gso.Add(1)
	}
	if hdr.Flags&packet.VirtioNeedsCsum != 0 {
		r.needsCsum.Add(1)
	}
	for {
		m := r.maxLen.Load()
		if int64(n) <= m || r.maxLen.CompareAndSwap(m, int64(n)) {
			return
		}
	}
}

// adjustTCPChecksum updates the TCP checksum field for addresses changed
// from old to repl (RFC 1624). A partial checksum (NEEDS_CSUM) holds the
// uncomplemented pseudo-header sum; a complete one its complement.
func adjustTCPChecksum(tcp []byte, partial bool, old, repl []byte) {
	field := binary.BigEndian.Uint16(tcp[packet.TCPCsumOffset:])
	delta := packet.Add(^packet.Sum(old, 0), packet.Sum(repl, 0))
	if partial {
		field = packet.Add(field, delta)
	} else {
		field = ^packet.Add(^field, delta)
	}
	binary.BigEndian.PutUint16(tcp[packet.TCPCsumOffset:], field)
}

// transfer sends size pseudo-random bytes over TCP through the reflector
// and checks that they arrive intact. Sockets are made on the calling
// goroutine, which must be in the test's namespace.
func transfer(t *testing.T, r *reflector, size int) {
	t.Helper()
	ln, err := net.ListenTCP("tcp", net.TCPAddrFromAddrPort(netip.AddrPortFrom(r.local, 0)))
	if err != nil {
		t.Fatalf("listen: %v", err)
	}
	defer ln.Close()
	got := make(chan [32]byte, 1)
	go func() {
		c, err := ln.Accept()
		if err != nil {
			t.Errorf("accept: %v", err)
			close(got)
			return
		}
		defer c.Close()
		c.SetDeadline(time.Now().Add(60 * time.Second))
		h := sha256.New()
		if _, err := io.Copy(h, c); err != nil {
			t.Errorf("server read: %v", err)
		}
		got <- [32]byte(h.Sum(nil))
	}()

	port := ln.Addr().(*net.TCPAddr).AddrPort().Port()
	d := net.Dialer{Timeout: 10 * time.Second}
	c, err := d.Dial("tcp", netip.AddrPortFrom(r.virt, port).String())
	if err != nil {
		t.Fatalf("dial through the TUN: %v", err)
	}
	defer c.Close()
	c.SetDeadline(time.Now().Add(60 * time.Second))
	data := make([]byte, size)
	rng := rand.NewChaCha8([32]byte{1})
	rng.Read(data)
	if _, err := c.Write(data); err != nil {
		t.Fatalf("client write: %v", err)
	}
	c.(*net.TCPConn).CloseWrite()
	select {
	case sum, ok := <-got:
		if ok && sum != sha256.Sum256(data) {
			t.Errorf("the %d bytes arrived corrupted", size)
		}
	case <-time.After(60 * time.Second):
		t.Fatal("transfer did not finish within 60s")
	}
}

// reflect starts r on dev and stops it (by closing dev) in Cleanup.
func reflect(t *testing.T, dev netif.Device, r *reflector) {
	done := make(chan struct{})
	go func() {
		defer close(done)
		r.run(t, dev)
	}()
	t.Cleanup(func() {
		dev.Close()
		<-done
	})
}

func TestTCPTransferThroughTheTUN(t *testing.T) {
	const size = 4 << 20
	for _, tc := range []struct {
		name       string
		offload    bool
		set        func(dev *netif.TUN) netif.Offload
		addrs      [3]netip.Addr // local, virt, seen
		wantSuper  bool
		wantPlain  bool
		needsProbe netif.Offload
		split      bool
	}{
		{name: "the split device reads plain packets of super-packets and writes them back", offload: true, split: true,
			set: (*netif.TUN).Offload, addrs: [3]netip.Addr{local4, peer4, other4}, wantPlain: true},
		{name: "the split device works for IPv6", offload: true, split: true,
			set: (*netif.TUN).Offload, addrs: [3]netip.Addr{local6, peer6, other6}, wantPlain: true},
		{name: "SetOffload(0) yields plain fully checksummed packets", offload: true,
			set: func(*netif.TUN) netif.Offload { return 0 }, addrs: [3]netip.Addr{local4, peer4, other4}, wantPlain: true},
		{name: "a device created without offloads stays plain after SetOffload(all)", offload: false,
			set: func(*netif.TUN) netif.Offload { return netif.AllOffloads }, addrs: [3]netip.Addr{local4, peer4, other4}, wantPlain: true},
		{name: "IPv4 GSO super-packets pass through read and write", offload: true,
			set: (*netif.TUN).Offload, addrs: [3]netip.Addr{local4, peer4, other4}, wantSuper: true, needsProbe: netif.OffloadTCPv4},
		{name: "IPv6 GSO super-packets pass through read and write", offload: true,
			set: (*netif.TUN).Offload, addrs: [3]netip.Addr{local6, peer6, other6}, wantSuper: true, needsProbe: netif.OffloadTCPv6},
	} {
		t.Run(tc.name, func(t *testing.T) {
			enterNetns(t)
			const mtu = 1500
			dev := newTUN(t, netif.TUNConfig{Name: tunName, MTU: mtu, Offload: tc.offload})
			if dev.Offload()&tc.needsProbe != tc.needsProbe {
				t.Skipf("this kernel refuses GSO writes of %v (probe: %v)", tc.needsProbe, dev.Offload())
			}
			if err := dev.SetOffload(tc.set(dev)); err != nil {
				t.Fatalf("SetOffload: %v", err)
			}
			var d netif.Device = dev
			if tc.split {
				d = netif.NewSplit(dev)
			}
			configure(t, d, netif.LinkConfig{Addresses: []netip.Prefix{tunNet4, tunNet6}})
			r := &reflector{local: tc.addrs[0], virt: tc.addrs[1], seen: tc.addrs[2]}
			reflect(t, d, r)

			transfer(t, r, size)
			t.Logf("%d packets through the TUN, %d GSO, %d with NEEDS_CSUM, largest %d bytes",
				r.packets.Load(), r.gso.Load(), r.needsCsum.Load(), r.maxLen.Load())
			if tc.wantPlain && (r.gso.Load() != 0 || r.needsCsum.Load() != 0 || r.maxLen.Load() > mtu) {
				t.Errorf("want only plain packets of at most %d bytes", mtu)
			}
			if tc.wantSuper && r.gso.Load() == 0 {
				t.Errorf("no GSO super-packet read in a %d-byte transfer with offloads %v", size, dev.Offload())
			}
		})
	}
}
