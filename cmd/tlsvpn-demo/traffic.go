package main

import (
	"context"
	"encoding/json"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"github.com/tlsvpn/tlsvpn/internal/lab"
)

// serverReadyWait bounds the wait for a started server's readyLine.
const serverReadyWait = 5 * time.Second

// traffic runs the traffic tools of binary self inside a topology's
// namespaces. Its methods may run concurrently; servers it starts are
// stopped by their owner (or by the topology's Close).
type traffic struct {
	topo   *lab.Topology
	self   string // binary with the tools: this program (or the test binary)
	logDir string // where servers write their output
}

// startServer starts tool in ns with args and waits until it listens. It
// returns the process and the path of its output.
func (tr traffic) startServer(ns, tool string, args ...string) (*lab.Proc, string, error) {
	log := filepath.Join(tr.logDir, tool+"-"+ns+".log")
	p, err := tr.topo.Start(ns, log, tr.self, append([]string{tool}, args...)...)
	if err != nil {
		return nil, "", err
	}
	listening := false
	lab.WaitFor(serverReadyWait, 20*time.Millisecond, func() bool {
		b, _ := os.ReadFile(log)
		listening = strings.Contains(string(b), readyLine)
		return listening || p.Exited()
	})
	if !listening {
		p.Stop(time.Second)
		b, _ := os.ReadFile(log)
		return nil, "", fmt.Errorf("%s in %s did not listen within %v: %s", tool, ns, serverReadyWait, b)
	}
	return p, log, nil
}

// startEcho starts an echo-server in ns on echoPort.
func (tr traffic) startEcho(ns string) (*lab.Proc, error) {
	p, _, err := tr.startServer(ns, "echo-server")
	return p, err
}

// startSink starts a sink in ns on sinkPort; its tally ends up in the
// returned log (see sinkTally).
func (tr traffic) startSink(ns string) (*lab.Proc, string, error) {
	return tr.startServer(ns, "sink")
}

// probe runs count UDP probes from ns to the echo-server at host.
func (tr traffic) probe(ctx context.Context, ns, host string, count int, timeout time.Duration) (probeResult, error) {
	var res probeResult
	err := tr.runTool(ctx, ns, &res, "probe", "--to", hostPort(host, echoPort),
		"--count", strconv.Itoa(count), "--timeout", timeout.String())
	return res, err
}

// send streams to the sink at host from ns for d.
func (tr traffic) send(ctx context.Context, ns, host string, d time.Duration) (sendResult, error) {
	var res sendResult
	err := tr.runTool(ctx, ns, &res, "send", "--to", hostPort(host, sinkPort), "--duration", d.String())
	return res, err
}

// runTool runs tool in ns to completion and decodes its JSON result.
func (tr traffic) runTool(ctx context.Context, ns string, result any, tool string, args ...string) error {
	out, err := tr.topo.RunContext(ctx, ns, tr.self, append([]string{tool}, args...)...)
	if err != nil {
		return err
	}
	if err := json.Unmarshal([]byte(out), result); err != nil {
		return fmt.Errorf("%s in %s: bad result %q: %w", tool, ns, out, err)
	}
	return nil
}

// sinkTally reads the tally a finished sink wrote to its log.
func sinkTally(log string) (tally, error) {
	var got tally
	b, err := os.ReadFile(log)
	if err != nil {
		return got, fmt.Errorf("read sink result: %w", err)
	}
	lines := strings.Split(strings.TrimSpace(string(b)), "\n")
	if err := json.Unmarshal([]byte(lines[len(lines)-1]), &got); err != nil {
		return got, fmt.Errorf("sink result in %s: %w", log, err)
	}
	return got, nil
}

// checkTransfer returns an error unless the sink received exactly what was sent.
func checkTransfer(res sendResult) error {
	if res.Sent.Bytes == 0 {
		return fmt.Errorf("transfer to %s: nothing sent", res.To)
	}
	if res.Received != res.Sent {
		return fmt.Errorf("transfer to %s: sent %d bytes (CRC-32C %08x), sink received %d (%08x)",
			res.To, res.Sent.Bytes, res.Sent.CRC, res.Received.Bytes, res.Received.CRC)
	}
	return nil
}

func hostPort(host string, port int) string {
	return net.JoinHostPort(host, strconv.Itoa(port))
}
