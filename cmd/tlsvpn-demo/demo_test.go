package main

import (
	"context"
	"os"
	"testing"
	"time"

	"github.com/tlsvpn/tlsvpn/internal/lab"
)

// TestMain lets the test binary stand in for the demo binary: run inside a
// namespace with a tool's name as first argument, it runs that tool.
func TestMain(m *testing.M) {
	if len(os.Args) > 1 {
		if _, ok := tools[os.Args[1]]; ok {
			os.Exit(runTool(os.Args[1], os.Args[2:], os.Stdout, os.Stderr))
		}
	}
	os.Exit(m.Run())
}

// newTraffic builds a topology and returns the tools of this test binary in it.
func newTraffic(t *testing.T, o lab.Options) traffic {
	t.Helper()
	topo := lab.New(t, o)
	self, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	return traffic{topo: topo, self: self, logDir: t.TempDir()}
}

func TestSinkReceivesExactlyTheBytesSendSent(t *testing.T) {
	tr := newTraffic(t, lab.Options{})
	sink, log, err := tr.startSink(tr.topo.GwB)
	if err != nil {
		t.Fatal(err)
	}
	res, err := tr.send(context.Background(), tr.topo.GwA, lab.UnderlayB, time.Second)
	if err != nil {
		t.Fatal(err)
	}
	if err := checkTransfer(res); err != nil {
		t.Error(err)
	}
	if err := sink.Wait(); err != nil {
		t.Fatalf("sink: %v", err)
	}
	got, err := sinkTally(log)
	if err != nil {
		t.Fatal(err)
	}
	if got != res.Sent {
		t.Errorf("sink's own tally %+v; send sent %+v", got, res.Sent)
	}
	t.Logf("%d bytes in %.2f s over the bare underlay: %.0f Mbit/s", res.Sent.Bytes, res.Seconds, mbits(res.Sent.Bytes, res.Seconds))
}

func TestEchoServerAnswersProbesOverIPv4AndIPv6(t *testing.T) {
	tr := newTraffic(t, lab.Options{LANs: true})
	echo, err := tr.startEcho(tr.topo.GwA)
	if err != nil {
		t.Fatal(err)
	}
	defer echo.Stop(time.Second)
	for _, to := range []string{lab.GatewayA4, lab.GatewayA6} {
		res, err := tr.probe(context.Background(), tr.topo.LanA, to, 5, 5*time.Second)
		if err != nil {
			t.Fatal(err)
		}
		if res.Sent != 5 || len(res.RTTs) != 5 {
			t.Errorf("probes to %s: %d of %d answered; want 5 of 5", to, len(res.RTTs), res.Sent)
		}
		for _, rtt := range res.RTTs {
			if rtt <= 0 {
				t.Errorf("probe to %s: round trip %v", to, rtt)
			}
		}
	}
}

func TestProbesWithoutAServerCountAsLost(t *testing.T) {
	tr := newTraffic(t, lab.Options{})
	res, err := tr.probe(context.Background(), tr.topo.GwA, lab.UnderlayB, 3, 200*time.Millisecond)
	if err != nil {
		t.Fatal(err)
	}
	if res.Sent != 3 || len(res.RTTs) != 0 {
		t.Errorf("probes to a port nobody listens on: %d of %d answered; want 0 of 3", len(res.RTTs), res.Sent)
	}
}
