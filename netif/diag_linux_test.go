package netif_test

import (
	"os/exec"
	"testing"
)

// dumpNetns logs the state of namespace ns (addresses, routes, interface
// counters, IP statistics), to explain a packet that went missing. Tools
// that are not installed are skipped.
func dumpNetns(t *testing.T, ns string) {
	t.Helper()
	for _, args := range [][]string{
		{"ip", "-n", ns, "addr"},
		{"ip", "-n", ns, "route", "show", "table", "all"},
		{"ip", "-n", ns, "-s", "link"},
		{"ip", "netns", "exec", ns, "nstat", "-az"},
	} {
		out, err := exec.Command(args[0], args[1:]...).CombinedOutput()
		if err != nil {
			t.Logf("%v: %v", args, err)
		}
		t.Logf("%v:\n%s", args, out)
	}
}
