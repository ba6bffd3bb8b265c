package lab

import (
	"fmt"
	"net/netip"
	"strconv"
)

// Veth is a veth pair between a namespace of a Topology and a Container.
type Veth struct {
	NS   string       // the topology's namespace, e.g. its GwA
	Dev  string       // the end in NS; "" means "ct0"
	Addr netip.Prefix // Dev's address and prefix length; the zero Prefix adds none

	ContainerDev  string       // the end in the container; "" means "host0"
	ContainerAddr netip.Prefix // ContainerDev's address; the zero Prefix adds none
}

// Default device names of a Veth.
const (
	VethDev          = "ct0"
	VethContainerDev = "host0" // as systemd-nspawn names the container's end of its own veths
)

// JoinVeth wires the container to namespace v.NS of topology t with a veth
// pair: made inside v.NS with its peer created straight in the container's
// network namespace, so that neither end ever exists in the root namespace.
// It gives both ends their addresses (IPv6 without duplicate address
// detection), sets them up, and returns once both have their link-local
// address. Routes are the caller's. It returns v with the default names
// filled in. The pair vanishes when either namespace is deleted.
func (c *Container) JoinVeth(t *Topology, v Veth) (Veth, error) {
	if v.Dev == "" {
		v.Dev = VethDev
	}
	if v.ContainerDev == "" {
		v.ContainerDev = VethContainerDev
	}
	if err := t.check(v.NS); err != nil {
		return v, err
	}
	if err := c.check(); err != nil {
		return v, err
	}
	if err := c.joinVeth(v); err != nil {
		return v, fmt.Errorf("join container %s to %s: %w", c.Name, v.NS, err)
	}
	return v, nil
}

func (c *Container) joinVeth(v Veth) error {
	outside := [][]string{
		{"-n", v.NS, "link", "add", v.Dev, "type", "veth", "peer", "name", v.ContainerDev, "netns", strconv.Itoa(c.PID)},
	}
	if v.Addr.IsValid() {
		outside = append(outside, addrCmd(v.NS, v.Dev, v.Addr.String()))
	}
	outside = append(outside, upCmd(v.NS, v.Dev))
	for _, args := range outside {
		if _, err := ip(args...); err != nil {
			return err
		}
	}
	var inside [][]string
	if v.ContainerAddr.IsValid() {
		inside = append(inside, addrArgs(v.ContainerDev, v.ContainerAddr.String()))
	}
	inside = append(inside, upArgs(v.ContainerDev))
	for _, args := range inside {
		if _, err := c.ip(args...); err != nil {
			return err
		}
	}
	if err := waitLinkLocal(ipIn(v.NS), v.NS, v.Dev); err != nil {
		return err
	}
	return waitLinkLocal(c.ip, "container "+c.Name, v.ContainerDev)
}

// ip runs the host's ip(8) in the container's network namespace.
func (c *Container) ip(args ...string) (string, error) { return c.RunNet("ip", args...) }

// Ping runs the host's ping in the container's network namespace, as
// Topology.Ping does in a topology's: to must be a literal address of the
// lab's address plan, and it returns how many replies came back.
func (c *Container) Ping(to string, count int) (received int, out string, err error) {
	return ping(func(args ...string) (string, error) { return c.RunNet("ping", args...) }, "container "+c.Name, to, count)
}
