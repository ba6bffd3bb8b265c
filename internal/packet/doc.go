// Package packet is the one home of tlsvpn's knowledge of packet formats:
// the virtio_net_hdr in front of every TUN packet (virtio.go), the Internet
// checksum (checksum.go), IP parsing for the data path and for filters
// (ip.go, parse.go), software GSO segmentation (segment.go), and packet
// builders for tests and the TUN start-up probe (build.go).
//
// Parsing, checksumming and segmentation are for the per-packet path: they
// allocate nothing, do not keep the caller's buffers, bounds-check every
// read (malformed input gets an error, never a panic), and may run
// concurrently on different buffers. The builders allocate and panic on
// mismatched address families: they are for tests and start-up only.
package packet
