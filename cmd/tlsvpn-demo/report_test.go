package main

import (
	"strings"
	"testing"
)

func TestMbitsConvertsBytesPerSecond(t *testing.T) {
	if got := mbits(125_000_000, 1); got != 1000 {
		t.Errorf("125 MB in 1 s = %v Mbit/s; want 1000", got)
	}
	if got := mbits(1, 0); got != 0 {
		t.Errorf("rate over 0 s = %v; want 0", got)
	}
}

func TestRTTLineSaysWhenNothingAnswered(t *testing.T) {
	line := rttLine("IPv4", "10.1.0.10", "10.2.0.10", probeResult{Sent: 20})
	if !strings.Contains(line, "no answer to 20 probes") {
		t.Errorf("line %q does not say that nothing answered", line)
	}
}
