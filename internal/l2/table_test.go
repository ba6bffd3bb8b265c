package l2

import (
	"math/rand/v2"
	"sync"
	"testing"
	"time"
)

// checkCounts fails unless every port's learned count is the number of
// entries it owns, within its limit.
func checkCounts(t testing.TB, s *Switch[string], ports ...*Port[string]) {
	t.Helper()
	owned := map[*Port[string]]int{}
	for i := range s.tab.shards {
		for k, e := range *s.tab.shards[i].Load() {
			if s.tab.shard(k) != &s.tab.shards[i] || key(mac(k)) != k {
				t.Fatalf("%v is in shard %d, not its own", mac(k), i)
			}
			owned[e.owner.Load()]++
		}
	}
	s.tab.mu.Lock()
	defer s.tab.mu.Unlock()
	for _, p := range append(ports, s.local) {
		if p.learned != owned[p] || p.learned > p.limit() {
			t.Fatalf("port %q (local %v) counts %d MACs, owns %d, limit %d", p.id, p.local, p.learned, owned[p], p.limit())
		}
	}
}

// universe is a small set of MACs, so that random frames collide: moves,
// spoofs and refreshes happen often. The last two are invalid sources.
var universe = []MAC{host(1), host(2), host(3), host(4), host(5), host(6), host(7), host(8),
	host(9), host(10), host(11), host(12), Broadcast, mcast, MAC{}, host(13)}

func TestConcurrentFramesKeepTheTableConsistent(t *testing.T) {
	s := New[string](Config{ForwardBetweenPeers: true})
	ports := []*Port[string]{s.AddPort("A"), s.AddPort("B"), s.AddPort("C")}
	var wg sync.WaitGroup
	var clock sync.Mutex
	now := t0
	tick := func(d int64) int64 {
		clock.Lock()
		defer clock.Unlock()
		now += d
		return now
	}
	for w := range 4 {
		wg.Go(func() {
			rng := rand.New(rand.NewPCG(uint64(w), 1))
			for range 20000 {
				h := Header{Src: universe[rng.IntN(len(universe))], Dst: universe[rng.IntN(len(universe))]}
				at := tick(int64(rng.IntN(int(200 * time.Millisecond))))
				if w == 0 {
					s.FromDevice(&h, at)
				} else {
					s.FromPeer(ports[w-1], &h, at)
				}
			}
		})
	}
	wg.Go(func() {
		for i := range 200 {
			s.Flush(ports[i%3])
			s.Sweep(tick(0))
		}
	})
	wg.Wait()
	checkCounts(t, s, ports...)
	s.RemovePort(ports[0])
	checkCounts(t, s, ports...)
}

// FuzzSwitch runs a random sequence of frames, sweeps and flushes and
// checks after each step that the table counts what it holds and that the
// decision obeys the rules that hold whatever came before.
func FuzzSwitch(f *testing.F) {
	f.Add([]byte{0, 1, 12, 0, 1, 2, 1, 10, 2, 3, 12, 0, 7, 0, 0, 0}, false)
	f.Add([]byte{1, 1, 2, 0, 2, 1, 3, 255, 2, 1, 3, 5, 0, 1, 2, 0, 3, 1, 2, 0}, true)
	f.Fuzz(func(t *testing.T, ops []byte, fbp bool) {
		s := New[string](Config{ForwardBetweenPeers: fbp})
		ports := []*Port[string]{s.AddPort("A"), s.AddPort("B"), s.AddPort("C")}
		now := t0
		for ; len(ops) >= 4; ops = ops[4:] {
			now += int64(ops[3]) * int64(50*time.Millisecond) // up to 12.75 s a step
			from := int(ops[0] % 6)
			h := Header{Src: universe[ops[1]%16], Dst: universe[ops[2]%16]}
			var a Action[string]
			switch from {
			case 0:
				a = s.FromDevice(&h, now)
				if a.Device {
					t.Fatalf("a frame from the device was sent back to it: %+v", a)
				}
			case 1, 2, 3:
				p := ports[from-1]
				a = s.FromPeer(p, &h, now)
				if a.Peer == p || (!fbp && (a.Peer != nil || a.Flood)) {
					t.Fatalf("a frame from %s (forward_between_peers %v) went %+v", p.id, fbp, a)
				}
			case 4:
				s.Sweep(now)
			case 5:
				s.Flush(ports[ops[1]%3])
			}
			if a.Drop != Pass && (a.Device || a.Peer != nil || a.Flood || a.From != nil) {
				t.Fatalf("a dropped frame still goes somewhere: %+v", a)
			}
			if !h.Src.ValidSource() && from < 4 && a.Drop != DropInvalidSource {
				t.Fatalf("source %v passed: %+v", h.Src, a)
			}
			if h.Dst.IsGroup() && a.Drop == Pass && from < 4 && !a.Flood && !a.Device {
				t.Fatalf("group frame to %v was not flooded: %+v", h.Dst, a)
			}
			checkCounts(t, s, ports...)
		}
	})
}
