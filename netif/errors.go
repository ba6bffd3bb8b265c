package netif

import "errors"

// ErrTruncated is returned by Read when a packet filled the whole buffer
// and may have been cut short; the packet is lost, the device stays usable.
var ErrTruncated = errors.New("packet truncated: read filled the whole buffer")

// ErrUnsupported is returned on systems without a TUN implementation here.
var ErrUnsupported = errors.New("TUN devices and interface configuration are only supported on Linux")

// ErrNoResolved is returned (wrapped) by ResolvedLink when systemd-resolved
// is not there to take DNS settings: no system bus, or no
// org.freedesktop.resolve1 on it that runs or can be started. The DNS was
// not applied; the host's DNS is as it was.
var ErrNoResolved = errors.New("systemd-resolved is not on the system bus")

// ErrLinkClosed is returned by ClientLink's Update and Repin after Close.
var ErrLinkClosed = errors.New("client link closed")
