package certtest

import (
	"crypto/x509"
	"crypto/x509/pkix"
	"math/big"
	"net"
	"net/netip"
	"time"
)

// LeafOpts describes a certificate for Factory.Leaf. The zero value is a
// valid ECDSA P-256 leaf with no names, both TLS EKUs, signed by the root.
type LeafOpts struct {
	// Names become the CommonName (the first) and the SANs: IP addresses
	// as IP SANs, anything else as DNS SANs.
	Names []string
	// NotBefore and NotAfter default to Now-1h and Now+24h when zero.
	NotBefore, NotAfter time.Time
	// EKU defaults to serverAuth and clientAuth; NoEKU leaves the
	// extension out.
	EKU   []x509.ExtKeyUsage
	NoEKU bool
	// IsCA makes a CA certificate (for "a CA presented as a leaf").
	IsCA bool
	// RSABits chooses an RSA key of that size; 0 means ECDSA P-256.
	RSABits int
	// Routes go into a critical ipAddrBlocks extension when not empty.
	Routes []netip.Prefix
	// Issuer signs the leaf; nil means the root.
	Issuer *Cert
	// Serial is the serial number; nil means a random one.
	Serial *big.Int
	// Groups become organizationalUnitName attributes of the subject: a
	// dial-in client's groups.
	Groups []string
}

// Leaf returns a certificate made to o.
func (f *Factory) Leaf(o LeafOpts) *Cert {
	f.tb.Helper()
	tmpl := &x509.Certificate{
		Subject:               pkix.Name{CommonName: "tlsvpn test leaf", OrganizationalUnit: o.Groups},
		SerialNumber:          o.Serial,
		NotBefore:             o.NotBefore,
		NotAfter:              o.NotAfter,
		KeyUsage:              x509.KeyUsageDigitalSignature,
		ExtKeyUsage:           o.EKU,
		BasicConstraintsValid: true,
		IsCA:                  o.IsCA,
	}
	if tmpl.NotBefore.IsZero() {
		tmpl.NotBefore = f.Now.Add(-time.Hour)
	}
	if tmpl.NotAfter.IsZero() {
		tmpl.NotAfter = f.Now.Add(24 * time.Hour)
	}
	switch {
	case o.NoEKU:
		tmpl.ExtKeyUsage = nil
	case o.EKU == nil:
		tmpl.ExtKeyUsage = []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth, x509.ExtKeyUsageClientAuth}
	}
	if o.IsCA {
		tmpl.KeyUsage |= x509.KeyUsageCertSign | x509.KeyUsageCRLSign
	}
	setNames(tmpl, o.Names)
	if len(o.Routes) > 0 {
		tmpl.ExtraExtensions = append(tmpl.ExtraExtensions, f.ipBlocks(o.Routes))
	}
	return f.sign(tmpl, f.issuer(o.Issuer), f.key(o.RSABits))
}

// setNames puts names into the CommonName and the SANs of tmpl.
func setNames(tmpl *x509.Certificate, names []string) {
	if len(names) > 0 {
		tmpl.Subject.CommonName = names[0]
	}
	for _, n := range names {
		if ip := net.ParseIP(n); ip != nil {
			tmpl.IPAddresses = append(tmpl.IPAddresses, ip)
		} else {
			tmpl.DNSNames = append(tmpl.DNSNames, n)
		}
	}
}
