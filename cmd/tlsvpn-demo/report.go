package main

import (
	"bufio"
	"fmt"
	"io"
	"os"
	"strings"
	"time"

	"github.com/tlsvpn/tlsvpn/internal/lab"
)

// ms formats d in milliseconds with microsecond precision.
func ms(d time.Duration) string {
	return fmt.Sprintf("%.3f ms", float64(d)/float64(time.Millisecond))
}

// mbits returns the rate of bytes moved in seconds, in Mbit/s.
func mbits(bytes uint64, seconds float64) float64 {
	if seconds <= 0 {
		return 0
	}
	return float64(bytes) * 8 / seconds / 1e6
}

// rttRow is the layout of the round-trip table: path, min, median, max, note.
const rttRow = "         %-28s %10s %10s %10s   %s\n"

// rttLine formats one row of the round-trip table.
func rttLine(family, from, to string, res probeResult) string {
	path := fmt.Sprintf("%s %s -> %s", family, from, to)
	if len(res.RTTs) == 0 {
		return fmt.Sprintf(rttRow, path, "-", "-", "-", fmt.Sprintf("no answer to %d probes", res.Sent))
	}
	s := lab.Summarize(res.RTTs)
	return fmt.Sprintf(rttRow, path, ms(s.Min), ms(s.Median), ms(s.Max),
		fmt.Sprintf("%d/%d answered", len(res.RTTs), res.Sent))
}

// indent prefixes every non-empty line of text with prefix.
func indent(text, prefix string) string {
	lines := strings.Split(strings.TrimRight(text, "\n"), "\n")
	for i, l := range lines {
		if l != "" {
			lines[i] = prefix + l
		}
	}
	return strings.Join(lines, "\n") + "\n"
}

// tail returns the last n lines of the file at path, or why it cannot.
func tail(path string, n int) string {
	f, err := os.Open(path)
	if err != nil {
		return fmt.Sprintf("(%v)\n", err)
	}
	defer f.Close()
	var lines []string
	sc := bufio.NewScanner(f)
	sc.Buffer(make([]byte, 64<<10), 1<<20)
	for sc.Scan() {
		lines = append(lines, sc.Text())
		if len(lines) > n {
			lines = lines[1:]
		}
	}
	if len(lines) == 0 {
		return "(empty)\n"
	}
	return strings.Join(lines, "\n") + "\n"
}

// printf writes to w, ignoring errors: the report goes to a terminal or a
// pipe, and a failing write must not stop the clean-up.
func printf(w io.Writer, format string, args ...any) {
	fmt.Fprintf(w, format, args...)
}
