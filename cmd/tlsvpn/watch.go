package main

import (
	"log/slog"
	"os"
	"slices"
	"sync"
	"syscall"
	"time"
)

// watchInterval is how often the credential files are looked at.
const watchInterval = time.Second

// watcher calls changed when one of its files changes on disk (size,
// modification time, inode: an edit in place or a rename over it). It
// polls: no inotify limits to hit, and a file replaced by a new one is
// seen like any other change.
type watcher struct {
	changed func()
	log     *slog.Logger
	mu      sync.Mutex
	files   []string
	seen    map[string]fileID
	done    chan struct{}
	wg      sync.WaitGroup
}

type fileID struct {
	size  int64
	mtime time.Time
	ino   uint64
}

func startWatcher(files []string, changed func(), log *slog.Logger) *watcher {
	w := &watcher{changed: changed, log: log, done: make(chan struct{})}
	w.setFiles(files)
	w.wg.Add(1)
	go w.loop()
	return w
}

// setFiles replaces the watched files and takes their current state as
// the baseline.
func (w *watcher) setFiles(files []string) {
	w.mu.Lock()
	defer w.mu.Unlock()
	w.files = slices.Clone(files)
	w.seen = map[string]fileID{}
	for _, f := range files {
		w.seen[f] = identify(f)
	}
}

func (w *watcher) stop() {
	close(w.done)
	w.wg.Wait()
}

func (w *watcher) loop() {
	defer w.wg.Done()
	t := time.NewTicker(watchInterval)
	defer t.Stop()
	for {
		select {
		case <-w.done:
			return
		case <-t.C:
			if f := w.poll(); f != "" {
				w.log.Info("file changed on disk", "file", f)
				w.changed()
			}
		}
	}
}

// poll returns a changed file, after updating the baseline, or "".
func (w *watcher) poll() string {
	w.mu.Lock()
	defer w.mu.Unlock()
	changed := ""
	for _, f := range w.files {
		id := identify(f)
		if id != w.seen[f] {
			w.seen[f] = id
			changed = f
		}
	}
	return changed
}

func identify(path string) fileID {
	st, err := os.Stat(path)
	if err != nil {
		return fileID{size: -1}
	}
	id := fileID{size: st.Size(), mtime: st.ModTime()}
	if sys, ok := st.Sys().(*syscall.Stat_t); ok {
		id.ino = sys.Ino
	}
	return id
}
