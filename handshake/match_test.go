package handshake

import (
	"crypto/x509"
	"testing"
)

// TestPeerNamesMatchSANsWithoutCase: configured names are lower-case (the config package keeps them
// so); a certificate whose DNS SAN is written in another case names the same peer.
func TestPeerNamesMatchSANsWithoutCase(t *testing.T) {
	p := &policy{peers: map[string]PeerPolicy{"office-b": {Name: "office-b"}}}
	leaf := &x509.Certificate{DNSNames: []string{"Office-B.example", "OFFICE-B"}}
	if got, err := p.match(leaf, ""); err != nil || got != "office-b" {
		t.Errorf("accepting: match = %q, %v; want office-b", got, err)
	}
	if got, err := p.match(leaf, "office-b"); err != nil || got != "office-b" {
		t.Errorf("dialing office-b: match = %q, %v; want office-b", got, err)
	}
	if _, err := p.match(&x509.Certificate{DNSNames: []string{"office-c"}}, ""); ReasonOf(err) != ReasonWrongName {
		t.Errorf("a certificate naming no configured peer: %v, want %s", err, ReasonWrongName)
	}
}
