// Package acl holds the access rules of remote-access groups: the syntax of an allow entry, written
// in the configuration (`[[group]] allow`) and read by the hub's packet filter, and the rule for group
// names. One parser serves both, so what `tlsvpn check` accepts is what the filter enforces.
package acl

import (
	"errors"
	"fmt"
	"net/netip"
	"strconv"
	"strings"

	"github.com/tlsvpn/tlsvpn/internal/netparse"
)

// Proto is the protocol an allow entry admits.
type Proto uint8

// The protocols of an allow entry.
const (
	AnyProto Proto = iota // every protocol: an entry of a prefix alone
	TCP
	UDP
	ICMP // ICMP and ICMPv6 echo
)

var protoNames = [...]string{AnyProto: "", TCP: "tcp", UDP: "udp", ICMP: "icmp"}

// String returns the protocol as written in an entry; "" for AnyProto.
func (p Proto) String() string {
	if int(p) < len(protoNames) {
		return protoNames[p]
	}
	return fmt.Sprintf("proto(%d)", uint8(p))
}

// PortRange is an inclusive range of TCP or UDP ports, 1 <= First <= Last.
type PortRange struct {
	First, Last uint16
}

// String writes the range as in an entry: "22" or "5000-5100".
func (r PortRange) String() string {
	if r.First == r.Last {
		return strconv.Itoa(int(r.First))
	}
	return strconv.Itoa(int(r.First)) + "-" + strconv.Itoa(int(r.Last))
}

// Rule is one allow entry: traffic to Prefix, of Proto, to one of Ports.
type Rule struct {
	Prefix netip.Prefix // the destination; host bits are zero
	Proto  Proto
	Ports  []PortRange // TCP and UDP only; nil means every port
}

// String writes r in the syntax ParseRule reads: "10.1.0.0/24", "10.1.0.0/24 tcp/22,443",
// "10.1.0.0/24 udp/5000-5100", "10.1.0.0/24 icmp".
func (r Rule) String() string {
	if r.Proto == AnyProto {
		return r.Prefix.String()
	}
	s := r.Prefix.String() + " " + r.Proto.String()
	for i, p := range r.Ports {
		sep := ","
		if i == 0 {
			sep = "/"
		}
		s += sep + p.String()
	}
	return s
}

// syntax is the fix shown for an entry that does not parse.
const syntax = `write "PREFIX" (every protocol), "PREFIX tcp/22,443", "PREFIX udp/5000-5100" or "PREFIX icmp"`

// ParseRule reads one allow entry: a prefix, optionally followed by a protocol — "tcp" or "udp" with
// an optional list of ports and port ranges after a slash, or "icmp". The error says what is wrong
// and how to write it.
func ParseRule(s string) (Rule, error) {
	fields := strings.Fields(s)
	switch len(fields) {
	case 0:
		return Rule{}, fmt.Errorf("empty entry; %s", syntax)
	case 1, 2:
	default:
		return Rule{}, fmt.Errorf("%q has %d parts; %s, with no space inside the port list", s, len(fields), syntax)
	}
	pfx, err := netparse.Prefix(fields[0], false, "10.1.0.0/24")
	if err != nil {
		return Rule{}, err
	}
	r := Rule{Prefix: pfx}
	if len(fields) == 1 {
		return r, nil
	}
	name, ports, hasPorts := strings.Cut(fields[1], "/")
	switch strings.ToLower(name) {
	case "tcp":
		r.Proto = TCP
	case "udp":
		r.Proto = UDP
	case "icmp":
		if hasPorts {
			return Rule{}, fmt.Errorf("%q: icmp has no ports; write %q", s, fields[0]+" icmp")
		}
		r.Proto = ICMP
		return r, nil
	default:
		return Rule{}, fmt.Errorf("%q: unknown protocol %q; write tcp, udp or icmp, or the prefix alone for every protocol", s, name)
	}
	if !hasPorts {
		return r, nil
	}
	if r.Ports, err = parsePorts(ports); err != nil {
		return Rule{}, fmt.Errorf("%q: %w", s, err)
	}
	return r, nil
}

// parsePorts reads "22,443,5000-5100".
func parsePorts(s string) ([]PortRange, error) {
	if s == "" {
		return nil, errors.New(`no port after "/"; write ports like tcp/22,443 or a range like udp/5000-5100, or the protocol alone for every port`)
	}
	var out []PortRange
	for _, item := range strings.Split(s, ",") {
		first, last, isRange := strings.Cut(item, "-")
		a, err := parsePort(first)
		if err != nil {
			return nil, err
		}
		b := a
		if isRange {
			if b, err = parsePort(last); err != nil {
				return nil, err
			}
			if b < a {
				return nil, fmt.Errorf("range %q runs backwards; write %d-%d", item, b, a)
			}
		}
		out = append(out, PortRange{a, b})
	}
	return out, nil
}

func parsePort(s string) (uint16, error) {
	n, err := strconv.ParseUint(s, 10, 16)
	if err != nil || n == 0 {
		return 0, fmt.Errorf("port %q is not a number from 1 to 65535", s)
	}
	return uint16(n), nil
}
