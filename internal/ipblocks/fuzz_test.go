package ipblocks

import (
	"slices"
	"testing"
)

// FuzzParse checks that Parse never panics, respects its output bound, and
// that what it accepts survives a round trip: Parse(Marshal(Parse(x))) is
// Parse(x). Seeds live in testdata/fuzz/FuzzParse.
func FuzzParse(f *testing.F) {
	f.Fuzz(func(t *testing.T, der []byte) {
		got, err := Parse(der)
		if err != nil {
			return
		}
		if len(got) > maxPrefixes {
			t.Fatalf("Parse returned %d prefixes, more than %d", len(got), maxPrefixes)
		}
		if len(got) == 0 {
			return
		}
		again, err := Marshal(got)
		if err != nil {
			t.Fatalf("Marshal(Parse(x)) = %v", err)
		}
		back, err := Parse(again)
		if err != nil || !slices.Equal(back, got) {
			t.Fatalf("Parse(Marshal(%v)) = %v, %v", got, back, err)
		}
	})
}
