package main

import (
	"bytes"
	"log/slog"
	"net"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/tlsvpn/tlsvpn/systemd"
)

// notifySocket is a NOTIFY_SOCKET for the test: what the code under test
// tells "systemd" arrives on it, one datagram per message.
type notifySocket struct {
	t    *testing.T
	conn *net.UnixConn
	n    *systemd.Notifier
}

func listenNotify(t *testing.T) *notifySocket {
	path := filepath.Join(t.TempDir(), "notify.sock")
	conn, err := net.ListenUnixgram("unixgram", &net.UnixAddr{Name: path, Net: "unixgram"})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { conn.Close() })
	t.Setenv("NOTIFY_SOCKET", path)
	return &notifySocket{t: t, conn: conn, n: systemd.NewNotifier(slog.New(slog.NewTextHandler(&bytes.Buffer{}, nil)))}
}

// next returns the next message, waiting at most 10 s.
func (s *notifySocket) next() string {
	s.t.Helper()
	buf := make([]byte, 4096)
	s.conn.SetReadDeadline(time.Now().Add(10 * time.Second))
	n, err := s.conn.Read(buf)
	if err != nil {
		s.t.Fatalf("no notify message: %v", err)
	}
	return string(buf[:n])
}

// nothing checks that no message was sent since the last one read: it
// sends a marker and expects it to come next.
func (s *notifySocket) nothing(what string) {
	s.t.Helper()
	s.n.Status("marker")
	if m := s.next(); m != "STATUS=marker" {
		s.t.Errorf("%s: got %q, want no message", what, m)
	}
}

func TestWatchdogIsFedOnlyWhileNoLoopIsStalled(t *testing.T) {
	sock := listenNotify(t)
	var logs bytes.Buffer
	var stuck []string
	var asked time.Duration
	w := &watchdog{log: slog.New(slog.NewTextHandler(&logs, nil)), alive: sock.n.Alive, within: 15 * time.Second,
		stalled: func(_ time.Time, within time.Duration) []string { asked = within; return stuck }}

	w.tick(time.Now())
	if m := sock.next(); m != "WATCHDOG=1" {
		t.Fatalf("with every loop live: %q, want WATCHDOG=1", m)
	}
	if asked != 15*time.Second {
		t.Errorf("loops asked about a bound of %v, want the watchdog's 15s", asked)
	}
	stuck = []string{"reader of peer office-b (198.18.0.2:4433)"}
	w.tick(time.Now())
	w.tick(time.Now())
	sock.nothing("with a stalled loop")
	if got := strings.Count(logs.String(), "packet loop stalled"); got != 1 || !strings.Contains(logs.String(), "reader of peer office-b") {
		t.Errorf("want one log line naming the stalled loop, got:\n%s", logs.String())
	}
	stuck = nil
	w.tick(time.Now())
	if m := sock.next(); m != "WATCHDOG=1" {
		t.Fatalf("once the loop moves again: %q, want WATCHDOG=1", m)
	}
	if !strings.Contains(logs.String(), "moving again") {
		t.Errorf("the recovery is not logged:\n%s", logs.String())
	}
}

func TestReadyWaitsForRequiredPeersAndReloadsAreAnnounced(t *testing.T) {
	sock := listenNotify(t)
	r := &readiness{notify: sock.n, log: slog.New(slog.NewTextHandler(&bytes.Buffer{}, nil))}

	r.update(summary{up: 1, peers: 3, missing: []string{"office-b", "office-c"}})
	if m := sock.next(); m != "STATUS=waiting for required peers: office-b, office-c (1/3 peers up)" {
		t.Fatalf("while required peers are missing: %q", m)
	}
	r.update(summary{up: 1, peers: 3, missing: []string{"office-b", "office-c"}})
	if began := r.reloading(); began {
		t.Error("a reload before READY=1 announced itself")
	}
	r.reloaded(false, "1/3 peers up")
	sock.nothing("no change and a reload while starting")

	r.update(summary{up: 2, peers: 3, missing: []string{"office-c"}})
	if m := sock.next(); m != "STATUS=waiting for required peers: office-c (2/3 peers up)" {
		t.Fatalf("one required peer left: %q", m)
	}
	r.update(summary{up: 3, peers: 3})
	if m := sock.next(); m != "READY=1\nSTATUS=3/3 peers up" {
		t.Fatalf("every required peer up: %q, want READY=1 with the status", m)
	}
	r.update(summary{up: 3, peers: 3})
	sock.nothing("the same summary again")
	r.update(summary{up: 2, peers: 3, missing: []string{"office-c"}})
	if m := sock.next(); m != "STATUS=2/3 peers up" {
		t.Fatalf("a peer down after READY: %q, want the status only", m)
	}

	began := r.reloading()
	if m := sock.next(); !began || !strings.HasPrefix(m, "RELOADING=1\nMONOTONIC_USEC=") {
		t.Fatalf("reload: %q (announced %v), want RELOADING=1 with the monotonic time", m, began)
	}
	r.reloaded(began, "2/3 peers up")
	if m := sock.next(); m != "READY=1\nSTATUS=2/3 peers up" {
		t.Fatalf("after the reload: %q, want READY=1", m)
	}
}
