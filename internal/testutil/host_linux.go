package testutil

import (
	"fmt"
	"os"
	"strconv"
	"strings"

	"github.com/tlsvpn/tlsvpn/internal/lab"
)

// readHostState reads the process's descriptors (/proc/self/fd), its child
// processes (/proc/*/stat), the namespaces of internal/lab it made and the
// interfaces of the root network namespace (/sys/class/net).
func readHostState() (hostState, error) {
	var s hostState
	var err error
	if s.fds, err = openFiles(); err != nil {
		return s, err
	}
	if s.children, err = childProcesses(); err != nil {
		return s, err
	}
	if s.namespaces, err = lab.ProcessNamespaces(); err != nil {
		return s, err
	}
	links, err := os.ReadDir("/sys/class/net")
	if err != nil {
		return s, fmt.Errorf("list interfaces: %w", err)
	}
	for _, l := range links {
		s.links = append(s.links, l.Name())
	}
	return s, nil
}

// openFiles maps each open descriptor to what it points at. The directory
// read to list them is closed by then, so its own descriptor drops out.
func openFiles() (map[int]string, error) {
	entries, err := os.ReadDir("/proc/self/fd")
	if err != nil {
		return nil, fmt.Errorf("list file descriptors: %w", err)
	}
	fds := map[int]string{}
	for _, e := range entries {
		fd, err := strconv.Atoi(e.Name())
		if err != nil {
			continue
		}
		if target, err := os.Readlink("/proc/self/fd/" + e.Name()); err == nil {
			fds[fd] = target
		}
	}
	return fds, nil
}

// childProcesses maps the pid of every child of this process to its
// command line. Processes that end while they are read are left out.
func childProcesses() (map[int]string, error) {
	entries, err := os.ReadDir("/proc")
	if err != nil {
		return nil, fmt.Errorf("list processes: %w", err)
	}
	self := os.Getpid()
	children := map[int]string{}
	for _, e := range entries {
		pid, err := strconv.Atoi(e.Name())
		if err != nil {
			continue
		}
		stat, err := os.ReadFile("/proc/" + e.Name() + "/stat")
		if err != nil || parentOf(string(stat)) != self {
			continue
		}
		cmdline, _ := os.ReadFile("/proc/" + e.Name() + "/cmdline")
		children[pid] = strings.TrimSpace(strings.ReplaceAll(string(cmdline), "\x00", " "))
	}
	return children, nil
}

// parentOf returns the parent pid in the text of /proc/PID/stat
// ("pid (comm) state ppid ..."; comm may hold spaces and parentheses), or
// -1 when the text is not of that form.
func parentOf(stat string) int {
	i := strings.LastIndexByte(stat, ')')
	if i < 0 {
		return -1
	}
	f := strings.Fields(stat[i+1:])
	if len(f) < 2 {
		return -1
	}
	ppid, err := strconv.Atoi(f[1])
	if err != nil {
		return -1
	}
	return ppid
}
