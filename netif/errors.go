package netif

import "errors"

// ErrTruncated is returned by Read when a packet filled the whole buffer
// and may have been cut short; the packet is lost, the device stays usable.
var ErrTruncated = errors.New("packet truncated: read filled the whole buffer")

// ErrUnsupported is returned on systems without a TUN implementation here.
var ErrUnsupported = errors.New("TUN devices and interface configuration are only supported on Linux")

// ErrLinkClosed is returned by ClientLink's Update and Repin after Close.
var ErrLinkClosed = errors.New("client link closed")
