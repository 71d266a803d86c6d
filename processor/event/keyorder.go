package event

import (
	"encoding/binary"
	"slices"
)

// Key-order prediction. The API server writes every object of a kind with its keys in one order (the Go struct's
// field order): the Event's own members, then user, objectRef and responseStatus inside it. A View remembers that
// order from the events it has read, so reading a member's key is usually one comparison with the key it expects
// next, instead of a scan for the closing quote and a lookup of the name. A key that is not the expected one is
// read the general way and taught to the order; nothing is assumed, every prediction is checked against the bytes.

const (
	// keyOrderMax bounds the keys one order remembers; keyOrderBytes the bytes they take. Orders live as long as
	// their Parser and are taught by untrusted input: both are fixed, so they neither grow nor allocate.
	keyOrderMax   = 32
	keyOrderBytes = 640
	// maxOrderedKey is the longest key an order learns.
	maxOrderedKey = 64
	// maxSubOrders bounds the objects below the top level that get an order (user, objectRef, responseStatus,
	// annotations, impersonatedUser...).
	maxSubOrders = 8
)

// keyOrder is what the events read so far say about the order of one kind of object's keys: for each key met, the
// keys that followed it, most recent first. Successors rather than one sequence, because events leave out
// different optional fields (objectRef.namespace, objectRef.subresource, user.uid...): after objectRef.name comes
// apiGroup in one event and apiVersion in the next, and both are remembered.
type keyOrder struct {
	// buf holds each key followed by `":`, so that one comparison checks the key, its closing quote and the colon
	// of compact JSON.
	buf  [keyOrderBytes]byte
	ents [keyOrderMax]keyEnt
	n    int
	used int
	// first are the keys objects started with, most recent first.
	first succs
	// names is the registry snapshot the ids of ents were classified with.
	names *nameTable
}

// succs are entry indexes, most recent first; -1 ends the list.
type succs [keySuccs]int8

// keySuccs is how many successors of a key are remembered and tried.
const keySuccs = 3

type keyEnt struct {
	off, len uint16 // the key in buf, without the `":` that follows it
	id       int32  // the key's registry id (top-level orders), or -1
	next     succs
	// large says the key is one whose value the API server fills with a whole object (requestObject,
	// responseObject): readHead stops before it.
	large bool
	// rank and post are what headRank and isPostHead say of id, for readHead's order checks.
	rank int8
	post bool
	// head is the first eight bytes of the key with `":` (short ones padded with zeros, which no key holds) and
	// mask the bytes of head that count; head2 and mask2 the same for the next eight bytes. Keys of up to 14
	// bytes (every key of an audit event's head) are decided by two comparisons of words.
	head, mask, head2, mask2 uint64
}

// after returns the successors of entry prev: -1 stands for the start of the object, and below -1 for a key that was
// not learnt (nil: nothing is known).
func (o *keyOrder) after(prev int) *succs {
	switch {
	case prev >= 0:
		return &o.ents[prev].next
	case prev == -1:
		return &o.first
	}
	return nil
}

// predict returns the entry, among the keys that followed entry prev before, whose key (with `":`) is written at
// b[i+1:] after the opening quote at b[i], or -1.
func (o *keyOrder) predict(b []byte, i, prev int) int {
	s := o.after(prev)
	if o.n == 0 || s == nil {
		return -1
	}
	for _, t := range s {
		if t < 0 {
			break
		}
		e := &o.ents[t]
		n := int(e.len) + 2
		if i+1+max(n, 16) > len(b) {
			if i+1+n <= len(b) && string(b[i+1:i+1+n]) == string(o.buf[e.off:int(e.off)+n]) {
				return int(t)
			}
			continue
		}
		if (binary.LittleEndian.Uint64(b[i+1:])^e.head)&e.mask != 0 ||
			(binary.LittleEndian.Uint64(b[i+9:])^e.head2)&e.mask2 != 0 {
			continue
		}
		if n <= 16 || string(b[i+17:i+1+n]) == string(o.buf[int(e.off)+16:int(e.off)+n]) {
			return int(t)
		}
	}
	return -1
}

// is reports whether the key at b[i] (after the opening quote, with `":`) is entry t's, for a key that fits two
// words (every key of an audit event's head does): the readers' loops try the most recent successor with it before
// they call predict, which costs as much again for that one test.
func (o *keyOrder) is(b []byte, i int, t int8) bool {
	if t < 0 || i+17 > len(b) {
		return false
	}
	w := b[i+1 : i+17]
	e := &o.ents[t]
	return e.len <= 14 &&
		(binary.LittleEndian.Uint64(w)^e.head)&e.mask|(binary.LittleEndian.Uint64(w[8:])^e.head2)&e.mask2 == 0
}

// learn records that key, a key predict did not expect, followed entry prev, and returns key's entry (-2: not
// learnt: it holds an escape or does not fit).
func (o *keyOrder) learn(key []byte, esc bool, id int32, prev int) int {
	if esc || len(key) > maxOrderedKey {
		return -2
	}
	t := 0
	for ; t < o.n; t++ {
		e := &o.ents[t]
		if string(o.buf[e.off:e.off+e.len]) == string(key) {
			break
		}
	}
	if t == o.n {
		if o.n == keyOrderMax || o.used+len(key)+2 > keyOrderBytes {
			return -2
		}
		copy(o.buf[o.used:], key)
		copy(o.buf[o.used+len(key):], `":`)
		var w [16]byte
		n := copy(w[:], o.buf[o.used:o.used+len(key)+2])
		o.ents[t] = keyEnt{off: uint16(o.used), len: uint16(len(key)), id: id, next: succs{-1, -1, -1},
			head: binary.LittleEndian.Uint64(w[:]), mask: wordMask(n),
			head2: binary.LittleEndian.Uint64(w[8:]), mask2: wordMask(n - 8),
			large: string(key) == "requestObject" || string(key) == "responseObject",
			rank:  int8(headRank(id)), post: isPostHead(id)}
		o.n++
		o.used += len(key) + 2
	}
	// Most recent first: t moves to the front, or the oldest successor makes room.
	if s := o.after(prev); s != nil {
		p := keySuccs - 1
		for q, u := range s {
			if int(u) == t {
				p = q
				break
			}
		}
		copy(s[1:p+1], s[:p])
		s[0] = int8(t)
	}
	return t
}

// wordMask masks the first n bytes of a little-endian word (all of it from 8, none below 1).
func wordMask(n int) uint64 {
	switch {
	case n >= 8:
		return ^uint64(0)
	case n <= 0:
		return 0
	}
	return ^uint64(0) >> (64 - 8*n)
}

// reset forgets the order (the ids of its keys were classified with another registry snapshot).
func (o *keyOrder) reset(names *nameTable) {
	o.n, o.used, o.names = 0, 0, names
	o.first = succs{-1, -1, -1}
}

// subOrder returns the order of the object that is the value of the top-level member named id, or nil.
func (v *View) subOrder(id int32) *keyOrder {
	if id < 0 {
		return nil
	}
	for i := range v.subs {
		s := &v.subs[i]
		if s.ord == nil {
			s.id, s.ord = id, &keyOrder{}
			s.ord.reset(nil)
			return s.ord
		}
		if s.id == id {
			return s.ord
		}
	}
	return nil
}

// orderFor returns the order of the object at b[at] when it is the value of a named top-level member, or nil.
// Searched by halves: top is in document order and bot in reverse, and every object a path walks into asks, so a
// scan of the top-level members made a body of many of them and many small objects cost their product.
func (v *View) orderFor(at int) *keyOrder {
	// The object walked into is most often the member just read (user, objectRef, responseStatus as the head is
	// read): tried first, as the scan did.
	if n := len(v.top); n > 0 && int(v.top[n-1].val) == at {
		return v.subOrder(v.top[n-1].name)
	}
	if i, ok := slices.BinarySearchFunc(v.top, int32(at), func(m member, at int32) int {
		countOrderLook()
		return int(m.val - at)
	}); ok {
		return v.subOrder(v.top[i].name)
	}
	if i, ok := slices.BinarySearchFunc(v.bot, int32(at), func(m member, at int32) int {
		countOrderLook()
		return int(at - m.val)
	}); ok {
		return v.subOrder(v.bot[i].name)
	}
	return nil
}

// orderLooks, when set (by tests), counts the top-level members orderFor compares.
var orderLooks *int

func countOrderLook() {
	if orderLooks != nil {
		*orderLooks++
	}
}
