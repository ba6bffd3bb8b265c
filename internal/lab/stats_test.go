package lab

import (
	"slices"
	"testing"
	"time"
)

func TestSummarizeFloats(t *testing.T) {
	tests := []struct {
		name string
		in   []float64
		want Spread[float64]
	}{
		{"no values", nil, Spread[float64]{}},
		{"an odd count takes the middle", []float64{3, 1, 2}, Spread[float64]{N: 3, Median: 2, Min: 1, Max: 3}},
		{"an even count takes the mean of the middle two", []float64{4, 1, 2, 3}, Spread[float64]{N: 4, Median: 2.5, Min: 1, Max: 4}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := Summarize(tt.in); got != tt.want {
				t.Errorf("Summarize(%v) = %+v, want %+v", tt.in, got, tt.want)
			}
		})
	}
}

func TestSummarizeDurations(t *testing.T) {
	ms := time.Millisecond
	cases := []struct {
		name string
		in   []time.Duration
		want Spread[time.Duration]
	}{
		{"one sample is all three", []time.Duration{2 * ms}, Spread[time.Duration]{1, 2 * ms, 2 * ms, 2 * ms}},
		{"odd count takes the middle", []time.Duration{3 * ms, 1 * ms, 2 * ms}, Spread[time.Duration]{3, 1 * ms, 2 * ms, 3 * ms}},
		{"even count averages the middle two", []time.Duration{4 * ms, 1 * ms, 2 * ms, 3 * ms}, Spread[time.Duration]{4, 1 * ms, 2500 * time.Microsecond, 4 * ms}},
	}
	for _, c := range cases {
		in := slices.Clone(c.in)
		if got := Summarize(c.in); got != c.want {
			t.Errorf("%s: Summarize(%v) = %+v; want %+v", c.name, c.in, got, c.want)
		}
		if !slices.Equal(in, c.in) {
			t.Errorf("%s: Summarize reordered its input", c.name)
		}
	}
}
