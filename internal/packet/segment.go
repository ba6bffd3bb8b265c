package packet

import "encoding/binary"

// Software GSO: Segment cuts a super-packet into the packets the kernel's
// own segmentation (tcp_gso_segment, __udp_gso_segment) would send, for a
// receiver that does not accept its GSO type.

// super is a super-packet that Check accepted, ready to cut.
type super struct {
	ip    []byte // the IP packet, after the virtio header
	iphl  int    // IP header length
	hl    int    // IP and transport header length
	mss   int    // payload bytes per segment
	n     int    // number of segments
	proto uint8
}

func parseSuper(pkt []byte) (super, error) {
	h, ok := ParseVirtioHdr(pkt)
	if !ok {
		return super{}, ErrShort
	}
	ip := pkt[VirtioHdrLen:]
	hdr, err := ParseHeader(ip)
	if err != nil {
		return super{}, err
	}
	if h.GSOType == GSONone {
		return super{}, ErrGSO
	}
	hl, err := h.Check(ip, hdr)
	if err != nil {
		return super{}, err
	}
	s := super{ip: ip, iphl: hdr.Len, hl: hl, mss: int(h.GSOSize), proto: hdr.Proto}
	s.n = max(1, (len(ip)-hl+s.mss-1)/s.mss)
	return s, nil
}

// size is the length of segment i, virtio header included.
func (s *super) size(i int) int {
	payload := len(s.ip) - s.hl
	return VirtioHdrLen + s.hl + min(s.mss, payload-i*s.mss)
}

// Segments reports how many packets Segment cuts the super-packet pkt
// into and the length of the largest, virtio header included; the error
// is Segment's.
func Segments(pkt []byte) (n, maxLen int, err error) {
	s, err := parseSuper(pkt)
	if err != nil {
		return 0, 0, err
	}
	return s.n, s.size(0), nil
}

// Segment cuts the GSO super-packet pkt (a virtio header and an IP packet,
// as a TUN with offloads reads it: gso_type TCPv4, TCPv6 or UDP_L4, with
// VirtioNeedsCsum; see VirtioHdr.Check) into packets of at most GSOSize
// payload bytes, as the kernel would: each gets its own IP length, IPv4
// identification (the super-packet's plus its index) and header checksum;
// TCP segments get their sequence numbers, with FIN and PSH left only on
// the last and CWR only on the first; UDP datagrams their length; and
// every segment a complete transport checksum.
//
// Segment i is written to bufs[i] as a virtio header of zeros (a plain
// packet, checksum complete) followed by the IP packet, and sizes[i] is
// its length. It returns the number of segments. bufs and sizes are
// checked before anything is written: too few, or a buffer shorter than
// its segment, is ErrNoRoom (Segments tells what is needed). A pkt that
// is not such a super-packet gets ParseHeader's errors or ErrGSO. pkt is
// not modified and must not overlap bufs; Segment allocates nothing.
func Segment(pkt []byte, bufs [][]byte, sizes []int) (int, error) {
	s, err := parseSuper(pkt)
	if err != nil {
		return 0, err
	}
	if s.n > len(bufs) || s.n > len(sizes) {
		return 0, ErrNoRoom
	}
	for i := range s.n {
		if len(bufs[i]) < s.size(i) {
			return 0, ErrNoRoom
		}
	}
	for i := range s.n {
		sizes[i] = s.cut(i, bufs[i])
	}
	return s.n, nil
}

// cut writes segment i into out and returns its length.
func (s *super) cut(i int, out []byte) int {
	m := s.size(i)
	clear(out[:VirtioHdrLen])
	seg := out[VirtioHdrLen:m]
	start := s.hl + i*s.mss
	copy(seg, s.ip[:s.hl])
	copy(seg[s.hl:], s.ip[start:start+len(seg)-s.hl])
	if seg[0]>>4 == 4 {
		binary.BigEndian.PutUint16(seg[2:], uint16(len(seg)))
		binary.BigEndian.PutUint16(seg[4:], binary.BigEndian.Uint16(s.ip[4:])+uint16(i))
		seg[10], seg[11] = 0, 0
		binary.BigEndian.PutUint16(seg[10:], Checksum(seg[:s.iphl], 0))
	} else {
		binary.BigEndian.PutUint16(seg[4:], uint16(len(seg)-IPv6HdrLen))
	}
	l4 := seg[s.iphl:]
	csumAt := UDPCsumOffset
	if s.proto == ProtoTCP {
		csumAt = TCPCsumOffset
		binary.BigEndian.PutUint32(l4[4:], binary.BigEndian.Uint32(l4[4:])+uint32(i*s.mss))
		if i < s.n-1 {
			l4[13] &^= TCPFin | TCPPsh
		}
		if i > 0 {
			l4[13] &^= TCPCwr
		}
	} else {
		binary.BigEndian.PutUint16(l4[4:], uint16(len(l4)))
	}
	l4[csumAt], l4[csumAt+1] = 0, 0
	binary.BigEndian.PutUint16(l4[csumAt:], transportChecksum(l4, s.proto, PseudoSum(seg, s.proto, len(l4))))
	return m
}
