package filter_test

import (
	"errors"
	"log/slog"
	"net"
	"net/netip"
	"sync"
	"syscall"
	"testing"
	"time"

	"golang.org/x/sys/unix"

	"github.com/tlsvpn/tlsvpn/internal/filter"
	"github.com/tlsvpn/tlsvpn/internal/lab"
	"github.com/tlsvpn/tlsvpn/internal/packet"
	"github.com/tlsvpn/tlsvpn/netif"
)

// kernelClient is a test namespace whose kernel plays a remote-access
// client of the test hub: a TUN with its leases and a route to the site LAN through
// it. What her kernel sends into the TUN goes through her filter state the
// way the hub's connection reader would put it; what the hub would send
// back (answers, ICMP errors from the LAN) is written into the TUN for her
// kernel to take.
type kernelClient struct {
	tun    *netif.TUN
	client *filter.Client
	// onPass, when set, sees each packet the filter let through; it runs
	// on the reader goroutine.
	mu     sync.Mutex
	onPass func(ip []byte)
}

func newKernelClient(t *testing.T, name string) *kernelClient {
	lab.EnterNetns(t, "filter")
	lab.SetSysctl(t, "net/ipv6/conf/default/accept_dad", "0")
	tun, err := netif.CreateTUN(netif.TUNConfig{Name: "tvfilt0", MTU: 1420, Logger: slog.New(slog.NewTextHandler(t.Output(), nil))})
	if err != nil {
		t.Fatalf("CreateTUN: %v", err)
	}
	h := newTestHub(t)
	k := &kernelClient{tun: tun, client: h.client(name)}
	leases := k.client.Leases()
	if _, err := netif.Configure("tvfilt0", netif.LinkConfig{
		Addresses: []netip.Prefix{netip.PrefixFrom(leases[0], 22), netip.PrefixFrom(leases[1], 64)},
		Routes:    []netip.Prefix{netip.MustParsePrefix("10.1.0.0/24"), netip.MustParsePrefix("fd01::/64")},
	}); err != nil {
		tun.Close()
		t.Fatalf("Configure: %v", err)
	}
	var wg sync.WaitGroup
	wg.Go(k.serve)
	t.Cleanup(func() {
		tun.Close() // ends serve's blocking read
		wg.Wait()
	})
	return k
}

// clock is the filter's clock in these tests, which goes on from the test
// hub's.
var start = time.Now()

func clock() int64 { return int64(time.Hour + time.Since(start)) }

// serve filters what the client's kernel sends until the TUN closes,
// answering what the filter drops.
func (k *kernelClient) serve() {
	buf := make([]byte, netif.MaxPacket)
	answer := make([]byte, packet.VirtioHdrLen+filter.AnswerSize) // a zero virtio header first
	for {
		n, err := k.tun.Read(buf, true)
		if err != nil {
			return
		}
		ip := buf[packet.VirtioHdrLen:n]
		switch k.client.FromClient(ip, clock()) {
		case filter.Pass:
			k.mu.Lock()
			if f := k.onPass; f != nil {
				f(ip)
			}
			k.mu.Unlock()
		case filter.DropACL:
			if m := k.client.Answer(answer[packet.VirtioHdrLen:], ip, clock()); m > 0 {
				k.tun.Write(answer[:packet.VirtioHdrLen+m])
			}
		}
	}
}

// inject writes the IP packet ip into the client's kernel, as the hub
// sending it over the tunnel would.
func (k *kernelClient) inject(ip []byte) error {
	return k.tun.Write(append(make([]byte, packet.VirtioHdrLen), ip...))
}

// The cases of the kernel tests run in a loop on the test's own goroutine,
// never in subtests: only this goroutine's thread is in the test's
// namespace, and a socket made elsewhere would reach the host's network.

func TestTheKernelTakesTheAnswerAndRefusesTheConnectionAtOnce(t *testing.T) {
	newKernelClient(t, "alice") // web: tcp/80,443 only
	for _, tc := range []struct {
		name, addr string
		want       syscall.Errno
	}{
		{"IPv4: no route to host", "10.1.0.20:22", syscall.EHOSTUNREACH},
		{"IPv6: permission denied", "[fd01::20]:22", syscall.EACCES},
	} {
		began := time.Now()
		conn, err := net.DialTimeout("tcp", tc.addr, 10*time.Second)
		switch {
		case err == nil:
			conn.Close()
			t.Errorf("%s: the connection to a denied port was made", tc.name)
		case !errors.Is(err, tc.want):
			t.Errorf("%s: connect: %v, want %v from the hub's answer", tc.name, err, tc.want)
		default:
			t.Logf("%s: refused after %v", tc.name, time.Since(began))
		}
	}
}

func TestPathMTUDiscoveryWorksThroughTheFilter(t *testing.T) {
	k := newKernelClient(t, "bob") // admins: the whole LAN
	for _, tc := range []struct {
		name, addr string
		errFrom    string
		level, opt int // the socket's "don't fragment" option
		mtuOpt     int
		typ, code  uint8
		mtu        uint32
	}{
		{"IPv4: fragmentation needed", "10.1.0.53:53", "10.1.0.1", unix.IPPROTO_IP, unix.IP_MTU_DISCOVER, unix.IP_MTU,
			packet.ICMPv4Unreachable, 4, 1200},
		{"IPv6: packet too big", "[fd01::53]:53", "fd01::1", unix.IPPROTO_IPV6, unix.IPV6_MTU_DISCOVER, unix.IPV6_MTU,
			packet.ICMPv6PacketTooBig, 0, 1280},
	} {
		func() {
			errs := make(chan error, 1)
			k.mu.Lock()
			k.onPass = func(ip []byte) { // a router on the LAN side says the packet is too big
				if len(ip) < 1300 {
					return
				}
				rest := make([]byte, 4, 4+len(ip))
				rest[2], rest[3] = byte(tc.mtu>>8), byte(tc.mtu)
				i, _ := packet.Parse(ip)
				quote := ip[:min(len(ip), 1280-48)]
				tooBig := packet.ICMP(netip.MustParseAddr(tc.errFrom), i.Src, tc.typ, tc.code, append(rest, quote...))
				if v := k.client.ToClient(tooBig, clock()); v != filter.Pass {
					errs <- errors.New("the filter dropped the ICMP error of the client's flow: " + v.String())
					return
				}
				if err := k.inject(tooBig); err != nil {
					errs <- err
				}
			}
			k.mu.Unlock()
			defer func() { k.mu.Lock(); k.onPass = nil; k.mu.Unlock() }()

			conn, err := net.Dial("udp", tc.addr)
			if err != nil {
				t.Fatalf("%s: %v", tc.name, err)
			}
			defer conn.Close()
			raw, _ := conn.(*net.UDPConn).SyscallConn()
			var soErr error
			raw.Control(func(fd uintptr) { soErr = unix.SetsockoptInt(int(fd), tc.level, tc.opt, unix.IP_PMTUDISC_DO) })
			if soErr != nil {
				t.Fatalf("%s: %v", tc.name, soErr)
			}
			mtu := func() (m int) {
				raw.Control(func(fd uintptr) { m, _ = unix.GetsockoptInt(int(fd), tc.level, tc.mtuOpt) })
				return m
			}
			ok := lab.WaitFor(10*time.Second, 20*time.Millisecond, func() bool {
				conn.Write(make([]byte, 1350)) // within the TUN's 1420, beyond the path's MTU
				return mtu() == int(tc.mtu)
			})
			select {
			case err := <-errs:
				t.Fatalf("%s: %v", tc.name, err)
			default:
			}
			if !ok {
				t.Errorf("%s: the socket's path MTU stayed %d, want %d", tc.name, mtu(), tc.mtu)
			}
		}()
	}
}
