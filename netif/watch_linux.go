package netif

import (
	"fmt"
	"log/slog"
	"sync"
	"time"

	"github.com/vishvananda/netlink"
	"github.com/vishvananda/netns"
	"golang.org/x/sys/unix"
)

// Underlay watch timings.
const (
	// underlayCoalesce is how long a change waits for the ones that come
	// with it (an address brings its local and prefix routes; a link going
	// down takes all its routes) before they are reported as one.
	underlayCoalesce = 50 * time.Millisecond
	// resubscribeWait spaces attempts to subscribe again after the kernel
	// dropped notifications (a full socket buffer).
	resubscribeWait = time.Second
	// watchRcvBuf is the receive buffer asked for each subscription.
	watchRcvBuf = 1 << 20
)

// UnderlayWatch reports changes of the host's addresses and routes outside
// one tunnel interface: what a dial-in client's connection to its hub runs
// over (docs/hub-host.md).
//
// It is ignored: anything on the tunnel interface, routes that tlsvpn adds
// (protocol 116: the pin, other instances' routes), cached routes, and
// notifications that repeat an address or route already there (such as an
// IPv6 router advertisement refreshing a lifetime). A change made while
// WatchUnderlay runs may go unreported.
//
// A goroutine owned by the watch reads the kernel's notifications until
// Close, which stops it and waits for it. Changes and Close may be called
// from any goroutine.
type UnderlayWatch struct {
	changes chan struct{}
	stop    chan struct{}
	done    chan struct{}
	once    sync.Once

	ns    netns.NsHandle
	tun   int
	log   *slog.Logger
	known underlaySet
}

// WatchUnderlay starts watching the network namespace of the calling thread,
// in which the interface tunnel must exist. log receives trouble with the
// subscription; nil means slog.Default().
func WatchUnderlay(tunnel string, log *slog.Logger) (*UnderlayWatch, error) {
	link, err := linkByName(tunnel)
	if err != nil {
		return nil, fmt.Errorf("watch the underlay of %s: %w", tunnel, err)
	}
	if log == nil {
		log = slog.Default()
	}
	ns, err := netns.Get()
	if err != nil {
		return nil, fmt.Errorf("watch the underlay of %s: open the network namespace: %w", tunnel, err)
	}
	w := &UnderlayWatch{
		changes: make(chan struct{}, 1),
		stop:    make(chan struct{}),
		done:    make(chan struct{}),
		ns:      ns,
		tun:     link.Attrs().Index,
		log:     log,
	}
	sub, err := w.subscribe()
	if err != nil {
		ns.Close()
		return nil, fmt.Errorf("watch the underlay of %s: %w", tunnel, err)
	}
	go w.run(sub)
	return w, nil
}

// Changes delivers a value after the underlay changed. Changes that come
// before the last one was received are merged into it.
func (w *UnderlayWatch) Changes() <-chan struct{} { return w.changes }

// Close stops the watch and waits for its goroutine. It may be called more
// than once; it always returns nil.
func (w *UnderlayWatch) Close() error {
	w.once.Do(func() {
		close(w.stop)
		<-w.done
		w.ns.Close()
	})
	return nil
}

// subscription is one pair of kernel notification sockets.
type subscription struct {
	routes chan netlink.RouteUpdate
	addrs  chan netlink.AddrUpdate
	done   chan struct{} // closing it closes the sockets
}

// subscribe subscribes to address and route changes in w's namespace, then
// lists what is there now.
func (w *UnderlayWatch) subscribe() (*subscription, error) {
	s := &subscription{
		routes: make(chan netlink.RouteUpdate, 64),
		addrs:  make(chan netlink.AddrUpdate, 64),
		done:   make(chan struct{}),
	}
	err := netlink.RouteSubscribeWithOptions(s.routes, s.done, netlink.RouteSubscribeOptions{
		Namespace: &w.ns, ReceiveBufferSize: watchRcvBuf,
	})
	if err != nil {
		return nil, fmt.Errorf("subscribe to route changes: %w", err)
	}
	err = netlink.AddrSubscribeWithOptions(s.addrs, s.done, netlink.AddrSubscribeOptions{
		Namespace: &w.ns, ReceiveBufferSize: watchRcvBuf,
	})
	if err == nil {
		err = w.known.seed(w.ns)
	}
	if err != nil {
		s.close()
		return nil, err
	}
	return s, nil
}

// close closes s's sockets and waits until the library's goroutines, which
// feed its channels, have ended.
func (s *subscription) close() {
	close(s.done)
	for range s.routes {
	}
	for range s.addrs {
	}
}

// run reads sub until Stop, and resubscribes when the kernel ends it.
func (w *UnderlayWatch) run(sub *subscription) {
	defer close(w.done)
	var fire <-chan time.Time
	changed := func() {
		if fire == nil {
			fire = time.After(underlayCoalesce)
		}
	}
	for sub != nil {
		select {
		case <-w.stop:
			sub.close()
			return
		case u, ok := <-sub.routes:
			if sub = w.after(sub, ok); !ok || w.known.route(u, w.tun) {
				changed()
			}
		case u, ok := <-sub.addrs:
			if sub = w.after(sub, ok); !ok || w.known.addr(u, w.tun) {
				changed()
			}
		case <-fire:
			fire = nil
			select {
			case w.changes <- struct{}{}:
			default: // one is pending already
			}
		}
	}
}

// after returns sub when its channel delivered (ok), else a new subscription:
// lost notifications count as a change.
func (w *UnderlayWatch) after(sub *subscription, ok bool) *subscription {
	if ok {
		return sub
	}
	return w.resubscribe(sub)
}

// resubscribe replaces sub, whose notifications the kernel stopped (some
// were lost), retrying until it works or the watch stops (then nil).
func (w *UnderlayWatch) resubscribe(sub *subscription) *subscription {
	sub.close()
	for {
		next, err := w.subscribe()
		if err == nil {
			return next
		}
		w.log.Warn("underlay watch: subscribing again failed", "err", err, "retry_in", resubscribeWait)
		select {
		case <-w.stop:
			return nil
		case <-time.After(resubscribeWait):
		}
	}
}

// underlaySet is the addresses and routes outside the tunnel known to be
// there, so that a notification repeating one is not taken for a change.
type underlaySet struct {
	addrs, routes map[string]bool
}

// seed lists the addresses and routes (all tables) of namespace ns.
func (k *underlaySet) seed(ns netns.NsHandle) error {
	h, err := netlink.NewHandleAt(ns)
	if err != nil {
		return fmt.Errorf("open netlink in the watched namespace: %w", err)
	}
	defer h.Close()
	addrs, err := h.AddrList(nil, netlink.FAMILY_ALL)
	if err != nil {
		return fmt.Errorf("list addresses: %w", err)
	}
	routes, err := h.RouteListFiltered(netlink.FAMILY_ALL, &netlink.Route{Table: unix.RT_TABLE_UNSPEC}, netlink.RT_FILTER_TABLE)
	if err != nil {
		return fmt.Errorf("list routes: %w", err)
	}
	k.addrs, k.routes = make(map[string]bool, len(addrs)), make(map[string]bool, len(routes))
	for _, a := range addrs {
		k.addrs[addrKey(a.LinkIndex, a.IPNet.String())] = true
	}
	for _, r := range routes {
		k.routes[routeKey(&r)] = true
	}
	return nil
}

// route records u and reports whether it changes the underlay.
func (k *underlaySet) route(u netlink.RouteUpdate, tun int) bool {
	if u.Flags&unix.RTM_F_CLONED != 0 || u.Protocol == routeProto || through(&u.Route, tun) {
		return false
	}
	key := routeKey(&u.Route)
	if u.Type == unix.RTM_DELROUTE {
		delete(k.routes, key)
		return true
	}
	return k.add(k.routes, key)
}

// addr records u and reports whether it changes the underlay.
func (k *underlaySet) addr(u netlink.AddrUpdate, tun int) bool {
	if u.LinkIndex == tun {
		return false
	}
	key := addrKey(u.LinkIndex, u.LinkAddress.String())
	if !u.NewAddr {
		delete(k.addrs, key)
		return true
	}
	return k.add(k.addrs, key)
}

// add puts key in set and reports whether it was new.
func (k *underlaySet) add(set map[string]bool, key string) bool {
	if set[key] {
		return false
	}
	set[key] = true
	return true
}

func addrKey(ifindex int, prefix string) string { return fmt.Sprint(ifindex, " ", prefix) }

// routeKey names a route by what makes it another route to the kernel or
// sends packets elsewhere.
func routeKey(r *netlink.Route) string {
	return fmt.Sprint(r.String(), " type ", r.Type, " metric ", r.Priority, " tos ", r.Tos)
}

// through reports whether r goes out of interface ifindex (on any of its
// nexthops).
func through(r *netlink.Route, ifindex int) bool {
	if r.LinkIndex == ifindex {
		return true
	}
	for _, hop := range r.MultiPath {
		if hop.LinkIndex == ifindex {
			return true
		}
	}
	return false
}
