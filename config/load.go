package config

import (
	"crypto/x509"
	"slices"
	"time"
)

// Loader runs Load with an injectable clock and sysctl tree, for tests and for callers that need a fixed
// moment. The zero Loader uses time.Now and /proc/sys. A Loader may be used from several goroutines.
type Loader struct {
	Now     func() time.Time // the clock for validity checks; nil means time.Now
	ProcSys string           // root of the sysctl tree read for forwarding warnings; "" means /proc/sys
}

// Load is Loader{}.Load.
func Load(path string) (*Config, []Problem, error) {
	return Loader{}.Load(path)
}

// Load runs Parse, then checks the files the configuration names: that CA, certificate, key and CRL can
// be read and parsed, that the key matches the certificate and is not readable by group or others, that
// the certificate is valid now, chains to the CA, has the extended key usages for the node's roles and
// names the node, and that the CRL is signed by the CA. It reports every problem found by both halves at
// once in an *Error, with a nil Config. Warnings (IP forwarding off while LAN prefixes are routed,
// certificates expiring within ExpiryWarning, a CRL past its next update) are returned whether or not
// there are errors, and do not make Load fail.
//
// Load reads files and /proc/sys only; it never binds, resolves, opens devices or changes the host.
func (l Loader) Load(path string) (*Config, []Problem, error) {
	p := parseFile(path)
	if p.cfg == nil {
		return nil, nil, p.rep.err()
	}
	warn := p.warn
	c := &checker{cfg: p.cfg, errs: p.rep, warn: warn, index: p.index, now: l.now(), procSys: l.procSys()}
	c.run()
	warnings := slices.Clone(warn.probs)
	sortProblems(warnings)
	if err := p.rep.err(); err != nil {
		return nil, warnings, err
	}
	return p.cfg, warnings, nil
}

func (l Loader) now() time.Time {
	if l.Now == nil {
		return time.Now()
	}
	return l.Now()
}

func (l Loader) procSys() string {
	if l.ProcSys == "" {
		return "/proc/sys"
	}
	return l.ProcSys
}

// checker runs Load's checks on one parsed configuration. It is used by one goroutine, once.
type checker struct {
	cfg     *Config
	errs    *report // errors, shared with the parse half
	warn    *report // warnings
	index   [][]int // position in the file of each cfg.Peers[i].AllowedIPs[j]
	now     time.Time
	procSys string
}

func (c *checker) run() {
	roots := c.loadCerts("tls.ca", c.cfg.TLS.CA, "CA certificate")
	chain := c.loadCerts("tls.cert", c.cfg.TLS.Cert, "certificate")
	key := c.loadKey()
	markHandled(roots)
	markHandled(chain)
	if len(chain) > 0 {
		leaf := chain[0]
		if key != nil {
			c.checkKeyMatch(leaf, key)
		}
		c.checkValidity(leaf)
		c.checkName(leaf)
		c.checkEKU(leaf)
		if len(roots) > 0 {
			c.checkChain(chain, roots)
		}
		c.checkBlocks(chain)
	}
	for _, path := range c.cfg.TLS.CRLs {
		crl := c.loadCRL(path)
		if crl != nil && len(roots) > 0 && c.checkCRLSigner(crl, path, roots) && len(chain) > 0 {
			c.checkRevoked(chain[0], crl, path)
		}
		c.warnCRL(crl, path)
	}
	c.warnExpiry(roots, chain)
	c.warnForwarding()
}

// loadCerts reads every certificate of the PEM file at path; nil when the file has a problem.
func (c *checker) loadCerts(key, path, what string) []*x509.Certificate {
	if path == "" {
		return nil
	}
	data, ok := c.read(key, path)
	if !ok {
		return nil
	}
	certs, why := parseCertificates(data, path, what)
	if why != "" {
		c.errs.addf(key, "%s", why)
		return nil
	}
	return certs
}
