package pki

import (
	"errors"
	"fmt"
	"os"
	"syscall"
	"time"
)

// lockWait bounds how long a command waits for another one on the same
// directory; commands take milliseconds, so a longer wait means a stuck one.
const lockWait = 10 * time.Second

// lockDir takes an exclusive flock on dir and returns the function that
// releases it.
func lockDir(dir string) (unlock func(), err error) {
	d, err := os.Open(dir)
	if err != nil {
		return nil, err
	}
	deadline := time.Now().Add(lockWait)
	for {
		err = syscall.Flock(int(d.Fd()), syscall.LOCK_EX|syscall.LOCK_NB)
		if err == nil {
			return func() { d.Close() }, nil
		}
		if !errors.Is(err, syscall.EWOULDBLOCK) && !errors.Is(err, syscall.EINTR) || time.Now().After(deadline) {
			d.Close()
			return nil, fmt.Errorf("lock %s (is another tlsvpn pki command running?): %w", dir, err)
		}
		time.Sleep(50 * time.Millisecond)
	}
}
