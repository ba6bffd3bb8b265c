package handshake

import (
	"errors"
	"fmt"
)

// Reasons for refusing a peer, as they appear in logs (field "reason") and
// in status. The vocabulary is fixed; docs/logging.md lists it.
const (
	ReasonNoCertificate    = "no certificate"
	ReasonExpired          = "expired"
	ReasonNotYetValid      = "not yet valid"
	ReasonUnknownAuthority = "unknown authority"
	ReasonWrongName        = "wrong name"
	ReasonAmbiguousName    = "ambiguous name"
	ReasonWrongEKU         = "wrong EKU"
	ReasonCAAsLeaf         = "CA as leaf"
	ReasonWeakKey          = "weak key"
	ReasonRevoked          = "revoked"
	ReasonCRLStale         = "CRL stale"
	ReasonAddressBlocks    = "address blocks"
	ReasonTLSVersion       = "TLS version"
	ReasonALPN             = "ALPN"
	ReasonInvalid          = "invalid certificate"
	ReasonParams           = "parameters"
	ReasonHandshake        = "handshake failed"
)

// Refusal is the error for a peer refused during the handshake or the
// parameter exchange.
type Refusal struct {
	Reason string // one of the Reason constants
	Detail string // human text naming what was wrong
}

func (r *Refusal) Error() string {
	if r.Detail == "" {
		return "refused: " + r.Reason
	}
	return fmt.Sprintf("refused: %s: %s", r.Reason, r.Detail)
}

func refuse(reason, format string, args ...any) *Refusal {
	return &Refusal{Reason: reason, Detail: fmt.Sprintf(format, args...)}
}

// ReasonOf returns the refusal reason carried by err, or "" if err is not a
// refusal.
func ReasonOf(err error) string {
	var r *Refusal
	if errors.As(err, &r) {
		return r.Reason
	}
	return ""
}
