package main

import (
	"os"
	"testing"
	"time"
)

func readTestdata(t *testing.T, name string) string {
	t.Helper()
	b, err := os.ReadFile("testdata/" + name)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

func TestParseIperfTCPReadsTheReceiverAndTheSendersRetransmits(t *testing.T) {
	r, err := parseIperf(readTestdata(t, "iperf3-tcp.json"), false)
	if err != nil {
		t.Fatal(err)
	}
	want := iperfResult{bps: 11350489407.290167, bytes: 1419050955, retransmits: 43}
	if r != want {
		t.Errorf("parseIperf() = %+v, want %+v", r, want)
	}
}

func TestParseIperfUDPCountsTheDatagramsThatArrived(t *testing.T) {
	r, err := parseIperf(readTestdata(t, "iperf3-udp.json"), true)
	if err != nil {
		t.Fatal(err)
	}
	if r.lossPct != 0 || !near(r.bytes, 8922*udpLen) {
		t.Errorf("parseIperf() = %+v, want no loss and %d bytes", r, 8922*udpLen)
	}
	lossy := `{"end": {"sum_received": {"seconds": 2, "bytes": 999999, "packets": 1000, "lost_packets": 250}}}`
	r, err = parseIperf(lossy, true)
	if err != nil {
		t.Fatal(err)
	}
	if !near(r.lossPct, 25) || !near(r.bps, 750*udpLen*8/2.0) {
		t.Errorf("parseIperf(lossy) = %+v, want 25%% loss and %v bit/s", r, 750*udpLen*8/2.0)
	}
}

func TestParseIperfUDPFallsBackToTheOldSum(t *testing.T) {
	old := `{"end": {"sum": {"seconds": 1, "packets": 100, "lost_packets": -3}}}`
	r, err := parseIperf(old, true)
	if err != nil {
		t.Fatal(err)
	}
	if r.lossPct != 0 || !near(r.bytes, 100*udpLen) {
		t.Errorf("parseIperf(old) = %+v, want no loss (negative counts from reordering are 0)", r)
	}
}

func TestParseIperfErrors(t *testing.T) {
	tests := []struct{ name, out string }{
		{"iperf3's own error is returned", `{"start": {}, "end": {}, "error": "unable to connect to server: Connection refused"}`},
		{"output without JSON", "iperf3: error - unable to connect"},
		{"a report without totals", `{"end": {}}`},
		{"broken JSON", `{"end": {"sum_received": }`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if _, err := parseIperf(tt.out, false); err == nil {
				t.Error("parseIperf(): no error")
			}
		})
	}
}

func TestParseRTTs(t *testing.T) {
	out := `PING 100.64.0.2 (100.64.0.2) 56(84) bytes of data.
64 bytes from 100.64.0.2: icmp_seq=1 ttl=64 time=0.412 ms
64 bytes from 100.64.0.2: icmp_seq=2 ttl=64 time=12.5 ms

--- 100.64.0.2 ping statistics ---
2 packets transmitted, 2 received, 0% packet loss, time 201ms
rtt min/avg/max/mdev = 0.412/6.456/12.500/6.044 ms
`
	got := parseRTTs(out)
	if len(got) != 2 || got[0] != 0.412 || got[1] != 12.5 {
		t.Errorf("parseRTTs() = %v, want [0.412 12.5]", got)
	}
}

func TestParseReplyTimeReadsPingsTimestamp(t *testing.T) {
	out := "PING 100.64.0.1 (100.64.0.1) 56(84) bytes of data.\n[1795761759.043071] 64 bytes from 100.64.0.1: icmp_seq=76 ttl=64 time=0.289 ms\n"
	got, ok := parseReplyTime(out)
	if !ok {
		t.Fatal("parseReplyTime(): no time")
	}
	if want := time.Unix(1795761759, 43071000); !got.Equal(want) {
		t.Errorf("parseReplyTime() = %v, want %v", got, want)
	}
	if _, ok := parseReplyTime("connect: Network is unreachable\n"); ok {
		t.Error("parseReplyTime() found a time in an error")
	}
}

func TestLoadPingsFitIntoTheStep(t *testing.T) {
	for _, secs := range []int{1, 2, 5, 10, 50} {
		n := loadPingCount(secs)
		end := loadPingDelay + time.Duration(n-1)*loadPingInterval
		if n < 2 || (secs > 1 && end > time.Duration(secs)*time.Second) {
			t.Errorf("loadPingCount(%d) = %d: last ping at %v", secs, n, end)
		}
	}
}
