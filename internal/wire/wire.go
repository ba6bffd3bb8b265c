// Package wire defines the framing of the tlsvpn stream (docs/protocol.md):
// every frame is a 4-byte header — a type byte and a 24-bit big-endian
// payload length — followed by the payload.
package wire

import (
	"encoding/binary"
	"errors"
	"fmt"

	"github.com/tlsvpn/tlsvpn/internal/l2"
)

// HeaderLen is the size of a frame header.
const HeaderLen = 4

// Type is a frame type.
type Type uint8

// Frame types. Types from 0x80 up are optional: a receiver that does not
// know one skips it. An unknown type below 0x80 is a protocol error.
const (
	TypePacket Type = 0x01 // virtio_net_hdr (10 bytes, little-endian) + IP packet or GSO super-packet
	TypeFrame  Type = 0x02 // one Ethernet frame, destination MAC first (TAP mode)
	TypeParams Type = 0x10 // the parameter message, JSON; first frame each way
	TypePing   Type = 0x11 // 8 opaque bytes to echo
	TypePong   Type = 0x12 // the 8 bytes of a Ping
	TypeRotate Type = 0x14 // no payload: please dial a rotation connection (sent by a side that cannot dial)
	TypeClose  Type = 0x15 // 1 byte CloseReason + UTF-8 text; the sender writes nothing after it
	TypePad    Type = 0x80 // optional: skipped by the receiver (a packet the sender's queue dropped)
)

// Limits on payload lengths, checked before any payload is read.
const (
	MaxPacketPayload  = 10 + 65535  // virtio header + largest IP (super-)packet
	MaxFramePayload   = l2.MaxFrame // an Ethernet frame; the receiver holds it to MTU + 14 (+ 4 when tagged)
	MaxControlPayload = 4096
	PingLen           = 8
)

// CloseReason says why a connection is being closed.
type CloseReason uint8

const (
	CloseShutdown  CloseReason = 1 // the node is stopping
	CloseReplaced  CloseReason = 2 // a newer connection replaces this one
	CloseDuplicate CloseReason = 3 // both sides dialed; this one loses
	CloseRemoved   CloseReason = 4 // the peer was removed from the config or its credentials no longer hold
	CloseProtocol  CloseReason = 5 // the other side broke the protocol
	CloseExpired   CloseReason = 6 // a certificate of the chain expired
)

func (r CloseReason) String() string {
	switch r {
	case CloseShutdown:
		return "shutdown"
	case CloseReplaced:
		return "replaced"
	case CloseDuplicate:
		return "duplicate"
	case CloseRemoved:
		return "removed"
	case CloseProtocol:
		return "protocol error"
	case CloseExpired:
		return "certificate expired"
	}
	return fmt.Sprintf("reason %d", uint8(r))
}

// ErrFrameTooLong reports a header whose length exceeds its type's limit.
var ErrFrameTooLong = errors.New("frame too long")

// PutHeader writes a frame header for a payload of n bytes into b[:HeaderLen].
func PutHeader(b []byte, t Type, n int) {
	_ = b[3]
	b[0] = byte(t)
	b[1] = byte(n >> 16)
	b[2] = byte(n >> 8)
	b[3] = byte(n)
}

// ParseHeader reads the header in b[:HeaderLen] and checks the length
// against the type's limit.
func ParseHeader(b []byte) (Type, int, error) {
	_ = b[3]
	t := Type(b[0])
	n := int(b[1])<<16 | int(b[2])<<8 | int(b[3])
	if n > MaxLen(t) {
		return t, n, fmt.Errorf("%w: type %#x, %d bytes", ErrFrameTooLong, uint8(t), n)
	}
	return t, n, nil
}

// MaxLen is the longest payload allowed for t.
func MaxLen(t Type) int {
	switch t {
	case TypePacket:
		return MaxPacketPayload
	case TypeFrame:
		return MaxFramePayload
	}
	return MaxControlPayload
}

// Optional reports whether a receiver that does not know t may skip it.
func (t Type) Optional() bool { return t >= 0x80 }

// AppendFrame appends one whole frame to dst.
func AppendFrame(dst []byte, t Type, payload []byte) []byte {
	var h [HeaderLen]byte
	PutHeader(h[:], t, len(payload))
	dst = append(dst, h[:]...)
	return append(dst, payload...)
}

// PutUint64 writes v into a ping payload.
func PutUint64(b []byte, v uint64) { binary.BigEndian.PutUint64(b, v) }

// Uint64 reads a ping payload.
func Uint64(b []byte) uint64 { return binary.BigEndian.Uint64(b) }
