package main

import (
	"errors"
	"fmt"
	"io"
	"net/netip"
	"path/filepath"
	"strconv"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/spf13/cobra"

	"github.com/tlsvpn/tlsvpn/internal/pki"
)

// pkiDefaultCAName is the CommonName of a CA made without --name.
const pkiDefaultCAName = "tlsvpn CA"

func newPKICmd() *cobra.Command {
	c := &cobra.Command{
		Use:                   "pki COMMAND",
		DisableFlagsInUseLine: true,
		Short:                 "Run the built-in certificate authority",
		Long: `The built-in CA keeps everything in one directory: ca.pem, ca.key, crl.pem and
NAME.pem/NAME.key for every node and remote-access client, plus index.json
recording what was issued. Keys are ECDSA P-256 and written mode 0600.
See docs/pki.md.`,
		Example: `  tlsvpn pki init --dir /etc/tlsvpn/pki --name "Example Corp VPN CA"
  tlsvpn pki issue office-a --dir /etc/tlsvpn/pki --route 10.1.0.0/24
  tlsvpn pki issue alice --dir /etc/tlsvpn/pki --group admins
  tlsvpn pki bundle alice --dir /etc/tlsvpn/pki --hub hq --endpoint vpn.example.com:4433 --out alice.tar
  tlsvpn pki list --dir /etc/tlsvpn/pki`,
		Args:                       pkiNoSubcommand,
		SuggestionsMinimumDistance: 2,
		RunE: func(c *cobra.Command, _ []string) error {
			return usageError{errors.New("pki: name a subcommand: init, issue, sign, bundle, renew, revoke, crl or list")}
		},
	}
	c.SetFlagErrorFunc(func(c *cobra.Command, err error) error {
		return usageError{fmt.Errorf("pki %s: %w\nsee '%s --help'", c.Name(), err, c.CommandPath())}
	})
	c.AddCommand(newPKIInitCmd(), newPKIIssueCmd(), newPKISignCmd(), newPKIBundleCmd(), newPKIRenewCmd(),
		newPKIRevokeCmd(), newPKICRLCmd(), newPKIListCmd())
	return c
}

// pkiNoSubcommand reports an argument that names no subcommand of pki.
func pkiNoSubcommand(c *cobra.Command, args []string) error {
	if len(args) == 0 {
		return nil
	}
	msg := fmt.Sprintf("pki: unknown subcommand %q", args[0])
	if s := c.SuggestionsFor(args[0]); len(s) > 0 {
		msg += fmt.Sprintf(" (did you mean %s?)", strings.Join(s, ", "))
	}
	return usageError{errors.New(msg)}
}

// pkiNameArg accepts exactly one argument, the node's or client's name.
var pkiNameArg = pkiOneArg("NAME")

// pkiOneArg accepts exactly one argument, what.
func pkiOneArg(what string) cobra.PositionalArgs {
	return func(c *cobra.Command, args []string) error {
		if len(args) != 1 {
			return usageError{fmt.Errorf("pki %s: takes one argument, %s; got %d", c.Name(), what, len(args))}
		}
		return nil
	}
}

// pkiNoArgs accepts no argument.
func pkiNoArgs(c *cobra.Command, args []string) error {
	if len(args) != 0 {
		return usageError{fmt.Errorf("pki %s: takes no argument; got %q", c.Name(), args[0])}
	}
	return nil
}

// pkiDirFlag adds the --dir flag every pki subcommand takes. Their Use
// lines spell out their flags, so cobra need not append "[flags]".
func pkiDirFlag(c *cobra.Command, dir *string) {
	c.Flags().StringVar(dir, "dir", "", "the PKI directory (required)")
	c.DisableFlagsInUseLine = true
}

// pkiRun checks --dir and runs op on the directory. The arguments being
// right, cobra prints no usage for a failure of op; a failure that is a bad
// argument only the pki package can spot (a name, a lifetime beyond the
// CA's) is a usage error all the same.
func pkiRun(c *cobra.Command, dir string, op func(pki.Options) error) (pki.Options, error) {
	if dir == "" {
		return pki.Options{}, usageError{fmt.Errorf("pki %s: --dir DIR is required (the PKI directory)", c.Name())}
	}
	c.SilenceUsage = true
	o := pki.Options{Dir: dir}
	err := op(o)
	if errors.Is(err, pki.ErrInvalidArgument) {
		return o, usageError{err}
	}
	return o, err
}

// pkiNameCmd makes the pki subcommand use (with short, long and example
// for its help) that runs op on the certificate of the node NAME, then
// reports what became of NAME's current certificate (dir is --dir).
func pkiNameCmd(use, short, long, example string, op func(pki.Options, string) error,
	report func(w io.Writer, dir string, e pki.Entry)) *cobra.Command {
	var dir string
	c := &cobra.Command{Use: use, Short: short, Long: long, Example: example, Args: pkiNameArg,
		RunE: func(c *cobra.Command, args []string) error {
			o, err := pkiRun(c, dir, func(o pki.Options) error { return op(o, args[0]) })
			if err != nil {
				return err
			}
			e, err := pkiCurrent(o, args[0])
			if err != nil {
				return err
			}
			report(c.OutOrStdout(), dir, e)
			return nil
		}}
	pkiDirFlag(c, &dir)
	return c
}

// pkiCurrent returns the entry of name's current certificate.
func pkiCurrent(o pki.Options, name string) (pki.Entry, error) {
	entries, err := pki.List(o)
	if err != nil {
		return pki.Entry{}, err
	}
	for _, e := range entries {
		if e.Name == name && e.Current {
			return e, nil
		}
	}
	return pki.Entry{}, fmt.Errorf("%s is missing from %s", name, filepath.Join(o.Dir, "index.json"))
}

func newPKIInitCmd() *cobra.Command {
	var dir, name string
	var days int
	c := &cobra.Command{
		Use:   "init --dir DIR [--name NAME] [--days N]",
		Short: "Create a CA",
		Long: `Create a CA in DIR (made mode 0700 if missing): ca.key, ca.pem, index.json and an
empty crl.pem. Refuses a directory that already holds a CA.

The CA certificate carries an RFC 3779 ipAddrBlocks extension covering every
address, so that the routes written into node certificates nest inside it.`,
		Example: `  tlsvpn pki init --dir /etc/tlsvpn/pki --name "Example Corp VPN CA"`,
		Args:    pkiNoArgs,
		RunE: func(c *cobra.Command, _ []string) error {
			if _, err := pkiRun(c, dir, func(o pki.Options) error { return pki.Init(o, name, days) }); err != nil {
				return err
			}
			fmt.Fprintf(c.OutOrStdout(), "created CA %q in %s, valid %d days\nnext: tlsvpn pki issue NAME --dir %s [--route PREFIX]...\n",
				name, dir, days, dir)
			return nil
		},
	}
	pkiDirFlag(c, &dir)
	c.Flags().StringVar(&name, "name", pkiDefaultCAName, "the CA's CommonName")
	c.Flags().IntVar(&days, "days", pki.DefaultCADays, "lifetime of the CA certificate in days")
	return c
}

func newPKIIssueCmd() *cobra.Command {
	var dir string
	var days int
	var routes, groups []string
	var force bool
	c := &cobra.Command{
		Use:   "issue NAME --dir DIR [--days N] [--route PREFIX]... [--group G]... [--force]",
		Short: "Issue a node or client certificate and its key",
		Long: `Issue NAME.key and NAME.pem in DIR: a certificate for NAME (its CommonName and
DNS SAN). NAME is a lowercase DNS name such as office-a.

Without --group it is a node certificate, good for both TLS server and client:
the name peers put in their [[peer]] name. Each --route adds a prefix to its
ipAddrBlocks extension: the addresses this node may route.

With --group it is a remote-access client certificate, for dialing a hub: each
--group (repeatable) becomes an OU of the subject and must name a [[group]] of
the hub; its only extended key usage is clientAuth. A client routes nothing of
its own (its hub leases its address), so --route and --group do not go together.

An existing NAME is replaced only with --force; the replaced certificate is not
revoked.`,
		Example: `  tlsvpn pki issue office-a --dir /etc/tlsvpn/pki --route 10.1.0.0/24 --route fd01::/64
  tlsvpn pki issue office-b --dir /etc/tlsvpn/pki --days 90 --force
  tlsvpn pki issue alice --dir /etc/tlsvpn/pki --group admins --group ops`,
		Args: pkiNameArg,
		RunE: func(c *cobra.Command, args []string) error {
			prefixes, err := pkiRoutes(routes)
			if err != nil {
				return err
			}
			p := pki.Profile{Days: days, Routes: prefixes, Groups: groups}
			if _, err := pkiRun(c, dir, func(o pki.Options) error { return pki.Issue(o, args[0], p, force) }); err != nil {
				return err
			}
			fmt.Fprintf(c.OutOrStdout(), "issued %s%s: %s and %s, valid %d days\n", pkiKind(p.Groups), args[0],
				filepath.Join(dir, args[0]+".pem"), filepath.Join(dir, args[0]+".key"), days)
			return nil
		},
	}
	pkiDirFlag(c, &dir)
	c.Flags().IntVar(&days, "days", pki.DefaultNodeDays, "lifetime of the certificate in days")
	c.Flags().StringArrayVar(&routes, "route", nil, "a prefix the node may route, such as 10.1.0.0/24 (repeatable)")
	pkiGroupFlag(c, &groups)
	c.Flags().BoolVar(&force, "force", false, "replace an existing certificate and key of NAME")
	return c
}

// pkiGroupFlag adds the repeatable --group flag of issue and sign.
func pkiGroupFlag(c *cobra.Command, groups *[]string) {
	c.Flags().StringArrayVar(groups, "group", nil, "a group of the hub the client belongs to, written as an OU (repeatable; makes a client certificate)")
}

// pkiKind names the kind of certificate that groups make, for messages.
func pkiKind(groups []string) string {
	if len(groups) == 0 {
		return ""
	}
	return fmt.Sprintf("client (groups %s) ", strings.Join(groups, ", "))
}

// pkiRoutes parses the --route values.
func pkiRoutes(routes []string) ([]netip.Prefix, error) {
	var out []netip.Prefix
	for _, r := range routes {
		p, err := netip.ParsePrefix(r)
		if err != nil {
			return nil, usageError{fmt.Errorf("pki issue: --route %q: want one prefix such as 10.1.0.0/24 (repeat --route for more): %w", r, err)}
		}
		out = append(out, p)
	}
	return out, nil
}

func newPKIRenewCmd() *cobra.Command {
	return pkiNameCmd("renew NAME --dir DIR", "Give a node a new key and certificate",
		`Replace NAME.key and NAME.pem with a new key and certificate of the same
lifetime and routes. The old certificate stays valid until it expires, so nodes
can switch at their own pace; revoke NAME afterwards only if its key leaked.`,
		`  tlsvpn pki renew office-a --dir /etc/tlsvpn/pki`,
		pki.Renew, func(w io.Writer, _ string, e pki.Entry) {
			fmt.Fprintf(w, "renewed %s: serial %x, expires %s\n", e.Name, e.Serial, e.NotAfter.Format(time.DateOnly))
		})
}

func newPKIRevokeCmd() *cobra.Command {
	return pkiNameCmd("revoke NAME --dir DIR", "Revoke a node's certificate",
		`Revoke the current certificate of NAME and re-sign crl.pem. Copy crl.pem to every
node (their [tls] crl); a node re-reads it when the file changes. To give NAME a
new certificate afterwards, use pki issue NAME --force.`,
		`  tlsvpn pki revoke office-b --dir /etc/tlsvpn/pki`,
		pki.Revoke, func(w io.Writer, dir string, e pki.Entry) {
			fmt.Fprintf(w, "revoked %s (serial %x); copy %s to every node\n", e.Name, e.Serial, filepath.Join(dir, "crl.pem"))
		})
}

func newPKICRLCmd() *cobra.Command {
	var dir string
	c := &cobra.Command{
		Use:   "crl --dir DIR",
		Short: "Re-sign the CRL",
		Long: fmt.Sprintf(`Re-sign crl.pem with a new number, valid %d days from now. Nodes refuse a CRL
past its next update, so run this well within that time, for example weekly
from a systemd timer or cron, and copy crl.pem to every node.`, pki.DefaultCRLDays),
		Example: `  tlsvpn pki crl --dir /etc/tlsvpn/pki`,
		Args:    pkiNoArgs,
		RunE: func(c *cobra.Command, _ []string) error {
			if _, err := pkiRun(c, dir, pki.SignCRL); err != nil {
				return err
			}
			fmt.Fprintf(c.OutOrStdout(), "re-signed %s, next update due %s\n", filepath.Join(dir, "crl.pem"),
				time.Now().AddDate(0, 0, pki.DefaultCRLDays).UTC().Format(time.DateOnly))
			return nil
		},
	}
	pkiDirFlag(c, &dir)
	return c
}

func newPKIListCmd() *cobra.Command {
	var dir string
	c := &cobra.Command{
		Use:   "list --dir DIR",
		Short: "List the certificates the CA issued",
		Long: `List every certificate the CA issued: name, kind (node, or client for remote
access), serial (lowercase hex, as tlsvpn status shows it), expiry date, status,
a client's groups and a node's routes. Status is valid, expired, revoked (with
the date) or replaced (by renew or issue --force).`,
		Example: `  tlsvpn pki list --dir /etc/tlsvpn/pki`,
		Args:    pkiNoArgs,
		RunE: func(c *cobra.Command, _ []string) error {
			var entries []pki.Entry
			_, err := pkiRun(c, dir, func(o pki.Options) (err error) {
				entries, err = pki.List(o)
				return err
			})
			if err != nil {
				return err
			}
			return printPKIList(c.OutOrStdout(), entries, time.Now())
		},
	}
	pkiDirFlag(c, &dir)
	return c
}

// printPKIList writes entries as a table, their status judged at now.
func printPKIList(w io.Writer, entries []pki.Entry, now time.Time) error {
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "NAME\tKIND\tSERIAL\tEXPIRES\tSTATUS\tGROUPS\tROUTES")
	for _, e := range entries {
		kind := "node"
		if e.Client() {
			kind = "client"
		}
		routes := make([]string, len(e.Routes))
		for i, r := range e.Routes {
			routes[i] = r.String()
		}
		fmt.Fprintf(tw, "%s\t%s\t%x\t%s\t%s\t%s\t%s\n", e.Name, kind, e.Serial, e.NotAfter.Format(time.DateOnly),
			pkiStatus(e, now), pkiColumn(e.Groups), pkiColumn(routes))
	}
	return tw.Flush()
}

// pkiColumn joins values with commas for a column of the list, "-" when
// there are none; a value with a comma or a blank is quoted.
func pkiColumn(values []string) string {
	if len(values) == 0 {
		return "-"
	}
	out := make([]string, len(values))
	for i, v := range values {
		out[i] = v
		if strings.ContainsAny(v, ", \t") {
			out[i] = strconv.Quote(v)
		}
	}
	return strings.Join(out, ",")
}

// pkiStatus says what state a certificate is in at now.
func pkiStatus(e pki.Entry, now time.Time) string {
	switch {
	case e.Revoked:
		return "revoked " + e.RevokedAt.Format(time.DateOnly)
	case now.After(e.NotAfter):
		return "expired"
	case !e.Current:
		return "replaced"
	default:
		return "valid"
	}
}
