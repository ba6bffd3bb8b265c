package tunnel

import (
	"log/slog"
	"sync"

	"github.com/tlsvpn/tlsvpn/netif"
)

// tun is the engine's device, with what the engine learned of it at start
// and the offloads it negotiated since. The TUN reader reads it, the
// connections' readers write it; negotiate may run at any time.
type tun struct {
	netif.Device
	batch  netif.BatchWriter // the device again, when it coalesces batches of writes; nil otherwise
	mtu    int
	accept netif.Offload // GSO types its kernel takes: what this node accepts from peers

	mu  sync.Mutex    // serialises negotiate
	now netif.Offload // GSO types set on the device now
}

func (t *tun) init(dev netif.Device) {
	t.Device, t.mtu, t.accept, t.now = dev, dev.MTU(), dev.Offload(), dev.Offload()
	t.batch, _ = dev.(netif.BatchWriter)
}

// updateOffload sets the device's offloads to the GSO types every
// connected peer accepts, so the kernel never hands us a super-packet a
// peer cannot take.
func (e *Engine) updateOffload() {
	e.dev.mu.Lock()
	defer e.dev.mu.Unlock()
	want := e.dev.accept
	for _, p := range e.peers.list() {
		if c := p.current(); c != nil {
			want &= c.accept
		}
	}
	e.dev.set(want, e.log)
}

// set puts want in force, if it differs from what is; the caller holds mu.
func (t *tun) set(want netif.Offload, log *slog.Logger) {
	if want == t.now {
		return
	}
	if err := t.SetOffload(want); err != nil {
		log.Error("set TUN offloads", "offload", want.Names(), "err", err)
		return
	}
	log.Info("TUN offloads changed", "offload", want.Names())
	t.now = want
}

// offloadNow is the GSO types set on the device now.
func (t *tun) offloadNow() netif.Offload {
	t.mu.Lock()
	defer t.mu.Unlock()
	return t.now
}
