package inventory

import (
	"sync"

	inventoryv1 "github.com/podwire/podwire/proto/podwire/inventory/v1"
)

// watcher is one WatchStock stream's queue.
type watcher struct {
	skus   map[string]bool        // nil watches every SKU; read-only after subscribe
	ch     chan *inventoryv1.Item // bounded backlog of changes
	lagged chan struct{}          // capacity 1; signalled when a change was dropped
}

func (w *watcher) wants(sku string) bool { return w.skus == nil || w.skus[sku] }

// hub fans stock changes out to watchers without ever blocking the writer:
// a full queue drops the change and flags the watcher for a resync.
type hub struct {
	buf, max int
	done     chan struct{} // closed by close; ends every stream

	mu       sync.Mutex // guards watchers and closed
	watchers map[*watcher]struct{}
	closed   bool
}

func newHub(buf, max int) *hub {
	return &hub{buf: buf, max: max, done: make(chan struct{}), watchers: make(map[*watcher]struct{})}
}

// subscribe adds a watcher for skus (every SKU if empty). ok is false when
// the hub is closed or full; full tells which.
func (h *hub) subscribe(skus []string) (w *watcher, full bool, ok bool) {
	w = &watcher{ch: make(chan *inventoryv1.Item, h.buf), lagged: make(chan struct{}, 1)}
	if len(skus) > 0 {
		w.skus = make(map[string]bool, len(skus))
		for _, s := range skus {
			w.skus[s] = true
		}
	}
	h.mu.Lock()
	defer h.mu.Unlock()
	switch {
	case h.closed:
		return nil, false, false
	case len(h.watchers) >= h.max:
		return nil, true, false
	}
	h.watchers[w] = struct{}{}
	return w, false, true
}

func (h *hub) unsubscribe(w *watcher) {
	h.mu.Lock()
	delete(h.watchers, w)
	h.mu.Unlock()
}

// publish queues items for every watcher that wants them; it never blocks.
func (h *hub) publish(items []*inventoryv1.Item) {
	if len(items) == 0 {
		return
	}
	h.mu.Lock()
	defer h.mu.Unlock()
	for w := range h.watchers {
		for _, it := range items {
			if !w.wants(it.GetSku()) {
				continue
			}
			select {
			case w.ch <- it:
			default:
				select {
				case w.lagged <- struct{}{}:
				default:
				}
			}
		}
	}
}

// watchers returns the number of open watchers.
func (h *hub) count() int {
	h.mu.Lock()
	defer h.mu.Unlock()
	return len(h.watchers)
}

// close ends every stream; safe to call twice.
func (h *hub) close() {
	h.mu.Lock()
	defer h.mu.Unlock()
	if !h.closed {
		h.closed = true
		close(h.done)
	}
}

// drain discards w's backlog without blocking.
func drain(w *watcher) {
	for {
		select {
		case <-w.ch:
		default:
			return
		}
	}
}
