package wire

import (
	"bytes"
	"errors"
	"testing"
)

func TestHeaderRoundTrip(t *testing.T) {
	for _, tc := range []struct {
		t Type
		n int
	}{{TypePacket, 0}, {TypePacket, MaxPacketPayload}, {TypeFrame, MaxFramePayload}, {TypePing, PingLen}, {TypeParams, MaxControlPayload}} {
		var b [HeaderLen]byte
		PutHeader(b[:], tc.t, tc.n)
		gt, gn, err := ParseHeader(b[:])
		if err != nil || gt != tc.t || gn != tc.n {
			t.Errorf("round trip of (%#x, %d) gave (%#x, %d, %v)", uint8(tc.t), tc.n, uint8(gt), gn, err)
		}
	}
}

func TestParseHeaderRefusesLongFrames(t *testing.T) {
	var b [HeaderLen]byte
	PutHeader(b[:], TypePacket, MaxPacketPayload+1)
	if _, _, err := ParseHeader(b[:]); !errors.Is(err, ErrFrameTooLong) {
		t.Errorf("a packet frame over the limit: %v", err)
	}
	PutHeader(b[:], TypeFrame, MaxFramePayload+1)
	if _, _, err := ParseHeader(b[:]); !errors.Is(err, ErrFrameTooLong) {
		t.Errorf("an Ethernet frame over the limit: %v", err)
	}
	PutHeader(b[:], TypePing, MaxControlPayload+1)
	if _, _, err := ParseHeader(b[:]); !errors.Is(err, ErrFrameTooLong) {
		t.Errorf("a control frame over the limit: %v", err)
	}
}

func TestAppendFrame(t *testing.T) {
	got := AppendFrame([]byte{9}, TypePong, []byte{1, 2})
	if want := []byte{9, 0x12, 0, 0, 2, 1, 2}; !bytes.Equal(got, want) {
		t.Fatalf("got %x, want %x", got, want)
	}
}

func FuzzParseHeader(f *testing.F) {
	f.Add([]byte{1, 0, 5, 0xdc})
	f.Add([]byte{0xff, 0xff, 0xff, 0xff})
	f.Fuzz(func(t *testing.T, b []byte) {
		if len(b) < HeaderLen {
			return
		}
		typ, n, err := ParseHeader(b)
		if err == nil && n > MaxLen(typ) {
			t.Fatalf("accepted %d bytes for type %#x", n, uint8(typ))
		}
	})
}
