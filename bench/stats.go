package main

import (
	"slices"
)

// summary is the median and range of a set of values.
type summary struct {
	n                int
	median, min, max float64
}

// summarize returns the summary of vs; n is 0 for none. The median of an
// even count is the mean of the middle two.
func summarize(vs []float64) summary {
	if len(vs) == 0 {
		return summary{}
	}
	s := slices.Clone(vs)
	slices.Sort(s)
	mid := len(s) / 2
	med := s[mid]
	if len(s)%2 == 0 {
		med = (s[mid-1] + s[mid]) / 2
	}
	return summary{n: len(s), median: med, min: s[0], max: s[len(s)-1]}
}

// median returns the median of vs, or 0 for none.
func median(vs []float64) float64 { return summarize(vs).median }

// maxOf returns the largest of vs, or 0 for none.
func maxOf(vs []float64) float64 { return summarize(vs).max }
