package record

import (
	"bytes"
	"crypto/tls"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"testing"
)

var updateSeeds = flag.Bool("update-seeds", false, "rewrite FuzzOpen's seed corpus in testdata/fuzz/FuzzOpen")

// fuzzSecret keys the records of FuzzOpen's seeds; otherSecret keys none.
var (
	fuzzSecret  = bytes.Repeat([]byte{0x5a}, 32)
	otherSecret = bytes.Repeat([]byte{0xa5}, 32)
)

func newFuzzOpener(t testing.TB, secret []byte) *Opener {
	o, err := NewOpener(tls.TLS_AES_128_GCM_SHA256, secret)
	if err != nil {
		t.Fatal(err)
	}
	return o
}

// fuzzSeeds are the inputs of FuzzOpen's seed corpus: records sealed under
// fuzzSecret that reach each of Open's checks, and the error openAll
// returns for each.
func fuzzSeeds(t testing.TB) []struct {
	name string
	wire []byte
	want error
} {
	seal := func(records ...[]byte) []byte {
		s, err := NewSealer(tls.TLS_AES_128_GCM_SHA256, fuzzSecret)
		if err != nil {
			t.Fatal(err)
		}
		var wire []byte
		for _, inner := range records {
			wire = append(wire, sealInner(t, s, inner)...)
		}
		return wire
	}
	forged := seal(padded([]byte("seed"), 5))
	forged[HeaderLen] ^= 1
	return []struct {
		name string
		wire []byte
		want error
	}{
		{"one-record", seal(padded([]byte("seed"), 5)), nil},
		{"padded", seal(padded([]byte("seed"), 5), padded([]byte("padded"), 64)), nil},
		{"padded-to-the-limit", seal(padded([]byte("x"), maxInner)), nil},
		{"padded-past-the-limit", seal(padded([]byte("x"), maxInner+1)), errTooLong},
		{"empty-records-up-to-the-bound", seal(append(repeat(MaxEmptyRecords, padded(nil, 1)), padded([]byte("end"), 4))...), nil},
		{"empty-records-past-the-bound", seal(repeat(MaxEmptyRecords+1, padded(nil, 3))...), ErrEmptyRecords},
		{"no-content-type", seal(make([]byte, 9)), ErrNoType},
		{"forged", forged, ErrAuth},
		{"cut-short", []byte{23, 3, 3, 0, 17, 1, 2, 3}, io.ErrUnexpectedEOF},
	}
}

// TestFuzzSeeds: the seed corpus in testdata/fuzz/FuzzOpen is what
// fuzzSeeds seals (go test -run TestFuzzSeeds -update-seeds rewrites it),
// and each seed meets the fate it was made for.
func TestFuzzSeeds(t *testing.T) {
	for _, sd := range fuzzSeeds(t) {
		path := filepath.Join("testdata", "fuzz", "FuzzOpen", sd.name)
		file := fmt.Appendf(nil, "go test fuzz v1\n[]byte(%q)\n", sd.wire)
		if *updateSeeds {
			if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
				t.Fatal(err)
			}
			if err := os.WriteFile(path, file, 0o644); err != nil {
				t.Fatal(err)
			}
		}
		if got, err := os.ReadFile(path); err != nil || !bytes.Equal(got, file) {
			t.Errorf("%s is missing or stale (%v); go test -run TestFuzzSeeds -update-seeds rewrites it", path, err)
		}
		if _, _, err := openAll(newFuzzOpener(t, fuzzSecret), sd.wire); !errors.Is(err, sd.want) {
			t.Errorf("seed %s: %v, want %v", sd.name, err, sd.want)
		}
	}
}

// FuzzOpen: no input makes the Opener panic, open a record beyond the
// limits of RFC 8446 §5.4 and MaxEmptyRecords, or open anything under a
// key nobody sealed with.
func FuzzOpen(f *testing.F) {
	f.Fuzz(func(t *testing.T, b []byte) {
		checkLimits(t, newFuzzOpener(t, fuzzSecret), b)
		if out, _, err := openAll(newFuzzOpener(t, otherSecret), b); err == nil && len(b) > 0 {
			t.Fatalf("opened %d bytes under a key nobody sealed with", len(out))
		}
	})
}

// checkLimits opens the records in b until one fails, and fails the test
// if one that opened breaks a limit.
func checkLimits(t *testing.T, o *Opener, b []byte) {
	empty := 0
	for len(b) >= HeaderLen {
		n, err := ParseHeader(b)
		if err != nil || len(b) < HeaderLen+n {
			return
		}
		typ, content, err := o.Open(nil, b[:HeaderLen], b[HeaderLen:HeaderLen+n])
		if err != nil {
			return
		}
		empty++
		if len(content) > 0 {
			empty = 0
		}
		switch {
		case n-tagLen > MaxPlaintext+1:
			t.Fatalf("record %d opened with %d bytes of content, type and padding", o.Seq(), n-tagLen)
		case typ == 0:
			t.Fatalf("record %d opened without a content type", o.Seq())
		case empty > MaxEmptyRecords:
			t.Fatalf("record %d opened, the %dth in a row without content", o.Seq(), empty)
		}
		b = b[HeaderLen+n:]
	}
}
