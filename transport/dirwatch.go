package transport

import (
	"path/filepath"
	"sync"

	"github.com/fsnotify/fsnotify"
)

// watchRegistry reference-counts a Client's directory watches: one
// fsnotify watcher per socket dir, shared by the Client's resolvers
// (inotify instances are a small per-user quota).
type watchRegistry struct {
	mu      sync.Mutex           // guards watches, closed and every watch's refs
	watches map[string]*dirWatch // by directory
	closed  bool                 // closeAll was called
}

// dirWatch fans the events of one directory out to subscribers.
type dirWatch struct {
	dir  string
	w    *fsnotify.Watcher
	refs int
	wg   sync.WaitGroup // the fan-out goroutine

	mu   sync.Mutex               // guards subs
	subs map[chan struct{}]string // subscriber → file base name it follows
}

// subscribe makes ch (capacity >= 1) receive a value whenever name in dir
// is created, removed, renamed, written or chmodded, or when events may
// have been lost. The returned func unsubscribes and, for the last
// subscriber of dir, stops the watcher and waits for its goroutine.
func (r *watchRegistry) subscribe(dir, name string, ch chan struct{}) (func(), error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.closed {
		return nil, ErrClientClosed
	}
	d := r.watches[dir]
	if d == nil {
		w, err := fsnotify.NewWatcher()
		if err != nil {
			return nil, err
		}
		if err := w.Add(dir); err != nil {
			w.Close()
			return nil, err
		}
		d = &dirWatch{dir: dir, w: w, subs: map[chan struct{}]string{}}
		r.watches[dir] = d
		d.wg.Add(1)
		go d.run()
	}
	d.refs++
	d.mu.Lock()
	d.subs[ch] = name
	d.mu.Unlock()
	var once sync.Once
	return func() { once.Do(func() { r.unsubscribe(d, ch) }) }, nil
}

// unsubscribe removes ch and stops d after its last subscriber.
func (r *watchRegistry) unsubscribe(d *dirWatch, ch chan struct{}) {
	d.mu.Lock()
	delete(d.subs, ch)
	d.mu.Unlock()
	r.mu.Lock()
	d.refs--
	last := d.refs == 0 && r.watches[d.dir] == d
	if last {
		delete(r.watches, d.dir)
	}
	r.mu.Unlock()
	if last {
		d.w.Close()
		d.wg.Wait()
	}
}

// run forwards events until the watcher closes.
func (d *dirWatch) run() {
	defer d.wg.Done()
	for {
		select {
		case ev, ok := <-d.w.Events:
			if !ok {
				return
			}
			d.notify(filepath.Base(ev.Name))
		case _, ok := <-d.w.Errors:
			if !ok {
				return
			}
			d.notify("") // events may be lost (queue overflow): everyone re-checks
		}
	}
}

// notify kicks the subscribers following name ("" = all), never blocking.
func (d *dirWatch) notify(name string) {
	d.mu.Lock()
	defer d.mu.Unlock()
	for ch, n := range d.subs {
		if name != "" && n != name {
			continue
		}
		select {
		case ch <- struct{}{}:
		default:
		}
	}
}

// closeAll stops every watch and waits for their goroutines; later
// subscribes fail and later unsubscribes do nothing.
func (r *watchRegistry) closeAll() {
	r.mu.Lock()
	r.closed = true
	watches := make([]*dirWatch, 0, len(r.watches))
	for dir, d := range r.watches {
		watches = append(watches, d)
		delete(r.watches, dir)
	}
	r.mu.Unlock()
	for _, d := range watches {
		d.w.Close()
		d.wg.Wait()
	}
}
