package main

import (
	"io"
	"slices"
	"testing"
)

func TestParseFlags(t *testing.T) {
	tests := []struct {
		name    string
		args    []string
		runs    int
		seconds int
		only    []string
		wantErr bool
	}{
		{name: "defaults measure every system 5 times for 5 s", runs: 5, seconds: 5, only: systemNames},
		{name: "--quick is 1 run of 1-s steps whatever else is set", args: []string{"--runs", "9", "--quick"}, runs: 1, seconds: 1, only: systemNames},
		{name: "--only keeps the run order", args: []string{"--only", "veth, tlsvpn,veth"}, runs: 5, seconds: 5, only: []string{nameTLSVPN, nameVeth}},
		{name: "an unknown system is a usage error", args: []string{"--only", "tlsvpn,ipsec"}, wantErr: true},
		{name: "an empty --only is a usage error", args: []string{"--only", ","}, wantErr: true},
		{name: "zero runs is a usage error", args: []string{"--runs", "0"}, wantErr: true},
		{name: "steps beyond the command timeout are a usage error", args: []string{"--time", "60"}, wantErr: true},
		{name: "a stray argument is a usage error", args: []string{"tlsvpn"}, wantErr: true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			o, err := parseFlags(tt.args, io.Discard)
			if (err != nil) != tt.wantErr {
				t.Fatalf("parseFlags(%q) error = %v, want error %v", tt.args, err, tt.wantErr)
			}
			if tt.wantErr {
				return
			}
			if o.runs != tt.runs || o.seconds != tt.seconds || !slices.Equal(o.only, tt.only) {
				t.Errorf("parseFlags(%q) = runs %d, time %d, only %v; want %d, %d, %v", tt.args, o.runs, o.seconds, o.only, tt.runs, tt.seconds, tt.only)
			}
		})
	}
}

func TestRunRefusesBadFlagsWithExitCode2(t *testing.T) {
	if got := run([]string{"--runs", "x"}, io.Discard, io.Discard); got != exitUsage {
		t.Errorf("run(bad flag) = %d, want %d", got, exitUsage)
	}
	if got := run([]string{"--help"}, io.Discard, io.Discard); got != exitOK {
		t.Errorf("run(--help) = %d, want %d", got, exitOK)
	}
}
