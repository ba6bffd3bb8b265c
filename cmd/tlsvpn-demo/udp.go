package main

import (
	"encoding/binary"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"net"
	"os"
	"syscall"
	"time"
)

// probeMagic starts every probe datagram; the sequence number follows.
const probeMagic = "tvprobe\x00"

const probeLen = len(probeMagic) + 8

// Limits of the UDP tools, so that every loop ends.
const (
	maxProbes       = 1000
	maxProbeTimeout = 10 * time.Second
	maxServerLife   = 10 * time.Minute
)

// probeResult is what probe prints: one round-trip time per answered probe.
type probeResult struct {
	To   string          `json:"to"`
	Sent int             `json:"sent"`
	RTTs []time.Duration `json:"rtts_ns"`
}

// runEchoServer answers every UDP datagram with the same bytes until --for
// has passed.
func runEchoServer(args []string, out io.Writer) error {
	listen, life, err := serverFlags("echo-server", args, fmt.Sprintf("[::]:%d", echoPort), "UDP address to answer on", "exit after this long")
	if err != nil {
		return err
	}
	conn, err := net.ListenPacket("udp", listen)
	if err != nil {
		return fmt.Errorf("listen: %w", err)
	}
	defer conn.Close()
	fmt.Fprintf(out, "%s%s\n", readyLine, conn.LocalAddr())
	if err := conn.SetDeadline(time.Now().Add(life)); err != nil {
		return fmt.Errorf("set deadline: %w", err)
	}
	return echo(conn)
}

// echo answers datagrams on conn until its deadline passes.
func echo(conn net.PacketConn) error {
	buf := make([]byte, 2048)
	for {
		n, from, err := conn.ReadFrom(buf)
		if errors.Is(err, os.ErrDeadlineExceeded) {
			return nil
		}
		if err != nil {
			return fmt.Errorf("read: %w", err)
		}
		if _, err := conn.WriteTo(buf[:n], from); err != nil && !errors.Is(err, os.ErrDeadlineExceeded) {
			return fmt.Errorf("answer %s: %w", from, err)
		}
	}
}

// runProbe sends --count probes to --to, one after the other, each waiting
// up to --timeout for its answer, and prints a probeResult.
func runProbe(args []string, out io.Writer) error {
	fs := flag.NewFlagSet("probe", flag.ContinueOnError)
	to := fs.String("to", "", "UDP address of an echo-server (host:port)")
	count := fs.Int("count", 20, "number of probes")
	timeout := fs.Duration("timeout", time.Second, "how long to wait for each answer")
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	if *count < 1 || *count > maxProbes {
		return usageError{fmt.Errorf("--count %d: want 1 to %d", *count, maxProbes)}
	}
	if err := checkDuration("timeout", *timeout, maxProbeTimeout); err != nil {
		return err
	}
	res, err := probe(*to, *count, *timeout)
	if err != nil {
		return err
	}
	return json.NewEncoder(out).Encode(res)
}

func probe(to string, count int, timeout time.Duration) (probeResult, error) {
	res := probeResult{To: to}
	conn, err := net.Dial("udp", to)
	if err != nil {
		return res, fmt.Errorf("probe %s: %w", to, err)
	}
	defer conn.Close()
	for seq := range count {
		rtt, ok, err := probeOnce(conn, uint64(seq), timeout)
		if err != nil {
			return res, fmt.Errorf("probe %s: %w", to, err)
		}
		res.Sent++
		if ok {
			res.RTTs = append(res.RTTs, rtt)
		}
	}
	return res, nil
}

// probeOnce sends probe seq and waits for its answer until timeout, skipping
// late answers to earlier probes. A probe that gets no answer, or an ICMP
// error, is lost (ok false), not an error.
func probeOnce(conn net.Conn, seq uint64, timeout time.Duration) (rtt time.Duration, ok bool, err error) {
	var msg, buf [probeLen]byte
	copy(msg[:], probeMagic)
	binary.BigEndian.PutUint64(msg[len(probeMagic):], seq)
	start := time.Now()
	if err := conn.SetDeadline(start.Add(timeout)); err != nil {
		return 0, false, fmt.Errorf("set deadline: %w", err)
	}
	if _, err := conn.Write(msg[:]); err != nil {
		return 0, false, lostOr(err)
	}
	for {
		n, err := conn.Read(buf[:])
		if err != nil {
			return 0, false, lostOr(err)
		}
		if n == probeLen && buf == msg {
			return time.Since(start), true, nil
		}
	}
}

// lostOr returns nil for errors that mean the probe was lost on the way:
// the deadline, or an ICMP error from the network or the far host.
func lostOr(err error) error {
	for _, lost := range []error{os.ErrDeadlineExceeded, syscall.ECONNREFUSED,
		syscall.EHOSTUNREACH, syscall.ENETUNREACH} {
		if errors.Is(err, lost) {
			return nil
		}
	}
	return err
}
