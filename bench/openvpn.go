package main

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"

	"github.com/tlsvpn/tlsvpn/internal/lab"
)

// openvpnSystem runs OpenVPN 2.6 in peer-to-peer TCP mode with the same
// X.509 certificates as tlsvpn (made by tlsvpn pki): gwA is --tls-server
// (--dh none) on 198.18.0.1:1194, gwB is --tls-client; each checks the
// other's EKU with --remote-cert-tls. Everything else is OpenVPN's default:
// tun MTU 1500, data cipher negotiated (AES-256-GCM), no buffer or
// fast-io tuning, no DCO (the kernel has none).
type openvpnSystem struct {
	env *env
}

const (
	openvpnDev  = "ovpn0"
	openvpnPort = "1194"
)

func (o *openvpnSystem) name() string { return nameOpenVPN }

func (o *openvpnSystem) prepare(context.Context, *env) error { return nil }

// args returns end i's command line (0: gwA, the TLS server; 1: gwB).
func (o *openvpnSystem) args(i int) []string {
	pki := o.env.pki
	node := lab.Offices[i].Name
	common := []string{
		"--dev", openvpnDev, "--dev-type", "tun",
		"--ca", filepath.Join(pki, "ca.pem"),
		"--cert", filepath.Join(pki, node+".pem"),
		"--key", filepath.Join(pki, node+".key"),
		"--verb", "3",
	}
	if i == 0 {
		return append(common,
			"--proto", "tcp-server", "--local", lab.UnderlayA, "--lport", openvpnPort,
			"--tls-server", "--dh", "none", "--remote-cert-tls", "client",
			"--ifconfig", tunnelA4, tunnelB4, "--ifconfig-ipv6", tunnelA6+"/64", tunnelB6,
			"--route", "10.2.0.0", "255.255.255.0", "--route-ipv6", "fd02::/64",
		)
	}
	return append(common,
		"--proto", "tcp-client", "--remote", lab.UnderlayA, openvpnPort, "--nobind",
		"--tls-client", "--remote-cert-tls", "server",
		"--ifconfig", tunnelB4, tunnelA4, "--ifconfig-ipv6", tunnelB6+"/64", tunnelA6,
		"--route", "10.1.0.0", "255.255.255.0", "--route-ipv6", "fd01::/64",
	)
}

func (o *openvpnSystem) version(ctx context.Context) string {
	out, err := exec.CommandContext(ctx, "openvpn", "--version").CombinedOutput()
	if err != nil && len(out) == 0 {
		return "unknown version"
	}
	// "OpenVPN 2.6.14 x86_64-pc-linux-gnu [SSL (OpenSSL)] ..." and
	// "library versions: OpenSSL 3.0.19 27 Jan 2026, LZO 2.10".
	var v []string
	for line := range strings.Lines(string(out)) {
		f := strings.Fields(line)
		switch {
		case len(f) >= 2 && f[0] == "OpenVPN":
			v = append(v, f[1])
		case len(f) >= 4 && f[0] == "library" && f[2] == "OpenSSL":
			v = append(v, "OpenSSL "+f[3])
		}
	}
	return strings.Join(append(v, "no DCO"), ", ")
}

var openvpnCipherRE = regexp.MustCompile(`Data Channel: cipher '([^']+)'`)

// transport reports the data cipher gwA's log names.
func (o *openvpnSystem) transport(_ context.Context, s *setup) string {
	cipher := "negotiated data cipher"
	if len(s.logs) > 0 {
		if b, err := os.ReadFile(s.logs[0]); err == nil {
			if m := openvpnCipherRE.FindSubmatch(b); m != nil {
				cipher = string(m[1])
			}
		}
	}
	return fmt.Sprintf("TCP, p2p --tls-server/--tls-client, X.509 both ways; data channel %s, TLS 1.3 control channel", cipher)
}

func (o *openvpnSystem) listen(ctx context.Context, s *setup) error {
	s.dev = [2]string{openvpnDev, openvpnDev}
	s.vpnAddrs()
	p, err := s.start(s.topo.GwA, "openvpn-a.log", "openvpn", o.args(0)...)
	if err != nil {
		return fmt.Errorf("start openvpn in %s: %w", s.topo.GwA, err)
	}
	return waitListening(ctx, s.topo, s.topo.GwA, openvpnPort, p)
}

func (o *openvpnSystem) dial(_ context.Context, s *setup) error {
	if _, err := s.start(s.topo.GwB, "openvpn-b.log", "openvpn", o.args(1)...); err != nil {
		return fmt.Errorf("start openvpn in %s: %w", s.topo.GwB, err)
	}
	return nil
}
