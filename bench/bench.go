package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"time"

	"github.com/tlsvpn/tlsvpn/internal/lab"
)

// bench is one benchmark run. Its methods run on one goroutine.
type bench struct {
	opts     options
	progress io.Writer // step by step output
	report   io.Writer // the final Markdown report
	env      *env
	systems  []system
	guard    *guard
	machine  machineInfo
	started  time.Time

	main, lan  map[string]samples // figures by system name
	versions   map[string]string
	transports map[string]string
	dropped    map[string]bool // systems that failed a run and run no more
	failures   []string        // runs that failed, with why
	stepErrors []string        // single steps that failed (figure missing)
}

func newBench(opts options, progress, report io.Writer) (*bench, error) {
	abs, err := filepath.Abs(opts.tlsvpn)
	if err != nil {
		return nil, fmt.Errorf("tlsvpn binary %s: %w", opts.tlsvpn, err)
	}
	if fi, err := os.Stat(abs); err != nil || fi.IsDir() || fi.Mode()&0o111 == 0 {
		return nil, fmt.Errorf("no tlsvpn binary at %s: build it (make build) or pass --tlsvpn PATH", abs)
	}
	b := &bench{
		opts: opts, progress: progress, report: report,
		env:   &env{tlsvpn: abs, wgGo: opts.wgGo, cacheDir: cacheDir()},
		guard: &guard{out: progress, maxWait: opts.quietWait, repeats: opts.repeats},
		main:  map[string]samples{}, lan: map[string]samples{},
		versions: map[string]string{}, transports: map[string]string{}, dropped: map[string]bool{},
	}
	for _, name := range opts.only {
		sys, err := newSystem(name, b.env)
		if err != nil {
			return nil, err
		}
		b.systems = append(b.systems, sys)
		b.main[name], b.lan[name] = samples{}, samples{}
	}
	return b, nil
}

// cacheDir is where wireguard-go is installed: $XDG_CACHE_HOME/tlsvpn-bench,
// or /var/tmp/tlsvpn-bench. Never inside the repository.
func cacheDir() string {
	if x := os.Getenv("XDG_CACHE_HOME"); filepath.IsAbs(x) {
		return filepath.Join(x, "tlsvpn-bench")
	}
	return "/var/tmp/tlsvpn-bench"
}

// runAndCleanUp runs the bench and then removes its temporary folder,
// whatever happened. Every topology is removed by the run that built it.
func (b *bench) runAndCleanUp(ctx context.Context) error {
	err := b.run(ctx)
	if b.env.dir != "" {
		if rerr := os.RemoveAll(b.env.dir); rerr != nil {
			err = errors.Join(err, fmt.Errorf("remove %s: %w", b.env.dir, rerr))
		}
	}
	return err
}

func (b *bench) run(ctx context.Context) error {
	b.started = time.Now()
	if err := checkTools(toolsFor(b.opts.only, b.env.wgGo == "")); err != nil {
		return err
	}
	dir, err := os.MkdirTemp("", "tlsvpn-bench-")
	if err != nil {
		return fmt.Errorf("make temporary folder: %w", err)
	}
	b.env.dir = dir
	if err := b.prepare(ctx); err != nil {
		return err
	}
	b.printHeader()
	if err := b.mainRuns(ctx); err != nil {
		return err
	}
	if err := b.lanRuns(ctx); err != nil {
		return err
	}
	return b.writeReport()
}

// prepare makes the PKI, prepares every system and reads the versions.
func (b *bench) prepare(ctx context.Context) error {
	b.env.pki = filepath.Join(b.env.dir, "pki")
	cmds := [][]string{{"pki", "init", "--dir", b.env.pki, "--name", "tlsvpn bench CA"}}
	for _, o := range lab.Offices {
		cmds = append(cmds, []string{"pki", "issue", o.Name, "--dir", b.env.pki})
	}
	for _, args := range cmds {
		out, err := exec.CommandContext(ctx, b.env.tlsvpn, args...).CombinedOutput()
		if err != nil {
			return fmt.Errorf("make certificates: tlsvpn %s: %w: %s", strings.Join(args, " "), err, strings.TrimSpace(string(out)))
		}
	}
	for _, sys := range b.systems {
		progress(b.progress, "prepare  %s", sys.name())
		if err := sys.prepare(ctx, b.env); err != nil {
			return fmt.Errorf("prepare %s: %w", sys.name(), err)
		}
		b.versions[sys.name()] = sys.version(ctx)
	}
	b.machine = readMachine(ctx)
	return nil
}

func (b *bench) printHeader() {
	m := b.machine
	progress(b.progress, "machine  %d CPUs, %s, Linux %s, %s, %s", m.nproc, m.cpu, m.kernel, m.goVer, m.iperf3)
	for _, sys := range b.systems {
		progress(b.progress, "version  %-13s %s", sys.name(), b.versions[sys.name()])
	}
	progress(b.progress, "plan     %d run(s) per system, interleaved; iperf3 %d s per step; then the LAN path once",
		b.opts.runs, b.opts.seconds)
}

// mainRuns measures every system gateway to gateway, interleaved: run 1 of
// each system, then run 2 of each, and so on.
func (b *bench) mainRuns(ctx context.Context) error {
	for run := 1; run <= b.opts.runs; run++ {
		for _, sys := range b.systems {
			if b.dropped[sys.name()] {
				continue
			}
			progress(b.progress, "\nrun %d/%d  %s", run, b.opts.runs, sys.name())
			f, err := b.measureRun(ctx, sys, run)
			if ctx.Err() != nil {
				return ctx.Err()
			}
			if err != nil {
				b.fail(sys, fmt.Sprintf("run %d", run), err)
				continue
			}
			b.main[sys.name()].add(f)
		}
	}
	return nil
}

// lanRuns measures the forwarded LAN-to-LAN path once per system.
func (b *bench) lanRuns(ctx context.Context) error {
	for _, sys := range b.systems {
		if b.dropped[sys.name()] {
			continue
		}
		progress(b.progress, "\nLAN path  %s", sys.name())
		f, err := b.measureLAN(ctx, sys)
		if ctx.Err() != nil {
			return ctx.Err()
		}
		if err != nil {
			b.fail(sys, "LAN path", err)
			continue
		}
		b.lan[sys.name()].add(f)
	}
	return nil
}

// fail records that a run of sys failed and drops sys from later runs.
func (b *bench) fail(sys system, what string, err error) {
	msg := fmt.Sprintf("%s, %s: %v", sys.name(), what, err)
	progress(b.progress, "FAILED   %s\n         %s is left out of the remaining runs", msg, sys.name())
	b.failures = append(b.failures, msg)
	b.dropped[sys.name()] = true
}

// stepFailed records a single failed step; its figures stay missing.
func (b *bench) stepFailed(sys system, what string, err error) {
	msg := fmt.Sprintf("%s, %s: %v", sys.name(), what, err)
	progress(b.progress, "  step failed: %s", msg)
	b.stepErrors = append(b.stepErrors, msg)
}

// writeReport prints the report and writes it to OUT/<UTC date-time>.md.
func (b *bench) writeReport() error {
	text := b.render()
	fmt.Fprint(b.report, "\n"+text)
	if err := os.MkdirAll(b.opts.out, 0o755); err != nil {
		return fmt.Errorf("write report: %w", err)
	}
	path := filepath.Join(b.opts.out, b.started.UTC().Format("2006-01-02T15-04-05Z")+".md")
	if err := writeFile(path, []byte(text), 0o644); err != nil {
		return fmt.Errorf("write report: %w", err)
	}
	progress(b.progress, "\nreport written to %s", path)
	if len(b.failures) > 0 {
		return fmt.Errorf("%d run(s) failed (see the report)", len(b.failures))
	}
	return nil
}

// progress prints one line of progress.
func progress(w io.Writer, format string, args ...any) {
	fmt.Fprintf(w, format+"\n", args...)
}
