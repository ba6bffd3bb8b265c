// Package e2e holds the namespace integration tests: the real tlsvpn
// binary, real TUN devices, real TLS and real kernel routing, in the test
// topology of docs/design.md built by internal/lab. They need root;
// `make test` fails when any of them skipped.
package e2e
