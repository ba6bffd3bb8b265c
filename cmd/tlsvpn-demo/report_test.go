package main

import (
	"strings"
	"testing"
	"time"
)

func TestSummarizeGivesMinMedianMax(t *testing.T) {
	ms := time.Millisecond
	cases := []struct {
		name string
		in   []time.Duration
		want spread
	}{
		{"one sample is all three", []time.Duration{2 * ms}, spread{2 * ms, 2 * ms, 2 * ms}},
		{"odd count takes the middle", []time.Duration{3 * ms, 1 * ms, 2 * ms}, spread{1 * ms, 2 * ms, 3 * ms}},
		{"even count averages the middle two", []time.Duration{4 * ms, 1 * ms, 2 * ms, 3 * ms}, spread{1 * ms, 2500 * time.Microsecond, 4 * ms}},
	}
	for _, c := range cases {
		in := append([]time.Duration(nil), c.in...)
		if got := summarize(c.in); got != c.want {
			t.Errorf("%s: summarize(%v) = %+v; want %+v", c.name, c.in, got, c.want)
		}
		for i := range in {
			if in[i] != c.in[i] {
				t.Errorf("%s: summarize reordered its input", c.name)
			}
		}
	}
}

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
