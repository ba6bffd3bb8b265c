package tunnel

import (
	"crypto/tls"
	"fmt"
	"slices"
	"strings"
	"time"
)

// PeerStatus is what status shows for one configured peer.
type PeerStatus struct {
	Name        string            `json:"name"`
	State       string            `json:"state"`
	Endpoint    string            `json:"endpoint,omitempty"`
	Remote      string            `json:"remote,omitempty"`
	AllowedIPs  []string          `json:"allowed_ips"`
	Serial      string            `json:"cert_serial,omitempty"`
	NotAfter    *time.Time        `json:"cert_not_after,omitempty"`
	ExpiresSoon bool              `json:"cert_expires_soon,omitempty"` // set by the caller, which knows the warning window
	TLSVersion  string            `json:"tls_version,omitempty"`
	Cipher      string            `json:"cipher_suite,omitempty"`
	Group       string            `json:"key_exchange,omitempty"`
	Since       *time.Time        `json:"connected_since,omitempty"`
	RotatedAt   *time.Time        `json:"rotated_at,omitempty"`
	RTT         string            `json:"keepalive_rtt,omitempty"`
	TxBytes     uint64            `json:"tx_bytes"`
	TxPackets   uint64            `json:"tx_packets"`
	RxBytes     uint64            `json:"rx_bytes"`
	RxPackets   uint64            `json:"rx_packets"`
	Drops       map[string]uint64 `json:"drops"`
	ECNMarks    uint64            `json:"ecn_marks"`
	LastError   string            `json:"last_error,omitempty"`
	NextRetry   *time.Time        `json:"next_retry,omitempty"`
	MACs        []string          `json:"macs,omitempty"` // TAP: the MACs learned behind the peer, sorted
}

// Status is the engine's state.
type Status struct {
	Peers        []PeerStatus `json:"peers"`
	NoRouteDrops uint64       `json:"no_route_drops"`
	Offload      []string     `json:"tun_offload"`
	// TAP: drops of frames read from the device, per reason, and how many
	// MACs are learned on it.
	DeviceDrops map[string]uint64 `json:"device_drops,omitempty"`
	LocalMACs   int               `json:"local_macs,omitempty"`
	Rotations   uint64            `json:"rotations"` // connections replaced by a rotation since start, either side's
}

// Status reports every configured peer, sorted by name.
func (e *Engine) Status() Status {
	st := Status{NoRouteDrops: e.noRoute.Load(), Offload: e.dev.offloadNow().Names(), Rotations: e.rotations.Load()}
	macs := e.l2.status(&st)
	for _, p := range e.peers.list() {
		ps := p.status()
		ps.MACs = macs[p]
		st.Peers = append(st.Peers, ps)
	}
	slices.SortFunc(st.Peers, func(a, b PeerStatus) int { return strings.Compare(a.Name, b.Name) })
	return st
}

// Connected returns the names of the configured peers connected now,
// sorted, and how many peers are configured: a cheaper question than
// Status, which the node asks often (systemd's STATUS= line, required
// peers).
func (e *Engine) Connected() (names []string, configured int) {
	ps := e.peers.list()
	for _, p := range ps {
		if p.current() != nil {
			names = append(names, p.name)
		}
	}
	slices.Sort(names)
	return names, len(ps)
}

func (p *peer) status() PeerStatus {
	pol := p.policy()
	s := PeerStatus{
		Name: p.name, Endpoint: pol.endpoint,
		TxBytes: p.ctr.txBytes.Load(), TxPackets: p.ctr.txPackets.Load(),
		RxBytes: p.ctr.rxBytes.Load(), RxPackets: p.ctr.rxPackets.Load(),
		Drops: p.ctr.dropMap(), ECNMarks: p.ctr.ecnMarks.Load(),
	}
	for _, a := range pol.allowedIPs {
		s.AllowedIPs = append(s.AllowedIPs, a.String())
	}
	sl := &p.slot
	sl.mu.Lock()
	s.State, s.LastError = sl.state.String(), sl.lastErr
	if !sl.rotatedAt.IsZero() {
		t := sl.rotatedAt
		s.RotatedAt = &t
	}
	if sl.state == peerRedialWait {
		t := sl.nextRetry
		s.NextRetry = &t
	}
	sl.mu.Unlock()
	c := p.current()
	if c == nil {
		return s
	}
	s.State, s.NextRetry = peerConnected.String(), nil // whatever a dial that lost a race last said
	st := c.sess.State
	s.Remote = c.remote()
	s.TLSVersion, s.Cipher, s.Group = tlsVersion(st.Version), cipherName(st.CipherSuite), st.CurveID.String()
	since := c.since
	s.Since = &since
	if leaf := c.sess.Leaf; leaf != nil {
		s.Serial = fmt.Sprintf("%x", leaf.SerialNumber)
		na := leaf.NotAfter
		s.NotAfter = &na
	}
	if rtt := c.heard.rtt.Load(); rtt > 0 {
		s.RTT = time.Duration(rtt).Round(time.Microsecond).String()
	}
	return s
}

func tlsVersion(v uint16) string { return tls.VersionName(v) }
func cipherName(c uint16) string { return tls.CipherSuiteName(c) }
