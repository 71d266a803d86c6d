// Package window holds the bounded, keyed, event-time state of stateful detections: the groups of windowed `stats`
// rules (used by the engine) and the suppression entries of throttled rules. Every structure here is bounded by a
// key count, evicts the least recently updated key first, and frees keys whose windows have expired.
//
// Nothing here knows pdata or a rule language: keys are strings and values are the caller's.
package window

import "time"

// Store is a map of keyed state bounded to a maximum number of keys. It remembers the order in which keys were last
// updated; when a new key would exceed the bound, the least recently updated key is evicted. A Store is not safe for
// concurrent use: its owner locks.
type Store[V any] struct {
	max     int
	entries map[string]*entry[V]
	// head is the least recently updated entry, tail the most recent (an intrusive list: one allocation per key).
	head, tail *entry[V]
	evicted    uint64
}

type entry[V any] struct {
	key        string
	val        V
	prev, next *entry[V]
}

// NewStore returns a Store holding at most limit keys (at least one).
func NewStore[V any](limit int) *Store[V] {
	return &Store[V]{max: max(limit, 1), entries: map[string]*entry[V]{}}
}

// Get returns the value of key and marks the key as just updated.
func (s *Store[V]) Get(key string) (*V, bool) {
	e, ok := s.entries[key]
	if !ok {
		return nil, false
	}
	s.unlink(e)
	s.pushBack(e)
	return &e.val, true
}

// GetBytes is Get for a key held in a byte slice, without copying it into a string (the map lookup converts in
// place).
func (s *Store[V]) GetBytes(key []byte) (*V, bool) {
	e, ok := s.entries[string(key)]
	if !ok {
		return nil, false
	}
	s.unlink(e)
	s.pushBack(e)
	return &e.val, true
}

// Add stores v under a key the Store does not hold and returns a pointer to the stored value. When the Store is full
// the least recently updated key is evicted first and handed to onEvict (which may be nil).
func (s *Store[V]) Add(key string, v V, onEvict func(key string, v *V)) *V {
	var e *entry[V]
	for len(s.entries) >= s.max {
		old := s.head
		s.unlink(old)
		delete(s.entries, old.key)
		s.evicted++
		if onEvict != nil {
			onEvict(old.key, &old.val)
		} else {
			e = old // no one saw it: a full store reuses it (the replay memory evicts once an event)
		}
	}
	if e == nil {
		e = &entry[V]{}
	}
	*e = entry[V]{key: key, val: v}
	s.entries[key] = e
	s.pushBack(e)
	return &e.val
}

// Sweep calls expired on every key, least recently updated first, and removes the keys it reports true for. It
// returns how many it removed. Removal by Sweep is expiry, not eviction: it is not counted in Evicted.
func (s *Store[V]) Sweep(expired func(key string, v *V) bool) int {
	n := 0
	for e := s.head; e != nil; {
		next := e.next
		if expired(e.key, &e.val) {
			s.unlink(e)
			delete(s.entries, e.key)
			n++
		}
		e = next
	}
	return n
}

// Each calls fn on every key, least recently updated first, until fn returns false. fn must not change the Store.
func (s *Store[V]) Each(fn func(key string, v *V) bool) {
	for e := s.head; e != nil; e = e.next {
		if !fn(e.key, &e.val) {
			return
		}
	}
}

// Len is the number of keys held.
func (s *Store[V]) Len() int { return len(s.entries) }

// Evicted is the number of keys evicted to respect the bound since the Store was made.
func (s *Store[V]) Evicted() uint64 { return s.evicted }

func (s *Store[V]) unlink(e *entry[V]) {
	if e.prev != nil {
		e.prev.next = e.next
	} else {
		s.head = e.next
	}
	if e.next != nil {
		e.next.prev = e.prev
	} else {
		s.tail = e.prev
	}
	e.prev, e.next = nil, nil
}

func (s *Store[V]) pushBack(e *entry[V]) {
	e.prev = s.tail
	if s.tail != nil {
		s.tail.next = e
	} else {
		s.head = e
	}
	s.tail = e
}

// MaxFutureSkew is how far ahead of the wall clock an event's time may move a watermark. An audit event stamped far
// in the future (a skewed clock, a forged record) would otherwise make every later event look late.
const MaxFutureSkew = 5 * time.Minute

// Watermark is the event-time progress of one stateful rule: the latest event time it has seen, never more than
// MaxFutureSkew ahead of the wall clock. Event time, not arrival time, decides windows, so that replaying an old
// audit log gives the answers live traffic gave.
type Watermark struct {
	t time.Time
	// limit is the wall clock plus MaxFutureSkew when last read. The clock moves forward, so an event time at or
	// before it is within the cap without reading the clock again: a live stream's rule reads it about once in
	// MaxFutureSkew of event time, not once an event (the reads were 1.3% of the full rule set's time). Should the
	// clock be stepped back, the cap is that much looser until an event passes the limit.
	limit time.Time
	// Now is the wall clock (time.Now when nil); tests set it.
	Now func() time.Time
}

// Observe moves the watermark to at if at is later, and returns the watermark.
func (w *Watermark) Observe(at time.Time) time.Time {
	if !at.After(w.t) {
		return w.t // capped or not, at would not move it
	}
	if at.After(w.limit) {
		now := time.Now
		if w.Now != nil {
			now = w.Now
		}
		if w.limit = now().Add(MaxFutureSkew); at.After(w.limit) {
			at = w.limit
		}
	}
	if at.After(w.t) {
		w.t = at
	}
	return w.t
}

// Time is the current watermark; zero before the first event.
func (w *Watermark) Time() time.Time { return w.t }
