package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"time"

	"github.com/tlsvpn/tlsvpn/internal/lab"
)

// Traffic settings and bounds of the measurements.
const (
	iperfPort        = "5201"
	udpRate          = "1G" // offered UDP rate
	udpLen           = 1400 // UDP payload bytes per datagram
	loadPingDelay    = 500 * time.Millisecond
	loadPingInterval = 200 * time.Millisecond
	upTimeout        = 30 * time.Second // launch of the dialer to first reply
	upPoll           = 10 * time.Millisecond
	listenTimeout    = 10 * time.Second // a server or listener to bind its port
	stopWait         = 5 * time.Second  // SIGTERM to SIGKILL
)

// iperfSpec describes one iperf3 test: a one-off server in namespace server,
// a client in namespace client dialing addr.
type iperfSpec struct {
	client, server string
	addr           string
	streams        int
	reverse        bool // -R: the server sends
	udp            bool // UDP at udpRate in udpLen-byte datagrams
	seconds        int
}

// iperfResult is what the receiving side of an iperf3 test saw.
type iperfResult struct {
	bps         float64 // goodput at the receiver, bits per second
	bytes       float64 // bytes received
	retransmits float64 // TCP: the sender's retransmitted segments
	lossPct     float64 // UDP: datagrams lost, percent
}

// runIperf runs one iperf3 test and returns its result. The server's output
// goes to dir/iperf3-server.log.
func runIperf(ctx context.Context, topo *lab.Topology, dir string, spec iperfSpec) (iperfResult, error) {
	srv, err := topo.Start(spec.server, filepath.Join(dir, "iperf3-server.log"), "iperf3", "-s", "-1", "-p", iperfPort)
	if err != nil {
		return iperfResult{}, fmt.Errorf("start iperf3 server: %w", err)
	}
	defer srv.Stop(stopWait) // a one-off server has exited already; its status is of no interest
	if err := waitListening(ctx, topo, spec.server, iperfPort, srv); err != nil {
		return iperfResult{}, fmt.Errorf("iperf3 server: %w", err)
	}
	args := []string{"-c", spec.addr, "-p", iperfPort, "-t", strconv.Itoa(spec.seconds), "-J", "--connect-timeout", "5000"}
	if spec.streams > 1 {
		args = append(args, "-P", strconv.Itoa(spec.streams))
	}
	if spec.reverse {
		args = append(args, "-R")
	}
	if spec.udp {
		args = append(args, "-u", "-b", udpRate, "-l", strconv.Itoa(udpLen))
	}
	out, runErr := topo.RunContext(ctx, spec.client, "iperf3", args...)
	res, err := parseIperf(out, spec.udp)
	if err != nil {
		return iperfResult{}, fmt.Errorf("iperf3 %s: %w", strings.Join(args, " "), errors.Join(err, runErr))
	}
	return res, nil
}

// iperfJSON is the part of iperf3's -J output the bench reads.
type iperfJSON struct {
	Error string `json:"error"`
	End   struct {
		SumSent     iperfSum `json:"sum_sent"`
		SumReceived iperfSum `json:"sum_received"`
		Sum         iperfSum `json:"sum"` // UDP totals in older iperf3 versions
	} `json:"end"`
}

type iperfSum struct {
	Seconds       float64 `json:"seconds"`
	Bytes         float64 `json:"bytes"`
	BitsPerSecond float64 `json:"bits_per_second"`
	Retransmits   float64 `json:"retransmits"`
	Packets       float64 `json:"packets"`
	LostPackets   float64 `json:"lost_packets"`
}

// parseIperf reads iperf3's JSON report. For UDP the received rate is
// computed from the datagrams that arrived, since some iperf3 versions
// report the sent byte count on the receiving side too.
func parseIperf(out string, udp bool) (iperfResult, error) {
	start, end := strings.IndexByte(out, '{'), strings.LastIndexByte(out, '}')
	if start < 0 || end < start {
		return iperfResult{}, fmt.Errorf("no JSON report in output: %.200q", out)
	}
	var j iperfJSON
	if err := json.Unmarshal([]byte(out[start:end+1]), &j); err != nil {
		return iperfResult{}, fmt.Errorf("parse JSON report: %w", err)
	}
	if j.Error != "" {
		return iperfResult{}, errors.New(j.Error)
	}
	if !udp {
		r := j.End.SumReceived
		if r.Seconds <= 0 {
			return iperfResult{}, errors.New("report has no received total")
		}
		return iperfResult{bps: r.BitsPerSecond, bytes: r.Bytes, retransmits: j.End.SumSent.Retransmits}, nil
	}
	r := j.End.SumReceived
	if r.Packets == 0 {
		r = j.End.Sum
	}
	if r.Packets <= 0 || r.Seconds <= 0 {
		return iperfResult{}, errors.New("report has no UDP datagram counts")
	}
	lost := min(max(r.LostPackets, 0), r.Packets) // reordering can make it negative
	got := (r.Packets - lost) * udpLen
	return iperfResult{bps: got * 8 / r.Seconds, bytes: got, lossPct: 100 * lost / r.Packets}, nil
}

var rttRE = regexp.MustCompile(`time=([0-9.]+) ms`)

// parseRTTs returns the round-trip times, in ms, of ping's reply lines.
func parseRTTs(out string) []float64 {
	var rtts []float64
	for _, m := range rttRE.FindAllStringSubmatch(out, -1) {
		if v, err := strconv.ParseFloat(m[1], 64); err == nil {
			rtts = append(rtts, v)
		}
	}
	return rtts
}

// pingRTTs sends count echo requests from namespace from to address to,
// interval apart, and returns the replies' round-trip times in ms. Some
// loss is not an error; no reply at all is.
func pingRTTs(ctx context.Context, topo *lab.Topology, from, to string, count int, interval time.Duration) ([]float64, error) {
	args := []string{"-n", "-c", strconv.Itoa(count), "-i", fmt.Sprintf("%.3f", interval.Seconds()), "-W", "1", to}
	out, err := topo.RunContext(ctx, from, "ping", args...)
	rtts := parseRTTs(out)
	if len(rtts) == 0 {
		return nil, fmt.Errorf("ping %s from %s: no reply: %w", to, from, errors.Join(err, errors.New(strings.TrimSpace(out))))
	}
	return rtts, nil
}

// loadPingCount is how many pings, loadPingInterval apart from
// loadPingDelay on, fit into a step of the given seconds.
func loadPingCount(seconds int) int {
	window := time.Duration(seconds)*time.Second - loadPingDelay - 300*time.Millisecond
	return max(2, int(window/loadPingInterval)+1)
}

// duringLoad runs load and, starting loadPingDelay later, pings from → to
// at loadPingInterval while it runs. It returns the round-trip times in ms,
// the ping's error and load's error. When load fails the ping is cancelled.
func duringLoad(ctx context.Context, topo *lab.Topology, from, to string, seconds int, load func(context.Context) error) (rtts []float64, pingErr, loadErr error) {
	pctx, cancel := context.WithCancel(ctx)
	defer cancel()
	type result struct {
		rtts []float64
		err  error
	}
	done := make(chan result, 1)
	go func() {
		timer := time.NewTimer(loadPingDelay)
		defer timer.Stop()
		select {
		case <-pctx.Done():
			done <- result{err: pctx.Err()}
			return
		case <-timer.C:
		}
		rtts, err := pingRTTs(pctx, topo, from, to, loadPingCount(seconds), loadPingInterval)
		done <- result{rtts, err}
	}()
	loadErr = load(ctx)
	if loadErr != nil {
		cancel()
	}
	r := <-done
	return r.rtts, r.err, loadErr
}

var pingStampRE = regexp.MustCompile(`(?m)^\[(\d+)\.(\d{1,9})\] \d+ bytes from`)

// parseReplyTime returns the wall-clock time ping -D printed for the first
// reply.
func parseReplyTime(out string) (time.Time, bool) {
	m := pingStampRE.FindStringSubmatch(out)
	if m == nil {
		return time.Time{}, false
	}
	sec, err1 := strconv.ParseInt(m[1], 10, 64)
	nsec, err2 := strconv.ParseInt((m[2] + "000000000")[:9], 10, 64)
	if err1 != nil || err2 != nil {
		return time.Time{}, false
	}
	return time.Unix(sec, nsec), true
}

// firstReply polls the tunnel with pings from namespace ns to addr, every
// upPoll (one ping process sends every upPoll until a reply, and a new one
// starts when the route is not there yet), and returns the time from since
// to the first reply. alive reports a daemon that died meanwhile.
func firstReply(ctx context.Context, topo *lab.Topology, ns, addr string, since time.Time, alive func() error) (time.Duration, error) {
	deadline := since.Add(upTimeout)
	interval := fmt.Sprintf("%.3f", upPoll.Seconds())
	var lastErr error
	for time.Now().Before(deadline) {
		if err := alive(); err != nil {
			return 0, err
		}
		out, err := topo.RunContext(ctx, ns, "ping", "-n", "-D", "-c", "1", "-w", "3", "-i", interval, addr)
		if err == nil {
			if at, ok := parseReplyTime(out); ok {
				return at.Sub(since.Round(0)), nil
			}
			return time.Since(since), nil
		}
		if ctx.Err() != nil {
			return 0, ctx.Err()
		}
		lastErr = err
		if err := sleep(ctx, upPoll); err != nil {
			return 0, err
		}
	}
	return 0, fmt.Errorf("no ping reply from %s through the tunnel within %v: %w", addr, upTimeout, lastErr)
}

// waitListening polls until something listens on TCP port in namespace ns,
// or fails when proc (the program expected to listen) has exited.
func waitListening(ctx context.Context, topo *lab.Topology, ns, port string, proc *lab.Proc) error {
	return poll(ctx, listenTimeout, upPoll, "TCP port "+port+" to listen in "+ns, func() (bool, error) {
		if proc.Exited() {
			return false, fmt.Errorf("exited before listening on port %s: %w", port, proc.Wait())
		}
		out, err := topo.RunContext(ctx, ns, "ss", "-Hltn", "sport", "=", ":"+port)
		return err == nil && strings.TrimSpace(out) != "", nil
	})
}

// poll calls cond every interval (lab.WaitFor) until it returns true or an
// error, ctx is done, or timeout passes. what names the wait in the
// timeout's error.
func poll(ctx context.Context, timeout, interval time.Duration, what string, cond func() (bool, error)) error {
	var err error
	done := lab.WaitFor(timeout, interval, func() bool {
		if err = ctx.Err(); err != nil {
			return true
		}
		var ok bool
		ok, err = cond()
		return ok || err != nil
	})
	if err != nil {
		return err
	}
	if !done {
		return fmt.Errorf("timed out after %v waiting for %s", timeout, what)
	}
	return nil
}

// sleep waits for d or until ctx is done.
func sleep(ctx context.Context, d time.Duration) error {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return ctx.Err()
	case <-t.C:
		return nil
	}
}
