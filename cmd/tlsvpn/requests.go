package main

import (
	"context"
	"fmt"

	"github.com/tlsvpn/tlsvpn/internal/control"
)

// handle answers a request on the control socket (internal/control): the
// node's status, or a reload whose reply comes once it is done.
func (n *node) handle(req string) (any, error) {
	switch req {
	case control.RequestStatus:
		return n.snapshot(), nil
	case control.RequestReload:
		return n.reload(context.Background())
	}
	return nil, fmt.Errorf("unknown request %q", req)
}
