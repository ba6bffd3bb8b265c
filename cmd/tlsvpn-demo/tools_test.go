package main

import (
	"io"
	"testing"
)

func TestToolsRejectBadCommandLinesWithExitStatus2(t *testing.T) {
	cases := []struct {
		name string
		args []string
	}{
		{"probe", []string{"--to", "[::1]:9", "--count", "0"}},
		{"probe", []string{"--to", "[::1]:9", "--timeout", "1m"}},
		{"send", []string{"--to", "[::1]:9", "--duration", "2h"}},
		{"sink", []string{"--for", "-1s"}},
		{"echo-server", []string{"--bogus"}},
		{"echo-server", []string{"extra"}},
	}
	for _, c := range cases {
		if got := runTool(c.name, c.args, io.Discard, io.Discard); got != exitUsage {
			t.Errorf("%s %v: exit status %d; want %d", c.name, c.args, got, exitUsage)
		}
	}
}

func TestDemoRejectsStrayArguments(t *testing.T) {
	if got := runDemo([]string{"now"}, io.Discard, io.Discard); got != exitUsage {
		t.Errorf("tlsvpn-demo now: exit status %d; want %d", got, exitUsage)
	}
}

func TestDemoFailsWithoutATLSVPNBinary(t *testing.T) {
	if got := runDemo([]string{"--tlsvpn", t.TempDir() + "/missing"}, io.Discard, io.Discard); got != exitFailure {
		t.Errorf("exit status %d; want %d", got, exitFailure)
	}
}

func TestCheckTransferCatchesEveryMismatch(t *testing.T) {
	sent := tally{Bytes: 1000, CRC: 0xabcd}
	cases := []struct {
		name     string
		res      sendResult
		wantFail bool
	}{
		{"equal counts pass", sendResult{Sent: sent, Received: sent}, false},
		{"missing bytes fail", sendResult{Sent: sent, Received: tally{Bytes: 999, CRC: 0xabcd}}, true},
		{"changed bytes fail", sendResult{Sent: sent, Received: tally{Bytes: 1000, CRC: 0xabce}}, true},
		{"nothing sent fails", sendResult{}, true},
	}
	for _, c := range cases {
		if err := checkTransfer(c.res); (err != nil) != c.wantFail {
			t.Errorf("%s: got %v", c.name, err)
		}
	}
}
