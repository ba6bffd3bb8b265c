package record

import (
	"bytes"
	"crypto/tls"
	"encoding/binary"
	"errors"
	"io"
	"testing"
)

// sealInner seals inner, a TLSInnerPlaintext as given (content, content
// type, padding), as s's next record. Append never pads; a peer may.
func sealInner(t testing.TB, s *Sealer, inner []byte) []byte {
	t.Helper()
	nonce, err := s.h.next()
	if err != nil {
		t.Fatal(err)
	}
	hdr := []byte{byte(TypeApplicationData), 3, 3, 0, 0}
	binary.BigEndian.PutUint16(hdr[3:], uint16(len(inner)+tagLen))
	return s.h.aead.Seal(hdr, nonce, inner, hdr)
}

// padded is an inner plaintext: content, the type application_data, then
// zeros up to size bytes in all.
func padded(content []byte, size int) []byte {
	inner := make([]byte, size)
	copy(inner, content)
	inner[len(content)] = byte(TypeApplicationData)
	return inner
}

// repeat is n copies of inner.
func repeat(n int, inner []byte) [][]byte {
	out := make([][]byte, n)
	for i := range out {
		out[i] = inner
	}
	return out
}

// limitCases are records a peer may or may not send, as inner plaintexts
// of application_data, each followed by a last record with content "end"
// that shows whether the stream goes on.
var limitCases = []struct {
	name    string
	records [][]byte
	want    error // nil: every record opens
}{
	{"padding after the content type is removed", [][]byte{padded([]byte("hi"), 7)}, nil},
	{"2^14 content bytes without padding open", [][]byte{padded(bytes.Repeat([]byte{1}, MaxPlaintext), MaxPlaintext+1)}, nil},
	{"content, type and padding of 2^14+1 bytes open", [][]byte{padded([]byte("x"), MaxPlaintext+1)}, nil},
	{"padding one byte past 2^14+1 is record_overflow", [][]byte{padded([]byte("x"), MaxPlaintext+2)}, errTooLong},
	{"padding up to the largest ciphertext is record_overflow", [][]byte{padded([]byte("x"), MaxCiphertext-tagLen)}, errTooLong},
	{"2^14+1 content bytes are record_overflow", [][]byte{padded(bytes.Repeat([]byte{1}, MaxPlaintext+1), MaxPlaintext+2)}, errTooLong},
	{"a record of zeros has no content type", [][]byte{make([]byte, 9)}, ErrNoType},
	{"16 empty records in a row open", repeat(MaxEmptyRecords, padded(nil, 1)), nil},
	{"a 17th empty record in a row is refused", repeat(MaxEmptyRecords+1, padded(nil, 1)), ErrEmptyRecords},
	{"records of type and padding only count as empty", repeat(MaxEmptyRecords+1, padded(nil, 200)), ErrEmptyRecords},
	{"a record with content starts the count again", append(append(repeat(MaxEmptyRecords, padded(nil, 1)),
		padded([]byte("x"), 2)), repeat(MaxEmptyRecords, padded(nil, 1))...), nil},
}

// contentOf is what the records of a case carry, the last one included.
func contentOf(records [][]byte) []byte {
	var out []byte
	for _, inner := range records {
		if c := bytes.TrimRight(inner, "\x00"); len(c) > 0 { // a record of zeros has no content
			out = append(out, c[:len(c)-1]...)
		}
	}
	return append(out, "end"...)
}

// TestOpenChecksInnerPlaintext: RFC 8446 §5.4 lets a sender pad after the
// content type, but content, type and padding together must fit 2^14+1
// bytes; a record without a type, and runs of more than MaxEmptyRecords
// records without content, are refused too.
func TestOpenChecksInnerPlaintext(t *testing.T) {
	for _, tc := range limitCases {
		t.Run(tc.name, func(t *testing.T) {
			s, o := testPair(t, tls.TLS_AES_128_GCM_SHA256)
			var wire []byte
			for _, inner := range append(tc.records, padded([]byte("end"), 4)) {
				wire = append(wire, sealInner(t, s, inner)...)
			}
			got, _, err := openAll(o, wire)
			if !errors.Is(err, tc.want) {
				t.Fatalf("opened %d bytes, then %v; want %v", len(got), err, tc.want)
			}
			if err == nil && !bytes.Equal(got, contentOf(tc.records)) {
				t.Fatalf("opened %q, want %q", got, contentOf(tc.records))
			}
			if err != nil {
				t.Logf("refused: %v", err)
			}
		})
	}
}

// TestLimitsAgreeWithCryptoTLS: crypto/tls, reading the same records in
// its own session, accepts what Open accepts and refuses what Open refuses.
func TestLimitsAgreeWithCryptoTLS(t *testing.T) {
	for _, tc := range limitCases {
		t.Run(tc.name, func(t *testing.T) {
			srv, raw, kl, st := tlsPair(t)
			s, err := NewSealer(st.CipherSuite, kl.secrets["CLIENT_TRAFFIC_SECRET_0"])
			if err != nil {
				t.Fatal(err)
			}
			var wire []byte
			for _, inner := range append(tc.records, padded([]byte("end"), 4)) {
				wire = append(wire, sealInner(t, s, inner)...)
			}
			go raw.Write(wire)          // ends with the pipe when crypto/tls stops reading
			go io.Copy(io.Discard, raw) // the alert crypto/tls sends when it refuses
			want := contentOf(tc.records)
			got := make([]byte, 0, len(want))
			for err == nil && len(got) < len(want) {
				var n int
				n, err = srv.Read(got[len(got):cap(got)])
				got = got[:len(got)+n]
			}
			switch {
			case tc.want == nil && err != nil:
				t.Fatalf("crypto/tls refused what Open accepts: %v", err)
			case tc.want == nil && !bytes.Equal(got, want):
				t.Fatalf("crypto/tls read %q, want %q", got, want)
			case tc.want != nil && err == nil:
				t.Fatalf("crypto/tls accepted what Open refuses (%v)", tc.want)
			case tc.want != nil:
				t.Logf("crypto/tls refused: %v", err)
			}
		})
	}
}
