package config

import (
	"crypto"
	"crypto/x509"
	"encoding/pem"
	"fmt"
	"net/netip"
	"strings"

	"github.com/tlsvpn/tlsvpn/internal/ipblocks"
)

// markHandled removes RFC 3779's IP address blocks from the unhandled critical extensions of certs,
// which this package and the handshake check themselves (crypto/x509 would refuse the chain).
func markHandled(certs []*x509.Certificate) {
	for i, cert := range certs {
		certs[i] = ipblocks.MarkHandled(cert)
	}
}

// checkBlocks applies RFC 3779 to the own chain: each issuer's address blocks cover its subject's, and
// the interface addresses lie inside the certificate's blocks, if it has any.
func (c *checker) checkBlocks(chain []*x509.Certificate) {
	if err := ipblocks.CheckChain(chain); err != nil {
		c.errs.addf("tls.cert", "%v; issue the certificate from a CA whose address blocks cover it", err)
	}
	blocks, present, err := ipblocks.FromCertificate(chain[0])
	if err != nil {
		c.errs.addf("tls.cert", "the address blocks of %s do not parse: %v", c.cfg.TLS.Cert, err)
		return
	}
	if !present {
		return
	}
	for i, a := range c.cfg.Interface.Addresses {
		host := netip.PrefixFrom(a.Addr(), a.Addr().BitLen())
		if !ipblocks.Covers(blocks, host) {
			c.errs.addf(fmt.Sprintf("interface.address[%d]", i), "%s is outside the address blocks %v of %s; use an address inside them or issue the certificate with --route covering it",
				a.Addr(), blocks, c.cfg.TLS.Cert)
		}
	}
}

// parseCertificates parses every CERTIFICATE block of a PEM file, in order. It returns a message when
// the file holds no certificate, a certificate that does not parse, or a block of another type.
func parseCertificates(data []byte, path, what string) ([]*x509.Certificate, string) {
	var certs []*x509.Certificate
	for n := 1; ; n++ {
		var block *pem.Block
		block, data = pem.Decode(data)
		if block == nil {
			break
		}
		if block.Type != "CERTIFICATE" {
			return nil, fmt.Sprintf("%s: PEM block %d is a %s; the file must hold only CERTIFICATE blocks (the %s first)",
				path, n, block.Type, what)
		}
		cert, err := x509.ParseCertificate(block.Bytes)
		if err != nil {
			return nil, fmt.Sprintf("%s: certificate %d does not parse (%v); replace it with the %s in PEM form",
				path, n, err, what)
		}
		certs = append(certs, cert)
	}
	if len(certs) == 0 {
		return nil, fmt.Sprintf("%s holds no PEM certificate; write the %s in PEM form (a DER file converts with: openssl x509 -inform der -in FILE -out FILE.pem)",
			path, what)
	}
	return certs, ""
}

// loadKey reads and parses the private key, and checks its mode.
func (c *checker) loadKey() crypto.Signer {
	path := c.cfg.TLS.Key
	if path == "" {
		return nil
	}
	data, ok := c.read("tls.key", path)
	if !ok {
		return nil
	}
	c.checkKeyMode(path)
	key, why := parsePrivateKey(data, path)
	if why != "" {
		c.errs.addf("tls.key", "%s", why)
		return nil
	}
	return key
}

// parsePrivateKey parses the first private key of a PEM file (PKCS #8, SEC 1 EC or PKCS #1 RSA), skipping
// "EC PARAMETERS" blocks.
func parsePrivateKey(data []byte, path string) (crypto.Signer, string) {
	for {
		var block *pem.Block
		block, data = pem.Decode(data)
		switch {
		case block == nil:
			return nil, fmt.Sprintf("%s holds no PEM private key; write the key issued with the certificate (tlsvpn pki issue writes NAME.key)", path)
		case block.Type == "EC PARAMETERS":
			continue
		case block.Type == "ENCRYPTED PRIVATE KEY" || block.Headers["Proc-Type"] != "":
			return nil, fmt.Sprintf("%s is encrypted, and tlsvpn starts unattended; store it decrypted with mode 0600: openssl pkey -in %s -out %s", path, path, path)
		}
		key, err := parseKeyBlock(block)
		if err != nil {
			return nil, fmt.Sprintf("%s: the %s block does not parse (%v); write the key issued with the certificate", path, block.Type, err)
		}
		signer, ok := key.(crypto.Signer)
		if !ok {
			return nil, fmt.Sprintf("%s holds a %T, which cannot sign; use an ECDSA, Ed25519 or RSA key", path, key)
		}
		return signer, ""
	}
}

func parseKeyBlock(block *pem.Block) (any, error) {
	switch block.Type {
	case "PRIVATE KEY":
		return x509.ParsePKCS8PrivateKey(block.Bytes)
	case "EC PRIVATE KEY":
		return x509.ParseECPrivateKey(block.Bytes)
	case "RSA PRIVATE KEY":
		return x509.ParsePKCS1PrivateKey(block.Bytes)
	}
	return nil, fmt.Errorf("%s is not a private key type", strings.ToLower(block.Type))
}

// checkKeyMatch refuses a key whose public half is not the certificate's.
func (c *checker) checkKeyMatch(leaf *x509.Certificate, key crypto.Signer) {
	pub, ok := key.Public().(interface{ Equal(crypto.PublicKey) bool })
	if ok && pub.Equal(leaf.PublicKey) {
		return
	}
	c.errs.addf("tls.key", "%s does not belong to the certificate %s; use the key issued with that certificate, or re-issue both (tlsvpn pki issue %s --force)",
		c.cfg.TLS.Key, c.cfg.TLS.Cert, c.name())
}

// name is the node name for command examples.
func (c *checker) name() string {
	if c.cfg.Name == "" {
		return "NAME"
	}
	return c.cfg.Name
}
