package tunnel

import (
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/tlsvpn/tlsvpn/internal/packet"
	"github.com/tlsvpn/tlsvpn/internal/testutil"
	"github.com/tlsvpn/tlsvpn/netif/netiftest"
)

// stuckDevice is a device whose Writes block until release: a kernel
// that never takes the packet, the stall a connection's reader can meet.
type stuckDevice struct {
	*netiftest.Device
	entered chan struct{} // a token when a Write starts blocking
	hold    chan struct{} // closed by release
	once    sync.Once
}

// newStuckDevice returns a stuckDevice; the test releases it (defer)
// before its cleanup closes the engine, which waits for its readers.
func newStuckDevice(name string) *stuckDevice {
	return &stuckDevice{Device: netiftest.New(name, 1500, 0), entered: make(chan struct{}, 1), hold: make(chan struct{})}
}

func (d *stuckDevice) Write(b []byte) error {
	select {
	case d.entered <- struct{}{}:
	default:
	}
	<-d.hold
	return d.Device.Write(b)
}

func (d *stuckDevice) release() { d.once.Do(func() { close(d.hold) }) }

// longKeepalive keeps a peer whose reader is held from being declared
// dead during a test.
const longKeepalive = time.Minute

// idle is a time when every loop that is merely waiting for input would
// long have been reported if waiting counted as a stall. A loop in a pass
// now is reported at it too: tests wait for the loops to come to rest.
func idle() time.Time { return time.Now().Add(time.Hour) }

func TestLoopsAtRestAreNotStalled(t *testing.T) {
	a, b := pairKeepalive(t, netiftest.New("a", 1500, 0), netiftest.New("b", 1500, 0), longKeepalive)
	for _, s := range []*site{a, b} {
		// The loops come to rest (a pass may be under way as we look);
		// at rest, they are not stalled an hour on.
		testutil.Eventually(t, 10*time.Second, s.name+": loops at rest", func() bool { return len(s.eng.Stalled(idle(), time.Second)) == 0 })
	}
}

func TestADeviceWriteThatBlocksStallsTheConnectionReader(t *testing.T) {
	devA, devB := netiftest.New("a", 1500, 0), newStuckDevice("b")
	defer devB.release()
	a, b := pairKeepalive(t, devA, devB, longKeepalive)

	devA.Inject(packet.UDP(ap("10.1.0.10:5000"), ap("10.2.0.10:6000"), []byte("stuck")))
	select {
	case <-devB.entered:
	case <-time.After(10 * time.Second):
		t.Fatal("office-b's reader never wrote the packet to its device")
	}
	if got := b.eng.Stalled(time.Now(), time.Hour); len(got) != 0 {
		t.Errorf("reported before the bound passed: %q", got)
	}
	got := b.eng.Stalled(time.Now().Add(2*time.Second), time.Second)
	if len(got) != 1 || !strings.HasPrefix(got[0], "reader of peer office-a (127.0.0.1:") {
		t.Fatalf("office-b reports stalled loops %q, want its reader of office-a alone", got)
	}
	testutil.Eventually(t, 10*time.Second, "office-a's loops at rest", func() bool { return len(a.eng.Stalled(idle(), time.Second)) == 0 })

	devB.release()
	testutil.Eventually(t, 10*time.Second, "office-b's reader moving again", func() bool { return len(b.eng.Stalled(idle(), time.Second)) == 0 })
	if !devB.WaitWritten(1, 10*time.Second) {
		t.Fatal("the packet never reached office-b's device after the release")
	}
}

// A peer that stops reading fills our socket: our writer waits in its
// socket write, which is the peer's slowness (keepalives and
// TCP_USER_TIMEOUT end it), not a stall of ours.
func TestAPeerThatStopsReadingStallsNothingHere(t *testing.T) {
	devA, devB := netiftest.New("a", 1500, 0), newStuckDevice("b")
	defer devB.release()
	a, b := pairKeepalive(t, devA, devB, longKeepalive)

	// Far more than the socket buffers of both ends hold.
	pkt := packet.UDP(ap("10.1.0.10:5000"), ap("10.2.0.10:6000"), make([]byte, 1400))
	const n = 20000
	for range n {
		devA.Inject(pkt)
	}
	testutil.Eventually(t, 10*time.Second, "office-a's queue full", func() bool { return a.eng.Status().Peers[0].Drops["queue_full"] > 0 })
	testutil.Eventually(t, 10*time.Second, "office-a's loops at rest", func() bool { return len(a.eng.Stalled(idle(), time.Second)) == 0 })
	st := a.eng.Status().Peers[0]
	t.Logf("office-a sent %d of %d packets; dropped %v", st.TxPackets, n, st.Drops)
	if got := b.eng.Stalled(idle(), time.Second); !slices.ContainsFunc(got, func(s string) bool { return strings.HasPrefix(s, "reader of peer office-a") }) {
		t.Errorf("office-b's reader, stuck in its device write, is not reported: %q", got)
	}
}
