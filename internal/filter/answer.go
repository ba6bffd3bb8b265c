package filter

import (
	"net/netip"
	"sync/atomic"
	"time"

	"github.com/tlsvpn/tlsvpn/internal/packet"
)

// Answers to dropped packets: ICMP "communication administratively
// prohibited" (ICMPv4 type 3 code 13, RFC 1812 §5.2.7.1; ICMPv6 type 1
// code 1, RFC 4443 §3.1), so that the sender learns at once instead of
// waiting for a timeout. Each client has a budget of answerBurst answers,
// refilled at answerRate a second, shared by what it sends and what is
// sent to it: a client scanning ports, or being scanned, gets a bounded
// stream of answers.
const (
	answerRate  = 10 // answers a second, sustained
	answerBurst = 20 // answers at once after a quiet spell

	icmpv4AdminProhibited = 13
	icmpv6AdminProhibited = 1

	// How much of the dropped packet an answer quotes: as much as fits in
	// 576 bytes of IPv4 (RFC 1812 §4.3.2.3) or the IPv6 minimum MTU of
	// 1280 (RFC 4443 §2.4 (c)).
	answerMax4 = 576
	answerMax6 = 1280

	// AnswerSize is a buffer large enough for any answer.
	AnswerSize = answerMax6
)

// Answer writes into buf the "administratively prohibited" answer to
// dropped, a packet FromClient or ToClient dropped with DropACL, and
// returns its length; the caller sends it back where dropped came from (to
// the client for what it sent, into the TUN for what was on its way to
// it), without passing it through the filter. It returns 0, writing
// nothing, when no answer is due: the client's answer budget is spent,
// dropped is malformed, an ICMP error (never answered, RFC 1122 §3.2.2), a
// non-first fragment, to or from a multicast or broadcast address or from
// an address that is not a single host's, or the hub has no address of
// its family; or buf holds less than the IP and transport headers quoted.
// Any goroutine; buf and dropped must not overlap. AnswerSize is always
// enough.
func (c *Client) Answer(buf, dropped []byte, now int64) int {
	i, err := packet.Parse(dropped)
	if err != nil || !answerable(&i) {
		return 0
	}
	src, typ, code, most := c.hub.addr4, uint8(packet.ICMPv4Unreachable), uint8(icmpv4AdminProhibited), answerMax4
	hl := packet.IPv4HdrLen
	if i.Version == 6 {
		src, typ, code, most = c.hub.addr6, packet.ICMPv6Unreachable, icmpv6AdminProhibited, answerMax6
		hl = packet.IPv6HdrLen
	}
	room := min(len(buf), most) - hl - packet.ICMPHdrLen
	if !src.IsValid() || room < min(len(dropped), i.L4Off+8) {
		return 0
	}
	if !c.answers.allow(now) {
		return 0
	}
	return packet.PutICMP(buf, src, i.Src, typ, code, [4]byte{}, dropped[:min(len(dropped), room)])
}

// answerable reports whether a dropped packet may be answered with an ICMP
// error (RFC 1122 §3.2.2, RFC 4443 §2.4 (e)).
func answerable(i *packet.Info) bool {
	switch {
	case i.ICMPError(), i.Frag == packet.LaterFragment:
		return false
	case i.Dst.IsMulticast(), i.Dst == broadcast:
		return false
	case !i.Src.IsGlobalUnicast(): // unspecified, loopback, link-local, multicast, broadcast
		return false
	}
	return true
}

var broadcast = netip.AddrFrom4([4]byte{255, 255, 255, 255})

// limiter is a token bucket kept as one word, the generic cell rate
// algorithm's theoretical arrival time: lock-free, allocation-free, safe
// for any number of goroutines.
type limiter struct {
	tat atomic.Int64 // when the bucket is full again, in the caller's nanoseconds
}

const answerEvery = int64(time.Second / answerRate)

// allow takes one answer from the budget at now, if there is one.
func (l *limiter) allow(now int64) bool {
	for {
		tat := l.tat.Load()
		next := max(tat, now) + answerEvery
		if next-now > answerBurst*answerEvery {
			return false
		}
		if l.tat.CompareAndSwap(tat, next) {
			return true
		}
	}
}
