package main

import (
	"fmt"
	"path/filepath"
	"time"

	"github.com/spf13/cobra"

	"github.com/tlsvpn/tlsvpn/internal/pki"
)

func newPKISignCmd() *cobra.Command {
	var dir string
	var days int
	var groups []string
	var force bool
	c := &cobra.Command{
		Use:   "sign CSR --dir DIR [--group G]... [--days N] [--force]",
		Short: "Sign a certificate request; the key stays with its owner",
		Long: `Sign the certificate request in the file CSR (PEM) and write NAME.pem in DIR,
where NAME is the request's one DNS SAN, or its CommonName when it has no SAN.
No key is written: it stays on the machine that made the request. A NAME.key
of an earlier certificate is removed.

The CA decides everything but the name and the key: with --group a client
certificate (each group an OU, clientAuth only), without a node certificate;
the request's other subject fields and extensions are ignored. Refused: a
request whose signature does not verify, with IP, e-mail or URI SANs, two DNS
names, a wildcard, an RSA key under 2048 bits, or a private key in the file.
An existing NAME is replaced only with --force.`,
		Example: `  tlsvpn pki sign alice.csr --dir /etc/tlsvpn/pki --group admins
  # the request, made on alice's machine, where alice.key stays:
  openssl req -new -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -keyout alice.key -out alice.csr -subj /CN=alice -addext subjectAltName=DNS:alice`,
		Args: pkiOneArg("the certificate request file CSR"),
		RunE: func(c *cobra.Command, args []string) error {
			p := pki.Profile{Days: days, Groups: groups}
			var name string
			_, err := pkiRun(c, dir, func(o pki.Options) (err error) {
				name, err = pki.Sign(o, args[0], p, force)
				return err
			})
			if err != nil {
				return err
			}
			fmt.Fprintf(c.OutOrStdout(), "signed %s%s from %s: %s, valid %d days; the key stays with its owner\n",
				pkiKind(groups), name, args[0], filepath.Join(dir, name+".pem"), days)
			return nil
		},
	}
	pkiDirFlag(c, &dir)
	pkiGroupFlag(c, &groups)
	c.Flags().IntVar(&days, "days", pki.DefaultNodeDays, "lifetime of the certificate in days")
	c.Flags().BoolVar(&force, "force", false, "replace an existing certificate (and key) of the name")
	return c
}

func newPKIBundleCmd() *cobra.Command {
	var dir string
	var b pki.BundleOptions
	c := &cobra.Command{
		Use:   "bundle NAME --dir DIR --hub HUBNAME --endpoint HOST:PORT --out FILE [--hub-pki DIR] [--no-key]",
		Short: "Pack a remote-access client's configuration, certificates and key",
		Long: `Write FILE, mode 0600: a tar of the folder NAME/ with everything the client NAME
needs to dial its hub: NAME.toml (a client configuration whose one peer is
HUBNAME at HOST:PORT with remote_access = true), ca.pem, NAME.pem, NAME.key and
crl.pem. FILE is gzipped when its name ends in .gz or .tgz. Unpacked anywhere,
NAME.toml passes tlsvpn check as it is.

NAME must hold a current client certificate (issue or sign with --group). When
the CA signed a request for NAME, its key is not in DIR: make the bundle with
--no-key and have its owner put NAME.key beside NAME.toml.

When the hub's own certificate comes from another CA than the clients' (a hub
with [remote_access] ca), --hub-pki names that CA's directory: its ca.pem and
crl.pem join the bundle's so that the client can verify the hub.`,
		Example: `  tlsvpn pki bundle alice --dir /etc/tlsvpn/pki --hub hq --endpoint vpn.example.com:4433 --out alice.tar
  tlsvpn pki bundle bob --dir clients-pki --hub hq --endpoint 198.18.0.1:4433 --hub-pki /etc/tlsvpn/pki --no-key --out bob.tar.gz`,
		Args: pkiNameArg,
		RunE: func(c *cobra.Command, args []string) error {
			for _, f := range []struct{ flag, value, what string }{
				{"--hub HUBNAME", b.Hub, "the hub's name, as its certificate says"},
				{"--endpoint HOST:PORT", b.Endpoint, "where the hub listens"},
				{"--out FILE", b.Out, "the bundle to write"},
			} {
				if f.value == "" {
					return usageError{fmt.Errorf("pki bundle: %s is required (%s)", f.flag, f.what)}
				}
			}
			var done *pki.Bundled
			_, err := pkiRun(c, dir, func(o pki.Options) (err error) {
				done, err = pki.Bundle(o, args[0], b)
				return err
			})
			if err != nil {
				return err
			}
			printBundled(c, args[0], b, done)
			return nil
		},
	}
	pkiDirFlag(c, &dir)
	c.Flags().StringVar(&b.Hub, "hub", "", "the hub's name: a DNS SAN of its certificate (required)")
	c.Flags().StringVar(&b.Endpoint, "endpoint", "", "host:port where the hub listens (required)")
	c.Flags().StringVar(&b.Out, "out", "", "the bundle to write, a .tar, or .tar.gz/.tgz (required)")
	c.Flags().StringVar(&b.HubPKI, "hub-pki", "", "the PKI directory of the CA of the hub's certificate, when not DIR")
	c.Flags().BoolVar(&b.NoKey, "no-key", false, "leave NAME.key out (its owner has it)")
	return c
}

// printBundled says what went into the bundle and what to do with it.
func printBundled(c *cobra.Command, name string, b pki.BundleOptions, done *pki.Bundled) {
	w := c.OutOrStdout()
	fmt.Fprintf(w, "wrote %s, mode 0600:\n", b.Out)
	for _, f := range done.Files {
		fmt.Fprintf(w, "  %s\n", f)
	}
	if b.NoKey {
		fmt.Fprintf(w, "%s.key is not in it: its owner puts the key beside %s/%s.toml\n", name, name, name)
	}
	fmt.Fprintf(w, "on the client: tar -xf %s -C /etc/tlsvpn && tlsvpn up -c /etc/tlsvpn/%s/%s.toml\n", filepath.Base(b.Out), name, name)
	fmt.Fprintf(w, "its crl.pem must be replaced by a fresh one before %s\n", done.CRLUpdate.UTC().Format(time.DateOnly))
}
