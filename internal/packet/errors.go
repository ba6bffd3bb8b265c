package packet

import "errors"

// Errors of Parse, ParseHeader, VirtioHdr.Check and Segment. They are
// plain values: returning one allocates nothing.
var (
	ErrVersion = errors.New("IP version is neither 4 nor 6")
	ErrShort   = errors.New("packet ends inside its headers")
	ErrLength  = errors.New("IP length field disagrees with the packet length")
	ErrHeader  = errors.New("malformed IP header or extension header chain")
	ErrL4      = errors.New("malformed transport header")
	ErrNoQuote = errors.New("not an ICMP error message quoting a packet")
	ErrGSO     = errors.New("virtio header does not describe a valid packet")
	ErrNoRoom  = errors.New("buffers too few or too small for the segments")
)
