package config

import (
	"errors"
	"fmt"
	"path/filepath"

	"github.com/tlsvpn/tlsvpn/internal/trust"
)

// readTLS reads the [tls] files for trust.Load. A file that cannot be read is reported here, with the
// key that names it, and left out of the input.
func (c *checker) readTLS() trust.Input {
	t := c.cfg.TLS
	in := trust.Input{
		Peers: c.source(c.errs, "tls.ca", t.CA),
		Cert:  c.source(c.errs, "tls.cert", t.Cert),
		Key:   c.source(c.errs, "tls.key", t.Key),
	}
	if in.Key.Data != nil {
		c.checkKeyMode(t.Key)
	}
	if ra := c.cfg.RemoteAccess; ra != nil {
		in.Clients = c.source(c.errs, "remote_access.ca", ra.CA)
	}
	for i, path := range t.CRLs {
		in.CRLs = append(in.CRLs, c.source(c.crl, c.crlKey(i), path))
	}
	return in
}

// source reads the file at path named by key; without content when it cannot be read, which is
// reported to rep.
func (c *checker) source(rep *report, key, path string) trust.Source {
	if path == "" {
		return trust.Source{}
	}
	data, ok := c.read(rep, key, path)
	if !ok {
		return trust.Source{Path: path}
	}
	if data == nil {
		data = []byte{}
	}
	return trust.Source{Path: path, Data: data}
}

// crlKey is the key path of the CRL file tls.CRLs[i]: "tls.crl" when there is one, "tls.crl[i]" when
// the key lists several.
func (c *checker) crlKey(i int) string {
	if len(c.cfg.TLS.CRLs) == 1 || i < 0 {
		return "tls.crl"
	}
	return indexKey("tls.crl", i)
}

// partKey is the key path of the file a trust.Problem is about.
func (c *checker) partKey(part trust.Part, index int) string {
	switch part {
	case trust.PartCA:
		return "tls.ca"
	case trust.PartClientCA:
		return "remote_access.ca"
	case trust.PartCert:
		return "tls.cert"
	case trust.PartKey:
		return "tls.key"
	}
	return c.crlKey(index)
}

// loadProblem reports a problem of trust.Load, or of CheckRollback, with its fix: a CRL's to c.crl,
// the others' to c.errs.
func (c *checker) loadProblem(p trust.Problem) {
	key := c.partKey(p.Part, p.Index)
	rep := c.errs
	if p.Part == trust.PartCRL {
		rep = c.crl
	}
	var block *trust.BlockError
	var crl *trust.CRLError
	var missing *trust.MissingCRLError
	switch {
	case errors.As(p.Err, &missing):
		c.missingCRL(rep, missing)
	case errors.As(p.Err, &crl):
		c.crlProblem(rep, key, crl)
	case errors.Is(p.Err, trust.ErrKeyMismatch):
		rep.addf(key, "%s does not belong to the certificate %s; use the key issued with that certificate, or re-issue both (tlsvpn pki issue %s --force)",
			p.Path, c.cfg.TLS.Cert, c.name())
	case errors.Is(p.Err, trust.ErrNoPEM):
		rep.addf(key, "%s", noPEM(p.Part, p.Path))
	case errors.As(p.Err, &block):
		rep.addf(key, "%s", blockProblem(p.Part, key, p.Path, block))
	default:
		rep.addf(key, "%s: %v", p.Path, p.Err)
	}
}

// what names the content expected in a part's file.
func what(part trust.Part) string {
	switch part {
	case trust.PartCA, trust.PartClientCA:
		return "CA certificate"
	case trust.PartCert:
		return "certificate"
	case trust.PartKey:
		return "private key"
	}
	return "CRL"
}

// noPEM explains a file without the PEM blocks it must hold.
func noPEM(part trust.Part, path string) string {
	switch part {
	case trust.PartKey:
		return fmt.Sprintf("%s holds no PEM private key; write the key issued with the certificate (tlsvpn pki issue writes NAME.key)", path)
	case trust.PartCRL:
		return fmt.Sprintf("%s is empty; write the CRL there (tlsvpn pki crl --dir %s writes crl.pem)", path, filepath.Dir(path))
	}
	return fmt.Sprintf("%s holds no PEM certificate; write the %s in PEM form (a DER file converts with: openssl x509 -inform der -in FILE -out FILE.pem)",
		path, what(part))
}

// blockProblem explains a PEM block (or a DER file) that is not what it must be.
func blockProblem(part trust.Part, key, path string, b *trust.BlockError) string {
	switch {
	case b.Err == trust.ErrEncryptedKey:
		return fmt.Sprintf("%s is encrypted, and tlsvpn starts unattended; store it decrypted with mode 0600: openssl pkey -in %s -out %s", path, path, path)
	case b.Err == trust.ErrNotSigner:
		return fmt.Sprintf("%s holds %v, which cannot sign; use an ECDSA, Ed25519 or RSA key", path, b.Cause)
	case b.Err == trust.ErrCRLExtension:
		return fmt.Sprintf("%s: CRL %d has the critical %v, which tlsvpn does not implement (a delta, indirect or partial CRL); use the complete CRL of the CA (tlsvpn pki crl writes one)",
			path, b.Index, b.Cause)
	case part == trust.PartCRL && b.Err == trust.ErrBlockType:
		return fmt.Sprintf("%s holds a %s, not an X509 CRL; point %s at the CRL (tlsvpn pki crl writes crl.pem)", path, b.Type, key)
	case part == trust.PartCRL:
		return fmt.Sprintf("%s is not a valid CRL (%s); re-create it: tlsvpn pki crl --dir %s", path, reason(b.Cause), filepath.Dir(path))
	case part == trust.PartKey:
		return fmt.Sprintf("%s: the %s block does not parse (%v); write the key issued with the certificate", path, b.Type, b.Cause)
	case b.Err == trust.ErrBlockType:
		return fmt.Sprintf("%s: PEM block %d is a %s; the file must hold only CERTIFICATE blocks (the %s first)", path, b.Index, b.Type, what(part))
	}
	return fmt.Sprintf("%s: certificate %d does not parse (%v); replace it with the %s in PEM form", path, b.Index, b.Cause, what(part))
}

// name is the node name for command examples.
func (c *checker) name() string {
	if c.cfg.Name == "" {
		return "NAME"
	}
	return c.cfg.Name
}
