package main

import (
	"crypto/x509"
	"log/slog"
	"strings"
	"testing"
	"time"

	"github.com/tlsvpn/tlsvpn/internal/certtest"
	"github.com/tlsvpn/tlsvpn/internal/trust"
	"github.com/tlsvpn/tlsvpn/tunnel"
)

func TestHealthWarnsBeforeThingsExpire(t *testing.T) {
	now := time.Date(2026, 11, 27, 12, 0, 0, 0, time.UTC)
	day := 24 * time.Hour
	f := certtest.New(t, now)
	eku := []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth, x509.ExtKeyUsageClientAuth}
	credsWith := func(leafLeft time.Duration, crlNext time.Time) *trust.Credentials {
		leaf := f.Leaf(certtest.LeafOpts{Names: []string{"office-a"}, EKU: eku, NotAfter: now.Add(leafLeft)})
		return f.Credentials(leaf, f.CRL(nil, now.Add(-day), crlNext, nil))
	}
	inter := f.Intermediate(time.Time{}, time.Time{}, nil)
	twoCRLs := f.Credentials(f.Leaf(certtest.LeafOpts{Names: []string{"office-a"}, EKU: eku, NotAfter: now.Add(300 * day), Issuer: inter}),
		f.CRL(nil, now.Add(-day), now.Add(30*day), nil), f.CRL(nil, now.Add(-2*day), now.Add(-day), inter))
	peerExpiry := now.Add(3 * day)
	revokedLeaf := f.Leaf(certtest.LeafOpts{Names: []string{"office-a"}, EKU: eku, NotAfter: now.Add(300 * day)})
	ownRevoked := f.Credentials(revokedLeaf, f.CRL([]*certtest.Cert{revokedLeaf}, now.Add(-day), now.Add(30*day), nil))
	noCRL, _ := trust.Load(trust.Input{
		Peers: trust.Source{Path: "ca.pem", Data: f.CA().PEM()},
		Cert:  trust.Source{Path: "cert.pem", Data: revokedLeaf.PEM()},
		Key:   trust.Source{Path: "cert.key", Data: revokedLeaf.KeyPEM()},
		CRLs:  []trust.Source{{Path: "crl.pem", Data: []byte("not a CRL")}},
	})
	tests := []struct {
		name  string
		creds *trust.Credentials
		peers []tunnel.PeerStatus
		want  []string // substrings, one finding each
		level slog.Level
	}{
		{"nothing close to expiry gives no finding", credsWith(300*day, now.Add(30*day)), nil, nil, 0},
		{"the own certificate within the window is warned about", credsWith(10*day, now.Add(30*day)), nil, []string{`own certificate "office-a" expires`}, slog.LevelWarn},
		{"a CRL near its next update is warned about", credsWith(300*day, now.Add(5*day)), nil, []string{"CRL expires"}, slog.LevelWarn},
		{"a stale CRL is an error", credsWith(300*day, now.Add(-time.Hour)), nil, []string{"CRL is stale"}, slog.LevelError},
		{"of several CRLs the stale one is named by its CA", twoCRLs, nil, []string{`CRL is stale since 2026-11-26T12:00:00Z (crl1.pem, of "CN=tlsvpn test intermediate`}, slog.LevelError},
		{"CRLs that did not load are an error", noCRL, nil, []string{"CRL unavailable: no CRL is in force (crl.pem: "}, slog.LevelError},
		{"the own certificate revoked is an error", ownRevoked, nil, []string{`own certificate "office-a" (serial`}, slog.LevelError},
		{"a connected peer's certificate within the window is warned about", credsWith(300*day, now.Add(30*day)),
			[]tunnel.PeerStatus{{Name: "office-b", NotAfter: &peerExpiry}}, []string{"certificate of peer office-b expires"}, slog.LevelWarn},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got := health(tc.creds, tc.peers, 21*day, now)
			if len(got) != len(tc.want) {
				t.Fatalf("got %d findings %v, want %d", len(got), got, len(tc.want))
			}
			for i, w := range tc.want {
				if !strings.Contains(got[i].msg, w) || got[i].level != tc.level {
					t.Errorf("finding %q at %v, want %q at %v", got[i].msg, got[i].level, w, tc.level)
				}
			}
		})
	}
}
