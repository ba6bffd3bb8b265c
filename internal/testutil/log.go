package testutil

import (
	"io"
	"log/slog"
	"strings"
	"sync"
	"testing"
)

// Logger returns a logger that writes every record, debug included, as
// slog text to the test's output: shown for a failing test and under -v,
// in the order it happened among the test's own lines.
//
// It may be used from any goroutine. Records logged after the test's
// cleanup has begun to run the cleanups registered before Logger was
// called (a goroutine that outlived its owner) are dropped, where the
// testing package would panic; the leak check reports such a goroutine.
func Logger(tb testing.TB) *slog.Logger {
	return slog.New(slog.NewTextHandler(testOutput(tb), &slog.HandlerOptions{Level: slog.LevelDebug}))
}

// Logs is what a logger from CaptureLogs wrote. It is safe for concurrent
// use.
type Logs struct {
	mu sync.Mutex
	b  strings.Builder
}

// Write appends p.
func (l *Logs) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}

// String returns everything written so far.
func (l *Logs) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.String()
}

// CaptureLogs returns a logger like Logger's that also keeps every line in
// the returned Logs, for a test that asserts on what was logged.
func CaptureLogs(tb testing.TB) (*slog.Logger, *Logs) {
	logs := &Logs{}
	w := io.MultiWriter(testOutput(tb), logs)
	return slog.New(slog.NewTextHandler(w, &slog.HandlerOptions{Level: slog.LevelDebug})), logs
}

// outputWriter forwards to a test's output until the test's cleanup runs.
type outputWriter struct {
	mu   sync.Mutex
	out  io.Writer // nil once the test is over
	name string
}

func testOutput(tb testing.TB) io.Writer {
	w := &outputWriter{out: tb.Output(), name: tb.Name()}
	tb.Cleanup(func() {
		w.mu.Lock()
		defer w.mu.Unlock()
		w.out = nil
	})
	return w
}

func (w *outputWriter) Write(p []byte) (int, error) {
	w.mu.Lock()
	defer w.mu.Unlock()
	if w.out == nil {
		return len(p), nil
	}
	return w.out.Write(p)
}
