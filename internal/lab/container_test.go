package lab

import (
	"fmt"
	"net/netip"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"
)

func TestContainerBootsARealSystemdWithBusAndResolved(t *testing.T) {
	t.Parallel()
	c := Boot(t, BootOptions{})
	out, err := c.Run("cat", "/proc/1/comm")
	if err != nil || strings.TrimSpace(out) != "systemd" {
		t.Errorf("PID 1 inside the container is %q (%v); want systemd", out, err)
	}
	out, _ = c.Run("systemctl", "is-system-running")
	if s := strings.TrimSpace(out); s != "running" && s != "degraded" {
		t.Errorf("systemctl is-system-running: %q after Boot returned", s)
	}
	out, err = c.Run("systemctl", "is-active", "dbus.service", "systemd-journald.service", "systemd-resolved.service")
	if err != nil || strings.Count(out, "active\n") != 3 {
		t.Errorf("dbus, journald and resolved are not all active: %v\n%s", err, out)
	}
	if _, err := os.Stat(strings.TrimPrefix(c.BusAddress(), "unix:path=")); err != nil {
		t.Errorf("the bus socket of BusAddress is not reachable from the host: %v", err)
	}
}

func TestContainerRunReportsOutputOfAFailingCommand(t *testing.T) {
	t.Parallel()
	c := Boot(t, BootOptions{})
	_, err := c.Run("sh", "-c", "echo something broke; exit 3")
	if err == nil || !strings.Contains(err.Error(), "something broke") {
		t.Errorf("Run error %v; want it to include the command's output", err)
	}
	out, err := c.RunNet("ip", "-o", "link", "show")
	if err != nil || strings.Count(strings.TrimSpace(out), "\n") != 0 || !strings.Contains(out, "lo:") {
		t.Errorf("the container's network namespace has more than lo before JoinVeth (%v):\n%s", err, out)
	}
}

func TestJournalReadsTheMessagesOfAUnit(t *testing.T) {
	t.Parallel()
	c := Boot(t, BootOptions{})
	marker := fmt.Sprintf("journal-marker-%d", time.Now().UnixNano())
	if _, err := c.Run("systemd-run", "--unit=tvjournal", "--wait", "--quiet", "echo", marker); err != nil {
		t.Fatal(err)
	}
	var out string
	found := WaitFor(10*time.Second, 50*time.Millisecond, func() bool {
		out, _ = c.Journal("tvjournal.service")
		return strings.Contains(out, marker)
	})
	if !found {
		t.Errorf("the journal of tvjournal.service lacks %q within 10 s:\n%s", marker, out)
	}
	if out, _ := c.Journal("systemd-resolved.service"); strings.Contains(out, marker) {
		t.Errorf("the journal of another unit shows the marker:\n%s", out)
	}
}

func TestJoinVethMakesTheContainerPingableBothWays(t *testing.T) {
	t.Parallel()
	topo := New(t, Options{})
	c := Boot(t, BootOptions{})
	v, err := c.JoinVeth(topo, Veth{
		NS: topo.GwA, Addr: netip.MustParsePrefix("198.18.1.1/24"),
		ContainerAddr: netip.MustParsePrefix("198.18.1.2/24"),
	})
	if err != nil {
		t.Fatal(err)
	}
	if v.Dev != VethDev || v.ContainerDev != VethContainerDev {
		t.Errorf("JoinVeth named the ends %s and %s; want the defaults", v.Dev, v.ContainerDev)
	}
	if n, out, err := topo.Ping(topo.GwA, "198.18.1.2", 3); err != nil || n != 3 {
		t.Errorf("ping the container from gwA: %d of 3 replies, %v\n%s", n, err, out)
	}
	if n, out, err := c.Ping("198.18.1.1", 3); err != nil || n != 3 {
		t.Errorf("ping gwA from the container: %d of 3 replies, %v\n%s", n, err, out)
	}
	// The container's own programs see the link too.
	if out, err := c.Run("ip", "-o", "addr", "show", "dev", VethContainerDev); err != nil || !strings.Contains(out, "198.18.1.2/24") {
		t.Errorf("ip inside the container does not show %s with 198.18.1.2/24: %v\n%s", VethContainerDev, err, out)
	}
}

func TestJoinVethRefusesANamespaceOutsideTheTopology(t *testing.T) {
	t.Parallel()
	topo := New(t, Options{})
	c := Boot(t, BootOptions{})
	if _, err := c.JoinVeth(topo, Veth{NS: "default"}); err == nil {
		t.Error("JoinVeth to a namespace outside the topology succeeded")
	}
}

func TestFilesWrittenInAContainerStayInIt(t *testing.T) {
	t.Parallel()
	a := Boot(t, BootOptions{})
	b := Boot(t, BootOptions{})
	if err := a.WriteFile("/etc/tlsvpn/test.toml", []byte("name = \"a\"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	out, err := a.Run("stat", "-c", "%a %s", "/etc/tlsvpn/test.toml")
	if err != nil || strings.TrimSpace(out) != "600 11" {
		t.Errorf("stat of the written file: %q, %v; want mode 600 and 11 bytes", out, err)
	}
	if _, err := b.Run("test", "-e", "/etc/tlsvpn"); err == nil {
		t.Error("a file written in one container shows up in another")
	}
	if _, err := os.Stat(filepath.Join(Root(t), "etc/tlsvpn")); err == nil {
		t.Error("a file written in a container shows up in the cached root")
	}

	// An absolute symbolic link resolves inside the container, never on the host.
	target := fmt.Sprintf("/run/tlsvpn-lab-%d", time.Now().UnixNano())
	if _, err := a.Run("ln", "-s", target, "/root/link"); err != nil {
		t.Fatal(err)
	}
	if err := a.WriteFile("/root/link", []byte("inside\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Lstat(target); err == nil {
		os.Remove(target)
		t.Errorf("writing through a link in the container wrote %s on the host", target)
	}
	if out, err := a.Run("cat", target); err != nil || out != "inside\n" {
		t.Errorf("the link's target in the container holds %q, %v", out, err)
	}
}

func TestReadOnlyBindShowsAHostFile(t *testing.T) {
	t.Parallel()
	host := filepath.Join(t.TempDir(), "tool")
	if err := os.WriteFile(host, []byte("#!/bin/sh\necho bound\n"), 0o755); err != nil {
		t.Fatal(err)
	}
	c := Boot(t, BootOptions{ReadOnlyBinds: map[string]string{host: "/usr/local/bin/tool"}})
	if out, err := c.Run("tool"); err != nil || out != "bound\n" {
		t.Errorf("running the bound tool: %q, %v", out, err)
	}
	if _, err := c.Run("sh", "-c", "echo x >/usr/local/bin/tool"); err == nil {
		t.Error("the container could write to a read-only bind")
	}
}

func TestInstallPackagesBringsInWhatTheRootLacks(t *testing.T) {
	t.Parallel()
	c := Boot(t, BootOptions{})
	if _, err := c.Run("test", "-x", "/usr/bin/kill"); err == nil {
		t.Fatal("the root has /usr/bin/kill already: pick another package for this test")
	}
	if err := c.InstallPackages("procps"); err != nil {
		t.Fatal(err)
	}
	if out, err := c.Run("ps", "-o", "comm=", "-p", "1"); err != nil || strings.TrimSpace(out) != "systemd" {
		t.Errorf("ps from the installed procps: %q, %v", out, err)
	}
	if _, err := c.Run("/usr/bin/kill", "-0", "1"); err != nil {
		t.Error(err)
	}
	if _, err := os.Stat(filepath.Join(Root(t), "usr/bin/kill")); err == nil {
		t.Error("the package went into the cached root")
	}
	// Installed already: nothing to fetch, nothing to do.
	if err := c.InstallPackages("procps"); err != nil {
		t.Errorf("installing procps a second time: %v", err)
	}
}

func TestEachContainerKeepsItsUnitsInACgroupOfItsOwn(t *testing.T) {
	t.Parallel()
	a := Boot(t, BootOptions{})
	b := Boot(t, BootOptions{})
	resolved := make(map[int]string) // pid → container
	for _, c := range []*Container{a, b} {
		for _, dir := range c.cg.dirs {
			pids := unitPids(t, dir, "systemd-resolved.service")
			if len(pids) != 1 {
				t.Errorf("container %s: systemd-resolved.service cgroups below %s hold %v; want its own resolved alone", c.Name, dir, pids)
				continue
			}
			if other, ok := resolved[pids[0]]; ok && other != c.Name {
				t.Errorf("containers %s and %s share resolved %d", other, c.Name, pids[0])
			}
			resolved[pids[0]] = c.Name
		}
	}
	if len(resolved) != 2 {
		t.Errorf("resolved processes of the two containers: %v; want two", resolved)
	}
}

// unitPids returns the processes in the cgroups named unit below dir.
func unitPids(t *testing.T, dir, unit string) []int {
	t.Helper()
	var pids []int
	err := filepath.WalkDir(dir, func(path string, d os.DirEntry, err error) error {
		if err == nil && d.IsDir() && d.Name() == unit {
			found, err := readPids(filepath.Join(path, "cgroup.procs"))
			pids = append(pids, found...)
			return err
		}
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	return pids
}

func TestCloseLeavesNoProcessMountCgroupOrNetworkBehind(t *testing.T) {
	t.Parallel()
	topo := New(t, Options{})
	c := Boot(t, BootOptions{})
	if _, err := c.JoinVeth(topo, Veth{NS: topo.GwA}); err != nil {
		t.Fatal(err)
	}
	// Processes systemd does not know of: an orphan started through nsenter.
	if _, err := c.Run("sh", "-c", "sleep 300 >/dev/null 2>&1 &"); err != nil {
		t.Fatal(err)
	}
	if _, err := c.Run("systemd-run", "--unit=tvsleep", "sleep", "300"); err != nil {
		t.Fatal(err)
	}
	if left := c.leftovers(); len(left) < 3 {
		t.Fatalf("processes of the running container: %v; want systemd, its units and the sleeps", left)
	}
	cgroups := slices.Clone(c.cg.dirs)
	nspawn := c.nspawn.Process.Pid

	if err := c.Close(); err != nil {
		t.Fatalf("Close: %v", err)
	}
	if left := c.leftovers(); len(left) != 0 {
		t.Errorf("processes %v are left in the container's cgroup or pid namespace", left)
	}
	if alive(nspawn) {
		t.Errorf("systemd-nspawn (pid %d) still runs", nspawn)
	}
	for _, dir := range cgroups {
		if _, err := os.Stat(dir); err == nil {
			t.Errorf("cgroup %s is left", dir)
		}
	}
	mounts, err := os.ReadFile("/proc/self/mountinfo")
	if err != nil {
		t.Fatal(err)
	}
	for _, line := range strings.Split(string(mounts), "\n") {
		if strings.Contains(line, Root(t)) || strings.Contains(line, "nspawn") {
			t.Errorf("a mount is left: %s", line)
		}
	}
	// A veth end goes with its namespace: gwA's end is gone once the
	// container's network namespace is.
	if out, err := ip("-n", topo.GwA, "link", "show", VethDev); err == nil {
		t.Errorf("gwA's end of the container's veth is left:\n%s", out)
	}
	if _, err := c.Run("true"); err != ErrClosed {
		t.Errorf("Run after Close: %v; want ErrClosed", err)
	}
	if err := c.Close(); err != nil {
		t.Errorf("second Close: %v", err)
	}
}

func TestRootNameChangesWithThePackageList(t *testing.T) {
	before := rootName()
	saved := RootPackages
	t.Cleanup(func() { RootPackages = saved })
	RootPackages = append(slices.Clone(saved), "procps")
	if after := rootName(); after == before {
		t.Errorf("rootName %s did not change with the package list", before)
	}
	RootPackages = saved
	if again := rootName(); again != before {
		t.Errorf("rootName is %s, then %s for the same recipe", before, again)
	}
}

func TestCacheLockExcludesASecondHolder(t *testing.T) {
	needRoot(t)
	name := fmt.Sprintf("test-%d.lock", os.Getpid())
	t.Cleanup(func() { os.Remove(filepath.Join(CacheDir, name)) })
	unlock, err := lockCache(name)
	if err != nil {
		t.Fatal(err)
	}
	got := make(chan struct{})
	go func() {
		unlock2, err := lockCache(name)
		if err == nil {
			unlock2()
		}
		close(got)
	}()
	select {
	case <-got:
		t.Fatal("a second lockCache got the lock while the first held it")
	case <-time.After(200 * time.Millisecond):
	}
	unlock()
	select {
	case <-got:
	case <-time.After(10 * time.Second):
		t.Fatal("the second lockCache did not get the lock within 10 s of its release")
	}
}

func TestRemoveTreeRefusesAFolderWithAMount(t *testing.T) {
	needRoot(t)
	dir := t.TempDir()
	mnt := filepath.Join(dir, "sub", "mnt")
	if err := os.MkdirAll(mnt, 0o755); err != nil {
		t.Fatal(err)
	}
	if _, err := combined(exec.Command("mount", "-t", "tmpfs", "tlsvpn-lab-test", mnt)); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { combined(exec.Command("umount", mnt)) })
	kept := filepath.Join(mnt, "kept")
	if err := os.WriteFile(kept, nil, 0o644); err != nil {
		t.Fatal(err)
	}
	if err := removeTree(dir); err == nil || !strings.Contains(err.Error(), mnt+" is mounted") {
		t.Errorf("removeTree of a folder with a mount below: %v; want a refusal naming %s", err, mnt)
	}
	if _, err := os.Stat(kept); err != nil {
		t.Errorf("removeTree touched the mounted file system: %v", err)
	}
	if _, err := combined(exec.Command("umount", mnt)); err != nil {
		t.Fatal(err)
	}
	if err := removeTree(dir); err != nil {
		t.Errorf("removeTree once unmounted: %v", err)
	}
	if _, err := os.Stat(dir); err == nil {
		t.Error("removeTree left the folder")
	}
}

// BenchmarkContainerBoot measures Boot (until the system is running) and
// Close (poweroff and checks) on the cached root, and reports their medians.
func BenchmarkContainerBoot(b *testing.B) {
	Root(b)
	var boots, closes []time.Duration
	for b.Loop() {
		start := time.Now()
		c := Boot(b, BootOptions{})
		booted := time.Now()
		if err := c.Close(); err != nil {
			b.Fatal(err)
		}
		boots = append(boots, booted.Sub(start))
		closes = append(closes, time.Since(booted))
	}
	b.ReportMetric(float64(Summarize(boots).Median.Milliseconds()), "boot-ms")
	b.ReportMetric(float64(Summarize(closes).Median.Milliseconds()), "close-ms")
}
