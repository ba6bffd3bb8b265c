package tunnel

import (
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/tlsvpn/tlsvpn/internal/packet"
	"github.com/tlsvpn/tlsvpn/internal/testutil"
	"github.com/tlsvpn/tlsvpn/netif/netiftest"
)

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
	devA, devB := netiftest.New("a", 1500, 0), netiftest.New("b", 1500, 0)
	a, b := pairKeepalive(t, devA, devB, longKeepalive)

	devB.HoldWrites()
	devA.Inject(packet.UDP(ap("10.1.0.10:5000"), ap("10.2.0.10:6000"), []byte("stuck")))
	testutil.Eventually(t, 10*time.Second, "office-b's reader writing to its device", func() bool { return devB.WritesHeld() == 1 })
	if got := b.eng.Stalled(time.Now(), time.Hour); len(got) != 0 {
		t.Errorf("reported before the bound passed: %q", got)
	}
	// Once any other loop's pass is over, the stuck reader is the one left.
	testutil.Eventually(t, 10*time.Second, "office-b's reader of office-a alone reported", func() bool {
		got := b.eng.Stalled(time.Now().Add(2*time.Second), time.Second)
		return len(got) == 1 && strings.HasPrefix(got[0], "reader of peer office-a (127.0.0.1:")
	})
	testutil.Eventually(t, 10*time.Second, "office-a's loops at rest", func() bool { return len(a.eng.Stalled(idle(), time.Second)) == 0 })

	devB.ReleaseWrites()
	testutil.Eventually(t, 10*time.Second, "office-b's reader moving again", func() bool { return len(b.eng.Stalled(idle(), time.Second)) == 0 })
	if !devB.WaitWritten(1, 10*time.Second) {
		t.Fatal("the packet never reached office-b's device after the release")
	}
}

// A peer that stops reading fills our socket: our writer waits in its
// socket write, which is the peer's slowness (keepalives and
// TCP_USER_TIMEOUT end it), not a stall of ours.
func TestAPeerThatStopsReadingStallsNothingHere(t *testing.T) {
	devA, devB := netiftest.New("a", 1500, 0), netiftest.New("b", 1500, 0)
	a, b := pairKeepalive(t, devA, devB, longKeepalive)
	devB.HoldWrites()
	defer devB.ReleaseWrites()

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
