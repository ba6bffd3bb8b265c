package l2

import (
	"fmt"
	"testing"
	"time"
)

// host returns the unicast MAC 02:00:00:00:00:n (locally administered).
func host(n byte) MAC { return MAC{0x02, 0, 0, 0, 0, n} }

var (
	mcast   = MAC{0x01, 0x00, 0x5e, 0x00, 0x00, 0xfb}
	hostX   = host(0x10) // a host that moves between sites
	nobody  = host(0xee) // never sends: unknown unicast
	t0      = int64(1_000_000 * time.Second)
	devName = "dev"
)

// step is one frame through the switch: from the device ("dev") or a peer
// (its name), at an offset from t0, and what the switch must decide.
type step struct {
	at       time.Duration
	from     string
	src, dst MAC
	want     outcome
}

// outcome is an Action in comparable form, peers by name.
type outcome struct {
	device bool
	peer   string
	flood  bool
	drop   Reason
	moved  string // the peer the source moved from
}

func (o outcome) String() string {
	return fmt.Sprintf("{device %v peer %q flood %v drop %v moved from %q}", o.device, o.peer, o.flood, o.drop, o.moved)
}

var (
	toDevice = outcome{device: true}
	flood    = outcome{flood: true}
	filtered = outcome{}
	toA      = outcome{peer: "A"}
	toB      = outcome{peer: "B"}
	toC      = outcome{peer: "C"}
	floodAll = outcome{device: true, flood: true}
)

func dropped(r Reason) outcome { return outcome{drop: r} }

// rig is a Switch with peers A, B and C.
type rig struct {
	sw    *Switch[string]
	ports map[string]*Port[string]
}

func newRig(c Config) *rig {
	r := &rig{sw: New[string](c), ports: map[string]*Port[string]{}}
	for _, n := range []string{"A", "B", "C"} {
		r.ports[n] = r.sw.AddPort(n)
	}
	return r
}

func (r *rig) send(from string, src, dst MAC, at time.Duration) outcome {
	h := Header{Dst: dst, Src: src, EtherType: 0x0800}
	now := t0 + int64(at)
	var a Action[string]
	if from == devName {
		a = r.sw.FromDevice(&h, now)
	} else {
		a = r.sw.FromPeer(r.ports[from], &h, now)
	}
	o := outcome{device: a.Device, flood: a.Flood, drop: a.Drop}
	if a.Peer != nil {
		o.peer = a.Peer.ID()
	}
	if a.From != nil {
		o.moved = a.From.ID()
	}
	return o
}

func (r *rig) run(t *testing.T, steps []step) {
	t.Helper()
	for i, s := range steps {
		if got := r.send(s.from, s.src, s.dst, s.at); got != s.want {
			t.Errorf("step %d: %s -> %s from %s at +%v: got %v, want %v", i, s.src, s.dst, s.from, s.at, got, s.want)
		}
	}
}

func TestForwarding(t *testing.T) {
	a, b, c, l1, l2 := host(0xa), host(0xb), host(0xc), host(1), host(2)
	// learn puts l1 on the device, a behind A, b behind B and c behind C.
	learn := []step{
		{0, devName, l1, Broadcast, flood},
		{0, "A", a, l1, toDevice},
		{0, "B", b, l1, toDevice},
		{0, "C", c, l1, toDevice},
	}
	for _, tc := range []struct {
		name  string
		fbp   bool
		steps []step
	}{
		{"a frame from the device to a MAC learned behind a peer goes to that peer only", false,
			[]step{{time.Second, devName, l1, a, toA}, {time.Second, devName, l1, b, toB}}},
		{"a broadcast from the device is flooded to every peer", false,
			[]step{{time.Second, devName, l1, Broadcast, flood}}},
		{"a multicast from the device is flooded to every peer", false,
			[]step{{time.Second, devName, l1, mcast, flood}}},
		{"an unknown unicast from the device is flooded to every peer", false,
			[]step{{time.Second, devName, l1, nobody, flood}}},
		{"a frame from the device to a MAC on the device is filtered", false,
			[]step{{time.Second, devName, l2, l1, filtered}}},
		{"a broadcast from a peer goes to the device only (split horizon)", false,
			[]step{{time.Second, "A", a, Broadcast, toDevice}}},
		{"a multicast from a peer goes to the device only", false,
			[]step{{time.Second, "A", a, mcast, toDevice}}},
		{"an unknown unicast from a peer goes to the device only", false,
			[]step{{time.Second, "A", a, nobody, toDevice}}},
		{"a unicast from a peer to a MAC on the device goes to the device", false,
			[]step{{time.Second, "A", a, l1, toDevice}}},
		{"a unicast from a peer to a MAC behind another peer is filtered under split horizon", false,
			[]step{{time.Second, "A", a, b, filtered}}},
		{"a unicast from a peer to a MAC behind that same peer is filtered", false,
			[]step{{time.Second, "A", a, a, filtered}}},
		{"with forward_between_peers a broadcast from a peer goes to the device and every other peer", true,
			[]step{{time.Second, "A", a, Broadcast, floodAll}}},
		{"with forward_between_peers an unknown unicast from a peer goes to the device and every other peer", true,
			[]step{{time.Second, "A", a, nobody, floodAll}}},
		{"with forward_between_peers a unicast to a MAC behind another peer goes to that peer only", true,
			[]step{{time.Second, "A", a, b, toB}, {time.Second, "B", b, c, toC}, {time.Second, "C", c, a, toA}}},
		{"with forward_between_peers a unicast never goes back to the peer it came from", true,
			[]step{{time.Second, "A", a, a, filtered}}},
		{"with forward_between_peers a unicast to a MAC on the device goes to the device only", true,
			[]step{{time.Second, "A", a, l1, toDevice}}},
		{"with forward_between_peers the device's frames are forwarded as without it", true,
			[]step{{time.Second, devName, l1, a, toA}, {time.Second, devName, l1, Broadcast, flood}}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r := newRig(Config{ForwardBetweenPeers: tc.fbp})
			r.run(t, append(append([]step{}, learn...), tc.steps...))
		})
	}
}

func TestLearning(t *testing.T) {
	a, b, l1 := host(0xa), host(0xb), host(1)
	for _, tc := range []struct {
		name  string
		steps []step
	}{
		{"a group source MAC from a peer is dropped", []step{
			{0, "A", mcast, Broadcast, dropped(DropInvalidSource)},
			{0, devName, l1, mcast, flood}, // and was not learned
		}},
		{"a group source MAC from the device is dropped", []step{
			{0, devName, Broadcast, nobody, dropped(DropInvalidSource)},
		}},
		{"the zero source MAC is dropped", []step{
			{0, "A", MAC{}, Broadcast, dropped(DropInvalidSource)},
			{0, devName, MAC{}, Broadcast, dropped(DropInvalidSource)},
		}},
		{"a peer's frame whose source MAC lives on the device is dropped as a spoof", []step{
			{0, devName, l1, Broadcast, flood},
			{4 * time.Minute, "A", l1, Broadcast, dropped(DropSpoof)},
			{4 * time.Minute, devName, l2host, l1, filtered}, // l1 still on the device
		}},
		{"a MAC that aged out on the device may be learned behind a peer", []step{
			{0, devName, l1, Broadcast, flood},
			{Ageing, "A", l1, Broadcast, toDevice},
			{Ageing, devName, l2host, l1, toA},
		}},
		{"a MAC moving to another peer within the hold-down is dropped", []step{
			{0, "A", hostX, Broadcast, toDevice},
			{HoldDown / 2, "B", hostX, Broadcast, dropped(DropMove)},
			{HoldDown / 2, devName, l1, hostX, toA},
		}},
		{"a MAC still sending on its peer never moves", []step{
			{0, "A", hostX, Broadcast, toDevice},
			{900 * time.Millisecond, "A", hostX, Broadcast, toDevice},
			{1500 * time.Millisecond, "B", hostX, Broadcast, dropped(DropMove)},
			{1800 * time.Millisecond, "A", hostX, Broadcast, toDevice},
			{2700 * time.Millisecond, "B", hostX, Broadcast, dropped(DropMove)},
		}},
		{"a MAC silent on its peer for the hold-down moves to another peer, reporting where from", []step{
			{0, "A", hostX, Broadcast, toDevice},
			{HoldDown, "B", hostX, Broadcast, outcome{device: true, moved: "A"}},
			{HoldDown, devName, l1, hostX, toB},
			{HoldDown + time.Millisecond, "B", hostX, Broadcast, toDevice}, // no second event
		}},
		{"a MAC moving from a peer to the device waits for the hold-down too", []step{
			{0, "A", hostX, Broadcast, toDevice},
			{HoldDown / 2, devName, hostX, Broadcast, dropped(DropMove)},
			{HoldDown, devName, hostX, Broadcast, outcome{flood: true, moved: "A"}},
			{HoldDown, "B", b, hostX, toDevice},
			{HoldDown, "A", hostX, Broadcast, dropped(DropSpoof)},
		}},
		{"a MAC aged out behind one peer is learned behind another without a move event", []step{
			{0, "A", hostX, Broadcast, toDevice},
			{Ageing, "B", hostX, Broadcast, toDevice},
			{Ageing, devName, l1, hostX, toB},
		}},
		{"a learned MAC is forgotten after the ageing time without frames", []step{
			{0, "A", a, Broadcast, toDevice},
			{Ageing - time.Second, devName, l1, a, toA},
			{Ageing, devName, l1, a, flood},
		}},
		{"each frame from a MAC restarts its ageing", []step{
			{0, "A", a, Broadcast, toDevice},
			{4 * time.Minute, "A", a, Broadcast, toDevice},
			{8 * time.Minute, devName, l1, a, toA},
			{9*time.Minute + time.Second, devName, l1, a, flood},
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			newRig(Config{}).run(t, tc.steps)
		})
	}
}

var l2host = host(2)

func TestPeerLimit(t *testing.T) {
	r := newRig(Config{})
	for i := range PeerLimit {
		if got := r.send("A", MAC{0x02, 0xa, 0, 0, byte(i >> 8), byte(i)}, Broadcast, 0); got != toDevice {
			t.Fatalf("source %d of A: %v, want %v", i, got, toDevice)
		}
	}
	over := MAC{0x02, 0xa, 0, 1, 0, 0}
	r.run(t, []step{
		{time.Second, "A", over, Broadcast, dropped(DropLimit)},
		{time.Second, devName, host(1), over, flood},                        // not learned
		{time.Second, "A", MAC{0x02, 0xa, 0, 0, 0, 7}, Broadcast, toDevice}, // a known source still passes
		{time.Second, "B", host(0xb), Broadcast, toDevice},                  // the limit is per peer
		{Ageing - time.Second, "A", over, Broadcast, dropped(DropLimit)},
		{Ageing + time.Second, "A", over, Broadcast, toDevice}, // the old ones aged out and were swept
	})
}

func TestLocalLimitForwardsWithoutLearning(t *testing.T) {
	r := newRig(Config{})
	for i := range LocalLimit {
		r.send(devName, MAC{0x02, 0x1, 0, 0, byte(i >> 8), byte(i)}, Broadcast, 0)
	}
	over := MAC{0x02, 0x1, 0, 1, 0, 0}
	r.run(t, []step{
		{time.Second, devName, over, Broadcast, flood},
		{time.Second, "A", host(0xa), over, toDevice},
		{time.Second, "A", over, Broadcast, toDevice}, // not known as local: no spoof
	})
}

func TestFlushAndRemovePort(t *testing.T) {
	a, b, l1 := host(0xa), host(0xb), host(1)
	r := newRig(Config{})
	r.run(t, []step{
		{0, "A", a, Broadcast, toDevice},
		{0, "B", b, Broadcast, toDevice},
		{0, devName, l1, a, toA},
	})
	r.sw.Flush(r.ports["A"])
	r.run(t, []step{
		{time.Millisecond, devName, l1, a, flood},
		{time.Millisecond, devName, l1, b, toB},
		{time.Millisecond, "A", a, Broadcast, toDevice}, // relearned: the port stays usable
		{time.Millisecond, devName, l1, a, toA},
	})
	r.sw.RemovePort(r.ports["B"])
	r.run(t, []step{
		{2 * time.Millisecond, devName, l1, b, flood},
		{2 * time.Millisecond, "B", b, Broadcast, toDevice},
		{2 * time.Millisecond, devName, l1, b, flood}, // a removed port learns nothing
		{HoldDown + time.Millisecond, "C", a, Broadcast, outcome{device: true, moved: "A"}},
	})
}

func TestForwardBetweenPeersCanBeSwitched(t *testing.T) {
	r := newRig(Config{})
	r.run(t, []step{{0, "A", host(0xa), Broadcast, toDevice}})
	r.sw.SetForwardBetweenPeers(true)
	r.run(t, []step{{0, "A", host(0xa), Broadcast, floodAll}})
	r.sw.SetForwardBetweenPeers(false)
	r.run(t, []step{{0, "A", host(0xa), Broadcast, toDevice}})
}

func TestEntriesListsLiveMACsWithTheirPortAndAge(t *testing.T) {
	r := newRig(Config{})
	r.send("B", host(0xb), Broadcast, 0)
	r.send(devName, host(1), Broadcast, 0)
	r.send("A", host(0xa), Broadcast, 2*time.Minute)
	r.send("C", host(0xc), Broadcast, -Ageing) // aged by now
	got := r.sw.Entries(t0 + int64(3*time.Minute))
	want := []struct {
		mac   MAC
		local bool
		peer  string
		age   time.Duration
	}{{host(1), true, "", 3 * time.Minute}, {host(0xa), false, "A", time.Minute}, {host(0xb), false, "B", 3 * time.Minute}}
	if len(got) != len(want) {
		t.Fatalf("Entries() = %v, want %d entries", got, len(want))
	}
	for i, w := range want {
		g := got[i]
		if g.MAC != w.mac || g.Port.Local() != w.local || g.Port.ID() != w.peer || g.Age != w.age {
			t.Errorf("entry %d = {%v local %v peer %q age %v}, want %+v", i, g.MAC, g.Port.Local(), g.Port.ID(), g.Age, w)
		}
	}
	if n := r.sw.Sweep(t0 + int64(3*time.Minute)); n != 1 {
		t.Errorf("Sweep removed %d entries, want 1 (C's aged MAC)", n)
	}
}

func TestReasonNames(t *testing.T) {
	for r, want := range map[Reason]string{Pass: "none", DropInvalidSource: "mac_invalid", DropSpoof: "mac_spoof",
		DropLimit: "mac_limit", DropMove: "mac_move", NumReasons: "unknown"} {
		if r.String() != want {
			t.Errorf("Reason(%d).String() = %q, want %q", r, r.String(), want)
		}
	}
}
