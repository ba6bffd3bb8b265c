package netif

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"time"

	"github.com/godbus/dbus/v5"
	"golang.org/x/sys/unix"
)

// systemd-resolved's D-Bus API, org.freedesktop.resolve1(5).
const (
	resolvedName    = "org.freedesktop.resolve1"
	resolvedPath    = dbus.ObjectPath("/org/freedesktop/resolve1")
	resolvedManager = "org.freedesktop.resolve1.Manager"
	// resolvedNoSuchLink is resolved's answer for an interface index it
	// does not know (any more).
	resolvedNoSuchLink = "org.freedesktop.resolve1.NoSuchLink"
)

// resolvedTimeout bounds one Apply or Revert, bus connection included, on
// top of the caller's context.
const resolvedTimeout = 10 * time.Second

// ResolvedLink sets the DNS of one network interface in systemd-resolved,
// over D-Bus, as a dial-in client does for its tunnel: the servers and
// search domains the hub pushed, DefaultRoute only when the tunnel carries
// the default route, LLMNR and multicast DNS off (they would announce and
// query names through the tunnel). The settings live in resolved, not in
// this process, until Revert or until the interface is deleted.
//
// Each call connects to the bus anew, so a restarted dbus-daemon or resolved
// does not break later calls; a stopped resolved is started by the bus
// (D-Bus activation). Apply and Revert may be called from several
// goroutines; they run one at a time. The zero value is not usable: see
// NewResolvedLink.
type ResolvedLink struct {
	index int
	bus   string
	mu    sync.Mutex // one exchange with resolved at a time
}

// NewResolvedLink returns the client for the interface with index ifindex
// (net.InterfaceByName(name).Index) on the system bus at address bus: ""
// means the one named by DBUS_SYSTEM_BUS_ADDRESS, else the standard socket
// /run/dbus/system_bus_socket. It does not connect yet.
func NewResolvedLink(ifindex int, bus string) *ResolvedLink {
	return &ResolvedLink{index: ifindex, bus: bus}
}

// resolvedServer is resolved's (iay): an address family and the address.
type resolvedServer struct {
	Family  int32
	Address []byte
}

// resolvedDomain is resolved's (sb): a domain and whether it only routes
// queries (resolvectl's "~domain") rather than also being searched.
type resolvedDomain struct {
	Domain      string
	RoutingOnly bool
}

// Apply gives the link the DNS of c, replacing what it had. The link stops
// multicasting and stops being a default route first, and gets its servers
// last, so that no query takes the link before it is set up. When
// systemd-resolved is not there, the error wraps ErrNoResolved; when a step
// fails after the first, Apply reverts the link before returning, so that it
// is never left half set.
func (l *ResolvedLink) Apply(ctx context.Context, c DNSConfig) error {
	servers := make([]resolvedServer, 0, len(c.Servers))
	for i, a := range c.Servers {
		if !a.IsValid() || a.IsUnspecified() {
			return fmt.Errorf("set DNS of link %d: server %d: %q is no usable address", l.index, i, a)
		}
		a = a.Unmap().WithZone("")
		family := int32(unix.AF_INET)
		if a.Is6() {
			family = unix.AF_INET6
		}
		servers = append(servers, resolvedServer{family, a.AsSlice()})
	}
	domains := make([]resolvedDomain, len(c.Domains))
	for i, d := range c.Domains {
		domains[i] = resolvedDomain{Domain: d}
	}
	steps := []resolvedCall{
		{"SetLinkLLMNR", "no"},
		{"SetLinkMulticastDNS", "no"},
		{"SetLinkDefaultRoute", c.DefaultRoute},
		{"SetLinkDomains", domains},
		{"SetLinkDNS", servers},
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	if err := l.exchange(ctx, steps); err != nil {
		return fmt.Errorf("set DNS of link %d: %w", l.index, err)
	}
	return nil
}

// Revert gives the link back to resolved's defaults (RevertLink): no
// servers, no domains, LLMNR, multicast DNS and DefaultRoute as resolved
// chooses. A link resolved no longer knows (the interface was deleted, and
// its settings with it) has nothing to revert: Revert returns nil. When
// systemd-resolved is not there, the error wraps ErrNoResolved.
func (l *ResolvedLink) Revert(ctx context.Context) error {
	l.mu.Lock()
	defer l.mu.Unlock()
	err := l.exchange(ctx, []resolvedCall{{method: "RevertLink"}})
	var dbusErr dbus.Error
	if errors.As(err, &dbusErr) && dbusErr.Name == resolvedNoSuchLink {
		return nil
	}
	if err != nil {
		return fmt.Errorf("revert DNS of link %d: %w", l.index, err)
	}
	return nil
}

// resolvedCall is one method of the Manager interface applied to the link:
// its arguments are the interface index, then arg unless that is nil.
type resolvedCall struct {
	method string
	arg    any
}

// exchange connects to the bus and makes the calls in order. When one fails
// after others succeeded, it reverts the link.
func (l *ResolvedLink) exchange(ctx context.Context, calls []resolvedCall) error {
	ctx, cancel := context.WithTimeout(ctx, resolvedTimeout)
	defer cancel()
	conn, err := l.connect(ctx)
	if err != nil {
		return err
	}
	defer conn.Close()
	for i, c := range calls {
		if err := l.call(ctx, conn, c); err != nil {
			if i > 0 {
				if rerr := l.call(ctx, conn, resolvedCall{method: "RevertLink"}); rerr != nil {
					err = fmt.Errorf("%w (and reverting: %v)", err, rerr)
				}
			}
			return err
		}
	}
	return nil
}

func (l *ResolvedLink) connect(ctx context.Context) (*dbus.Conn, error) {
	var conn *dbus.Conn
	var err error
	if l.bus == "" {
		conn, err = dbus.ConnectSystemBus(dbus.WithContext(ctx))
	} else {
		conn, err = dbus.Connect(l.bus, dbus.WithContext(ctx))
	}
	if err != nil {
		return nil, fmt.Errorf("%w: connect to the system bus: %w", ErrNoResolved, err)
	}
	return conn, nil
}

// call makes one call. When it fails and nobody owns resolve1 on the bus
// afterwards, resolved is not there: the bus did not know the name, or could
// not start it (dbus-daemon reports a failed activation with an error named
// after whatever went wrong, such as FileExists for a masked unit).
func (l *ResolvedLink) call(ctx context.Context, conn *dbus.Conn, c resolvedCall) error {
	args := []any{int32(l.index)}
	if c.arg != nil {
		args = append(args, c.arg)
	}
	err := conn.Object(resolvedName, resolvedPath).CallWithContext(ctx, resolvedManager+"."+c.method, 0, args...).Err
	if err == nil {
		return nil
	}
	var owned bool
	if conn.BusObject().CallWithContext(ctx, "org.freedesktop.DBus.NameHasOwner", 0, resolvedName).Store(&owned) == nil && !owned {
		return fmt.Errorf("%w: %s: %w", ErrNoResolved, c.method, err)
	}
	return fmt.Errorf("%s: %w", c.method, err)
}
