package lab

import (
	"bufio"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"syscall"
)

// cgroupRoot is where the cgroup hierarchies are mounted.
const cgroupRoot = "/sys/fs/cgroup"

// cgroup is one cgroup of our own, made in every hierarchy that tracks
// processes: the unified (v2) one and, on a hybrid or legacy host, systemd's
// named v1 hierarchy. A container runs in one, and its systemd makes its
// unit cgroups below it. Without it, systemd-nspawn --keep-unit puts every
// container in one "payload" cgroup beside this process: the unit cgroups of
// concurrent containers mix (one systemd-resolved.service cgroup holds the
// resolved of each, muddling what each systemd sees as its unit's processes)
// and stay behind when the containers are gone. With it, Close also finds
// and kills whatever is left by cgroup.
type cgroup struct {
	dirs    []string // the cgroup's folder in each hierarchy
	unified string   // the one in the v2 hierarchy; "" when there is none
}

// newCgroup makes the cgroup name below this process's own cgroup in each
// hierarchy. On error it removes what it made.
func newCgroup(name string) (*cgroup, error) {
	own, err := ownCgroups()
	if err != nil {
		return nil, err
	}
	g := &cgroup{}
	for _, h := range cgroupHierarchies() {
		parent, ok := own[h.key]
		if !ok {
			continue
		}
		dir := filepath.Join(cgroupRoot, h.mount, parent, name)
		if err := os.Mkdir(dir, 0o755); err != nil {
			return nil, errors.Join(fmt.Errorf("make cgroup: %w", err), g.remove())
		}
		g.dirs = append(g.dirs, dir)
		if h.key == "0" {
			g.unified = dir
		}
	}
	if len(g.dirs) == 0 {
		return nil, errors.New("make cgroup: no cgroup hierarchy found under " + cgroupRoot)
	}
	return g, nil
}

// hierarchy is a cgroup hierarchy: its key in /proc/PID/cgroup ("0" for v2,
// "name=systemd" for systemd's v1 one) and its mount below cgroupRoot.
type hierarchy struct{ key, mount string }

// cgroupHierarchies lists the process-tracking hierarchies of this host:
// unified alone; hybrid, with v2 at unified/ and name=systemd at systemd/;
// or legacy, name=systemd alone.
func cgroupHierarchies() []hierarchy {
	if _, err := os.Stat(filepath.Join(cgroupRoot, "cgroup.controllers")); err == nil {
		return []hierarchy{{"0", ""}}
	}
	hs := []hierarchy{{"name=systemd", "systemd"}}
	if _, err := os.Stat(filepath.Join(cgroupRoot, "unified", "cgroup.controllers")); err == nil {
		hs = append(hs, hierarchy{"0", "unified"})
	}
	return hs
}

// ownCgroups maps each hierarchy key of /proc/self/cgroup ("0" for v2, else
// the controller list) to this process's cgroup path in it.
func ownCgroups() (map[string]string, error) {
	b, err := os.ReadFile("/proc/self/cgroup")
	if err != nil {
		return nil, fmt.Errorf("read own cgroups: %w", err)
	}
	m := make(map[string]string)
	for _, line := range strings.Split(strings.TrimSpace(string(b)), "\n") {
		// hierarchy-ID:controller-list:path; v2 is "0::/path".
		f := strings.SplitN(line, ":", 3)
		if len(f) != 3 {
			return nil, fmt.Errorf("read own cgroups: unexpected line %q", line)
		}
		key := f[1]
		if f[0] == "0" && key == "" {
			key = "0"
		}
		m[key] = f[2]
	}
	return m, nil
}

// procsFiles returns the cgroup.procs file of each hierarchy's cgroup: a
// process writing its pid into all of them enters the cgroup.
func (g *cgroup) procsFiles() []string {
	files := make([]string, len(g.dirs))
	for i, d := range g.dirs {
		files[i] = filepath.Join(d, "cgroup.procs")
	}
	return files
}

// pids lists every process in the cgroup or below it, in any hierarchy.
func (g *cgroup) pids() ([]int, error) {
	var pids []int
	for _, dir := range g.dirs {
		err := filepath.WalkDir(dir, func(path string, d fs.DirEntry, err error) error {
			if err != nil {
				return err
			}
			if d.Name() != "cgroup.procs" {
				return nil
			}
			found, err := readPids(path)
			pids = append(pids, found...)
			return err
		})
		if err != nil && !errors.Is(err, fs.ErrNotExist) {
			return nil, fmt.Errorf("list processes of cgroup %s: %w", dir, err)
		}
	}
	slices.Sort(pids)
	return slices.Compact(pids), nil
}

func readPids(path string) ([]int, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	var pids []int
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		pid, err := strconv.Atoi(sc.Text())
		if err != nil {
			return nil, fmt.Errorf("%s: unexpected line %q", path, sc.Text())
		}
		pids = append(pids, pid)
	}
	return pids, sc.Err()
}

// kill sends SIGKILL to every process in the cgroup and below: at once
// through cgroup.kill where the v2 hierarchy has it, and to each listed pid
// in any case (a v1-only host, or a process that just moved in).
func (g *cgroup) kill() error {
	var errs []error
	if g.unified != "" {
		err := os.WriteFile(filepath.Join(g.unified, "cgroup.kill"), []byte("1"), 0)
		if err != nil && !errors.Is(err, fs.ErrNotExist) {
			errs = append(errs, fmt.Errorf("kill cgroup %s: %w", g.unified, err))
		}
	}
	pids, err := g.pids()
	errs = append(errs, err)
	for _, pid := range pids {
		_ = syscall.Kill(pid, syscall.SIGKILL) // ESRCH: gone already
	}
	return errors.Join(errs...)
}

// remove deletes the cgroup and the ones below it (a container's systemd
// leaves its unit cgroups behind), deepest first. They must be empty.
func (g *cgroup) remove() error {
	var errs []error
	for _, dir := range g.dirs {
		var sub []string
		err := filepath.WalkDir(dir, func(path string, d fs.DirEntry, err error) error {
			if err == nil && d.IsDir() {
				sub = append(sub, path)
			}
			return err
		})
		if err != nil && !errors.Is(err, fs.ErrNotExist) {
			errs = append(errs, fmt.Errorf("remove cgroup %s: %w", dir, err))
			continue
		}
		for i := len(sub) - 1; i >= 0; i-- {
			if err := syscall.Rmdir(sub[i]); err != nil && !errors.Is(err, fs.ErrNotExist) {
				errs = append(errs, fmt.Errorf("remove cgroup %s: %w", sub[i], err))
			}
		}
	}
	return errors.Join(errs...)
}
