package main

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"

	"github.com/tlsvpn/tlsvpn/internal/lab"
)

// The wireguard-go under test: the newest one, installed by "go install" from
// the module proxy into a cache folder outside the repository.
const (
	wgGoModule  = "golang.zx2c4.com/wireguard"
	wgGoVersion = "v0.0.0-20260522210424-ecfc5a8d5446"
	wgPort      = "51820"
	wgSockDir   = "/var/run/wireguard" // wireguard-go's UAPI sockets, one per interface name
)

// wireguardSystem runs wireguard-go on both gateways, configured with wg(8)
// and ip(8): gwA listens on port 51820, gwB has gwA as its endpoint. Each
// end keeps wireguard-go's default MTU (1420) and TUN offloads.
type wireguardSystem struct {
	env  *env
	keys [2]wgKey
}

// wgKey is one end's key pair: the private key in a file (for wg set), the
// public key as text.
type wgKey struct {
	privFile, pub string
}

func (w *wireguardSystem) name() string { return nameWireGuard }

// ifName returns the interface name of end i. wireguard-go's control socket
// is /var/run/wireguard/NAME.sock, shared by all namespaces, so the name
// carries this process's id.
func ifName(i int) string {
	return fmt.Sprintf("wgb%d%c", os.Getpid(), 'a'+i)
}

// prepare installs wireguard-go when needed and makes a key pair per end.
func (w *wireguardSystem) prepare(ctx context.Context, e *env) error {
	if e.wgGo == "" {
		bin, err := installWireGuardGo(ctx, e.cacheDir)
		if err != nil {
			return err
		}
		e.wgGo = bin
	}
	for i := range w.keys {
		priv, err := command(ctx, "", "wg", "genkey")
		if err != nil {
			return err
		}
		pub, err := command(ctx, priv, "wg", "pubkey")
		if err != nil {
			return err
		}
		file := filepath.Join(e.dir, fmt.Sprintf("wg%d.key", i))
		if err := writeFile(file, []byte(priv), 0o600); err != nil {
			return err
		}
		w.keys[i] = wgKey{privFile: file, pub: strings.TrimSpace(pub)}
	}
	return nil
}

// installWireGuardGo installs wireguard-go at wgGoVersion into
// cacheDir/wireguard-go@VERSION with "go install", unless it is there
// already, and returns the binary's path. It runs in that folder, outside
// any module, so the repository's go.mod plays no part.
func installWireGuardGo(ctx context.Context, cacheDir string) (string, error) {
	binDir := filepath.Join(cacheDir, "wireguard-go@"+wgGoVersion)
	bin := filepath.Join(binDir, "wireguard")
	if fi, err := os.Stat(bin); err == nil && fi.Mode()&0o111 != 0 {
		return bin, nil
	}
	if err := os.MkdirAll(binDir, 0o755); err != nil {
		return "", fmt.Errorf("install wireguard-go: %w", err)
	}
	cmd := exec.CommandContext(ctx, "go", "install", wgGoModule+"@"+wgGoVersion)
	cmd.Dir = binDir
	cmd.Env = append(os.Environ(), "GOBIN="+binDir, "GOWORK=off", "GOFLAGS=-mod=mod")
	if out, err := cmd.CombinedOutput(); err != nil {
		return "", fmt.Errorf("install wireguard-go: go install %s@%s: %w: %s", wgGoModule, wgGoVersion, err, strings.TrimSpace(string(out)))
	}
	return bin, nil
}

func (w *wireguardSystem) version(ctx context.Context) string {
	out, _ := exec.CommandContext(ctx, w.env.wgGo, "--version").CombinedOutput()
	v := wgGoVersion
	if first := firstLine(string(out)); first != "" {
		v += " (prints " + strings.TrimPrefix(first, "wireguard-go ") + ")"
	}
	v += goVersionOf(ctx, w.env.wgGo)
	if out, err := command(ctx, "", "wg", "--version"); err == nil {
		if f := strings.Fields(out); len(f) >= 2 {
			v += ", " + f[0] + " " + f[1] // "wireguard-tools v1.0.20210914"
		}
	}
	return v
}

func (w *wireguardSystem) transport(context.Context, *setup) string {
	return "UDP, ChaCha20-Poly1305; TUN TSO/USO, UDP GSO/GRO (wireguard-go defaults)"
}

func (w *wireguardSystem) listen(ctx context.Context, s *setup) error {
	s.dev = [2]string{ifName(0), ifName(1)}
	s.vpnAddrs()
	return w.startEnd(ctx, s, 0)
}

func (w *wireguardSystem) dial(ctx context.Context, s *setup) error {
	return w.startEnd(ctx, s, 1)
}

// wgEnds are the two ends: their tunnel addresses, and the prefixes each
// sends to the other (allowed-ips; the LAN prefixes also get a route).
var wgEnds = [2]struct {
	addr4, addr6 string
	allowed      []string
	lans         []string
}{
	{tunnelA4, tunnelA6, []string{tunnelB4 + "/32", tunnelB6 + "/128"}, []string{"10.2.0.0/24", "fd02::/64"}},
	{tunnelB4, tunnelB6, []string{tunnelA4 + "/32", tunnelA6 + "/128"}, []string{"10.1.0.0/24", "fd01::/64"}},
}

// startEnd starts wireguard-go for end i (0: gwA, listens; 1: gwB, dials)
// and configures it with wg and ip, as a user would.
func (w *wireguardSystem) startEnd(ctx context.Context, s *setup, i int) error {
	ns := [2]string{s.topo.GwA, s.topo.GwB}[i]
	dev := s.dev[i]
	s.undo = append(s.undo, func() { os.Remove(filepath.Join(wgSockDir, dev+".sock")) })
	p, err := s.start(ns, fmt.Sprintf("wireguard-%c.log", 'a'+i), w.env.wgGo, "-f", dev)
	if err != nil {
		return fmt.Errorf("start wireguard-go in %s: %w", ns, err)
	}
	err = poll(ctx, listenTimeout, upPoll, "wireguard-go's interface "+dev, func() (bool, error) {
		if p.Exited() {
			return false, fmt.Errorf("wireguard-go exited: %w", p.Wait())
		}
		_, err := s.run(ctx, ns, "wg", "show", dev)
		return err == nil, nil
	})
	if err != nil {
		return err
	}
	end := wgEnds[i]
	wgArgs := []string{"set", dev, "listen-port", wgPort, "private-key", w.keys[i].privFile,
		"peer", w.keys[1-i].pub, "allowed-ips", strings.Join(slices.Concat(end.allowed, end.lans), ",")}
	if i == 1 {
		wgArgs = append(wgArgs, "endpoint", lab.UnderlayA+":"+wgPort)
	}
	if _, err := s.run(ctx, ns, "wg", wgArgs...); err != nil {
		return fmt.Errorf("configure %s: %w", dev, err)
	}
	cmds := [][]string{
		{"addr", "add", end.addr4 + "/24", "dev", dev},
		{"addr", "add", end.addr6 + "/64", "dev", dev, "nodad"},
		{"link", "set", dev, "up"},
	}
	for _, lan := range end.lans {
		cmds = append(cmds, []string{"route", "add", lan, "dev", dev})
	}
	if err := s.ipCmds(ctx, ns, cmds...); err != nil {
		return fmt.Errorf("configure %s: %w", dev, err)
	}
	return nil
}
