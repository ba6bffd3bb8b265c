package main

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"github.com/tlsvpn/tlsvpn/internal/lab"
)

// office is one side of the demo: a tlsvpn node on a gateway.
type office struct {
	name     string
	addrs    []string // tunnel interface addresses
	listen   string   // "" when the node only dials
	peer     string
	endpoint string   // "" when the node only listens
	allowed  []string // the peer's allowed_ips
}

const (
	caName     = "tlsvpn demo CA"
	listenAddr = lab.UnderlayA + ":4433"
	tunnelDev  = "tlsvpn0"
	tunnelMTU  = 1500
)

// offices are office-a on gwA, which listens, and office-b on gwB, which
// dials it; each routes the other's tunnel address and LAN to it.
var offices = [2]office{
	{
		name: "office-a", addrs: []string{"100.64.0.1/24", "fd64::1/64"}, listen: listenAddr,
		peer: "office-b", allowed: []string{"100.64.0.2/32", "fd64::2/128", "10.2.0.0/24", "fd02::/64"},
	},
	{
		name: "office-b", addrs: []string{"100.64.0.2/24", "fd64::2/64"},
		peer: "office-a", endpoint: listenAddr,
		allowed: []string{"100.64.0.1/32", "fd64::1/128", "10.1.0.0/24", "fd01::/64"},
	},
}

// config returns the office's tlsvpn configuration. Certificate paths are
// relative to the file's folder, in which the PKI lives under pki/.
func (o office) config() string {
	var b strings.Builder
	fmt.Fprintf(&b, "# %s: written by tlsvpn-demo\nname = %q\n\n", o.name, o.name)
	fmt.Fprintf(&b, "[tls]\nca   = \"pki/ca.pem\"\ncert = \"pki/%s.pem\"\nkey  = \"pki/%s.key\"\ncrl  = \"pki/crl.pem\"\n\n", o.name, o.name)
	fmt.Fprintf(&b, "[interface]\nname    = %q\naddress = %s\nmtu     = %d\n\n", tunnelDev, tomlList(o.addrs), tunnelMTU)
	if o.listen != "" {
		fmt.Fprintf(&b, "[listen]\naddress = %q\n\n", o.listen)
	}
	fmt.Fprintf(&b, "[[peer]]\nname        = %q\n", o.peer)
	if o.endpoint != "" {
		fmt.Fprintf(&b, "endpoint    = %q\n", o.endpoint)
	}
	fmt.Fprintf(&b, "allowed_ips = %s\n", tomlList(o.allowed))
	return b.String()
}

// tomlList formats plain ASCII strings as a TOML array.
func tomlList(items []string) string {
	quoted := make([]string, len(items))
	for i, s := range items {
		quoted[i] = strconv.Quote(s)
	}
	return "[" + strings.Join(quoted, ", ") + "]"
}

// makePKI makes a CA and a certificate per office in dir/pki with the tlsvpn
// binary. These commands touch no network, so they run where the demo runs.
func (d *demo) makePKI(ctx context.Context) error {
	pki := filepath.Join(d.dir, "pki")
	cmds := [][]string{{"pki", "init", "--dir", pki, "--name", caName}}
	for _, o := range offices {
		cmds = append(cmds, []string{"pki", "issue", o.name, "--dir", pki})
	}
	for _, args := range cmds {
		out, err := exec.CommandContext(ctx, d.tlsvpn, args...).CombinedOutput()
		if err != nil {
			return fmt.Errorf("tlsvpn %s: %w: %s", strings.Join(args, " "), err, strings.TrimSpace(string(out)))
		}
	}
	printf(d.out, "PKI      CA %q with certificates for office-a and office-b, in %s\n", caName, pki)
	return nil
}

// configPath is where office i's configuration is written.
func (d *demo) configPath(i int) string {
	return filepath.Join(d.dir, offices[i].name+".toml")
}

// logPath is where office i's node writes its output.
func (d *demo) logPath(i int) string {
	return filepath.Join(d.dir, offices[i].name+".log")
}

// startNodes writes both configurations and runs "tlsvpn up" on each gateway.
func (d *demo) startNodes(context.Context) error {
	gateways := [2]string{d.topo.GwA, d.topo.GwB}
	d.started = time.Now()
	for i, o := range offices {
		if err := os.WriteFile(d.configPath(i), []byte(o.config()), 0o644); err != nil {
			return fmt.Errorf("write config of %s: %w", o.name, err)
		}
		p, err := d.topo.Start(gateways[i], d.logPath(i), d.tlsvpn, "up", "-c", d.configPath(i))
		if err != nil {
			return fmt.Errorf("start %s: %w", o.name, err)
		}
		d.nodes[i] = p
	}
	printf(d.out, "Nodes    office-a on gwA listens on %s; office-b on gwB dials it\n", listenAddr)
	printf(d.out, "         tunnel 100.64.0.1 fd64::1 <== TLS 1.3 ==> 100.64.0.2 fd64::2 (configs and logs in %s)\n", d.dir)
	return nil
}

// nodeDown returns an error naming the first node that has exited, or nil.
func (d *demo) nodeDown() error {
	for i, p := range d.nodes {
		if p == nil || !p.Exited() {
			continue
		}
		how := "exit status 0"
		if err := p.Wait(); err != nil {
			how = err.Error()
		}
		return fmt.Errorf("node %s stopped: %s", offices[i].name, how)
	}
	return nil
}
