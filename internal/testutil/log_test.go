package testutil

import (
	"strings"
	"testing"
)

func TestCaptureLogsKeepsEveryLevel(t *testing.T) {
	log, logs := CaptureLogs(t)
	log.Debug("a debug line", "peer", "office-b")
	log.Warn("a warning", "reason", "expired")
	got := logs.String()
	for _, want := range []string{`msg="a debug line" peer=office-b`, `msg="a warning" reason=expired`} {
		if !strings.Contains(got, want) {
			t.Errorf("captured logs lack %q:\n%s", want, got)
		}
	}
}

func TestLoggingAfterTheTestsCleanupIsDropped(t *testing.T) {
	var late func()
	t.Run("inner", func(t *testing.T) {
		log := Logger(t)
		late = func() { log.Info("after the test") }
	})
	late() // the testing package would panic: Write called after inner has completed
}
