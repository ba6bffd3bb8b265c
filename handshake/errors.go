package handshake

import (
	"fmt"

	"github.com/tlsvpn/tlsvpn/internal/trust"
)

// Reasons for refusing a peer, as they appear in logs (field "reason") and
// in status. The vocabulary is fixed; docs/logging.md lists it. The
// certificate reasons are the validator's, internal/trust.
const (
	ReasonNoCertificate = "no certificate"
	ReasonWrongName     = "wrong name"
	ReasonAmbiguousName = "ambiguous name"
	ReasonTLSVersion    = "TLS version"
	ReasonALPN          = "ALPN"
	ReasonParams        = "parameters"
	ReasonHandshake     = "handshake failed"

	ReasonExpired          = trust.ReasonExpired
	ReasonNotYetValid      = trust.ReasonNotYetValid
	ReasonUnknownAuthority = trust.ReasonUnknownAuthority
	ReasonWrongEKU         = trust.ReasonWrongEKU
	ReasonCAAsLeaf         = trust.ReasonCAAsLeaf
	ReasonWeakKey          = trust.ReasonWeakKey
	ReasonRevoked          = trust.ReasonRevoked
	ReasonCRLStale         = trust.ReasonCRLStale
	ReasonNoCRL            = trust.ReasonNoCRL
	ReasonCRLUnavailable   = trust.ReasonCRLUnavailable
	ReasonAddressBlocks    = trust.ReasonAddressBlocks
	ReasonInvalid          = trust.ReasonInvalid
)

// Refusal is the error for a peer refused during the handshake or the
// parameter exchange: the validator's refusal, or one of the handshake's
// own reasons.
type Refusal = trust.Refusal

func refuse(reason, format string, args ...any) *Refusal {
	return &Refusal{Reason: reason, Detail: fmt.Sprintf(format, args...)}
}

// ReasonOf returns the refusal reason carried by err, or "" if err is not a
// refusal.
func ReasonOf(err error) string { return trust.ReasonOf(err) }
