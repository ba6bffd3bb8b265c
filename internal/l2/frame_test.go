package l2

import (
	"bytes"
	"testing"
)

func TestParse(t *testing.T) {
	dst := MAC{0x02, 0, 0, 0, 0, 0xb}
	src := MAC{0x02, 0, 0, 0, 0, 0xa}
	plain := append(Broadcast[:], append(src[:], 0x08, 0x06)...)
	tagged := append(dst[:], append(src[:], 0x81, 0x00, 0xa0, 0x2a, 0x86, 0xdd)...)
	double := append(dst[:], append(src[:], 0x81, 0x00, 0x00, 0x05, 0x81, 0x00, 0x00, 0x07)...)
	for _, tc := range []struct {
		name  string
		frame []byte
		ok    bool
		want  Header
	}{
		{"an untagged ARP broadcast gives its addresses and EtherType", append(plain, 1, 2, 3), true,
			Header{Dst: Broadcast, Src: src, EtherType: 0x0806}},
		{"a bare header with no payload parses", plain, true,
			Header{Dst: Broadcast, Src: src, EtherType: 0x0806}},
		{"an 802.1Q tagged frame gives its TCI and the inner EtherType", tagged, true,
			Header{Dst: dst, Src: src, Tagged: true, TCI: 0xa02a, EtherType: 0x86dd}},
		{"a double-tagged frame keeps its inner tag as payload", double, true,
			Header{Dst: dst, Src: src, Tagged: true, TCI: 5, EtherType: 0x8100}},
		{"a frame shorter than a header is refused", plain[:HeaderLen-1], false, Header{}},
		{"an empty frame is refused", nil, false, Header{}},
		{"a tagged frame cut inside its tag is refused", tagged[:HeaderLen+TagLen-1], false, Header{}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var h Header
			ok := Parse(tc.frame, &h)
			if ok != tc.ok {
				t.Fatalf("Parse(% x) ok = %v, want %v", tc.frame, ok, tc.ok)
			}
			if !ok {
				return
			}
			if h != tc.want {
				t.Errorf("Parse(% x) = %+v, want %+v", tc.frame, h, tc.want)
			}
			if got := h.Append(nil); !bytes.Equal(got, tc.frame[:h.Len()]) {
				t.Errorf("Append(Parse(frame)) = % x, want the frame's header % x", got, tc.frame[:h.Len()])
			}
		})
	}
}

func TestHeaderVLANIsTheLow12BitsOfTheTCI(t *testing.T) {
	h := Header{Tagged: true, TCI: 0xe00c} // priority 7, DEI 0, VLAN 12
	if h.VLAN() != 12 || h.Len() != HeaderLen+TagLen {
		t.Errorf("VLAN() = %d, Len() = %d; want 12, %d", h.VLAN(), h.Len(), HeaderLen+TagLen)
	}
}

func TestMACClasses(t *testing.T) {
	for _, tc := range []struct {
		name                   string
		mac                    MAC
		group, local, validSrc bool
		text                   string
	}{
		{"broadcast is a group address and no valid source", Broadcast, true, true, false, "ff:ff:ff:ff:ff:ff"},
		{"an IPv4 multicast MAC is a group address", MAC{0x01, 0x00, 0x5e, 0, 0, 1}, true, false, false, "01:00:5e:00:00:01"},
		{"an IPv6 multicast MAC is a group address", MAC{0x33, 0x33, 0, 0, 0, 1}, true, true, false, "33:33:00:00:00:01"},
		{"the zero MAC is no valid source", MAC{}, false, false, false, "00:00:00:00:00:00"},
		{"a vendor unicast MAC is a valid source", MAC{0x00, 0x1b, 0x21, 1, 2, 3}, false, false, true, "00:1b:21:01:02:03"},
		{"a locally administered unicast MAC is a valid source", MAC{0x02, 0, 0, 0, 0, 1}, false, true, true, "02:00:00:00:00:01"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if tc.mac.IsGroup() != tc.group || tc.mac.IsLocal() != tc.local || tc.mac.ValidSource() != tc.validSrc {
				t.Errorf("%v: group %v, local %v, valid source %v; want %v, %v, %v", tc.mac,
					tc.mac.IsGroup(), tc.mac.IsLocal(), tc.mac.ValidSource(), tc.group, tc.local, tc.validSrc)
			}
			if tc.mac.String() != tc.text {
				t.Errorf("String() = %q, want %q", tc.mac.String(), tc.text)
			}
		})
	}
}

func TestLocalUnicastSetsTheLocalBitAndClearsTheGroupBit(t *testing.T) {
	for _, m := range []MAC{Broadcast, {}, {0x01, 0x00, 0x5e, 1, 2, 3}, {0x02, 1, 2, 3, 4, 5}} {
		got := m.LocalUnicast()
		if !got.IsLocal() || got.IsGroup() || got[0]&^0x03 != m[0]&^0x03 || [5]byte(got[1:]) != [5]byte(m[1:]) {
			t.Errorf("%v.LocalUnicast() = %v", m, got)
		}
	}
}

// FuzzParse checks that Parse never reads past the frame, accepts exactly
// the frames long enough for the header they announce, and that its result
// written back with Append is the frame's header byte for byte.
func FuzzParse(f *testing.F) {
	f.Add([]byte{})
	f.Add(make([]byte, HeaderLen))
	f.Add(append(make([]byte, 12), 0x81, 0x00, 0x00))
	f.Fuzz(func(t *testing.T, frame []byte) {
		var h Header
		ok := Parse(frame, &h)
		tagged := len(frame) >= HeaderLen && frame[12] == 0x81 && frame[13] == 0x00
		want := len(frame) >= HeaderLen && (!tagged || len(frame) >= HeaderLen+TagLen)
		if ok != want {
			t.Fatalf("Parse(% x) ok = %v, want %v", frame, ok, want)
		}
		if !ok {
			return
		}
		if h.Tagged != tagged || h.Len() > len(frame) {
			t.Fatalf("Parse(% x): tagged %v, length %d", frame, h.Tagged, h.Len())
		}
		if got := h.Append(nil); !bytes.Equal(got, frame[:h.Len()]) {
			t.Fatalf("Append(Parse(% x)) = % x", frame, got)
		}
		var again Header
		if !Parse(h.Append(nil), &again) || again != h {
			t.Fatalf("Parse(Append(h)) = %+v, want %+v", again, h)
		}
	})
}
