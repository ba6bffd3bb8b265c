package main

import (
	"strings"
	"testing"

	"github.com/tlsvpn/tlsvpn/internal/lab"
)

func TestFmtNumKeepsAboutThreeDigits(t *testing.T) {
	for in, want := range map[float64]string{
		0: "0", 2: "2", 0.0512: "0.051", 0.004: "0.0040", 3.6712: "3.67", 23.44: "23.4", 1500: "1500", 478.6: "479",
	} {
		if got := fmtNum(in); got != want {
			t.Errorf("fmtNum(%v) = %q, want %q", in, got, want)
		}
	}
}

func TestCell(t *testing.T) {
	if got := cell(lab.Summarize[float64](nil)); got != "n/a" {
		t.Errorf("cell(none) = %q", got)
	}
	if got := cell(lab.Summarize([]float64{3.67})); got != "3.67" {
		t.Errorf("cell(one) = %q", got)
	}
	if got := cell(lab.Summarize([]float64{3.67, 3.28, 3.80})); got != "3.67 [3.28–3.80]" {
		t.Errorf("cell(three) = %q", got)
	}
}

func TestTableHasRatioColumnsAgainstEveryOtherSystem(t *testing.T) {
	rows := []row{
		{m: mTCP1, label: "TCP, 1 stream", unit: "Gbit/s", better: higher},
		{m: mMTU, label: "tunnel MTU", unit: "bytes", noRatio: true},
		{m: mRetr1, label: "retransmits", unit: "per step", better: lower},
	}
	data := map[string]samples{
		nameTLSVPN:    {mTCP1: {6, 7, 8}, mMTU: {1500}, mRetr1: {5}},
		nameWireGuard: {mTCP1: {3.5}, mMTU: {1420}, mRetr1: {0}},
		nameVeth:      {mTCP1: {20}, mMTU: {1500}},
	}
	text := map[string]map[string]string{"version": {nameTLSVPN: "dev | x", nameWireGuard: "v0"}}
	got := table(rows, []string{nameTLSVPN, nameWireGuard, nameVeth}, data, []string{"version"}, text)
	want := `|  | unit | tlsvpn | wireguard-go | veth | tlsvpn ÷ wireguard-go | tlsvpn ÷ veth |
| --- | --- | --- | --- | --- | --- | --- |
| version |  | dev \| x | v0 | — |  |  |
| TCP, 1 stream | Gbit/s ↑ | 7 [6–8] | 3.50 | 20 | 2× | 0.350× |
| tunnel MTU | bytes | 1500 | 1420 | 1500 |  |  |
| retransmits | per step ↓ | 5 | 0 | n/a |  |  |
`
	if got != want {
		t.Errorf("table() =\n%s\nwant\n%s", got, want)
	}
}

func TestTableWithoutTLSVPNHasNoRatios(t *testing.T) {
	rows := []row{{m: mTCP1, label: "TCP, 1 stream", unit: "Gbit/s", better: higher}}
	got := table(rows, []string{nameOpenVPN, nameVeth}, map[string]samples{nameOpenVPN: {}, nameVeth: {}}, nil, nil)
	if strings.Contains(got, "÷") || !strings.Contains(got, "OpenVPN TCP") {
		t.Errorf("table() =\n%s", got)
	}
}
