package handshake

import (
	"crypto/tls"
	"crypto/x509"
	"net/netip"
	"slices"
	"strings"
	"time"

	"github.com/tlsvpn/tlsvpn/internal/netparse"
	"github.com/tlsvpn/tlsvpn/internal/trust"
)

// PeerPolicy is what a node knows about one configured peer.
type PeerPolicy struct {
	Name       string         // a DNS SAN the peer's certificate must carry
	AllowedIPs []netip.Prefix // must lie inside the certificate's address blocks, if it has any
}

// policy is one consistent view of credentials and peers.
type policy struct {
	creds *trust.Credentials
	peers map[string]PeerPolicy
}

// check says what verify checks for.
type check struct {
	role x509.ExtKeyUsage // the EKU the peer needs: ClientAuth when we are the server
	want string           // when set, the only acceptable peer name (the one dialed)
	now  time.Time
	live bool // re-checking a live session: a stale CRL does not end it
}

// verified is what verify learns about an accepted peer.
type verified struct {
	peer    string
	leaf    *x509.Certificate
	expires time.Time // the earliest NotAfter of the verified chain
}

// verify checks the connection and the peer's chain, with the validator
// of internal/trust, and returns the matched peer. On refusal, v.leaf is
// set when the peer presented a certificate.
func (p *policy) verify(cs tls.ConnectionState, k check) (v verified, err error) {
	if cs.Version != tls.VersionTLS13 {
		return v, refuse(ReasonTLSVersion, "negotiated %s; only TLS 1.3 is accepted", tls.VersionName(cs.Version))
	}
	if cs.NegotiatedProtocol != ALPN {
		return v, refuse(ReasonALPN, "application protocol %q; %q is required", cs.NegotiatedProtocol, ALPN)
	}
	if len(cs.PeerCertificates) == 0 {
		return v, refuse(ReasonNoCertificate, "the peer sent no certificate")
	}
	v.leaf = cs.PeerCertificates[0]
	tv, err := p.creds.Verify(cs.PeerCertificates, trust.Check{Set: trust.Peers,
		Usages: []x509.ExtKeyUsage{k.role}, Now: k.now, Live: k.live})
	if err != nil {
		return v, err
	}
	v.expires = tv.Expires
	if v.peer, err = p.match(v.leaf, k.want); err != nil {
		return v, err
	}
	return v, checkBlocks(tv, p.peers[v.peer])
}

// match finds the one configured peer named by a DNS SAN of leaf. A
// certificate that names two configured peers is refused on both sides:
// the dialing side too, though it knows which peer it dialed. Configured
// names are lower-case (config keeps them so); SANs are compared
// lower-cased, as DNS names compare without case.
func (p *policy) match(leaf *x509.Certificate, want string) (string, error) {
	var found []string
	for _, n := range leaf.DNSNames {
		n = netparse.CanonicalName(n)
		if strings.Contains(n, "*") {
			continue
		}
		if _, ok := p.peers[n]; ok && !slices.Contains(found, n) {
			found = append(found, n)
		}
	}
	switch {
	case want != "" && !slices.ContainsFunc(leaf.DNSNames, func(n string) bool { return strings.EqualFold(n, want) }):
		return "", refuse(ReasonWrongName, "dialed %q but the certificate names %v", want, leaf.DNSNames)
	case len(found) > 1:
		return "", refuse(ReasonAmbiguousName, "the certificate names several configured peers %v", found)
	case want != "":
		if _, ok := p.peers[want]; !ok {
			return "", refuse(ReasonWrongName, "peer %q is no longer configured", want)
		}
		return want, nil
	case len(found) == 0:
		return "", refuse(ReasonWrongName, "no configured peer is named by the certificate's DNS names %v", leaf.DNSNames)
	}
	return found[0], nil
}

// checkBlocks enforces RFC 3779 address blocks: when the certificate has
// them, every allowed_ips prefix of the peer must lie inside them.
func checkBlocks(v trust.Verified, peer PeerPolicy) error {
	for _, a := range peer.AllowedIPs {
		if !v.Covers(a) {
			return refuse(ReasonAddressBlocks, "allowed_ips %v of peer %q are not all inside the certificate's address blocks %v",
				peer.AllowedIPs, peer.Name, v.Blocks)
		}
	}
	return nil
}
