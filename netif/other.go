//go:build !linux

package netif

import (
	"log/slog"
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
