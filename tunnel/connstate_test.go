package tunnel

import (
	"fmt"
	"strings"
	"testing"

	"github.com/tlsvpn/tlsvpn/internal/testutil"
)

// allowedMoves are a connection's state changes as docs/datapath.md
// ("Connection lifecycle") describes them, written out independently of
// connMoves.
var allowedMoves = []struct {
	name     string
	from, to connState
}{
	{"an authenticated connection the peer takes goes live", connNew, connLive},
	{"an authenticated connection the peer refuses is closed", connNew, connClosed},
	{"a live connection the peer replaced is superseded", connLive, connSuperseded},
	{"a live connection retires", connLive, connRetiring},
	{"a live connection is killed", connLive, connClosed},
	{"a superseded connection retires", connSuperseded, connRetiring},
	{"a superseded connection is killed", connSuperseded, connClosed},
	{"a retiring connection's writer closes the queue", connRetiring, connDraining},
	{"a retiring connection is killed", connRetiring, connClosed},
	{"a draining connection says goodbye", connDraining, connClosing},
	{"a draining connection is killed", connDraining, connClosed},
	{"a closing connection is closed", connClosing, connClosed},
}

// TestConnStateMoves checks every pair of states: the allowed moves
// happen, a late request (to a state reached or passed) is quietly no
// change, and every other forward move is refused and logged as a bug.
func TestConnStateMoves(t *testing.T) {
	allowed := map[[2]connState]string{}
	for _, m := range allowedMoves {
		allowed[[2]connState{m.from, m.to}] = m.name
	}
	for from := range numConnStates {
		for to := range numConnStates {
			name, ok := allowed[[2]connState{from, to}]
			switch {
			case ok:
			case to <= from:
				name = fmt.Sprintf("a %v connection asked to be %v again is no change", from, to)
			default:
				name = fmt.Sprintf("a %v connection cannot skip to %v", from, to)
			}
			t.Run(name, func(t *testing.T) {
				if got := canMove(from, to); got != ok {
					t.Fatalf("canMove(%v, %v) = %v, want %v", from, to, got, ok)
				}
				log, logs := testutil.CaptureLogs(t)
				c := &conn{e: &Engine{log: log}, p: &peer{name: "office-b"}}
				c.life.state.Store(uint32(from))
				moved := c.move(to)
				want := from
				if ok {
					want = to
				}
				if moved != ok || c.state() != want {
					t.Fatalf("move(%v) from %v: moved %v, now %v; want moved %v, now %v", to, from, moved, c.state(), ok, want)
				}
				bug := strings.Contains(logs.String(), "bug: connection state change not allowed")
				if wantBug := !ok && to > from; bug != wantBug {
					t.Fatalf("move(%v) from %v logged a bug: %v, want %v; log:\n%s", to, from, bug, wantBug, logs)
				}
				if bug && !strings.Contains(logs.String(), "peer=office-b") {
					t.Errorf("the bug line does not name the peer: %s", logs)
				}
			})
		}
	}
}

func TestConnStateNames(t *testing.T) {
	seen := map[string]bool{}
	for s := range numConnStates {
		name := s.String()
		if name == "" || seen[name] {
			t.Errorf("state %d has the name %q, empty or taken", s, name)
		}
		seen[name] = true
	}
	if got := numConnStates.String(); !strings.HasPrefix(got, "connState(") {
		t.Errorf("a state out of range prints as %q", got)
	}
}
