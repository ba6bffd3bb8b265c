package main

import (
	"context"
	"fmt"

	"github.com/tlsvpn/tlsvpn/internal/lab"
)

// vethSystem is the ceiling: no VPN, traffic straight over the veth between
// the gateways (MTU 1500, the kernel's default offloads). For IPv6 the
// tunnel's fd64::/64 addresses are put on the veth itself; for the LAN path
// each gateway routes the other's LAN via the other's underlay address.
type vethSystem struct{}

func (vethSystem) name() string { return nameVeth }

func (vethSystem) prepare(context.Context, *env) error { return nil }

func (vethSystem) version(context.Context) string {
	return "Linux " + kernelRelease() + ", veth MTU 1500, default offloads"
}

func (vethSystem) transport(context.Context, *setup) string { return "none (the underlay itself)" }

func (vethSystem) listen(ctx context.Context, s *setup) error {
	s.dev = [2]string{lab.UnderlayDev, lab.UnderlayDev}
	s.a4, s.b4, s.a6, s.b6 = lab.UnderlayA, lab.UnderlayB, tunnelA6, tunnelB6
	t := s.topo
	err := s.ipCmds(ctx, t.GwA,
		[]string{"addr", "add", tunnelA6 + "/64", "dev", lab.UnderlayDev, "nodad"},
		[]string{"route", "add", "10.2.0.0/24", "via", lab.UnderlayB},
	)
	if err == nil {
		err = s.ipCmds(ctx, t.GwB,
			[]string{"addr", "add", tunnelB6 + "/64", "dev", lab.UnderlayDev, "nodad"},
			[]string{"route", "add", "10.1.0.0/24", "via", lab.UnderlayA},
		)
	}
	if err != nil {
		return fmt.Errorf("address the veth: %w", err)
	}
	return nil
}

func (vethSystem) dial(context.Context, *setup) error { return nil }
