package handshake

import "sync"

// reasons is the refusal vocabulary (errors.go): every reason has a
// failure count from the start, zero until a refusal of its kind.
var reasons = []string{
	ReasonNoCertificate, ReasonWrongName, ReasonAmbiguousName, ReasonTLSVersion, ReasonALPN, ReasonParams,
	ReasonHandshake, ReasonExpired, ReasonNotYetValid, ReasonUnknownAuthority, ReasonWrongEKU, ReasonCAAsLeaf,
	ReasonWeakKey, ReasonRevoked, ReasonCRLStale, ReasonNoCRL, ReasonAddressBlocks, ReasonInvalid,
}

// failures counts refused handshakes by reason. Its keys are reasons of
// the fixed vocabulary, so it stays small. Safe for concurrent use.
type failures struct {
	mu sync.Mutex
	n  map[string]uint64
}

func (f *failures) add(reason string) {
	f.mu.Lock()
	if f.n == nil {
		f.n = make(map[string]uint64, len(reasons))
	}
	f.n[reason]++
	f.mu.Unlock()
}

// Failures returns the number of handshakes refused since New, by reason
// (the "reason" of each "handshake refused" log line), with every reason
// of the vocabulary present. The map is new; the caller owns it.
func (h *Handshaker) Failures() map[string]uint64 {
	out := make(map[string]uint64, len(reasons))
	for _, r := range reasons {
		out[r] = 0
	}
	h.failed.mu.Lock()
	defer h.failed.mu.Unlock()
	for r, n := range h.failed.n {
		out[r] = n
	}
	return out
}
