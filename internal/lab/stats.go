package lab

import "slices"

// Spread is the size, minimum, median and maximum of a sample of
// measurements; the zero Spread describes an empty one. The demo and the
// benchmark report their samples with it.
type Spread[T ~int64 | ~float64] struct {
	N                int
	Min, Median, Max T
}

// Summarize returns the spread of vs without reordering vs. The median of
// an even count is the mean of the middle two.
func Summarize[T ~int64 | ~float64](vs []T) Spread[T] {
	if len(vs) == 0 {
		return Spread[T]{}
	}
	s := slices.Clone(vs)
	slices.Sort(s)
	mid := len(s) / 2
	med := s[mid]
	if len(s)%2 == 0 {
		med = (s[mid-1] + s[mid]) / 2
	}
	return Spread[T]{N: len(s), Min: s[0], Median: med, Max: s[len(s)-1]}
}
