package lab

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"
)

// CacheDir holds what the container tests keep between runs, outside the
// repository: the Debian roots (one folder per recipe), the .deb files they
// were built from (debootstrap/) and those tests installed (debs/). A CI run
// on a machine that already ran the tests reuses it; deleting it only costs
// a rebuild.
const CacheDir = "/var/cache/tlsvpn-test"

// The container root's recipe. Any change to it gives the root a new folder
// name (see rootName), so a stale root is never booted.
const (
	rootSuite   = "bookworm" // Debian 12
	rootVariant = "minbase"
	// rootRecipe names the steps of buildRoot; raise it when they change.
	rootRecipe = 1
)

// RootPackages are the packages the container root has beyond minbase.
// A test that needs more installs them into its own container
// (Container.InstallPackages), leaving the cached root alone.
var RootPackages = []string{"systemd", "systemd-sysv", "dbus", "iproute2", "systemd-resolved"}

// Bounds of the root build.
const (
	rootBuildAttempts = 3                // debootstrap runs (the mirror may fail once)
	rootBuildTimeout  = 10 * time.Minute // one debootstrap run (4 minutes on a busy 2-core machine)
)

// rootOnce remembers the root this process found or built.
var rootOnce struct {
	sync.Mutex
	dir string
}

// Root returns the cached Debian root folder, building it first when the
// cache lacks it (1 to 5 minutes, logged through tb). The folder must never
// be written to: Boot runs containers on an overlay above it. Concurrent
// test processes share one build: they wait on a lock file, and the root
// appears under its final name only once complete. Not root, Root skips the
// test; a missing tool or a failed build ends it with tb.Fatalf.
func Root(tb testing.TB) string {
	tb.Helper()
	if os.Geteuid() != 0 {
		tb.Skip("needs root: builds and boots a Debian container")
	}
	for _, tool := range []string{"debootstrap", "systemd-nspawn", "nsenter", "unshare", "apt-get"} {
		if _, err := exec.LookPath(tool); err != nil {
			tb.Fatalf("lab: %s not found: install debootstrap, systemd-container and util-linux", tool)
		}
	}
	rootOnce.Lock()
	defer rootOnce.Unlock()
	if rootOnce.dir == "" {
		dir, err := ensureRoot(tb.Logf)
		if err != nil {
			tb.Fatalf("lab: %v", err)
		}
		rootOnce.dir = dir
	}
	return rootOnce.dir
}

// rootName is the root's folder name in CacheDir: the suite and a hash of
// the recipe and the package list.
func rootName() string {
	sum := sha256.Sum256(fmt.Appendf(nil, "%d %s %s %s", rootRecipe, rootSuite, rootVariant, strings.Join(RootPackages, ",")))
	return "debian-" + rootSuite + "-" + hex.EncodeToString(sum[:6])
}

// ensureRoot returns the root's folder, building it under the cache lock
// when it is missing.
func ensureRoot(logf func(string, ...any)) (string, error) {
	dir := filepath.Join(CacheDir, rootName())
	if isDir(dir) {
		return dir, nil
	}
	unlock, err := lockCache(rootName() + ".lock")
	if err != nil {
		return "", err
	}
	defer unlock()
	if isDir(dir) { // another process built it while we waited
		return dir, nil
	}
	if err := removeStale(dir + ".tmp-*"); err != nil {
		return "", err
	}
	start := time.Now()
	logf("lab: building the container root %s (Debian %s), once per cache", dir, rootSuite)
	tmp, err := buildRoot(dir, logf)
	if err != nil {
		return "", err
	}
	if err := os.Rename(tmp, dir); err != nil {
		return "", errors.Join(fmt.Errorf("put the container root in place: %w", err), removeTree(tmp))
	}
	logf("lab: built the container root in %v", time.Since(start).Round(time.Second))
	return dir, nil
}

// buildRoot runs debootstrap into a new temporary folder beside dir, up to
// rootBuildAttempts times, and returns that folder. Downloaded packages stay
// in CacheDir/debootstrap, so a retry fetches only what is missing.
func buildRoot(dir string, logf func(string, ...any)) (string, error) {
	debs := filepath.Join(CacheDir, "debootstrap")
	if err := os.MkdirAll(debs, 0o755); err != nil {
		return "", fmt.Errorf("build the container root: %w", err)
	}
	var errs []error
	for attempt := 1; attempt <= rootBuildAttempts; attempt++ {
		tmp, err := os.MkdirTemp(CacheDir, filepath.Base(dir)+".tmp-")
		if err != nil {
			return "", fmt.Errorf("build the container root: %w", err)
		}
		err = os.Chmod(tmp, 0o755) // it becomes the container's "/"
		if err == nil {
			err = debootstrap(tmp, debs)
		}
		if err == nil {
			err = finishRoot(tmp)
		}
		if err == nil {
			return tmp, nil
		}
		errs = append(errs, fmt.Errorf("attempt %d: %w", attempt, err), removeTree(tmp))
		logf("lab: container root build attempt %d of %d failed: %v", attempt, rootBuildAttempts, err)
	}
	return "", fmt.Errorf("build the container root %s: %w", dir, errors.Join(errs...))
}

// debootstrap installs the root into dir. It runs in mount and pid
// namespaces of its own, so the /proc and /sys it mounts inside dir vanish
// with it even when it is killed, and killing it kills everything it started.
func debootstrap(dir, debs string) error {
	ctx, cancel := context.WithTimeout(context.Background(), rootBuildTimeout)
	defer cancel()
	args := []string{"--mount", "--propagation", "private", "--pid", "--fork", "--kill-child", "--mount-proc",
		"debootstrap", "--variant=" + rootVariant, "--cache-dir=" + debs,
		"--include=" + strings.Join(RootPackages, ","), rootSuite, dir}
	if m := debianMirror(); m != "" {
		args = append(args, m)
	}
	var out bytes.Buffer
	cmd := exec.CommandContext(ctx, "unshare", args...)
	cmd.Stdout, cmd.Stderr = &out, &out
	cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
	cmd.WaitDelay = waitDelay
	done := make(chan struct{})
	if err := startLocked(cmd, done); err != nil {
		return fmt.Errorf("debootstrap: %w", err)
	}
	<-done
	if !cmd.ProcessState.Success() {
		status := cmd.ProcessState.String()
		if ctx.Err() != nil {
			status += fmt.Sprintf(" (timed out after %v)", rootBuildTimeout)
		}
		return fmt.Errorf("debootstrap: %s: %s", status, lastLines(out.String(), 15))
	}
	return nil
}

// debianMirror returns the host's Debian mirror for rootSuite as apt is
// configured (apt-get indextargets), or "" for debootstrap's default.
func debianMirror() string {
	ctx, cancel := context.WithTimeout(context.Background(), runTimeout)
	defer cancel()
	out, err := exec.CommandContext(ctx, "apt-get", "indextargets", "--format", "$(REPO_URI)",
		"Release: "+rootSuite, "Identifier: Packages").Output()
	if err != nil {
		return ""
	}
	uri, _, _ := strings.Cut(string(out), "\n")
	return strings.TrimSpace(uri)
}

// finishRoot trims a fresh root: the .deb files debootstrap left in it are
// kept in CacheDir/debootstrap already.
func finishRoot(dir string) error {
	debs, err := filepath.Glob(filepath.Join(dir, "var/cache/apt/archives/*.deb"))
	if err != nil {
		return err
	}
	for _, d := range debs {
		if err := os.Remove(d); err != nil {
			return fmt.Errorf("trim the container root: %w", err)
		}
	}
	return nil
}

// lockCache takes the exclusive lock file name in CacheDir, waiting for it,
// and returns its release. The lock is on the open file: it is released
// also when the process dies, and two calls in one process exclude each
// other too.
func lockCache(name string) (unlock func(), err error) {
	if err := os.MkdirAll(CacheDir, 0o755); err != nil {
		return nil, fmt.Errorf("lock %s: %w", name, err)
	}
	f, err := os.OpenFile(filepath.Join(CacheDir, name), os.O_CREATE|os.O_RDWR, 0o644)
	if err != nil {
		return nil, fmt.Errorf("lock %s: %w", name, err)
	}
	for {
		err = syscall.Flock(int(f.Fd()), syscall.LOCK_EX)
		if err != syscall.EINTR {
			break
		}
	}
	if err != nil {
		f.Close()
		return nil, fmt.Errorf("lock %s: %w", f.Name(), err)
	}
	return func() { f.Close() }, nil
}

// removeStale removes the folders matching pattern: builds that a killed
// process left behind. The caller holds the cache lock.
func removeStale(pattern string) error {
	stale, err := filepath.Glob(pattern)
	if err != nil {
		return err
	}
	var errs []error
	for _, dir := range stale {
		errs = append(errs, removeTree(dir))
	}
	return errors.Join(errs...)
}

// removeTree deletes dir and everything below it, but refuses when anything
// is mounted there: deleting across a mount could reach the host's files.
func removeTree(dir string) error {
	mounts, err := os.ReadFile("/proc/self/mountinfo")
	if err != nil {
		return fmt.Errorf("remove %s: %w", dir, err)
	}
	for _, line := range strings.Split(string(mounts), "\n") {
		// The fifth field is the mount point (with spaces escaped as \040).
		if f := strings.Fields(line); len(f) > 4 && (f[4] == dir || strings.HasPrefix(f[4], dir+"/")) {
			return fmt.Errorf("remove %s: %s is mounted; unmount it first", dir, f[4])
		}
	}
	if err := os.RemoveAll(dir); err != nil {
		return fmt.Errorf("remove %s: %w", dir, err)
	}
	return nil
}

func isDir(path string) bool {
	fi, err := os.Stat(path)
	return err == nil && fi.IsDir()
}

// lastLines returns the last n lines of s, trimmed.
func lastLines(s string, n int) string {
	lines := strings.Split(strings.TrimSpace(s), "\n")
	return strings.Join(lines[max(0, len(lines)-n):], "\n")
}
