// Package testutil holds the helpers every test of tlsvpn shares, each in
// one place: a logger that writes to the test's output (Logger, CaptureLogs),
// a poll with a deadline (Eventually), outside tools that a test needs
// (NeedCommand, OpenSSL), and the leak check that runs after every engine
// and namespace test (CheckLeaks, Main).
//
// Certificates for tests come from internal/certtest, network namespaces
// from internal/lab.
//
// Every helper takes the test's testing.TB and ends the test through it
// (Fatalf, Skip) where it cannot go on, so callers check no errors. Helpers
// may be called from the test's goroutine only, unless a doc comment says
// otherwise.
package testutil
