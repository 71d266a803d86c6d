package event

import (
	"encoding/binary"
	"slices"
)

// The fast head. Most paths a rule set reads are a head field (verb, sourceIPs{}, userAgent...) or one key of the
// object that is a head field's value (objectRef.resource, user.username, user.groups{}, responseStatus.code). For
// an event whose head is written exactly as the API server writes it, those resolve to one member each, found in
// one pass over the head without member tables, key orders or order marks: the value's offset is kept in a slot
// and handed to walkValue as topMember and walkObject would have.
//
// The fast path answers only when it can prove the general path gives the same values: compact JSON (no
// whitespace between tokens), top-level keys that are head fields in the API server's order (the required ones
// kind or level to user, one after the other, then increasing ranks) up to the first of postHeadFields or the end
// of the object, keys without escapes, and in the objects of the slotted fields no key of a slot twice. Then the
// head's places decide what the general path would decide (see noteRankAt): a head field met is the first member
// spelling any of its paths (no dotted top-level key is in the head), one not met is absent. Anything else marks
// the event failed, and the general path reads it, reporting any syntax error as before. Values are scanned with
// the general path's own functions, so the fast path accepts no head the general path would reject. A key is
// first compared whole, as `"name":`, with those expected next (fastKeyAt): a match proves the key is that name,
// unescaped, closed where the general path closes it, and anything else is scanned as before. (A key longer than 64
// bytes, whose escapes stringEndEsc leaves undecided, makes the fast path give up; no expected key is that long.)

const (
	fastUnknown = iota // not looked at yet
	fastOK             // the head read so far is as the API server writes it
	fastFailed         // it is not: every path goes the general way
)

// fastSubs are the keys of head objects that get a slot: those rules read, and their neighbours.
var fastSubs = [...]struct {
	rank int
	key  string
}{
	{rankUser, "username"}, {rankUser, "uid"}, {rankUser, "groups"},
	{rankImpersonated, "username"}, {rankImpersonated, "groups"},
	{rankObjectRef, "resource"}, {rankObjectRef, "namespace"}, {rankObjectRef, "name"},
	{rankObjectRef, "apiGroup"}, {rankObjectRef, "apiVersion"}, {rankObjectRef, "subresource"},
	{rankResponseStatus, "code"},
}

const numFastSubs = len(fastSubs)

// fastSubRange[r] is the range of fastSubs whose parent has rank r.
var fastSubRange = func() (out [numHeadFields][2]int8) {
	for i, s := range fastSubs {
		if out[s.rank][1] == 0 {
			out[s.rank][0] = int8(i)
		}
		out[s.rank][1] = int8(i + 1)
	}
	return out
}()

// fastHead is the fast path's state for one event.
type fastHead struct {
	state uint8
	done  bool  // met the first post-head member, or the end of the object
	rank  int8  // rank of the last head field read, -1 for none
	pos   int32 // the next member's opening quote
	close int32 // the object's closing brace
	top   [numHeadFields]int32
	sub   [numFastSubs]int32
	// topEnd and subEnd are where a slot's value ends when it is a string without a backslash (0: any other
	// value): the head's scan found its closing quote, and Each hands it on without scanning the string again.
	topEnd [numHeadFields]int32
	subEnd [numFastSubs]int32
}

// setFastSlots gives p its slots: fastTop the head field it starts with, fastSub the key inside it (-1: none).
func (p *Path) setFastSlots() {
	p.fastTop, p.fastSub = -1, -1
	switch {
	case p.rank < 0:
	case len(p.segs) == 1:
		p.fastTop = int8(p.rank)
	case len(p.segs) == 2 && !p.segs[0].array:
		if s := fastSubOf(p.rank, []byte(p.segs[1].key)); s >= 0 {
			p.fastTop, p.fastSub = int8(p.rank), s
		}
	}
}

// fastFind returns the offset of the value p's last segment reaches (-1: absent) and, when it is a string without a
// backslash, where it ends (else 0); ok is false when the fast path cannot tell.
func (v *View) fastFind(p *Path) (val, strEnd int, ok bool) {
	f := &v.fast
	if f.state == fastUnknown {
		f.state, f.done, f.rank = fastOK, false, -1
		f.pos, f.close = int32(v.topStart+1), int32(v.closeAt)
		for i := range f.top {
			f.top[i] = -1
		}
		for i := range f.sub {
			f.sub[i] = -1
		}
	}
	r := p.fastTop
	for f.rank < r && !f.done {
		if !v.fastNext() {
			f.state = fastFailed
			return -1, 0, false
		}
	}
	at := f.top[r]
	if at < 0 && r < rankLevel {
		// kind or apiVersion in a head that starts at level: no place decides them (noteRankAt marks none passed),
		// so a later member may still count, even after requestObject.
		return -1, 0, false
	}
	if at < 0 {
		return -1, 0, true
	}
	if p.fastSub < 0 {
		return int(at), int(f.topEnd[r]), true
	}
	if sub := f.sub[p.fastSub]; sub >= 0 {
		return int(sub), int(f.subEnd[p.fastSub]), true
	}
	return -1, 0, true
}

// fastNext reads the next member of the head; false: the head is not one the fast path can answer for.
func (v *View) fastNext() bool {
	b, f := v.body, &v.fast
	i := int(f.pos)
	if i >= len(b) || b[i] != '"' {
		return false
	}
	if f.rank < 0 && len(b)-i > len(fastHeadStart) && string(b[i:i+len(fastHeadStart)]) == fastHeadStart {
		// The two members nearly every event starts with, as fastNext would read them one by one.
		f.top[0], f.top[1] = int32(i+len(`"kind":`)), int32(i+len(`"kind":"Event","apiVersion":`))
		f.topEnd[0], f.topEnd[1] = int32(i+len(`"kind":"Event"`)), int32(i+len(fastHeadStart)-1)
		f.rank, f.pos = 1, int32(i+len(fastHeadStart))
		return true
	}
	// The key is nearly always one of the next ranks: compared whole, it needs no scan and no switch.
	r, post := -1, false
	from := int(f.rank) + 1
	c, j := fastKeyAt(b, i, fastKeys[from:])
	if c >= 0 {
		if r = from + c; r >= numHeadFields {
			r, post = -1, true
		}
	} else {
		var esc bool
		j, esc = stringEndEsc(b, i)
		if j--; j < 0 || esc {
			return false // no end, or an escape in the key (or a key too long to tell)
		}
		r, post = fastRank(b[i+1 : j])
	}
	if j+2 >= len(b) || b[j+1] != ':' || b[j+2] <= ' ' {
		return false
	}
	switch {
	case post:
		// requestObject or a later field: every head field not met is absent (noteRankAt), once the required
		// ones were read.
		if f.rank < rankUser {
			return false
		}
		f.done = true
		return true
	case r < 0:
		return false
	case f.rank < rankUser:
		want := int(f.rank) + 1
		if f.rank < 0 && r == rankLevel {
			want = rankLevel // the webhook backend starts at level
		}
		if r != want {
			return false
		}
	case r <= int(f.rank):
		return false
	}
	val := j + 2
	end, strEnd := -1, 0
	switch c := b[val]; {
	case c == '{':
		end = v.fastObject(val, r)
	case fastSubRange[r][1] > 0:
		return false // a field with slots whose value is no object: walkValue may read it otherwise (anyArray)
	case c == '"':
		var esc bool
		if end, esc = stringEndEsc(b, val); !esc {
			strEnd = end
		}
	default:
		if e, err := skipValue(b, val); err == nil {
			end = e
		}
	}
	if end <= 0 || end >= len(b) {
		return false
	}
	f.top[r], f.topEnd[r], f.rank = int32(val), int32(strEnd), int8(r)
	switch b[end] {
	case ',':
		f.pos = int32(end + 1)
	case '}':
		if end != int(f.close) {
			return false
		}
		f.done = true
	default:
		return false
	}
	return true
}

// fastObject checks the compact object at b[at] member by member, as tableIn reads it, fills the slots of the head
// field of rank r, and returns where the object ends (-1: not one the fast path answers for).
func (v *View) fastObject(at, r int) int {
	b, f := v.body, &v.fast
	keys, subsOf, next := fastObjectKeys[r], fastObjectSub[r], 0
	i := at + 1
	if i < len(b) && b[i] == '}' {
		return i + 1
	}
	for {
		if i >= len(b) || b[i] != '"' {
			return -1
		}
		sub := int8(-1)
		c, j := fastKeyAt(b, i, keys[next:])
		if c >= 0 {
			sub = subsOf[next+c]
			next += c + 1
		} else {
			var esc bool
			j, esc = stringEndEsc(b, i)
			if j--; j < 0 || esc {
				return -1
			}
			sub = fastSubOf(r, b[i+1:j])
		}
		if j+2 >= len(b) || b[j+1] != ':' || b[j+2] <= ' ' {
			return -1
		}
		val := j + 2
		if sub >= 0 {
			if f.sub[sub] >= 0 {
				return -1 // a duplicate: walkObject would yield both
			}
			f.sub[sub] = int32(val)
		}
		var end int
		if b[val] == '"' {
			if sub < 0 {
				end = stringEnd(b, val)
			} else {
				var esc bool
				end, esc = stringEndEsc(b, val)
				f.subEnd[sub] = 0
				if !esc {
					f.subEnd[sub] = int32(end)
				}
			}
		} else {
			if sub >= 0 {
				f.subEnd[sub] = 0
			}
			var err error
			if end, err = skipValue(b, val); err != nil {
				return -1
			}
		}
		if end <= 0 || end >= len(b) {
			return -1
		}
		switch b[end] {
		case ',':
			i = end + 1
		case '}':
			return end + 1
		default:
			return -1
		}
	}
}

// fastRank returns the head rank of a top-level key (-1: none) and whether it is one of postHeadFields. Only keys
// fastKeyAt did not predict come here (escaped, unknown, or near the end of a body), so a search of the two lists
// does, and keeps the names in one place.
func fastRank(key []byte) (r int, post bool) {
	for r, name := range headFields {
		if string(key) == name {
			return r, false
		}
	}
	for _, name := range postHeadFields {
		if string(key) == name {
			return -1, true
		}
	}
	return -1, false
}

// fastSubOf returns the slot of key in the object of the head field of rank r (-1: none).
func fastSubOf(r int, key []byte) int8 {
	for s := fastSubRange[r][0]; s < fastSubRange[r][1]; s++ {
		if string(key) == fastSubs[s].key {
			return s
		}
	}
	return -1
}

// keyLit is the member key `"name":` as words to compare eight bytes at a time: a key that matches it is that
// name with no escape (the name holds no quote or backslash), closed by the quote before the colon.
type keyLit struct {
	w, m [4]uint64 // the literal's bytes, little-endian, and the mask of those the literal has
	size int       // len(`"name":`)
}

func newKeyLit(name string) keyLit {
	lit := `"` + name + `":`
	if len(lit) > 32 {
		panic("event: key literal longer than four words")
	}
	k := keyLit{size: len(lit)}
	for i := 0; i < len(lit); i++ {
		k.w[i/8] |= uint64(lit[i]) << (8 * (i % 8))
		k.m[i/8] |= 0xff << (8 * (i % 8))
	}
	return k
}

// fastHeadStart is how nearly every event starts.
const fastHeadStart = `"kind":"Event","apiVersion":"audit.k8s.io/v1",`

// fastKeys are the top-level keys fastNext expects, in order: the head fields by rank, then postHeadFields.
var fastKeys = func() (out []keyLit) {
	for _, name := range append(slices.Clone(headFields), postHeadFields...) {
		out = append(out, newKeyLit(name))
	}
	return out
}()

// fastObjectKeys[r] are the keys of the object of the head field of rank r in the order the API server writes
// them (UserInfo, ObjectReference, Status), and fastObjectSub the slot of each (-1: none).
var fastObjectKeys, fastObjectSub = func() (keys [numHeadFields][]keyLit, subs [numHeadFields][]int8) {
	user := []string{"username", "uid", "groups", "extra"}
	for r, names := range map[int][]string{
		rankUser:           user,
		rankImpersonated:   user,
		rankObjectRef:      {"resource", "namespace", "name", "uid", "apiGroup", "apiVersion", "resourceVersion", "subresource"},
		rankResponseStatus: {"metadata", "status", "message", "reason", "details", "code"},
	} {
		for _, name := range names {
			keys[r] = append(keys[r], newKeyLit(name))
			subs[r] = append(subs[r], fastSubOf(r, []byte(name)))
		}
	}
	return keys, subs
}()

// fastKeyAt predicts the key at b[i] (an opening quote): keys are compared with it whole, in order. On a match it
// returns the key's index c and its closing quote j, where stringEndEsc finds it (the key has no escape); c is -1
// when none matches, and the caller reads the key the general way.
func fastKeyAt(b []byte, i int, keys []keyLit) (c, j int) {
	if i < 0 || i+32 > len(b) {
		return -1, -1
	}
	w0 := binary.LittleEndian.Uint64(b[i:])
	w1 := binary.LittleEndian.Uint64(b[i+8:])
	w2 := binary.LittleEndian.Uint64(b[i+16:])
	w3 := binary.LittleEndian.Uint64(b[i+24:])
	for c := range keys {
		k := &keys[c]
		if w0&k.m[0] == k.w[0] && w1&k.m[1] == k.w[1] && w2&k.m[2] == k.w[2] && w3&k.m[3] == k.w[3] {
			return c, i + k.size - 2
		}
	}
	return -1, -1
}
