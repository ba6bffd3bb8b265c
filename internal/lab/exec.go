package lab

import (
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"syscall"
	"time"
)

// waitDelay bounds how long a finished command's output pipes may stay open
// (held by a child it left behind) before Run gives up on them.
const waitDelay = 5 * time.Second

// ip runs ip(8) with args, to completion, and returns its combined output.
// The error includes the command line and the output.
func ip(args ...string) (string, error) {
	ctx, cancel := context.WithTimeout(context.Background(), runTimeout)
	defer cancel()
	return combined(exec.CommandContext(ctx, "ip", args...))
}

func combined(cmd *exec.Cmd) (string, error) {
	cmd.WaitDelay = waitDelay
	out, err := cmd.CombinedOutput()
	if err != nil {
		return string(out), fmt.Errorf("%s: %w: %s", strings.Join(cmd.Args, " "), err, strings.TrimSpace(string(out)))
	}
	return string(out), nil
}

// Run runs the program name with args inside namespace ns, to completion,
// with a timeout of 60 s, and returns its combined stdout and stderr. A
// non-zero exit is an error that includes the command and its output.
func (t *Topology) Run(ns string, name string, args ...string) (string, error) {
	return t.RunContext(context.Background(), ns, name, args...)
}

// RunContext is Run, also ended (SIGKILL) when ctx is done.
func (t *Topology) RunContext(ctx context.Context, ns string, name string, args ...string) (string, error) {
	if err := t.check(ns); err != nil {
		return "", err
	}
	ctx, cancel := context.WithTimeout(ctx, runTimeout)
	defer cancel()
	return combined(exec.CommandContext(ctx, "ip", netnsExec(ns, name, args)...))
}

// Start starts the program name with args inside namespace ns, in the
// background, with stdout and stderr written to logPath (created or
// truncated). The process gets its own process group, so a terminal's ^C
// reaches only its owner, who stops it with Stop; Close kills it in any case.
func (t *Topology) Start(ns, logPath string, name string, args ...string) (*Proc, error) {
	if err := t.owns(ns); err != nil {
		return nil, err
	}
	t.mu.Lock()
	defer t.mu.Unlock()
	if t.closed {
		return nil, ErrClosed
	}
	log, err := os.OpenFile(logPath, os.O_CREATE|os.O_WRONLY|os.O_TRUNC, 0o644)
	if err != nil {
		return nil, fmt.Errorf("start %s in %s: %w", name, ns, err)
	}
	cmd := exec.Command("ip", netnsExec(ns, name, args)...)
	cmd.Stdout, cmd.Stderr = log, log
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	if err := cmd.Start(); err != nil {
		log.Close()
		return nil, fmt.Errorf("start %s in %s: %w", name, ns, err)
	}
	p := newProc(cmd, name, log)
	t.procs = append(t.procs, p)
	return p, nil
}

// netnsExec returns the ip(8) arguments that run name in ns. "ip netns exec"
// execs the program in place, so the started pid is the program's own.
func netnsExec(ns, name string, args []string) []string {
	return append([]string{"netns", "exec", ns, name}, args...)
}

// killAll sends SIGKILL to every process in namespace ns, except this one,
// until none is left or killTimeout passes.
func killAll(ns string) error {
	var pids []int
	var err error
	gone := WaitFor(killTimeout, 20*time.Millisecond, func() bool {
		pids, err = nsPids(ns)
		for _, pid := range pids {
			_ = syscall.Kill(pid, syscall.SIGKILL) // ESRCH: it is gone already
		}
		return err == nil && len(pids) == 0
	})
	switch {
	case gone:
		return nil
	case err != nil:
		return fmt.Errorf("kill processes in %s: %w", ns, err)
	default:
		return fmt.Errorf("kill processes in %s: pids %v still there after %v", ns, pids, killTimeout)
	}
}

// nsPids lists the processes in namespace ns ("ip netns pids"), leaving out
// this process, which may show up when its main thread visits ns. Zombies are
// not listed: they have left their namespaces.
func nsPids(ns string) ([]int, error) {
	out, err := ip("netns", "pids", ns)
	if err != nil {
		return nil, err
	}
	var pids []int
	for _, f := range strings.Fields(out) {
		pid, err := strconv.Atoi(f)
		if err != nil {
			return nil, errors.New("ip netns pids: unexpected output " + strconv.Quote(out))
		}
		if pid != os.Getpid() {
			pids = append(pids, pid)
		}
	}
	return pids, nil
}
