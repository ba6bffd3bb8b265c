package main

import (
	"crypto/x509"
	"fmt"
	"log/slog"
	"time"

	"github.com/tlsvpn/tlsvpn/internal/trust"
	"github.com/tlsvpn/tlsvpn/tunnel"
)

// healthInterval is how often the node re-checks expiry dates.
const healthInterval = 10 * time.Minute

// finding is one thing about the node's certificates worth a warning.
type finding struct {
	level slog.Level
	msg   string
}

// health lists what is wrong with the credentials in force (no CRL in
// force, the own certificate chain revoked) and what expires within
// window: the node's certificate chain, the CAs, the CRLs' next updates,
// and connected peers' certificates.
func health(creds *trust.Credentials, peers []tunnel.PeerStatus, window time.Duration, now time.Time) []finding {
	out := broken(creds, now)
	soon := func(what string, t time.Time, fix string) {
		switch left := t.Sub(now); {
		case left <= 0:
			out = append(out, finding{slog.LevelError, fmt.Sprintf("%s expired at %s; %s", what, t.UTC().Format(time.RFC3339), fix)})
		case left <= window:
			out = append(out, finding{slog.LevelWarn, fmt.Sprintf("%s expires at %s (in %s); %s", what, t.UTC().Format(time.RFC3339), days(left), fix)})
		}
	}
	for i, cert := range creds.Chain() {
		what := "own certificate " + name(cert)
		if i > 0 {
			what = "intermediate CA " + name(cert)
		}
		soon(what, cert.NotAfter, "renew it (tlsvpn pki renew) and the node picks it up")
	}
	for _, set := range []trust.Set{trust.Peers, trust.Clients} {
		for _, ca := range creds.Anchors(set) {
			soon("CA "+name(ca), ca.NotAfter, "make a new CA and re-issue the certificates it signed")
		}
	}
	crls := creds.CRLs()
	for _, crl := range crls {
		if crl.NextUpdate.IsZero() {
			continue
		}
		of := crlName(crl, len(crls) > 1)
		if crl.Stale(now) {
			out = append(out, finding{slog.LevelError, fmt.Sprintf("CRL is stale since %s%s: new handshakes it covers are refused, live tunnels stay up; re-sign it (tlsvpn pki crl)",
				crl.NextUpdate.UTC().Format(time.RFC3339), of)})
			continue
		}
		soon("CRL"+of, crl.NextUpdate, "re-sign it before then (tlsvpn pki crl), or new handshakes will be refused")
	}
	for _, p := range peers {
		if p.NotAfter != nil {
			soon("certificate of peer "+p.Name, *p.NotAfter, "the tunnel closes then; renew the peer's certificate")
		}
	}
	return out
}

// broken lists, as errors, what makes the credentials in force refuse
// handshakes they should pass: CRLs that did not load at start-up (every
// handshake is refused), and the own chain revoked by a CRL that a reload
// brought (peers refuse the node).
func broken(creds *trust.Credentials, now time.Time) []finding {
	var out []finding
	if err := creds.CRLUnavailable(); err != nil {
		out = append(out, finding{slog.LevelError, fmt.Sprintf("%s: no CRL is in force (%v), so every handshake is refused; write a CRL that loads (tlsvpn pki crl makes one): the node reads tls.crl again when the file changes, or on reload",
			trust.ReasonCRLUnavailable, err)})
	}
	_, found := creds.Audit(creds.Chain(), trust.Check{Set: trust.Peers, Now: now, Live: true})
	for _, r := range found {
		if r.Reason != trust.ReasonRevoked {
			continue
		}
		what := "own certificate " + name(r.Cert)
		if r.Depth > 0 {
			what = "intermediate CA " + name(r.Cert) + " of the own certificate"
		}
		out = append(out, finding{slog.LevelError, fmt.Sprintf("%s (serial %x) is revoked by %s since %s: peers refuse new connections from this node; issue it a new certificate (tlsvpn pki issue --force) and reload",
			what, r.Cert.SerialNumber, r.CRL.Where(), r.At.UTC().Format(time.RFC3339))})
	}
	return out
}

// crlName names a CRL by its file and CA when the node has several.
func crlName(crl *trust.CRL, several bool) string {
	if !several {
		return ""
	}
	return fmt.Sprintf(" (%s, of %q)", crl.Where(), crl.Issuer.String())
}

func name(c *x509.Certificate) string {
	if c.Subject.CommonName != "" {
		return fmt.Sprintf("%q", c.Subject.CommonName)
	}
	return fmt.Sprintf("serial %x", c.SerialNumber)
}

func days(d time.Duration) string {
	switch {
	case d >= 48*time.Hour:
		return fmt.Sprintf("%d days", int(d/(24*time.Hour)))
	case d >= time.Hour:
		return d.Round(time.Minute).String()
	}
	return d.Round(time.Second).String()
}
