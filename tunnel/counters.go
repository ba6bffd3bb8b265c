package tunnel

import "sync/atomic"

// dropReason indexes the drop counters; dropNames holds their names in
// status and logs (docs/logging.md).
type dropReason int

const (
	dropNone      dropReason = iota
	dropNoRoute              // destination in no peer's allowed_ips
	dropNoConn               // the peer for the destination is not connected
	dropQueueFull            // the connection's queue stayed full
	dropSource               // inner source address outside the peer's allowed_ips
	dropMalformed            // a packet frame that fails validation
	dropGSO                  // a GSO type the receiver does not accept
	dropTUNWrite             // the kernel refused the packet
	dropAQM                  // the connection's queue stayed above its delay target (CoDel)
	dropMACSrc               // TAP: a group or zero source MAC
	dropMACSpoof             // TAP: a peer sent a source MAC that lives on the local device
	dropMACLimit             // TAP: a new source MAC beyond the peer's limit
	dropMACMove              // TAP: a source MAC live on another port, within the hold-down
	numDrops
)

var dropNames = [numDrops]string{
	dropNone:      "none",
	dropNoRoute:   "no_route",
	dropNoConn:    "no_connection",
	dropQueueFull: "queue_full",
	dropSource:    "source_not_allowed",
	dropMalformed: "malformed",
	dropGSO:       "gso_unsupported",
	dropTUNWrite:  "tun_write",
	dropAQM:       "aqm",
	dropMACSrc:    "mac_invalid",
	dropMACSpoof:  "mac_spoof",
	dropMACLimit:  "mac_limit",
	dropMACMove:   "mac_move",
}

// counters are a peer's traffic figures, updated once per batch or
// record, never under a lock.
type counters struct {
	txBytes, txPackets atomic.Uint64
	rxBytes, rxPackets atomic.Uint64
	ecnMarks           atomic.Uint64 // packets marked Congestion Experienced by the queue
	drops              [numDrops]atomic.Uint64
}

// DropReasons lists every reason a packet is dropped for, as PeerStatus.Drops
// names them. The slice is new; the caller owns it.
func DropReasons() []string { return append([]string(nil), dropNames[dropNone+1:]...) }

func (c *counters) drop(r dropReason, n uint64) { c.drops[r].Add(n) }

func (c *counters) dropMap() map[string]uint64 {
	m := map[string]uint64{}
	for i := dropNone + 1; i < numDrops; i++ {
		if v := c.drops[i].Load(); v > 0 {
			m[dropNames[i]] = v
		}
	}
	return m
}
