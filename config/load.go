package config

import (
	"slices"
	"time"

	"github.com/tlsvpn/tlsvpn/internal/trust"
)

// Loader runs Load with an injectable clock and sysctl tree, for tests and for callers that need a fixed
// moment, and with the credentials in force at a reload. The zero Loader uses time.Now and /proc/sys. A
// Loader may be used from several goroutines.
type Loader struct {
	Now     func() time.Time // the clock for validity checks; nil means time.Now
	ProcSys string           // root of the sysctl tree read for forwarding warnings; "" means /proc/sys
	// InForce are the credentials the running node uses, at a reload: a CRL older than the one in force
	// for the same CA (a lower CRL number or an earlier thisUpdate) is refused at tls.crl, so that a
	// stale copy never undoes a revocation. nil at start-up and for `tlsvpn check`.
	InForce *trust.Credentials
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
	creds := l.checker(cfg, errs, warn, nil).checkCredentials()
	if err := errs.err(); err != nil {
		return nil, warn.probs, err
	}
	return creds, warn.probs, nil
}

func (l Loader) checker(cfg *Config, errs, warn *report, index [][]int) *checker {
	return &checker{cfg: cfg, errs: errs, warn: warn, index: index, now: l.now(), procSys: l.procSys(), inForce: l.InForce}
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
	inForce *trust.Credentials
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
