// Package tunnel carries IP packets between a TUN device and the
// connections to its peers: routing by destination to the peer whose
// allowed IPs hold it, one framed, batched, encrypted stream per peer, and
// the dialing, accepting, keepalive, replacement and redial rules of
// docs/protocol.md. docs/datapath.md describes the data path and a
// connection's lifecycle. With a TAP device (netif.KindTAP) it carries
// Ethernet frames instead, switched by MAC address (docs/layer2.md); the
// engine decides which at New, from the device's Kind.
//
// It sees the device through netif.Device and a connection through
// handshake.Session; it never reads the configuration file.
//
// A map of the package:
//   - engine.go: Config and the Engine, which owns the parts below and
//     every goroutine; doc comments say which goroutine owns what.
//   - peerset.go, route.go, policy.go: the peers by name, the route table
//     built from their policies, and a peer's policy.
//   - peer.go, dial.go: a peer's connection slot (attach, detach, stop),
//     its status and its dialer.
//   - conn.go, connstate.go: a connection, its parts and its states, with
//     the one table of allowed moves.
//   - writer.go, reader.go, queue.go: a connection's writer and reader
//     goroutines and the queue between the TUN reader and the writer.
//   - tunread.go, batch.go, aqm.go, sparse.go, packet.go: the TUN reader,
//     its batches, the queue's CoDel, sparse-flow priority, packet checks.
//   - accept.go, admit.go: the listener and its handshake limits.
//   - rotate.go: replacing a connection before its keys wear out.
//   - l2.go, frames.go: TAP mode: the switch (a port per peer, the MAC
//     table's hooks and ageing) and the frames' way from the device to
//     the peers' batches and from a connection to the device and, on a
//     hub, to other peers.
//   - device.go, sockopt.go, ratelog.go, counters.go, status.go: the
//     device and its offloads, socket options, rate-limited drop logs,
//     per-peer counters and the status report.
package tunnel
