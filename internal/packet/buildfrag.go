package packet

import "encoding/binary"

// Fragments cuts the IP packet ip, as the builders make it (no IPv4
// options, no IPv6 extension headers), into fragments of at most mtu bytes
// that share the identification id, as a router would (RFC 791 §3.2; RFC
// 8200 §4.5, with a fragment header after the fixed header). It is a
// builder: it allocates, and panics when mtu leaves no room for 8 bytes of
// data. A packet that fits is still cut in one piece, an atomic fragment
// in IPv6.
func Fragments(ip []byte, mtu int, id uint32) [][]byte {
	v4 := ip[0]>>4 == 4
	hl, fragHdr := IPv6HdrLen, 8
	if v4 {
		hl, fragHdr = IPv4HdrLen, 0
	}
	step := (mtu - hl - fragHdr) &^ 7
	if step <= 0 {
		panic("packet: no room for fragment data")
	}
	data := ip[hl:]
	var out [][]byte
	for off := 0; off < len(data) || off == 0; off += step {
		chunk := data[off:min(off+step, len(data))]
		more := off+len(chunk) < len(data)
		f := make([]byte, hl+fragHdr+len(chunk))
		copy(f, ip[:hl])
		copy(f[hl+fragHdr:], chunk)
		word := uint16(off / 8)
		if v4 {
			if more {
				word |= 0x2000
			}
			binary.BigEndian.PutUint16(f[2:], uint16(len(f)))
			binary.BigEndian.PutUint16(f[4:], uint16(id))
			binary.BigEndian.PutUint16(f[6:], word)
			f[10], f[11] = 0, 0
			binary.BigEndian.PutUint16(f[10:], Checksum(f[:IPv4HdrLen], 0))
		} else {
			word <<= 3
			if more {
				word |= 1
			}
			binary.BigEndian.PutUint16(f[4:], uint16(len(f)-IPv6HdrLen))
			f[6] = ProtoFragment
			fh := f[IPv6HdrLen:]
			fh[0] = ip[6]
			binary.BigEndian.PutUint16(fh[2:], word)
			binary.BigEndian.PutUint32(fh[4:], id)
		}
		out = append(out, f)
		if !more {
			break
		}
	}
	return out
}
