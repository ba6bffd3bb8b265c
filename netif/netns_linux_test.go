package netif_test

import (
	"testing"

	"github.com/tlsvpn/tlsvpn/internal/lab"
)

// enterNetns moves the test into a namespace of its own (lab.EnterNetns).
func enterNetns(t *testing.T) string { return lab.EnterNetns(t, "netif") }
