package trust

import (
	"crypto/x509"
	"errors"
	"fmt"
	"time"
)

// Reasons for refusing a certificate chain, as they appear in logs (field "reason") and in status.
// The vocabulary is fixed: docs/logging.md lists it, with the handshake's own reasons beside these.
const (
	ReasonExpired          = "expired"             // a certificate of the chain is past its NotAfter
	ReasonNotYetValid      = "not yet valid"       // a certificate of the chain starts in the future
	ReasonUnknownAuthority = "unknown authority"   // the chain reaches no trust anchor of the set asked for
	ReasonWrongEKU         = "wrong EKU"           // the leaf lacks, or a CA above it forbids, a usage asked for
	ReasonCAAsLeaf         = "CA as leaf"          // a CA certificate presented as an end-entity one
	ReasonWeakKey          = "weak key"            // an RSA key under MinRSABits anywhere in the chain
	ReasonRevoked          = "revoked"             // the CRL of a certificate's issuer lists its serial
	ReasonCRLStale         = "CRL stale"           // a CRL the chain needs is past its nextUpdate
	ReasonNoCRL            = "no CRL"              // CRLs are configured but none is of the leaf's issuer
	ReasonCRLUnavailable   = "CRL unavailable"     // CRLs are configured but did not load: every chain is refused
	ReasonAddressBlocks    = "address blocks"      // RFC 3779 blocks that do not nest, or do not parse
	ReasonInvalid          = "invalid certificate" // any other verification failure
)

// Refusal is a refused certificate chain (or, from the handshake, a refused connection). Reason is one
// of the fixed vocabulary and Detail human text; the other fields, when set, say which certificate and
// which rule, so that a caller (tlsvpn check) can point at the file and the fix.
type Refusal struct {
	Reason string // one of the Reason constants (of this package or of the handshake)
	Detail string // human text naming what was wrong

	Cert        *x509.Certificate // the certificate the refusal is about; nil when it is about no single one
	Depth       int               // Cert's position in the chain: 0 the leaf, 1 its issuer, ...
	Anchor      bool              // Cert is a trust anchor
	Usage       x509.ExtKeyUsage  // ReasonWrongEKU: the usage missing
	CRL         *CRL              // ReasonRevoked, ReasonCRLStale: the CRL that says so
	Unavailable error             // ReasonCRLUnavailable: why no CRL is in force (a *CRLUnavailableError)
	At          time.Time         // ReasonRevoked: the revocation time
	Issuer      *x509.Certificate // ReasonNoCRL: the CA that has no CRL
}

// Error returns "refused: REASON: DETAIL".
func (r *Refusal) Error() string {
	if r.Detail == "" {
		return "refused: " + r.Reason
	}
	return fmt.Sprintf("refused: %s: %s", r.Reason, r.Detail)
}

// refusal returns a refusal about the certificate at depth of a chain.
func refusal(reason string, cert *x509.Certificate, depth int, format string, args ...any) *Refusal {
	return &Refusal{Reason: reason, Detail: fmt.Sprintf(format, args...), Cert: cert, Depth: depth}
}

// ReasonOf returns the reason of the *Refusal carried by err, or "" when err carries none.
func ReasonOf(err error) string {
	var r *Refusal
	if errors.As(err, &r) {
		return r.Reason
	}
	return ""
}

// Errors of Load, each wrapped in a Problem's Err with the specifics.
var (
	ErrNoPEM        = errors.New("no PEM block of the expected type")
	ErrBlockType    = errors.New("unexpected PEM block type")
	ErrMalformed    = errors.New("does not parse")
	ErrEncryptedKey = errors.New("the private key is encrypted")
	ErrNotSigner    = errors.New("the private key cannot sign")
	ErrKeyMismatch  = errors.New("the private key does not belong to the certificate")
	ErrCRLSignature = errors.New("the CRL is not signed by the CA it names")
	ErrCRLDuplicate = errors.New("two CRLs of the same CA")
	ErrCRLMissing   = errors.New("a trust anchor has no CRL")
	ErrCRLExtension = errors.New("the CRL has a critical extension tlsvpn does not implement")
	ErrCRLRollback  = errors.New("the CRL is older than the one in force")
	ErrCRLUnread    = errors.New("the CRL file could not be read")
)

// BlockError is a problem with one PEM block (or the single DER object) of a file.
type BlockError struct {
	Index int    // 1-based position of the block among the file's PEM blocks
	Type  string // the block's PEM type; "" for a DER file
	Err   error  // ErrBlockType, ErrMalformed, ErrEncryptedKey, ErrNotSigner or ErrCRLExtension
	Cause error  // the parser's error, or what was found; may be nil
}

func (e *BlockError) Error() string {
	where := fmt.Sprintf("PEM block %d (%s)", e.Index, e.Type)
	if e.Type == "" {
		where = "DER object"
	}
	if e.Cause == nil {
		return fmt.Sprintf("%s: %v", where, e.Err)
	}
	return fmt.Sprintf("%s: %v: %v", where, e.Err, e.Cause)
}

func (e *BlockError) Unwrap() error { return e.Err }
