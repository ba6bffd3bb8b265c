package netiftest_test

import (
	"bytes"
	"errors"
	"net/netip"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/tlsvpn/tlsvpn/internal/packet"
	"github.com/tlsvpn/tlsvpn/netif"
	"github.com/tlsvpn/tlsvpn/netif/netiftest"
)

var (
	a4 = netip.MustParseAddrPort("100.64.0.1:1000")
	b4 = netip.MustParseAddrPort("100.64.0.2:2000")
)

func TestInjectedPacketsAreReadInOrderBehindAHeader(t *testing.T) {
	d := netiftest.New("tv0", 1500, netif.OffloadTCPv4)
	pkt := packet.UDP(a4, b4, []byte("one"))
	raw := packet.TCPSuper(a4, b4, 1, 100, make([]byte, 300))
	d.Inject(pkt)
	d.InjectRaw(raw)
	pkt[0] = 0 // Inject copied it

	buf := make([]byte, netif.MaxPacket)
	n, err := d.Read(buf, false)
	if err != nil || !bytes.Equal(buf[:n], append(make([]byte, netif.VirtioHdrLen), packet.UDP(a4, b4, []byte("one"))...)) {
		t.Errorf("first Read = % x, %v; want a zero header and the injected packet", buf[:n], err)
	}
	n, err = d.Read(buf, true)
	if err != nil || !bytes.Equal(buf[:n], raw) {
		t.Errorf("second Read = %d bytes, %v; want exactly the raw injection", n, err)
	}
	if n, err := d.Read(buf, false); n != 0 || err != nil {
		t.Errorf("Read(no wait) on an empty queue = %d, %v; want 0, nil", n, err)
	}
}

func TestReadWaitsForInjectAndCloseWakesIt(t *testing.T) {
	d := netiftest.New("tv0", 1500, 0)
	got := make(chan error, 2)
	go func() {
		buf := make([]byte, netif.MaxPacket)
		for range 2 {
			_, err := d.Read(buf, true)
			got <- err
		}
	}()
	d.Inject([]byte{0x45})
	if err := waitErr(t, got); err != nil {
		t.Fatalf("Read after Inject: %v", err)
	}
	d.Close()
	if err := waitErr(t, got); !errors.Is(err, netif.ErrClosed) {
		t.Fatalf("blocked Read after Close = %v, want ErrClosed", err)
	}
	if err := d.Write(make([]byte, 30)); !errors.Is(err, netif.ErrClosed) {
		t.Errorf("Write after Close = %v, want ErrClosed", err)
	}
	if err := d.SetOffload(0); !errors.Is(err, netif.ErrClosed) {
		t.Errorf("SetOffload after Close = %v, want ErrClosed", err)
	}
	if err := d.Close(); err != nil {
		t.Errorf("second Close = %v", err)
	}
}

func waitErr(t *testing.T, c <-chan error) error {
	t.Helper()
	select {
	case err := <-c:
		return err
	case <-time.After(10 * time.Second):
		t.Fatal("Read did not return within 10s")
		return nil
	}
}

func TestReadReportsTruncation(t *testing.T) {
	d := netiftest.New("tv0", 1500, 0)
	d.Inject(make([]byte, 20))
	if _, err := d.Read(make([]byte, 30), false); !errors.Is(err, netif.ErrTruncated) {
		t.Errorf("Read into a buffer the packet fills = %v, want ErrTruncated", err)
	}
}

func TestWrittenGetsCopiesAndDropsWhenFull(t *testing.T) {
	d := netiftest.New("tv0", 1500, 0)
	b := append(make([]byte, netif.VirtioHdrLen), 0x45, 1, 2)
	for range netiftest.WrittenBuffer + 3 {
		if err := d.Write(b); err != nil {
			t.Fatalf("Write: %v", err)
		}
	}
	b[10] = 0
	first := <-d.Written()
	if first[10] != 0x45 {
		t.Errorf("Written holds the caller's buffer, not a copy")
	}
	if d.WrittenCount() != netiftest.WrittenBuffer+3 || d.WrittenDropped() != 3 {
		t.Errorf("count %d, dropped %d; want %d, 3", d.WrittenCount(), d.WrittenDropped(), netiftest.WrittenBuffer+3)
	}
}

func TestSetWriteErrorAndShortWrites(t *testing.T) {
	d := netiftest.New("tv0", 1500, 0)
	if err := d.Write(make([]byte, netif.VirtioHdrLen)); !errors.Is(err, syscall.EINVAL) {
		t.Errorf("Write of a bare header = %v, want EINVAL", err)
	}
	d.SetWriteError(syscall.EINVAL)
	if err := d.Write(make([]byte, 40)); !errors.Is(err, syscall.EINVAL) {
		t.Errorf("Write with SetWriteError(EINVAL) = %v", err)
	}
	d.SetWriteError(nil)
	if err := d.Write(make([]byte, 40)); err != nil {
		t.Errorf("Write after SetWriteError(nil) = %v", err)
	}
	if d.WrittenCount() != 1 {
		t.Errorf("WrittenCount = %d, want only the successful write", d.WrittenCount())
	}
}

func TestSetOffloadIsRecorded(t *testing.T) {
	d := netiftest.New("tv0", 1280, netif.OffloadTCPv6)
	if d.Name() != "tv0" || d.MTU() != 1280 || d.Offload() != netif.OffloadTCPv6 || d.ReadOffload() != netif.OffloadTCPv6 {
		t.Fatalf("New did not keep its arguments")
	}
	if err := d.SetOffload(0); err != nil || d.ReadOffload() != 0 {
		t.Errorf("SetOffload(0) = %v, ReadOffload %v", err, d.ReadOffload())
	}
}

func TestGeneratorReadsAndWritesWithoutAllocating(t *testing.T) {
	const n = 1000
	pkt := packet.UDP(a4, b4, make([]byte, 1200))
	d := netiftest.NewGenerator("tv0", 1500, pkt, n+200)
	buf := make([]byte, netif.MaxPacket)
	var wrote int
	allocs := testing.AllocsPerRun(n, func() {
		m, err := d.Read(buf, true)
		if err != nil || m != netif.VirtioHdrLen+len(pkt) {
			t.Fatalf("generator Read = %d, %v", m, err)
		}
		if err := d.Write(buf[:m]); err != nil {
			t.Fatalf("generator Write: %v", err)
		}
		wrote++
	})
	if allocs != 0 {
		t.Errorf("generator Read+Write allocate %v times per packet, want 0", allocs)
	}
	if !bytes.Equal(buf[netif.VirtioHdrLen:netif.VirtioHdrLen+len(pkt)], pkt) {
		t.Errorf("generator packet differs from the one given")
	}
	if d.Written() != nil {
		t.Errorf("a generator has a Written channel")
	}
	if !d.WaitWritten(uint64(wrote), time.Second) || d.WrittenCount() != uint64(wrote) {
		t.Errorf("WrittenCount = %d after %d writes", d.WrittenCount(), wrote)
	}
	served := wrote
	for range 1000 {
		m, err := d.Read(buf, false)
		if err != nil {
			t.Fatalf("generator Read: %v", err)
		}
		if m == 0 {
			break
		}
		served++
	}
	if served != n+200 {
		t.Errorf("generator served %d packets, want %d", served, n+200)
	}
}

func TestWaitWrittenWakesWhenTheTargetIsReached(t *testing.T) {
	d := netiftest.NewGenerator("tv0", 1500, []byte{0x45}, 0)
	if d.WaitWritten(1, 10*time.Millisecond) {
		t.Fatal("WaitWritten reported a write that did not happen")
	}
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		for range 500 {
			d.Write(make([]byte, 20))
		}
	}()
	if !d.WaitWritten(500, 10*time.Second) {
		t.Errorf("WaitWritten(500) timed out at %d", d.WrittenCount())
	}
	wg.Wait()
}
