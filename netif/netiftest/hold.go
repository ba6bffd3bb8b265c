package netiftest

// A held device: a kernel that stops taking packets, so that the code
// writing them stalls. Tests of stall detection (the systemd watchdog) use
// it.

// HoldWrites makes every later Write wait, before it does anything, until
// ReleaseWrites or Close. Calls while writes are held do nothing.
func (d *Device) HoldWrites() {
	d.mu.Lock()
	defer d.mu.Unlock()
	if d.held == nil {
		d.held = make(chan struct{})
	}
}

// ReleaseWrites lets the held Writes, and every later one, go on.
func (d *Device) ReleaseWrites() {
	d.mu.Lock()
	defer d.mu.Unlock()
	if d.held != nil {
		close(d.held)
		d.held = nil
	}
}

// WritesHeld is the number of Writes waiting now.
func (d *Device) WritesHeld() int { return int(d.waiting.Load()) }

// waitHeld waits while writes are held; false when the device closed.
func (d *Device) waitHeld() bool {
	d.mu.Lock()
	held := d.held
	d.mu.Unlock()
	if held == nil {
		return true
	}
	d.waiting.Add(1)
	defer d.waiting.Add(-1)
	select {
	case <-held:
		return true
	case <-d.done:
		return false
	}
}
