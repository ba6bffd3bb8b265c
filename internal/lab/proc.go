package lab

import (
	"errors"
	"fmt"
	"os"
	"os/exec"
	"syscall"
	"time"
)

// Proc is a process started by Topology.Start.
//
// Its methods may be called from several goroutines. A goroutine owned by the
// Proc reaps the process and closes its log file as soon as it exits; the
// Topology's Close makes sure that happens.
type Proc struct {
	cmd  *exec.Cmd
	name string
	done chan struct{} // closed once the process is reaped and err is set
	err  error         // cmd.Wait's result
}

// stopKillWait bounds Stop's wait after SIGKILL.
const stopKillWait = 5 * time.Second

func newProc(cmd *exec.Cmd, name string, log *os.File) *Proc {
	p := &Proc{cmd: cmd, name: name, done: make(chan struct{})}
	go func() {
		p.err = cmd.Wait()
		log.Close()
		close(p.done)
	}()
	return p
}

// Pid returns the process id (the program's own: ip execs it in place).
func (p *Proc) Pid() int { return p.cmd.Process.Pid }

// Signal sends sig to the process. After the process has been reaped it
// returns an error wrapping os.ErrProcessDone.
func (p *Proc) Signal(sig os.Signal) error {
	if err := p.cmd.Process.Signal(sig); err != nil {
		return fmt.Errorf("signal %s (pid %d): %w", p.name, p.Pid(), err)
	}
	return nil
}

// Exited reports whether the process has exited and been reaped.
func (p *Proc) Exited() bool { return isClosed(p.done) }

// Wait blocks until the process has exited and returns how it ended, as
// exec.Cmd.Wait reports it (nil for exit status 0).
func (p *Proc) Wait() error {
	<-p.done
	return p.err
}

// Stop sends SIGTERM, waits up to timeout, then sends SIGKILL, and waits
// until the process is reaped. It returns nil when the process exited with
// status 0 or died of SIGTERM or SIGKILL; otherwise how it ended (also when
// it had ended before Stop). Stop may be called more than once.
func (p *Proc) Stop(timeout time.Duration) error {
	if !p.Exited() {
		if err := p.Signal(syscall.SIGTERM); err != nil && !errors.Is(err, os.ErrProcessDone) {
			return err
		}
	}
	if !p.waitTimeout(timeout) {
		if err := p.Signal(syscall.SIGKILL); err != nil && !errors.Is(err, os.ErrProcessDone) {
			return err
		}
		if !p.waitTimeout(stopKillWait) {
			return fmt.Errorf("stop %s (pid %d): still running %v after SIGKILL", p.name, p.Pid(), stopKillWait)
		}
	}
	if p.err != nil && !killedByStop(p.err) {
		return fmt.Errorf("stop %s (pid %d): %w", p.name, p.Pid(), p.err)
	}
	return nil
}

func (p *Proc) waitTimeout(d time.Duration) bool { return waitClosed(p.done, d) }

// isClosed reports whether done is closed.
func isClosed(done <-chan struct{}) bool {
	select {
	case <-done:
		return true
	default:
		return false
	}
}

// waitClosed waits up to d for done to be closed and reports whether it was.
func waitClosed(done <-chan struct{}, d time.Duration) bool {
	timer := time.NewTimer(d)
	defer timer.Stop()
	select {
	case <-done:
		return true
	case <-timer.C:
		return false
	}
}

// killedByStop reports whether err says the process died of SIGTERM or SIGKILL.
func killedByStop(err error) bool {
	var exitErr *exec.ExitError
	if !errors.As(err, &exitErr) {
		return false
	}
	ws, ok := exitErr.Sys().(syscall.WaitStatus)
	return ok && ws.Signaled() && (ws.Signal() == syscall.SIGTERM || ws.Signal() == syscall.SIGKILL)
}
