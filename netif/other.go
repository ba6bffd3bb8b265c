//go:build !linux

package netif

import (
	"context"
	"log/slog"
	"net"
	"net/netip"
)

// TUN is the Linux TUN device; elsewhere it cannot be created.
type TUN struct{}

// CreateTUN returns ErrUnsupported outside Linux.
func CreateTUN(c TUNConfig) (*TUN, error) { return nil, ErrUnsupported }

// Configure returns ErrUnsupported outside Linux.
func Configure(name string, c LinkConfig) (undo func() error, err error) {
	return nil, ErrUnsupported
}

// AddRoute returns ErrUnsupported outside Linux.
func AddRoute(name string, p netip.Prefix) error { return ErrUnsupported }

// DelRoute returns ErrUnsupported outside Linux.
func DelRoute(name string, p netip.Prefix) error { return ErrUnsupported }

// StartNAT returns ErrUnsupported outside Linux.
func StartNAT(ifname string, pools []netip.Prefix, log *slog.Logger) (stop func() error, err error) {
	return nil, ErrUnsupported
}

// Name is empty outside Linux.
func (t *TUN) Name() string { return "" }

// Kind is KindTUN.
func (t *TUN) Kind() Kind { return KindTUN }

// MTU is 0 outside Linux.
func (t *TUN) MTU() int { return 0 }

// Read returns ErrUnsupported outside Linux.
func (t *TUN) Read(b []byte, wait bool) (int, error) { return 0, ErrUnsupported }

// Write returns ErrUnsupported outside Linux.
func (t *TUN) Write(b []byte) error { return ErrUnsupported }

// SetOffload returns ErrUnsupported outside Linux.
func (t *TUN) SetOffload(o Offload) error { return ErrUnsupported }

// Offload is 0 outside Linux.
func (t *TUN) Offload() Offload { return 0 }

// Close does nothing outside Linux.
func (t *TUN) Close() error { return nil }

var _ Device = (*TUN)(nil)

// Split is the split path of Linux; elsewhere it is the plain device.
type Split struct{ *TUN }

// NewSplit wraps t.
func NewSplit(t *TUN) *Split { return &Split{t} }

// TAP is the Linux TAP device; elsewhere it cannot be created.
type TAP struct{}

// CreateTAP returns ErrUnsupported outside Linux.
func CreateTAP(c TAPConfig) (*TAP, error) { return nil, ErrUnsupported }

// Name is empty outside Linux.
func (t *TAP) Name() string { return "" }

// Kind is KindTAP.
func (t *TAP) Kind() Kind { return KindTAP }

// MTU is 0 outside Linux.
func (t *TAP) MTU() int { return 0 }

// MAC is nil outside Linux.
func (t *TAP) MAC() net.HardwareAddr { return nil }

// Bridge is empty outside Linux.
func (t *TAP) Bridge() string { return "" }

// Read returns ErrUnsupported outside Linux.
func (t *TAP) Read(b []byte, wait bool) (int, error) { return 0, ErrUnsupported }

// Write returns ErrUnsupported outside Linux.
func (t *TAP) Write(b []byte) error { return ErrUnsupported }

// SetOffload returns ErrUnsupported outside Linux.
func (t *TAP) SetOffload(o Offload) error { return ErrUnsupported }

// Offload is 0.
func (t *TAP) Offload() Offload { return 0 }

// Close does nothing outside Linux.
func (t *TAP) Close() error { return nil }

var _ Device = (*TAP)(nil)

// ResolvedLink is the Linux systemd-resolved client; elsewhere it does nothing.
type ResolvedLink struct{}

// NewResolvedLink returns a ResolvedLink whose methods return ErrUnsupported.
func NewResolvedLink(ifindex int, bus string) *ResolvedLink { return &ResolvedLink{} }

// Apply returns ErrUnsupported outside Linux.
func (l *ResolvedLink) Apply(ctx context.Context, c DNSConfig) error { return ErrUnsupported }

// Revert returns ErrUnsupported outside Linux.
func (l *ResolvedLink) Revert(ctx context.Context) error { return ErrUnsupported }

// ClientLink is the Linux host side of a dial-in client; elsewhere it cannot
// be made.
type ClientLink struct{}

// NewClientLink returns ErrUnsupported outside Linux.
func NewClientLink(name string, hub netip.Addr, c LinkConfig) (*ClientLink, error) {
	return nil, ErrUnsupported
}

// Update returns ErrUnsupported outside Linux.
func (l *ClientLink) Update(c LinkConfig) error { return ErrUnsupported }

// Repin returns ErrUnsupported outside Linux.
func (l *ClientLink) Repin(hub netip.Addr) error { return ErrUnsupported }

// Close does nothing outside Linux.
func (l *ClientLink) Close() error { return nil }

// UnderlayWatch is the Linux underlay watch; elsewhere it cannot be started.
type UnderlayWatch struct{}

// WatchUnderlay returns ErrUnsupported outside Linux.
func WatchUnderlay(tunnel string, log *slog.Logger) (*UnderlayWatch, error) {
	return nil, ErrUnsupported
}

// Changes never delivers outside Linux.
func (w *UnderlayWatch) Changes() <-chan struct{} { return nil }

// Close does nothing outside Linux.
func (w *UnderlayWatch) Close() error { return nil }
