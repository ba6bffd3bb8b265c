package lab

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path"
	"path/filepath"
	"strconv"
	"strings"
)

// WriteFile writes data to the file name inside the container with
// permissions perm, making missing parent folders. name is absolute and
// resolves inside the container, its symbolic links included.
func (c *Container) WriteFile(name string, data []byte, perm os.FileMode) error {
	return c.writeFrom(bytes.NewReader(data), name, perm)
}

// CopyIn copies the host file src to the file name inside the container,
// with src's permission bits (see WriteFile).
func (c *Container) CopyIn(src, name string) error {
	f, err := os.Open(src)
	if err != nil {
		return fmt.Errorf("copy %s into container %s: %w", src, c.Name, err)
	}
	defer f.Close()
	fi, err := f.Stat()
	if err != nil {
		return fmt.Errorf("copy %s into container %s: %w", src, c.Name, err)
	}
	return c.writeFrom(f, name, fi.Mode().Perm())
}

// writeScript writes its standard input to $1 with mode $2, inside the
// container: a path is resolved by the container's own programs, so a
// symbolic link in it can never lead to a host file.
const writeScript = `mkdir -p -- "$(dirname -- "$1")" && cat >"$1" && chmod "$2" -- "$1"`

func (c *Container) writeFrom(r io.Reader, name string, perm os.FileMode) error {
	if !path.IsAbs(name) {
		return fmt.Errorf("write %s in container %s: want an absolute path", name, c.Name)
	}
	if err := c.check(); err != nil {
		return err
	}
	ctx, cancel := context.WithTimeout(context.Background(), runTimeout)
	defer cancel()
	cmd := c.Command(ctx, "sh", "-c", writeScript, "sh", name, strconv.FormatUint(uint64(perm), 8))
	cmd.Stdin = r
	if _, err := combined(cmd); err != nil {
		return fmt.Errorf("write %s in container %s: %w", name, c.Name, err)
	}
	return nil
}

// containerDebDir is where Install puts .deb files inside the container.
const containerDebDir = "/var/cache/tlsvpn-test"

// Install installs the .deb files debs (host paths) in the container, in one
// dpkg run; what they depend on must be installed already or be among them
// (InstallPackages works that out). The installation lives in the
// container's overlay: the cached Root is left alone.
func (c *Container) Install(debs ...string) error {
	if len(debs) == 0 {
		return nil
	}
	in := make([]string, len(debs))
	for i, d := range debs {
		in[i] = path.Join(containerDebDir, filepath.Base(d))
		if err := c.CopyIn(d, in[i]); err != nil {
			return err
		}
	}
	args := append([]string{"DEBIAN_FRONTEND=noninteractive", "dpkg", "--install"}, in...)
	if _, err := c.Run("env", args...); err != nil {
		return fmt.Errorf("install packages in container %s: %w", c.Name, err)
	}
	if _, err := c.Run("rm", "-r", "--", containerDebDir); err != nil {
		return fmt.Errorf("install packages in container %s: %w", c.Name, err)
	}
	return nil
}

// fetchAttempts bounds the downloads of InstallPackages (the mirror may fail
// once).
const fetchAttempts = 3

// InstallPackages installs the Debian packages names in the container, with
// whatever they need that the container lacks. The host's apt works out that
// set against the container's dpkg status and fetches it from the mirror the
// host uses into CacheDir/debs, where later runs find it; Install installs
// it. The host's package lists must be there (apt-get update).
func (c *Container) InstallPackages(names ...string) error {
	debs, err := c.fetchDebs(names)
	if err != nil {
		return fmt.Errorf("install %s in container %s: %w", strings.Join(names, " "), c.Name, err)
	}
	return c.Install(debs...)
}

// fetchDebs returns the paths in CacheDir/debs of the .deb files that
// install names in the container, downloading those not there yet.
func (c *Container) fetchDebs(names []string) ([]string, error) {
	if err := c.check(); err != nil {
		return nil, err
	}
	tmp, err := os.MkdirTemp("", "tlsvpn-apt-")
	if err != nil {
		return nil, err
	}
	defer os.RemoveAll(tmp)
	// A copy: apt resolves the path /proc/PID/root/... to the host's own
	// status file.
	status := filepath.Join(tmp, "status")
	data, err := c.Run("cat", "/var/lib/dpkg/status")
	if err != nil {
		return nil, err
	}
	if err := os.WriteFile(status, []byte(data), 0o644); err != nil {
		return nil, err
	}
	// apt lists what it must fetch into an empty folder: all of the set.
	out, err := aptGet(status, filepath.Join(tmp, "archives"), "--print-uris", names)
	if err != nil {
		return nil, err
	}
	var files []string
	for _, line := range strings.Split(strings.TrimSpace(out), "\n") {
		// 'URI' FILE SIZE HASH
		if f := strings.Fields(line); len(f) == 4 && strings.HasSuffix(f[1], ".deb") && !strings.Contains(f[1], "/") {
			files = append(files, filepath.Join(CacheDir, "debs", f[1]))
		}
	}
	unlock, err := lockCache("debs.lock")
	if err != nil {
		return nil, err
	}
	defer unlock()
	for attempt := 1; attempt <= fetchAttempts; attempt++ {
		if _, err = aptGet(status, filepath.Join(CacheDir, "debs"), "--download-only", names); err == nil {
			break
		}
	}
	if err != nil {
		return nil, err
	}
	for _, f := range files {
		if !isFile(f) {
			return nil, fmt.Errorf("apt-get did not fetch %s", filepath.Base(f))
		}
	}
	return files, nil
}

// aptGet runs the host's "apt-get install" with mode (--print-uris or
// --download-only) for names, as if the dpkg status file were status and
// the package cache archives, and returns its standard output. apt locks
// nothing: fetchDebs holds the cache lock.
func aptGet(status, archives, mode string, names []string) (string, error) {
	if err := os.MkdirAll(filepath.Join(archives, "partial"), 0o755); err != nil {
		return "", err
	}
	ctx, cancel := context.WithTimeout(context.Background(), 5*runTimeout)
	defer cancel()
	args := []string{"install", "--yes", "-qq", "--no-install-recommends", mode,
		"-o", "Dir::State::status=" + status, "-o", "Dir::Cache::archives=" + archives,
		"-o", "Debug::NoLocking=1", "--"}
	cmd := exec.CommandContext(ctx, "apt-get", append(args, names...)...)
	cmd.WaitDelay = waitDelay
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		return "", fmt.Errorf("apt-get %s: %w: %s (are the host's package lists there? apt-get update)",
			mode, err, strings.TrimSpace(stderr.String()))
	}
	return string(out), nil
}

func isFile(path string) bool {
	fi, err := os.Stat(path)
	return err == nil && fi.Mode().IsRegular()
}
