package handshake

import (
	"encoding/json"
	"fmt"
	"io"

	"github.com/tlsvpn/tlsvpn/internal/wire"
)

// ProtocolVersion is the version of the stream protocol in docs/protocol.md.
// Version 2: after the parameter exchange, records under exported keys.
// Version 3: the exporter label of those keys carries the version, and the
// receiver holds records to RFC 8446 §5.4's limit with padding and refuses
// long runs of empty ones.
const ProtocolVersion = 3

// Purpose says why a connection was made.
type Purpose string

const (
	PurposeConnect Purpose = "connect" // first connection, or a redial after an outage
	PurposeRotate  Purpose = "rotate"  // replaces a live connection make-before-break
)

// Params is the parameter message each side sends after the TLS handshake.
type Params struct {
	Version int      `json:"version"` // the lowest version the sender accepts (docs/protocol.md, Versions)
	Node    string   `json:"node"`    // the sender's name
	BootID  string   `json:"boot_id"` // random per process start; a new one means the peer restarted
	MTU     int      `json:"mtu"`
	GSO     []string `json:"gso"` // GSO types the sender accepts in packet frames: "tcpv4", "tcpv6", "udp"
	Purpose Purpose  `json:"purpose"`
	// Mode is what the sender's device carries: ModeTUN (IP packets) or
	// ModeTAP (Ethernet frames). Both sides must run the same. A message
	// without it, from a release before TAP mode, means ModeTUN.
	Mode string `json:"mode,omitempty"`
}

// Modes of the parameter message's mode field, as `[interface] mode`
// spells them.
const (
	ModeTUN = "tun"
	ModeTAP = "tap"
)

// mode is p's mode, ModeTUN when the field is absent.
func (p Params) mode() string {
	if p.Mode == "" {
		return ModeTUN
	}
	return p.Mode
}

func writeParams(w io.Writer, p Params) error {
	body, err := json.Marshal(p)
	if err != nil {
		return fmt.Errorf("encode parameters: %w", err)
	}
	if len(body) > wire.MaxControlPayload {
		return fmt.Errorf("encode parameters: %d bytes, limit %d", len(body), wire.MaxControlPayload)
	}
	if _, err := w.Write(wire.AppendFrame(nil, wire.TypeParams, body)); err != nil {
		return fmt.Errorf("send parameters: %w", err)
	}
	return nil
}

func readParams(r io.Reader) (Params, error) {
	var p Params
	var h [wire.HeaderLen]byte
	if _, err := io.ReadFull(r, h[:]); err != nil {
		return p, fmt.Errorf("read parameters: %w", err)
	}
	t, n, err := wire.ParseHeader(h[:])
	if err != nil {
		return p, refuse(ReasonParams, "%v", err)
	}
	if t != wire.TypeParams {
		return p, refuse(ReasonParams, "first frame has type %#x, want parameters (%#x)", uint8(t), uint8(wire.TypeParams))
	}
	body := make([]byte, n)
	if _, err := io.ReadFull(r, body); err != nil {
		return p, fmt.Errorf("read parameters: %w", err)
	}
	if err := json.Unmarshal(body, &p); err != nil {
		return p, refuse(ReasonParams, "malformed parameter message: %v", err)
	}
	return p, nil
}

// checkParams compares the peer's parameters with ours.
func checkParams(local, remote Params, peer string) error {
	switch {
	case remote.Version <= 0:
		return refuse(ReasonParams, "peer sent no protocol version")
	case remote.Version != ProtocolVersion:
		return versionMismatch(remote.Version)
	case remote.Node != peer:
		return refuse(ReasonParams, "peer calls itself %q but its certificate names %q", remote.Node, peer)
	case remote.mode() != local.mode():
		return refuse(ReasonParams, "mode mismatch: this node runs %q, peer %q; set the same interface.mode on both", local.mode(), remote.mode())
	case remote.MTU != local.MTU:
		return refuse(ReasonParams, "MTU mismatch: this node %d, peer %d; set the same interface.mtu on both", local.MTU, remote.MTU)
	case remote.BootID == "":
		return refuse(ReasonParams, "peer sent no boot id")
	case remote.Purpose != PurposeConnect && remote.Purpose != PurposeRotate:
		return refuse(ReasonParams, "unknown connection purpose %q", remote.Purpose)
	}
	return nil
}

// versionMismatch refuses a peer that speaks another protocol version,
// naming both and the side to upgrade: the older one.
func versionMismatch(remote int) *Refusal {
	older, newest := "the peer", ProtocolVersion
	if remote > ProtocolVersion {
		older, newest = "this node", remote
	}
	return refuse(ReasonParams, "peer speaks protocol version %d, this node %d; upgrade tlsvpn on %s to a release that speaks version %d",
		remote, ProtocolVersion, older, newest)
}
