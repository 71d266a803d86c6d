package window

import "sync"

// Recent remembers values by key for the most recently used keys, at most a bound of them: the memory of what was
// already done for an event, so that an event delivered again is recognised (engine/replay.go, the processor's
// throttles). It is safe for concurrent use.
type Recent[V any] struct {
	mu    sync.Mutex
	store *Store[V]
}

// NewRecent returns a Recent holding at most limit keys (at least one).
func NewRecent[V any](limit int) *Recent[V] {
	return &Recent[V]{store: NewStore[V](limit)}
}

// Get returns the value of key, if it is remembered.
func (r *Recent[V]) Get(key []byte) (V, bool) {
	r.mu.Lock()
	defer r.mu.Unlock()
	v, ok := r.store.GetBytes(key)
	if !ok {
		var zero V
		return zero, false
	}
	return *v, true
}

// Put remembers v under key, replacing what was there; the least recently used key makes room.
func (r *Recent[V]) Put(key []byte, v V) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if old, ok := r.store.GetBytes(key); ok {
		*old = v
		return
	}
	r.store.Add(string(key), v, nil)
}

// PutNew remembers v under key, which the caller knows is not remembered (it has just looked it up, and holds a lock
// of its own across the lookup and this call): Put without Put's lookup.
func (r *Recent[V]) PutNew(key []byte, v V) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.store.Add(string(key), v, nil)
}

// Each calls fn on every key, least recently used first, until fn returns false. fn must not use r.
func (r *Recent[V]) Each(fn func(key string, v V) bool) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.store.Each(func(key string, v *V) bool { return fn(key, *v) })
}

// Len returns how many keys are remembered.
func (r *Recent[V]) Len() int {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.store.Len()
}
