package purchase

import (
	"context"
	"sync"
)

// keyLocks serialises work per key (an order id) while different keys run
// in parallel. Entries live only while someone holds or waits for them.
type keyLocks struct {
	mu sync.Mutex // guards m
	m  map[string]*keyLock
}

type keyLock struct {
	ch   chan struct{} // capacity 1; holding the token holds the lock
	refs int           // holders and waiters; guarded by keyLocks.mu
}

// lock takes the lock of key, or gives up when ctx ends. The returned
// function releases it.
func (k *keyLocks) lock(ctx context.Context, key string) (func(), error) {
	k.mu.Lock()
	if k.m == nil {
		k.m = make(map[string]*keyLock)
	}
	l := k.m[key]
	if l == nil {
		l = &keyLock{ch: make(chan struct{}, 1)}
		k.m[key] = l
	}
	l.refs++
	k.mu.Unlock()
	select {
	case l.ch <- struct{}{}:
		return func() { <-l.ch; k.done(key, l) }, nil
	case <-ctx.Done():
		k.done(key, l)
		return nil, ctx.Err()
	}
}

func (k *keyLocks) done(key string, l *keyLock) {
	k.mu.Lock()
	defer k.mu.Unlock()
	if l.refs--; l.refs == 0 {
		delete(k.m, key)
	}
}

// size returns the number of keys held or waited for.
func (k *keyLocks) size() int {
	k.mu.Lock()
	defer k.mu.Unlock()
	return len(k.m)
}
