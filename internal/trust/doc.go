// Package trust is the one home of tlsvpn's certificate rules. It loads a node's credentials (trust
// anchors for peers and, on a hub, for dial-in clients; the own certificate chain and key; revocation
// lists) once, and verifies certificate chains against them: the handshake for the peer's chain, `tlsvpn
// check` and start-up for the node's own.
//
// Load takes the files' content (config reads them and reports why one cannot be read) and returns the
// Credentials with every Problem found. Credentials.Verify applies every rule and returns the first
// refusal, a *Refusal whose Reason is one of a fixed vocabulary (docs/logging.md); Credentials.Audit
// returns all of them. CheckRollback refuses a CRL older than the one in force at a reload. Credentials
// whose CRLs did not load fail closed: Verify refuses every chain (ReasonCRLUnavailable) and
// CRLUnavailable says why.
//
// The rules are written down in docs/pki.md ("Verification" and "Revocation").
package trust
