package tunnel

import (
	"os"
	"testing"

	"github.com/tlsvpn/tlsvpn/internal/testutil"
)

// TestMain checks, after every test of the package, that the process holds
// no more goroutines, descriptors or child processes than before.
func TestMain(m *testing.M) { os.Exit(testutil.Main(m)) }
