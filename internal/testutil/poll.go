package testutil

import (
	"testing"
	"time"

	"github.com/tlsvpn/tlsvpn/internal/lab"
)

// pollEvery is how often Eventually asks its condition.
const pollEvery = 10 * time.Millisecond

// Eventually polls cond every 10 ms until it holds, and ends the test with
// "what: not true within d" when it still does not hold after within. Give
// a generous bound (a thing that takes 1 s gets 10 s): the bound is a
// safety net, not a measurement.
func Eventually(tb testing.TB, within time.Duration, what string, cond func() bool) {
	tb.Helper()
	if !lab.WaitFor(within, pollEvery, cond) {
		tb.Fatalf("%s: not true within %v", what, within)
	}
}
