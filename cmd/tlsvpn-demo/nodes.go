package main

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"time"

	"github.com/tlsvpn/tlsvpn/internal/lab"
)

const (
	caName    = "tlsvpn demo CA"
	tunnelMTU = 1500
)

// officeConfig returns the office's tlsvpn configuration. Certificate paths
// are relative to the file's folder, in which the PKI lives under pki/.
func officeConfig(o lab.Office) string {
	return o.Config("pki", tunnelMTU, "tlsvpn-demo")
}

// makePKI makes a CA and a certificate per office in dir/pki with the tlsvpn
// binary. These commands touch no network, so they run where the demo runs.
func (d *demo) makePKI(ctx context.Context) error {
	pki := filepath.Join(d.dir, "pki")
	cmds := [][]string{{"pki", "init", "--dir", pki, "--name", caName}}
	for _, o := range lab.Offices {
		cmds = append(cmds, []string{"pki", "issue", o.Name, "--dir", pki})
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
	return filepath.Join(d.dir, lab.Offices[i].Name+".toml")
}

// logPath is where office i's node writes its output.
func (d *demo) logPath(i int) string {
	return filepath.Join(d.dir, lab.Offices[i].Name+".log")
}

// startNodes writes both configurations and runs "tlsvpn up" on each gateway.
func (d *demo) startNodes(context.Context) error {
	gateways := [2]string{d.topo.GwA, d.topo.GwB}
	d.started = time.Now()
	for i, o := range lab.Offices {
		if err := os.WriteFile(d.configPath(i), []byte(officeConfig(o)), 0o644); err != nil {
			return fmt.Errorf("write config of %s: %w", o.Name, err)
		}
		p, err := d.topo.Start(gateways[i], d.logPath(i), d.tlsvpn, "up", "-c", d.configPath(i))
		if err != nil {
			return fmt.Errorf("start %s: %w", o.Name, err)
		}
		d.nodes[i] = p
	}
	printf(d.out, "Nodes    office-a on gwA listens on %s; office-b on gwB dials it\n", lab.OfficeListen)
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
		return fmt.Errorf("node %s stopped: %s", lab.Offices[i].Name, how)
	}
	return nil
}
