package config

import (
	"slices"
	"time"

	"github.com/tlsvpn/tlsvpn/internal/trust"
)

// Loader runs Load with an injectable clock and sysctl tree, for tests and for callers that need a fixed
// moment, with the credentials in force at a reload, and with the start-up leniency of `tlsvpn up` for
// CRLs. The zero Loader is what `tlsvpn check` runs: time.Now, /proc/sys, every problem an error. A
// Loader may be used from several goroutines.
type Loader struct {
	Now     func() time.Time // the clock for validity checks; nil means time.Now
	ProcSys string           // root of the sysctl tree read for forwarding warnings; "" means /proc/sys
	// InForce are the credentials the running node uses, at a reload (nil at start-up and for `tlsvpn
	// check`). A CRL older than the one in force for the same CA (a lower CRL number or an earlier
	// thisUpdate) is refused at tls.crl, so that a stale copy never undoes a revocation. And when the
	// own certificate chain is the one in force, unchanged, its being revoked (by the new CRL) or
	// expired is a warning, not an error: the node keeps that certificate either way, and the rest of
	// the reload, a new CRL revoking others above all, must not be held back by it. A new own
	// certificate that is revoked or expired is still an error.
	InForce *trust.Credentials
	// DeferCRL is for `tlsvpn up` at start-up, when no CRL is in force yet. CRLs that cannot be loaded
	// (a file missing, unreadable or not a CRL, a CRL not signed by its CA, two of one CA, a CA without
	// its CRL) are then returned among the warnings rather than as errors, and the returned Credentials
	// refuse every handshake (trust.ReasonCRLUnavailable) until a reload brings CRLs that load. When
	// there are other errors, the CRL problems are reported with them.
	DeferCRL bool
}

// Load is Loader{}.Load.
func Load(path string) (*Config, []Problem, error) {
	return Loader{}.Load(path)
}

// Load runs Parse, then reads and checks the files the configuration names with internal/trust, the
// validator the handshake uses: that CA, certificate, key and CRLs can be read and parsed, that the key
// matches the certificate and is not readable by group or others, that the node's own certificate
// passes every rule a peer applies to it (valid now, chains to the CA, extended key usages for the
// node's roles, not revoked, address blocks) and names the node, and that the CRLs are signed by their
// CAs, one for each CA. It reports every problem found by both halves at once in an *Error, with a nil
// Config. Warnings (IP forwarding off while LAN prefixes are routed, certificates expiring within
// ExpiryWarning, a CRL past its next update) are returned whether or not there are errors, and do not
// make Load fail. The returned Config carries the loaded Credentials.
//
// Load reads files and /proc/sys only; it never binds, resolves, opens devices or changes the host.
func (l Loader) Load(path string) (*Config, []Problem, error) {
	p := parseFile(path)
	if p.cfg == nil {
		return nil, nil, p.rep.err()
	}
	warn := p.warn
	c := l.checker(p.cfg, p.rep, warn, p.index)
	creds := c.checkCredentials()
	c.warnForwarding()
	c.settleCRL()
	warnings := slices.Clone(warn.probs)
	sortProblems(warnings)
	if err := p.rep.err(); err != nil {
		return nil, warnings, err
	}
	p.cfg.Credentials = creds
	return p.cfg, warnings, nil
}

// Credentials reads and checks the [tls] files of cfg again, as Load does, without reading the
// configuration file: what a node does when one of these files changes on disk. Problems carry no line.
func (l Loader) Credentials(cfg *Config) (*trust.Credentials, []Problem, error) {
	errs := &report{file: cfg.Path}
	warn := &report{file: cfg.Path}
	c := l.checker(cfg, errs, warn, nil)
	creds := c.checkCredentials()
	c.settleCRL()
	if err := errs.err(); err != nil {
		return nil, warn.probs, err
	}
	return creds, warn.probs, nil
}

func (l Loader) checker(cfg *Config, errs, warn *report, index [][]int) *checker {
	c := &checker{cfg: cfg, errs: errs, crl: errs, warn: warn, index: index, now: l.now(), procSys: l.procSys(), inForce: l.InForce}
	if l.DeferCRL {
		c.crl = &report{file: errs.file, lines: errs.lines}
	}
	return c
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
	crl     *report // the problems of loading tls.crl: errs, or a report of its own with Loader.DeferCRL
	warn    *report // warnings
	index   [][]int // position in the file of each cfg.Peers[i].AllowedIPs[j]
	now     time.Time
	procSys string
	inForce *trust.Credentials
}

// settleCRL hands on the CRL problems that Loader.DeferCRL kept apart: to the errors when there are
// others (a load that fails reports every problem), else to the warnings, saying what follows.
func (c *checker) settleCRL() {
	if c.crl == c.errs {
		return
	}
	if len(c.errs.probs) > 0 {
		c.errs.probs = append(c.errs.probs, c.crl.probs...)
		return
	}
	for _, p := range c.crl.probs {
		p.Message += "; until a CRL loads, every handshake is refused (the node reads the file again when it changes)"
		c.warn.probs = append(c.warn.probs, p)
	}
}

// checkCredentials reads the [tls] files, loads them with internal/trust and reports, against the key
// that names each file, what is wrong with them and with the node's own certificate. It returns the
// credentials, which are only usable when no error was reported.
func (c *checker) checkCredentials() *trust.Credentials {
	creds, probs := trust.Load(c.readTLS())
	if creds != nil {
		probs = append(probs, creds.CheckRollback(c.inForce)...)
	}
	for _, p := range probs {
		c.loadProblem(p)
	}
	if creds == nil {
		return nil
	}
	c.checkName(creds.Chain()[0])
	c.checkOwn(creds)
	c.warnExpiry(creds)
	c.warnCRLs(creds)
	return creds
}
