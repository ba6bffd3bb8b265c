package config

import (
	"crypto/x509"
	"net/netip"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/tlsvpn/tlsvpn/internal/trust"
)

// warnExpiry warns about the own certificate, its intermediates and the CAs when they expire within
// [tls] expiry_warning. Expired ones are errors, reported elsewhere.
func (c *checker) warnExpiry(creds *trust.Credentials) {
	for i, cert := range creds.Chain() {
		what := "the certificate"
		fix := "renew it: tlsvpn pki renew " + c.name() + " --dir " + filepath.Dir(c.cfg.TLS.Cert)
		if i > 0 {
			what, fix = "the intermediate CA "+cert.Subject.String()+" in", "renew it and re-issue the certificates below it"
		}
		c.warnSoon("tls.cert", cert, what+" "+c.cfg.TLS.Cert, fix)
	}
	for _, set := range []trust.Set{trust.Peers, trust.Clients} {
		key := c.partKey(trust.PartCA, 0)
		if set == trust.Clients {
			key = c.partKey(trust.PartClientCA, 0)
		}
		for _, ca := range creds.Anchors(set) {
			c.warnSoon(key, ca, "the CA "+ca.Subject.String()+" in "+creds.AnchorFile(set),
				"every certificate it signed stops working then: make a new CA, add it to "+key+" on every node, and re-issue")
		}
	}
}

func (c *checker) warnSoon(key string, cert *x509.Certificate, what, fix string) {
	left := cert.NotAfter.Sub(c.now)
	if left <= 0 || left > c.cfg.TLS.ExpiryWarning {
		return
	}
	c.warn.addf(key, "%s expires on %s, in %d days; %s", what, date(cert.NotAfter), int(left/(24*time.Hour)), fix)
}

// sysctl names a forwarding switch.
type sysctl struct {
	family string // "IPv4" or "IPv6"
	file   string // below the sysctl root
	name   string // for sysctl -w
}

var (
	forwardIPv4 = sysctl{"IPv4", "net/ipv4/ip_forward", "net.ipv4.ip_forward"}
	forwardIPv6 = sysctl{"IPv6", "net/ipv6/conf/all/forwarding", "net.ipv6.conf.all.forwarding"}
)

// warnForwarding warns when the node routes prefixes beyond the tunnel's own (a gateway's LANs) while the
// kernel does not forward that family. A sysctl that cannot be read is not reported.
func (c *checker) warnForwarding() {
	var first4, first6 string
	var pfx4, pfx6 netip.Prefix
	for i, p := range c.cfg.Peers {
		for j, pfx := range p.AllowedIPs {
			if c.cfg.coveredByInterface(pfx) {
				continue
			}
			key := allowedKey(c.index, i, j)
			if pfx.Addr().Is4() && first4 == "" {
				first4, pfx4 = key, pfx
			} else if !pfx.Addr().Is4() && first6 == "" {
				first6, pfx6 = key, pfx
			}
		}
	}
	if first4 != "" {
		c.checkForwarding(forwardIPv4, first4, pfx4)
	}
	if first6 != "" {
		c.checkForwarding(forwardIPv6, first6, pfx6)
	}
}

func (c *checker) checkForwarding(s sysctl, key string, pfx netip.Prefix) {
	path := filepath.Join(c.procSys, s.file)
	data, err := os.ReadFile(path)
	if err != nil || strings.TrimSpace(string(data)) != "0" {
		return
	}
	c.warn.addf(key, "%s forwarding is off (%s is 0) but %s is routed to a peer, so this gateway will not pass its LAN's traffic; enable it: sysctl -w %s=1 (and persist it in /etc/sysctl.d/)",
		s.family, path, pfx, s.name)
}
