package main

import (
	"errors"
	"flag"
	"fmt"
	"io"
	"time"
)

// tools are the demo's hidden subcommands: small traffic tools that the demo
// runs inside the namespaces by re-executing its own binary
// ("ip netns exec NS <this binary> probe --to ..."). Each writes its result
// as one JSON line on out; a server first writes readyLine and its address.
var tools = map[string]func(args []string, out io.Writer) error{
	"echo-server": runEchoServer,
	"probe":       runProbe,
	"sink":        runSink,
	"send":        runSend,
}

// readyLine starts the line a server writes once it listens.
const readyLine = "listening on "

// Ports the tools use by default inside the namespaces.
const (
	echoPort = 9000 // UDP, echo-server
	sinkPort = 9001 // TCP, sink
)

// usageError marks a bad command line; runTool exits 2 for it.
type usageError struct{ error }

func (e usageError) Unwrap() error { return e.error }

func runTool(name string, args []string, stdout, stderr io.Writer) int {
	err := tools[name](args, stdout)
	if err == nil {
		return exitOK
	}
	fmt.Fprintf(stderr, "%s: %v\n", name, err)
	if errors.As(err, new(usageError)) {
		return exitUsage
	}
	return exitFailure
}

// parseFlags parses args into fs, which reports its own errors on stderr.
func parseFlags(fs *flag.FlagSet, args []string) error {
	if err := fs.Parse(args); err != nil {
		return usageError{err}
	}
	if fs.NArg() > 0 {
		return usageError{fmt.Errorf("unexpected argument %q", fs.Arg(0))}
	}
	return nil
}

// serverFlags parses the flags of a server tool called name: --listen, the
// address to serve on (listenHelp says what it is), and --for, how long to
// serve (forHelp), at most maxServerLife.
func serverFlags(name string, args []string, listen, listenHelp, forHelp string) (string, time.Duration, error) {
	fs := flag.NewFlagSet(name, flag.ContinueOnError)
	addr := fs.String("listen", listen, listenHelp)
	life := fs.Duration("for", time.Minute, forHelp)
	if err := parseFlags(fs, args); err != nil {
		return "", 0, err
	}
	if err := checkDuration("for", *life, maxServerLife); err != nil {
		return "", 0, err
	}
	return *addr, *life, nil
}

// checkDuration returns a usage error unless 0 < d <= limit.
func checkDuration(flagName string, d, limit time.Duration) error {
	if d <= 0 || d > limit {
		return usageError{fmt.Errorf("--%s %v: want more than 0 and at most %v", flagName, d, limit)}
	}
	return nil
}
