package l2

import (
	"sync/atomic"
	"time"
)

// Learning limits and timers (docs/layer2.md).
const (
	// PeerLimit is how many source MACs one peer may have learned; a frame
	// from a new source beyond it is dropped (DropLimit).
	PeerLimit = 1024
	// LocalLimit bounds the MACs learned on the local device; beyond it a
	// new local source is forwarded without being learned, so the local
	// LAN keeps working while the table stays bounded.
	LocalLimit = 8192
	// Ageing is how long a MAC stays learned after its last frame.
	Ageing = 5 * time.Minute
	// HoldDown is how long a MAC must have been silent on its port before
	// it may move to another one; frames that would move it sooner are
	// dropped (DropMove).
	HoldDown = time.Second
)

// Reason says why the switch dropped a frame. The zero Reason means it
// did not.
type Reason uint8

// Drop reasons; String gives their names in counters and logs.
const (
	Pass              Reason = iota // not dropped
	DropInvalidSource               // the source MAC is a group address or zero
	DropSpoof                       // a peer sent a source MAC that lives on the local device
	DropLimit                       // a peer's new source MAC beyond PeerLimit
	DropMove                        // the source MAC is live on another port, within HoldDown
	NumReasons
)

var reasonNames = [NumReasons]string{
	Pass:              "none",
	DropInvalidSource: "mac_invalid",
	DropSpoof:         "mac_spoof",
	DropLimit:         "mac_limit",
	DropMove:          "mac_move",
}

// String is the reason's name in status and logs: mac_invalid, mac_spoof,
// mac_limit or mac_move ("none" for Pass).
func (r Reason) String() string {
	if r < NumReasons {
		return reasonNames[r]
	}
	return "unknown"
}

// Config says how a Switch forwards.
type Config struct {
	// ForwardBetweenPeers makes frames from one peer go on to other peers
	// as a switch would (the hub of a star); without it they go to the
	// local device only (split horizon).
	ForwardBetweenPeers bool
}

// Port is one side of the switch: the local device, or a peer. P is the
// caller's handle for a peer (a pointer to its peer state, say); the
// switch only stores and returns it.
type Port[P any] struct {
	id       P
	local    bool
	learned  int  // entries this port owns, live or not yet swept; guarded by Switch.mu
	detached bool // guarded by Switch.mu
}

// ID is the handle given to AddPort; the zero P for the local port.
func (p *Port[P]) ID() P { return p.id }

// Local reports whether p is the local device's port.
func (p *Port[P]) Local() bool { return p.local }

// limit is how many MACs the port may own.
func (p *Port[P]) limit() int {
	if p.local {
		return LocalLimit
	}
	return PeerLimit
}

// Action says where a frame goes. The zero Action sends it nowhere without
// it being a drop: the switch filtered it, as a switch does with a frame
// whose destination lives on the port it came from.
type Action[P any] struct {
	// Device: write the frame to the local device.
	Device bool
	// Peer, when not nil: send the frame to this one peer.
	Peer *Port[P]
	// Flood: send the frame to every peer, except the one it came from.
	Flood bool
	// Drop, when not Pass: the frame goes nowhere, for this reason.
	Drop Reason
	// From, when not nil: the frame's source MAC moved from this peer to
	// the port the frame came from (the caller logs it).
	From *Port[P]
}

// Switch is a learning Ethernet switch between the local device and the
// peers. FromDevice, FromPeer, Entries and every other method may run
// concurrently. Deciding for a frame from a known source to a known or
// group destination takes no lock and allocates nothing; learning a new
// source or a move takes the switch's lock and copies one shard of the
// table.
//
// Times are nanoseconds on one clock that the caller reads (for instance
// time.Now().UnixNano() once per batch); a clock that steps back makes
// entries look younger, never crashes.
type Switch[P any] struct {
	fbp   atomic.Bool
	local *Port[P]
	tab   table[P]
}

// New returns an empty Switch.
func New[P any](c Config) *Switch[P] {
	s := &Switch[P]{local: &Port[P]{local: true}}
	s.fbp.Store(c.ForwardBetweenPeers)
	s.tab.init()
	return s
}

// SetForwardBetweenPeers changes Config.ForwardBetweenPeers (on a reload);
// frames decided after it returns follow the new setting.
func (s *Switch[P]) SetForwardBetweenPeers(on bool) { s.fbp.Store(on) }

// LocalPort is the port of the local device.
func (s *Switch[P]) LocalPort() *Port[P] { return s.local }

// AddPort returns a new port for the peer id. Each peer has one port for
// as long as it is configured; pass it to FromPeer for its frames.
func (s *Switch[P]) AddPort(id P) *Port[P] { return &Port[P]{id: id} }

// RemovePort forgets every MAC learned on p and retires it: frames passed
// with it later teach the switch nothing. Call it when the peer is removed.
func (s *Switch[P]) RemovePort(p *Port[P]) { s.tab.forget(p, true) }

// Flush forgets every MAC learned on p, which stays usable; call it when
// the peer's connection is lost, so its MACs are flooded until relearned.
func (s *Switch[P]) Flush(p *Port[P]) { s.tab.forget(p, false) }

// Sweep removes the entries not refreshed within Ageing, freeing their
// ports' quota, and returns how many it removed. Lookups already ignore aged entries, so Sweep only
// reclaims memory: call it every few seconds to minutes (a peer at its
// limit triggers one itself, at most once a second).
func (s *Switch[P]) Sweep(now int64) int { return s.tab.sweep(now) }

// FromDevice decides where a frame read from the local device goes and
// learns its source on the local port: a known unicast destination goes to
// its peer; group and unknown destinations are flooded to every peer.
func (s *Switch[P]) FromDevice(h *Header, now int64) (a Action[P]) {
	if !h.Src.ValidSource() {
		a.Drop = DropInvalidSource
		return a
	}
	if a.Drop, a.From = s.tab.learn(s.local, h.Src, now); a.Drop != Pass {
		return a
	}
	owner := s.tab.owner(h.Dst, now)
	switch {
	case owner == nil: // group or unknown
		a.Flood = true
	case !owner.local:
		a.Peer = owner
	} // a local destination is filtered: the device already has it
	return a
}

// FromPeer decides where a frame received from peer p goes and learns its
// source on p. With split horizon (the default) it goes to the local
// device only; with ForwardBetweenPeers a known unicast destination behind
// another peer goes to that peer, and group and unknown destinations go to
// the device and are flooded to every other peer. A frame is never sent
// back to p, and a unicast frame whose destination is known behind a peer
// does not go to the device.
func (s *Switch[P]) FromPeer(p *Port[P], h *Header, now int64) (a Action[P]) {
	if !h.Src.ValidSource() {
		a.Drop = DropInvalidSource
		return a
	}
	if a.Drop, a.From = s.tab.learn(p, h.Src, now); a.Drop != Pass {
		return a
	}
	fbp := s.fbp.Load()
	owner := s.tab.owner(h.Dst, now)
	switch {
	case owner == nil: // group or unknown
		a.Device, a.Flood = true, fbp
	case owner.local:
		a.Device = true
	case owner != p && fbp:
		a.Peer = owner
	} // behind p itself, or behind another peer under split horizon: filtered
	return a
}

// Entry is one learned MAC, as Entries reports it.
type Entry[P any] struct {
	MAC  MAC
	Port *Port[P]
	// Age is the time since the last frame from MAC (within a refresh
	// granularity of 50 ms).
	Age time.Duration
}

// Entries lists the live (not aged) entries, ordered by MAC, for status.
// It allocates the slice and takes the switch's lock.
func (s *Switch[P]) Entries(now int64) []Entry[P] { return s.tab.entries(now) }
