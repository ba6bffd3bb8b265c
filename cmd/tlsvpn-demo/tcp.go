package main

import (
	"encoding/binary"
	"encoding/json"
	"flag"
	"fmt"
	"hash/crc32"
	"io"
	"math/rand/v2"
	"net"
	"time"
)

// Sizes and limits of the TCP tools.
const (
	sendChunk     = 128 << 10 // bytes per write
	sinkChunk     = 256 << 10 // bytes per read
	maxSendTime   = time.Minute
	dialTimeout   = 5 * time.Second
	replyTimeout  = 20 * time.Second // after the last write, for the sink's count
	sinkReplySize = 8 + 4            // byte count, CRC-32C
)

var castagnoli = crc32.MakeTable(crc32.Castagnoli)

// tally is a byte count and the CRC-32C of those bytes.
type tally struct {
	Bytes uint64 `json:"bytes"`
	CRC   uint32 `json:"crc32c"`
}

func (t *tally) add(b []byte) {
	t.Bytes += uint64(len(b))
	t.CRC = crc32.Update(t.CRC, castagnoli, b)
}

// sendResult is what send prints: what it sent, what the sink says it
// received, and the time from the first write to the sink's answer.
type sendResult struct {
	To       string  `json:"to"`
	Sent     tally   `json:"sent"`
	Received tally   `json:"received"`
	Seconds  float64 `json:"seconds"`
}

// runSink accepts one TCP connection, reads it to the end, answers with the
// byte count and CRC-32C it saw, and prints them as a tally.
func runSink(args []string, out io.Writer) error {
	listen, life, err := serverFlags("sink", args, fmt.Sprintf("[::]:%d", sinkPort), "TCP address to accept one connection on", "give up after this long")
	if err != nil {
		return err
	}
	ln, err := net.Listen("tcp", listen)
	if err != nil {
		return fmt.Errorf("listen: %w", err)
	}
	defer ln.Close()
	fmt.Fprintf(out, "%s%s\n", readyLine, ln.Addr())
	got, err := sinkOne(ln.(*net.TCPListener), time.Now().Add(life))
	if err != nil {
		return err
	}
	return json.NewEncoder(out).Encode(got)
}

func sinkOne(ln *net.TCPListener, deadline time.Time) (tally, error) {
	var got tally
	if err := ln.SetDeadline(deadline); err != nil {
		return got, fmt.Errorf("set deadline: %w", err)
	}
	conn, err := ln.Accept()
	if err != nil {
		return got, fmt.Errorf("accept: %w", err)
	}
	defer conn.Close()
	if err := conn.SetDeadline(deadline); err != nil {
		return got, fmt.Errorf("set deadline: %w", err)
	}
	buf := make([]byte, sinkChunk)
	for {
		n, err := conn.Read(buf)
		got.add(buf[:n])
		if err == io.EOF {
			break
		}
		if err != nil {
			return got, fmt.Errorf("receive from %s: %w", conn.RemoteAddr(), err)
		}
	}
	var reply [sinkReplySize]byte
	binary.BigEndian.PutUint64(reply[:8], got.Bytes)
	binary.BigEndian.PutUint32(reply[8:], got.CRC)
	if _, err := conn.Write(reply[:]); err != nil {
		return got, fmt.Errorf("answer %s: %w", conn.RemoteAddr(), err)
	}
	return got, nil
}

// runSend streams data to a sink for --duration, then waits for the sink's
// count and prints a sendResult. Checking that the counts match is the
// caller's business.
func runSend(args []string, out io.Writer) error {
	fs := flag.NewFlagSet("send", flag.ContinueOnError)
	to := fs.String("to", "", "TCP address of a sink (host:port)")
	duration := fs.Duration("duration", 3*time.Second, "how long to send")
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	if err := checkDuration("duration", *duration, maxSendTime); err != nil {
		return err
	}
	res, err := send(*to, *duration)
	if err != nil {
		return err
	}
	return json.NewEncoder(out).Encode(res)
}

func send(to string, d time.Duration) (sendResult, error) {
	res := sendResult{To: to}
	c, err := net.DialTimeout("tcp", to, dialTimeout)
	if err != nil {
		return res, fmt.Errorf("send to %s: %w", to, err)
	}
	conn := c.(*net.TCPConn)
	defer conn.Close()
	start := time.Now()
	if err := conn.SetDeadline(start.Add(d + replyTimeout)); err != nil {
		return res, fmt.Errorf("set deadline: %w", err)
	}
	if err := stream(conn, start.Add(d), &res.Sent); err != nil {
		return res, fmt.Errorf("send to %s: %w", to, err)
	}
	if err := conn.CloseWrite(); err != nil {
		return res, fmt.Errorf("send to %s: close: %w", to, err)
	}
	var reply [sinkReplySize]byte
	if _, err := io.ReadFull(conn, reply[:]); err != nil {
		return res, fmt.Errorf("send to %s: read the sink's count: %w", to, err)
	}
	res.Seconds = time.Since(start).Seconds()
	res.Received = tally{Bytes: binary.BigEndian.Uint64(reply[:8]), CRC: binary.BigEndian.Uint32(reply[8:])}
	return res, nil
}

// stream writes chunks of pseudo-random bytes, each starting with its
// sequence number (so a lost or repeated chunk changes the CRC), until end.
func stream(w io.Writer, end time.Time, sent *tally) error {
	buf := make([]byte, sendChunk)
	rng := rand.NewChaCha8([32]byte{'t', 'l', 's', 'v', 'p', 'n'})
	rng.Read(buf)
	for seq := uint64(0); time.Now().Before(end); seq++ {
		binary.BigEndian.PutUint64(buf, seq)
		n, err := w.Write(buf)
		sent.add(buf[:n])
		if err != nil {
			return err
		}
	}
	return nil
}
