package main

import (
	"bufio"
	"context"
	"fmt"
	"os"
	"os/exec"
	"runtime"
	"slices"
	"strings"
)

// machineInfo describes the box, for the report.
type machineInfo struct {
	nproc  int
	cpu    string
	kernel string
	goVer  string // the Go toolchain that built this bench
	iperf3 string
}

func readMachine(ctx context.Context) machineInfo {
	m := machineInfo{nproc: runtime.NumCPU(), cpu: cpuModel(), kernel: kernelRelease(), goVer: runtime.Version()}
	if out, err := command(ctx, "", "iperf3", "--version"); err == nil {
		m.iperf3 = firstLine(out)
	}
	return m
}

// cpuModel returns the first "model name" of /proc/cpuinfo.
func cpuModel() string {
	f, err := os.Open("/proc/cpuinfo")
	if err != nil {
		return "unknown CPU"
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		if k, v, ok := strings.Cut(sc.Text(), ":"); ok && strings.TrimSpace(k) == "model name" {
			return strings.TrimSpace(v)
		}
	}
	return "unknown CPU"
}

// kernelRelease returns the running kernel's release.
func kernelRelease() string {
	b, err := os.ReadFile("/proc/sys/kernel/osrelease")
	if err != nil {
		return "unknown"
	}
	return strings.TrimSpace(string(b))
}

// tool is a program the bench runs and the Debian package that has it.
type tool struct{ name, pkg string }

// toolsFor lists the programs the chosen systems need.
func toolsFor(systems []string, needGo bool) []tool {
	tools := []tool{{"ip", "iproute2"}, {"ss", "iproute2"}, {"tc", "iproute2"}, {"ping", "iputils-ping"}, {"iperf3", "iperf3"}}
	if slices.Contains(systems, nameWireGuard) {
		tools = append(tools, tool{"wg", "wireguard-tools"})
		if needGo {
			tools = append(tools, tool{"go", "Go 1.26 or newer (to install wireguard-go)"})
		}
	}
	if slices.Contains(systems, nameOpenVPN) {
		tools = append(tools, tool{"openvpn", "openvpn"})
	}
	return tools
}

// checkTools returns an error naming every missing program and the command
// that installs the Debian ones. The bench installs no packages itself.
func checkTools(tools []tool) error {
	var missing, pkgs []string
	for _, t := range tools {
		if _, err := exec.LookPath(t.name); err != nil {
			missing = append(missing, t.name+" ("+t.pkg+")")
			if !strings.Contains(t.pkg, " ") && !slices.Contains(pkgs, t.pkg) {
				pkgs = append(pkgs, t.pkg)
			}
		}
	}
	if len(missing) == 0 {
		return nil
	}
	msg := "missing programs: " + strings.Join(missing, ", ")
	if len(pkgs) > 0 {
		msg += "\ninstall them with: apt-get install -y --no-install-recommends " + strings.Join(pkgs, " ")
		msg += "\n(--no-install-recommends matters: wireguard-tools otherwise pulls in a kernel image)"
	}
	return fmt.Errorf("%s", msg)
}

// command runs name with args in the bench's own namespace (for commands
// that touch no network), with stdin as input, and returns its stdout.
func command(ctx context.Context, stdin, name string, args ...string) (string, error) {
	cmd := exec.CommandContext(ctx, name, args...)
	cmd.Stdin = strings.NewReader(stdin)
	var stderr strings.Builder
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		return "", fmt.Errorf("%s %s: %w: %s", name, strings.Join(args, " "), err, strings.TrimSpace(stderr.String()))
	}
	return string(out), nil
}

// goVersionOf returns ", go1.x.y" for a Go binary ("go version FILE"), or ""
// when that cannot be told.
func goVersionOf(ctx context.Context, bin string) string {
	out, err := command(ctx, "", "go", "version", bin)
	if err != nil {
		return ""
	}
	f := strings.Fields(out) // "FILE: go1.26.8"
	if len(f) < 2 {
		return ""
	}
	return ", " + f[len(f)-1]
}

// firstLine returns the first line of s, trimmed.
func firstLine(s string) string {
	line, _, _ := strings.Cut(strings.TrimSpace(s), "\n")
	return strings.TrimSpace(line)
}

// logTailLines is how much of a log a failure report shows.
const logTailLines = 15

// tail returns the last n lines of the file at path, or a note why not.
func tail(path string, n int) string {
	b, err := os.ReadFile(path)
	if err != nil {
		return fmt.Sprintf("(cannot read %s: %v)\n", path, err)
	}
	lines := strings.Split(strings.TrimRight(string(b), "\n"), "\n")
	if len(lines) > n {
		lines = lines[len(lines)-n:]
	}
	return "    " + strings.Join(lines, "\n    ") + "\n"
}
