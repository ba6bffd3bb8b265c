package netiftest_test

import (
	"errors"
	"testing"
	"time"

	"github.com/tlsvpn/tlsvpn/internal/packet"
	"github.com/tlsvpn/tlsvpn/internal/testutil"
	"github.com/tlsvpn/tlsvpn/netif"
	"github.com/tlsvpn/tlsvpn/netif/netiftest"
)

func TestHeldWritesWaitForTheRelease(t *testing.T) {
	d := netiftest.New("tv0", 1500, 0)
	pkt := append(make([]byte, netif.VirtioHdrLen), packet.UDP(a4, b4, []byte("held"))...)
	d.HoldWrites()
	done := make(chan error, 1)
	go func() { done <- d.Write(pkt) }()
	testutil.Eventually(t, 10*time.Second, "the write waiting", func() bool { return d.WritesHeld() == 1 })
	if d.WrittenCount() != 0 {
		t.Fatal("a held write was counted")
	}
	d.ReleaseWrites()
	if err := <-done; err != nil || !d.WaitWritten(1, 10*time.Second) || d.WritesHeld() != 0 {
		t.Fatalf("released write: %v, %d written, %d held", err, d.WrittenCount(), d.WritesHeld())
	}
	if err := d.Write(pkt); err != nil || d.WrittenCount() != 2 {
		t.Fatalf("a write after the release: %v, %d written", err, d.WrittenCount())
	}
}

func TestCloseEndsAHeldWrite(t *testing.T) {
	d := netiftest.New("tv0", 1500, 0)
	d.HoldWrites()
	done := make(chan error, 1)
	go func() { done <- d.Write(make([]byte, 64)) }()
	testutil.Eventually(t, 10*time.Second, "the write waiting", func() bool { return d.WritesHeld() == 1 })
	d.Close()
	if err := <-done; !errors.Is(err, netif.ErrClosed) {
		t.Fatalf("held write at Close: %v, want netif.ErrClosed", err)
	}
}
