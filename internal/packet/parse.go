package packet

import (
	"encoding/binary"
	"net/netip"
)

// maxExtHeaders bounds the IPv6 extension headers Parse walks; a longer
// chain is refused (ErrHeader). Real traffic has one or two.
const maxExtHeaders = 8

// quotedL4Len is how much of the transport header an ICMP error quotes at
// least (RFC 792; RFC 1812 §4.3.2.3 and RFC 4443 quote more when they can).
const quotedL4Len = 8

// Fragment says which part of a fragmented datagram a packet is.
type Fragment uint8

const (
	// NotFragment: a whole datagram (an IPv6 atomic fragment, offset 0
	// without "more fragments", counts as whole, RFC 6946).
	NotFragment Fragment = iota
	// FirstFragment: offset 0 with more to come; it carries the header
	// chain and the transport header.
	FirstFragment
	// LaterFragment: offset > 0; no transport header, so no ports.
	LaterFragment
)

// ICMP and ICMPv6 message types (RFC 792, RFC 4443).
const (
	ICMPv4EchoReply    = 0
	ICMPv4Unreachable  = 3
	ICMPv4SourceQuench = 4
	ICMPv4Redirect     = 5
	ICMPv4EchoRequest  = 8
	ICMPv4TimeExceeded = 11
	ICMPv4ParamProblem = 12
	ICMPv6Unreachable  = 1
	ICMPv6PacketTooBig = 2
	ICMPv6TimeExceeded = 3
	ICMPv6ParamProblem = 4
	ICMPv6EchoRequest  = 128
	ICMPv6EchoReply    = 129

	icmpv6FirstNonError = 128 // ICMPv6 types below are errors (RFC 4443 §2.1)
)

// Info is what a filter needs to know of an IP packet: Parse fills it in.
// Offsets are from the start of the packet given to Parse.
type Info struct {
	Version  uint8 // 4 or 6
	Src, Dst netip.Addr
	// Proto is the transport protocol: the IPv4 protocol, or the IPv6 next
	// header after the extension headers Parse walks (hop-by-hop, routing,
	// destination options, fragment). AH, ESP and unknown headers end the
	// walk and are the Proto. In a LaterFragment it is the next header of
	// the fragment header. In a truncated quote it may be an extension
	// header the walk could not pass.
	Proto uint8
	L4Off int // offset of the transport header (IPv4: IHL*4); in a LaterFragment, of its data
	Frag  Fragment
	// FragID is a fragment's identification, which its datagram's
	// fragments share with its source, destination and protocol: the
	// IPv4 header's 16 bits or the IPv6 fragment header's 32; 0 in a
	// whole datagram.
	FragID uint32

	// HasL4 says the transport fields below were read: TCP, UDP, ICMP in
	// IPv4 or ICMPv6 in IPv6, not in a LaterFragment.
	HasL4              bool
	SrcPort, DstPort   uint16 // TCP and UDP
	TCPFlags           uint8  // TCPSyn, TCPAck, ... (0 in a quote that ends before them)
	ICMPType, ICMPCode uint8  // ICMP and ICMPv6
	EchoID             uint16 // ICMP and ICMPv6 echo request and reply
	// Quote is, for an ICMP or ICMPv6 error message, the offset of the
	// packet it quotes (its IP header), which Quoted parses; 0 otherwise.
	Quote int
}

// Parse reads the IP packet ip: version, addresses, the IPv6 extension
// header chain (at most 8 headers; hop-by-hop only first), fragment
// information, and the transport header of TCP, UDP, ICMP and ICMPv6.
// The packet's length field must equal len(ip) (ErrLength), every header
// up to and including the transport header must be complete (ErrShort:
// a first fragment too short to hold its ports is refused too), and a TCP
// data offset below 5 is ErrL4. Other errors: ErrVersion, ErrHeader. Parse
// allocates nothing and does not keep ip.
func Parse(ip []byte) (Info, error) {
	var i Info
	err := i.parse(ip, false)
	return i, err
}

// Quoted parses the packet quoted by the ICMP or ICMPv6 error message ip,
// which Parse read into i. A quote is normally truncated (RFC 792 keeps
// the IP header and 8 bytes of transport header, RFC 4443 as much as fits
// in 1280 bytes): its length field is not checked against its length,
// HasL4 is false when fewer than 8 transport bytes are there, and TCP
// fields beyond the first 8 bytes are read only if present. Its offsets
// are from the start of the quote, ip[i.Quote:]. The error is ErrNoQuote
// when i.Quote is 0, ErrVersion when the quote is not of ip's IP version,
// or one of Parse's for a quote whose IP header is incomplete or malformed.
func (i *Info) Quoted(ip []byte) (Info, error) {
	var q Info
	if i.Quote == 0 || i.Quote >= len(ip) {
		return q, ErrNoQuote
	}
	if err := q.parse(ip[i.Quote:], true); err != nil {
		return q, err
	}
	if q.Version != i.Version {
		return Info{}, ErrVersion
	}
	return q, nil
}

func (i *Info) parse(b []byte, quoted bool) error {
	if len(b) == 0 {
		return ErrShort
	}
	switch b[0] >> 4 {
	case 4:
		return i.parse4(b, quoted)
	case 6:
		return i.parse6(b, quoted)
	}
	return ErrVersion
}

func (i *Info) parse4(b []byte, quoted bool) error {
	if len(b) < IPv4HdrLen {
		return ErrShort
	}
	ihl := int(b[0]&0x0f) * 4
	total := int(binary.BigEndian.Uint16(b[2:]))
	switch {
	case ihl < IPv4HdrLen:
		return ErrHeader
	case len(b) < ihl:
		return ErrShort
	case quoted && total < ihl, !quoted && total != len(b):
		return ErrLength
	}
	b = b[:min(total, len(b))] // a quote may be followed by RFC 4884 extensions
	i.Version, i.Proto, i.L4Off = 4, b[9], ihl
	i.Src = netip.AddrFrom4([4]byte(b[12:16]))
	i.Dst = netip.AddrFrom4([4]byte(b[16:20]))
	switch frag := binary.BigEndian.Uint16(b[6:]); {
	case frag&0x1fff != 0: // fragment offset
		i.Frag, i.FragID = LaterFragment, uint32(binary.BigEndian.Uint16(b[4:]))
		return nil
	case frag&0x2000 != 0: // more fragments
		i.Frag, i.FragID = FirstFragment, uint32(binary.BigEndian.Uint16(b[4:]))
	}
	return i.parseL4(b, quoted)
}

func (i *Info) parse6(b []byte, quoted bool) error {
	if len(b) < IPv6HdrLen {
		return ErrShort
	}
	end := IPv6HdrLen + int(binary.BigEndian.Uint16(b[4:]))
	if !quoted && end != len(b) {
		return ErrLength
	}
	b = b[:min(end, len(b))]
	i.Version = 6
	i.Src = netip.AddrFrom16([16]byte(b[8:24]))
	i.Dst = netip.AddrFrom16([16]byte(b[24:40]))
	next, off := b[6], IPv6HdrLen
	for n := 0; ; n++ {
		i.Proto, i.L4Off = next, off
		size := 8 // the fragment header, and the least of the others
		switch next {
		case ProtoHopOpts, ProtoRouting, ProtoDstOpts:
			if len(b) >= off+2 {
				size = (int(b[off+1]) + 1) * 8
			}
		case ProtoFragment:
		default:
			return i.parseL4(b, quoted)
		}
		switch {
		case n == maxExtHeaders, next == ProtoHopOpts && n > 0: // RFC 8200 §4.1: hop-by-hop comes first
			return ErrHeader
		case len(b) < off+size:
			if quoted {
				return nil
			}
			return ErrShort
		}
		if next == ProtoFragment {
			frag, id := binary.BigEndian.Uint16(b[off+2:]), binary.BigEndian.Uint32(b[off+4:])
			if frag&0xfff8 != 0 { // fragment offset
				i.Proto, i.L4Off, i.Frag, i.FragID = b[off], off+size, LaterFragment, id
				return nil
			}
			if frag&1 != 0 { // more fragments
				i.Frag, i.FragID = FirstFragment, id
			}
		}
		next, off = b[off], off+size
	}
}

// parseL4 reads the transport header at i.L4Off of b, which ends where the
// packet (or the quoted packet's length) ends.
func (i *Info) parseL4(b []byte, quoted bool) error {
	var need int
	switch {
	case i.Proto == ProtoTCP:
		need = TCPHdrLen
	case i.Proto == ProtoUDP:
		need = UDPHdrLen
	case i.Proto == ProtoICMP && i.Version == 4, i.Proto == ProtoICMPv6 && i.Version == 6:
		need = ICMPHdrLen
	default:
		return nil
	}
	l4 := b[i.L4Off:]
	if quoted {
		need = quotedL4Len
	}
	if len(l4) < need {
		if quoted {
			return nil
		}
		return ErrShort
	}
	i.HasL4 = true
	switch i.Proto {
	case ProtoTCP:
		i.SrcPort, i.DstPort = binary.BigEndian.Uint16(l4), binary.BigEndian.Uint16(l4[2:])
		if len(l4) > 13 {
			i.TCPFlags = l4[13]
		}
		if quoted {
			return nil
		}
		if doff := int(l4[12]>>4) * 4; doff < TCPHdrLen {
			return ErrL4
		} else if len(l4) < doff {
			return ErrShort
		}
	case ProtoUDP:
		i.SrcPort, i.DstPort = binary.BigEndian.Uint16(l4), binary.BigEndian.Uint16(l4[2:])
	default:
		i.parseICMP(l4, quoted)
	}
	return nil
}

// parseICMP reads the type, code and echo identifier of an ICMP or ICMPv6
// header of at least ICMPHdrLen bytes, and finds an error's quote.
func (i *Info) parseICMP(l4 []byte, quoted bool) {
	i.ICMPType, i.ICMPCode = l4[0], l4[1]
	if i.EchoRequest() || i.EchoReply() {
		i.EchoID = binary.BigEndian.Uint16(l4[4:])
	}
	if i.ICMPError() && !quoted && len(l4) > ICMPHdrLen {
		i.Quote = i.L4Off + ICMPHdrLen
	}
}

// isICMP reports whether i's transport header is ICMP in IPv4 or ICMPv6
// in IPv6, and was read.
func (i *Info) isICMP() bool {
	return i.HasL4 && (i.Version == 4 && i.Proto == ProtoICMP || i.Version == 6 && i.Proto == ProtoICMPv6)
}

// ICMPError reports whether i is an ICMP or ICMPv6 error message:
// destination unreachable, source quench, redirect, time exceeded or
// parameter problem in IPv4 (RFC 792), a type below 128 in IPv6 (RFC 4443
// §2.1). No error is ever sent about an error (RFC 1122 §3.2.2, RFC 4443
// §2.4).
func (i *Info) ICMPError() bool {
	if !i.isICMP() {
		return false
	}
	if i.Version == 6 {
		return i.ICMPType < icmpv6FirstNonError
	}
	switch i.ICMPType {
	case ICMPv4Unreachable, ICMPv4SourceQuench, ICMPv4Redirect, ICMPv4TimeExceeded, ICMPv4ParamProblem:
		return true
	}
	return false
}

// EchoRequest reports whether i is an ICMP or ICMPv6 echo request.
func (i *Info) EchoRequest() bool {
	return i.isICMP() && i.ICMPType == map4or6(i.Version, ICMPv4EchoRequest, ICMPv6EchoRequest)
}

// EchoReply reports whether i is an ICMP or ICMPv6 echo reply.
func (i *Info) EchoReply() bool {
	return i.isICMP() && i.ICMPType == map4or6(i.Version, ICMPv4EchoReply, ICMPv6EchoReply)
}

func map4or6(version, v4, v6 uint8) uint8 {
	if version == 4 {
		return v4
	}
	return v6
}
