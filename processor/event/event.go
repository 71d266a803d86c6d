// Package event gives the engine read access to one audit event: it resolves Splunk-style flattened field paths
// (`objectRef.resource`, `sourceIPs{}`, `spec.containers{}.image`, keys that themselves contain dots) against the
// JSON body in place. It knows no rule language and no pdata.
//
// A View reads lazily: it never builds a tree, reads the top-level object member by member only as far as the paths
// asked for need, and skips the values it does not need without parsing them. The API server writes verb, user,
// objectRef and responseStatus before the large requestObject and responseObject, so most events are decided after
// a few hundred bytes.
//
// How a path is resolved:
//   - Inside any object below the top level, every member whose key spells the next part of the path counts:
//     a duplicate key yields every occurrence in document order, and `a.b.c` finds {"a":{"b.c":1}} and
//     {"a.b":{"c":1}} alike. That is where request and response bodies live, whose content the requester controls
//     (and where the API server's decoder keeps the last of duplicate keys), so nothing there can hide a value.
//   - At the top level, the Event's own fields are written once by the API server (and by any re-serialiser), so one
//     member decides: the one whose key spells the start of the path nearest to where the API server writes that
//     field. The fields it writes after the large objects (responseObject, requestReceivedTimestamp,
//     stageTimestamp, annotations) are read from the end of the event, so the last such member decides; every
//     other field is read from the start, so the first decides. A body that repeats a top-level key (which no API
//     server writes) is read the same way every time; this rule is what lets a decision be final before, or
//     without, reading the large objects.
package event

import (
	"bytes"
	"encoding/binary"
	"errors"
	"math"
	"math/bits"
	"math/rand/v2"
	"slices"
	"strings"
)

// ErrNotObject is returned for a body that is valid JSON but not a JSON object.
var ErrNotObject = errors.New("audit event is not a JSON object")

// Parser opens bodies as Views. A Parser is not safe for concurrent use, and a View is valid only until the next
// call to Parse or Open on the same Parser: keep one Parser per goroutine (the engine pools them). Its buffers are
// reused, so reading an event allocates nothing once the Parser has seen a few.
type Parser struct {
	view View
}

// Parse checks that body is one valid JSON object (fastjson's grammar, at most MaxDepth levels deep) and opens it.
// It reads every byte once; Open is the lazy alternative.
func (p *Parser) Parse(body []byte) (*View, error) {
	v := &p.view
	var err error
	if v.stack, err = validate(body, v.stack); err != nil {
		return nil, err
	}
	i := skipWS(body, 0)
	if body[i] != '{' {
		return nil, ErrNotObject
	}
	if len(body) > math.MaxInt32 {
		return nil, errTooLarge
	}
	v.reset(body, i)
	v.validated = true
	return v, nil
}

// Open opens body without reading it: it only checks that body starts like a JSON object and ends with its closing
// brace (which a truncated line does not). What the View reads later is checked as it is read; a syntax error met
// then stops the View and is reported by Err, and Validate checks the rest.
func (p *Parser) Open(body []byte) (*View, error) {
	i := skipWS(body, 0)
	if i == len(body) || body[i] != '{' {
		return p.Parse(body) // not an object: tell invalid JSON from JSON of another type
	}
	j := len(body)
	for j > i && (body[j-1] == ' ' || body[j-1] == '\n' || body[j-1] == '\t' || body[j-1] == '\r') {
		j--
	}
	if j-1 == i || body[j-1] != '}' {
		return nil, syntaxErr(j, errUnexpectedEnd)
	}
	if len(body) > math.MaxInt32 {
		return nil, errTooLarge
	}
	v := &p.view
	v.reset(body, i)
	return v, nil
}

// Release drops the Parser's references to the last body it read, so that a pooled Parser does not keep it from
// being collected. The last View must not be used after it.
func (p *Parser) Release() {
	p.view.body, p.view.err = nil, nil
}

// View is one audit event, read in place.
type View struct {
	body      []byte
	err       error
	validated bool

	// emitted counts the values emit has passed to a callback, and emittedAt is where the last one is: body[lo:hi],
	// or buf[lo:hi] when it was unescaped there. First reads them rather than keeping the value from its callback (a
	// slice stored through a closure costs a write barrier while the garbage collector marks, and First reads the
	// verb and resource of every event).
	emitted   uint64
	emittedAt struct {
		lo, hi int
		inBuf  bool
	}

	// The top-level object is read member by member from both ends: top holds the members read from the start, in
	// document order, and bot those read from the end, in reverse document order. topDone says the start reached
	// the end; met says the two met, so that top and bot hold every member between them. botEnd is where the part
	// not yet read from the end stops: the closing brace, then the key of the last member read from the end.
	topStart int
	top      []member
	topDone  bool
	bot      []member
	botEnd   int
	met      bool
	// names is the registry snapshot the top-level keys are classified with; first[id] is the index in top of the
	// first member named id, valid when firstGen[id] == gen.
	names    *nameTable
	first    []int32
	firstGen []uint32
	gen      uint32

	// Objects below the top level are read whole, once, into members; tables finds them by offset.
	members []member
	tables  tableCache
	// depth counts the arrays walkArray is inside (see there).
	depth int

	// esc and nonASCII are EscapedASCII's answer (nonASCII: an escaped character outside ASCII), once escKnown.
	esc      [2]uint64
	nonASCII bool
	escKnown bool

	// order is the order of the top-level keys met so far (keyorder.go), topPrev the entry of the last member read
	// from the start; subs
	// the orders of the objects that are values of top-level members, by the member's name.
	order   keyOrder
	topPrev int
	// headDone says readHead has stopped for good on this event.
	headDone bool
	subs     [maxSubOrders]struct {
		id  int32
		ord *keyOrder
	}

	// The API server writes the head in one order (headFields). While the members read from the start follow it
	// (inOrder; headRank the rank of the last head field read, complete once its required fields are read), a member
	// that skips ranks passes the place of the head fields between: passedAt[rank] is the index in top of that
	// member, and a head field with a member at or after it is absent (topMember). The marks depend on the document
	// only, not on what was read first.
	headRank int
	inOrder  bool
	complete bool
	botNoted bool
	passedAt [numHeadFields]int32

	// fast is the fast head's state (headfast.go); closeAt is the object's closing brace.
	fast    fastHead
	closeAt int

	// buf holds unescaped strings while a callback runs; stack is validate's scratch space.
	buf   []byte
	stack []byte
	// keys holds the escaped keys of the members below the top level, unescaped once when their object is read:
	// every path walking the object compares its segments to each key, and unescaping a key for each comparison
	// made an event of 100,000 escaped keys cost its size times the paths read through them. keySpans[i] is where
	// the key of the member whose name is -2-i is in keys.
	keys     []byte
	keySpans []keySpan
}

type keySpan struct{ lo, hi int32 }

// member is one key/value pair of an object, as offsets into the body.
type member struct {
	key, keyEnd int32 // the key's bytes, without quotes
	val, valEnd int32 // the value's bytes; valEnd is -1 while the value has not been skipped
	// name is the key's id in the name registry (top-level members) or -1; below the top level, a key with escapes
	// is -2-i, unescaped at View.keySpans[i].
	name int32
	esc  bool // the key holds escapes
}

func (v *View) reset(body []byte, start int) {
	// Pointer fields are stored only when they change: each store costs a write barrier while the collector marks.
	v.body, v.validated, v.escKnown = body, false, false
	if v.err != nil {
		v.err = nil
	}
	v.topStart, v.top, v.topDone = start, v.top[:0], false
	v.bot, v.met = v.bot[:0], false
	v.botEnd = len(body)
	for v.botEnd > start && body[v.botEnd-1] != '}' {
		v.botEnd--
	}
	v.botEnd-- // the closing brace (Open and Parse checked it is there)
	v.closeAt, v.fast.state = v.botEnd, fastUnknown
	v.members, v.buf = v.members[:0], v.buf[:0]
	v.keys, v.keySpans = v.keys[:0], v.keySpans[:0]
	v.tables.reset()
	if names := currentNames(); names != v.names {
		v.names = names
	}
	if v.order.names != v.names {
		v.order.reset(v.names)
	}
	v.topPrev, v.headDone = -1, false
	v.headRank, v.inOrder, v.complete, v.botNoted = -1, true, false, false
	for i := range v.passedAt {
		v.passedAt[i] = -1
	}
	if n := int(v.names.count); len(v.first) < n {
		v.first = make([]int32, n)
		v.firstGen = make([]uint32, n)
	}
	v.gen++
	if v.gen == 0 { // wrapped: forget every stamp
		clear(v.firstGen)
		v.gen = 1
	}
}

// Body returns the bytes the View reads. They must not be modified.
func (v *View) Body() []byte { return v.body }

// EscapedASCII returns the set of ASCII characters (bit c of word c/64) that the body writes somewhere as a \uXXXX or
// \/ escape: a literal holding one of them may be in the event without being in its bytes as written. escNonASCII
// says the body also escapes a character outside ASCII (\u0080 and up), which case-insensitive matching may take
// for an ASCII letter (Unicode folding: ſ is s, the Kelvin sign is k). Characters outside ASCII written as UTF-8 are
// the caller's to look for: it knows the few that matter. Computed once per View, in one pass.
func (v *View) EscapedASCII() (set *[2]uint64, escNonASCII bool) {
	if v.escKnown {
		return &v.esc, v.nonASCII
	}
	v.esc, v.escKnown, v.nonASCII = [2]uint64{}, true, false
	if len(v.body) >= swarSearchFrom {
		v.escapesBySWAR()
	} else {
		v.escapesByHops()
	}
	return &v.esc, v.nonASCII
}

// swarSearchFrom is the body size from which EscapedASCII looks at every position, eight at a time, instead of
// hopping between backslashes: a large body (a ConfigMap of prose with \n, embedded JSON with \") has too many
// of them for hops, which win on the small bodies of most events (measured on the generated log and on the
// 16 KiB–1 MiB ConfigMaps of BenchmarkLargeEvent).
const swarSearchFrom = 8 << 10

// escapesByHops hops from backslash to backslash while they are sparse, and looks at eight positions at a time
// where they are dense.
func (v *View) escapesByHops() {
	b := v.body
	hits := 0
	for i := 0; i+1 < len(b); i++ {
		if hits < 16 || i >= hits*64 {
			// Sparse backslashes: IndexByte runs at vector speed between them.
			k := bytes.IndexByte(b[i:], '\\')
			if k < 0 {
				break
			}
			i += k
			hits++
		} else {
			// Dense ones (\n in a large file, \" in embedded JSON): eight positions at a time for a backslash
			// followed by u or /.
			for ; i+9 <= len(b); i += 8 {
				next := binary.LittleEndian.Uint64(b[i+1:])
				if zeroBytes(binary.LittleEndian.Uint64(b[i:])^'\\'*swarOnes)&
					(zeroBytes(next^'u'*swarOnes)|zeroBytes(next^'/'*swarOnes)) != 0 {
					break
				}
			}
		}
		if i+1 < len(b) && b[i] == '\\' && (b[i+1] == 'u' || b[i+1] == '/') && escapes(b, i) {
			v.noteEscape(i)
			i++
		}
	}
}

// escapesBySWAR looks at eight positions at a time for a backslash followed by u or /, however dense the
// backslashes are.
func (v *View) escapesBySWAR() {
	b := v.body
	i := 0
	for ; i+9 <= len(b); i += 8 {
		next := binary.LittleEndian.Uint64(b[i+1:])
		m := zeroBytes(binary.LittleEndian.Uint64(b[i:])^'\\'*swarOnes) &
			(zeroBytes(next^'u'*swarOnes) | zeroBytes(next^'/'*swarOnes))
		for ; m != 0; m &= m - 1 {
			// A flagged byte may be a false one: each is checked.
			if j := i + bits.TrailingZeros64(m)>>3; b[j] == '\\' && (b[j+1] == 'u' || b[j+1] == '/') && escapes(b, j) {
				v.noteEscape(j)
			}
		}
	}
	for ; i+1 < len(b); i++ {
		if b[i] == '\\' && (b[i+1] == 'u' || b[i+1] == '/') && escapes(b, i) {
			v.noteEscape(i)
		}
	}
}

// noteEscape records the escape (\u or \/) whose backslash is at body[i].
func (v *View) noteEscape(i int) {
	b := v.body
	switch x, ok := hex4(b[i+2:]); {
	case b[i+1] == '/':
		v.esc[0] |= 1 << '/'
	case ok && x < 0x80:
		v.esc[x>>6] |= 1 << (x & 63)
	case ok:
		v.nonASCII = true
	}
}

// zeroBytes flags (high bit) the zero bytes of x; a byte above a true zero may be flagged too.
func zeroBytes(x uint64) uint64 { return (x - swarOnes) &^ x & swarHighs }

// escapes reports whether the backslash at b[i] starts an escape: an even number of backslashes precede it (an odd
// number makes it the second half of an escaped backslash).
func escapes(b []byte, i int) bool {
	n := 0
	for i-n > 0 && b[i-n-1] == '\\' {
		n++
	}
	return n%2 == 0
}

// Err returns the first syntax error met while reading, or nil. After an error the View yields no further values.
func (v *View) Err() error { return v.err }

// Validate checks the whole body as Parse does, and reports the first error.
func (v *View) Validate() error {
	if v.err != nil || v.validated {
		return v.err
	}
	var err error
	if v.stack, err = validate(v.body, v.stack); err != nil {
		v.err = err
		return err
	}
	v.validated = true
	return nil
}

func (v *View) fail(err error) {
	if v.err == nil {
		v.err = err
	}
}

// Each calls fn with each value the path reaches, in document order, until fn returns false. Values are strings
// (unescaped), numbers (as written) and booleans ("true"/"false"); null, objects and arrays at the end of the path
// are not values, as in Splunk's JSON field extraction. The bytes are valid only during the call to fn: copy them to
// keep them. Each reports whether it ran to the end (false when fn stopped it).
func (v *View) Each(p *Path, fn func(val []byte) bool) bool {
	if v == nil || v.body == nil || v.err != nil {
		return true
	}
	val, i, marked, strEnd := v.start(p)
	if val < 0 {
		return true
	}
	if strEnd > 0 && !marked {
		// A string the fast head already scanned to its end (walkValue would emit it, scanning it again).
		v.noteEmitted(val+1, strEnd-1, false)
		return fn(v.body[val+1 : strEnd-1])
	}
	cont, _ := v.walkValue(p, val, i, marked, fn)
	return cont
}

// start returns where a path's walk begins: the value at b[val] (-1: the path reaches nothing), segment i next,
// whether the key that led there carried {}, and, for a string the fast head scanned, where it ends (else 0). A head
// path the fast head answers for starts at its last key's value; any other at the value of the top-level member its
// first keys spell.
func (v *View) start(p *Path) (val, i int, arrayMarked bool, strEnd int) {
	if p.fastTop >= 0 && v.fast.state != fastFailed {
		if val, strEnd, ok := v.fastFind(p); ok {
			n := len(p.segs)
			return val, n, p.segs[n-1].array, strEnd
		}
	}
	val, n := v.topMember(p)
	if val < 0 {
		return -1, 0, false, 0
	}
	return val, n + 1, p.segs[n].array, 0
}

// First returns the first value the path reaches.
func (v *View) First(p *Path) (val []byte, ok bool) {
	if v == nil {
		return nil, false
	}
	before := v.emitted
	v.Each(p, stopAtFirst)
	if v.emitted == before {
		return nil, false
	}
	at := v.emittedAt
	if at.inBuf {
		return v.buf[at.lo:at.hi], true // past len(v.buf), which emit truncated, within its capacity
	}
	return v.body[at.lo:at.hi], true
}

func stopAtFirst([]byte) bool { return false }

// Has reports whether the path reaches at least one value.
func (v *View) Has(p *Path) bool {
	_, ok := v.First(p)
	return ok
}

// Path is a compiled field path. It is immutable and safe for concurrent use.
type Path struct {
	name     string
	anyArray bool
	// leaves: the path's values are every scalar at or under the member it reaches (CompileLeavesPath).
	leaves bool
	segs   []segment
	// keys[i][j-i] is the object key made of segments i..j joined by dots, precomputed so that resolving a key that
	// contains dots allocates nothing.
	keys [][]string
	// topIDs are the registry ids of keys[0], the spellings of the path's start at the top level; maxID the largest.
	topIDs []int32
	maxID  int32
	// fromEnd says the path starts with a field the API server writes after the large objects: it is read from
	// the end of the event.
	fromEnd bool
	// rank is the head rank of the path's first key (headRank), -1 for none.
	rank int
	// fastTop and fastSub are the path's slots in the fast head (headfast.go), -1 for none.
	fastTop, fastSub int8
}

type segment struct {
	key   string
	array bool // written with {} after it
}

// maxKeySegments is the most segments of a path one object key may spell (a key with up to 15 dots): audit events'
// dotted keys (annotations such as authorization.k8s.io/decision, label and extra keys) have a handful.
const maxKeySegments = 16

// CompilePath parses a flattened field name. With anyArray, arrays anywhere on the path are traversed whether or not
// the name marks them with `{}` (Sigma and ECS flattening); without it, only `{}` traverses an array (Splunk).
func CompilePath(name string, anyArray bool) *Path {
	p := &Path{name: name, anyArray: anyArray}
	for _, part := range strings.Split(name, ".") {
		s := segment{key: part}
		if strings.HasSuffix(part, "{}") {
			s.key, s.array = strings.TrimSuffix(part, "{}"), true
		}
		p.segs = append(p.segs, s)
	}
	p.keys = make([][]string, len(p.segs))
	for i := range p.segs {
		key := p.segs[i].key
		p.keys[i] = append(p.keys[i], key)
		// A key can only span segments up to the first one marked as an array, and at most maxKeySegments of
		// them: every grouping of n segments would be n² keys of up to n segments each, and a rule file's field
		// name of thousands of dots would take minutes and gigabytes to compile.
		for j := i + 1; j < len(p.segs) && j-i < maxKeySegments && !p.segs[j-1].array; j++ {
			key += "." + p.segs[j].key
			p.keys[i] = append(p.keys[i], key)
		}
	}
	p.fromEnd = slices.Contains(tailFields, p.segs[0].key)
	p.maxID = -1
	for _, k := range p.keys[0] {
		id := registerName(k)
		p.topIDs = append(p.topIDs, id)
		if id < 0 {
			p.maxID = math.MaxInt32 // unregistered: resolved by comparing keys
		} else {
			p.maxID = max(p.maxID, id)
		}
	}
	p.rank = headRank(p.topIDs[0])
	p.setFastSlots()
	return p
}

// CompileLeavesPath is CompilePath for a path whose values are every string, number and boolean at or under the
// member it reaches, at any depth: an object's or an array's values, not its keys (Elasticsearch's flattened field
// at its root). For a member holding a scalar that is the scalar, as with CompilePath.
func CompileLeavesPath(name string, anyArray bool) *Path {
	p := CompilePath(name, anyArray)
	p.leaves = true
	return p
}

// Name returns the field name the path was compiled from.
func (p *Path) Name() string { return p.name }

// topMember finds the top-level member that decides p: the first whose key spells the start of p, or for a field
// written after the large objects the last. It reads further members only as long as none has been found, and
// returns the offset of the member's value and the index of the last segment its key spans (val < 0: none).
func (v *View) topMember(p *Path) (val, n int) {
	if p.fromEnd {
		for k := 0; k < len(v.bot) || v.readBot(); k++ {
			if n := v.spells(p, &v.bot[k]); n >= 0 {
				return int(v.bot[k].val), n
			}
		}
		// The end met the start (or the start reached the end): the rest is in top.
		for k := len(v.top) - 1; k >= 0; k-- {
			if n := v.spells(p, &v.top[k]); n >= 0 {
				return int(v.top[k].val), n
			}
		}
		return -1, -1
	}
	if p.maxID < v.names.count {
		// Every spelling has an id the members were classified with: the first member of each is known.
		best, bestN := -1, -1
		for n, id := range p.topIDs {
			if v.firstGen[id] == v.gen && (best < 0 || int(v.first[id]) < best) {
				best, bestN = int(v.first[id]), n
			}
		}
		if best < 0 {
			for best < 0 && v.cut(p) < 0 && v.readTop(p.topIDs) {
				// readTop may have read several members (readHead): look again at the first of each spelling.
				for n, id := range p.topIDs {
					if v.firstGen[id] == v.gen && (best < 0 || int(v.first[id]) < best) {
						best, bestN = int(v.first[id]), n
					}
				}
			}
		}
		if c := v.cut(p); c >= 0 && (best < 0 || best >= c) {
			return -1, -1 // the place of p's head field passed before any member of it
		}
		if best >= 0 {
			return int(v.top[best].val), bestN
		}
	} else {
		// A path compiled after this View was opened: compare keys.
		for k := 0; k < len(v.top) || v.cut(p) < 0 && v.readTop(nil); k++ {
			if c := v.cut(p); c >= 0 && k >= c {
				return -1, -1
			}
			if n := v.spells(p, &v.top[k]); n >= 0 {
				return int(v.top[k].val), n
			}
		}
		if v.cut(p) >= 0 {
			return -1, -1
		}
	}
	// The start met the end: the rest is in bot, last member first.
	v.noteBot()
	c := v.cut(p)
	for k := len(v.bot) - 1; k >= 0; k-- {
		if c >= 0 && len(v.top)+len(v.bot)-1-k >= c {
			return -1, -1
		}
		if n := v.spells(p, &v.bot[k]); n >= 0 {
			return int(v.bot[k].val), n
		}
	}
	return -1, -1
}

// noteBot runs the order check (noteOrderAt) over the members read from the end, in document order, once the two
// ends have met: a late head field read from the end must not count where one read from the start would not.
func (v *View) noteBot() {
	if !v.met || v.botNoted {
		return
	}
	v.botNoted = true
	for k := len(v.bot) - 1; k >= 0; k-- {
		v.noteOrderAt(v.bot[k].name, int32(len(v.top)+len(v.bot)-1-k))
	}
}

// noteOrder records the top-level member id just read from the start, at index len(v.top)-1 (see inOrder), and
// reports whether it passed the place of a head field.
func (v *View) noteOrder(id int32) (passed bool) { return v.noteOrderAt(id, int32(len(v.top)-1)) }

// noteOrderAt is noteOrder for the member at position at in document order.
func (v *View) noteOrderAt(id int32, at int32) (passed bool) {
	return v.noteRankAt(headRank(id), isPostHead(id), at)
}

// noteRankAt is noteOrderAt for a member whose name has head rank r (-1: none) and is one of postHeadFields or not.
func (v *View) noteRankAt(r int, post bool, at int32) (passed bool) {
	if !v.inOrder {
		return false
	}
	switch {
	case !v.complete:
		// kind, apiVersion, level, auditID, stage, requestURI, verb, user: always, in that order (the webhook
		// backend leaves out kind and apiVersion, so the head may start at level).
		want := v.headRank + 1
		if at == 0 && r == rankLevel {
			want = rankLevel
		}
		v.inOrder = r == want
		v.complete = v.inOrder && r == rankUser
	case r >= 0 && r > v.headRank:
		for q := v.headRank + 1; q < r; q++ {
			v.passedAt[q], passed = at, true
		}
	case r >= 0:
		v.inOrder = false // a head field out of the API server's order: nothing is decided by place from now on
	case post && v.headRank < numHeadFields-1:
		// requestObject and what follows it come after every head field.
		for q := v.headRank + 1; q < numHeadFields; q++ {
			v.passedAt[q], passed = at, true
		}
		r = numHeadFields - 1
	case !post:
		v.inOrder = false // a key the API server does not write
	}
	if v.inOrder && r >= 0 {
		v.headRank = r
	}
	return passed
}

// wouldPass reports whether reading a member of head rank r (-1: none) next, one of postHeadFields or not, passes
// the place of a head field (see noteOrder).
func (v *View) wouldPass(r int, post bool) bool {
	if !v.inOrder || !v.complete {
		return false
	}
	if post {
		r = numHeadFields
	}
	return r > v.headRank+1
}

// cut returns the index in top from which members do not count for p, whose first key is a head field whose place
// the head passed there; -1 when there is none.
func (v *View) cut(p *Path) int {
	if p.rank >= 0 {
		return int(v.passedAt[p.rank])
	}
	return -1
}

// spells returns the index of the last segment of p that the member's key spells from the start of p, or -1.
func (v *View) spells(p *Path, m *member) int {
	if p.maxID < v.names.count {
		for n, id := range p.topIDs {
			if id == m.name {
				return n
			}
		}
		return -1
	}
	for n, key := range p.keys[0] {
		if v.keyIs(m, key) {
			return n
		}
	}
	return -1
}

// readTop reads the next member of the top-level object from the start. It reports false at the end of the
// object, where the members read from the end begin, or on an error. want are the name ids the member being looked
// for may have (readHead stops after one of them); it is a parameter, not a field of the View, because storing a
// slice in the View costs a write barrier on every call while the garbage collector marks.
func (v *View) readTop(want []int32) bool {
	if v.topDone || v.met || v.err != nil {
		return false
	}
	if !v.headDone && len(v.bot) == 0 && v.readHead(want) {
		return true
	}
	b := v.body
	var i int
	if len(v.top) == 0 {
		i = skipWS(b, v.topStart+1)
		if i < len(b) && b[i] == '}' {
			v.topDone = true
			return false
		}
	} else {
		last := &v.top[len(v.top)-1]
		if last.valEnd < 0 {
			at := int(last.val)
			var end int
			if b[at] == '{' {
				// Passing an object, read its members on the way: a path into user, objectRef or
				// responseStatus, which most rules read, then costs no second pass.
				t := v.table(at)
				if t == nil {
					return false
				}
				end = int(t.end)
			} else {
				var ok bool
				if end, ok = v.valueEnd(at); !ok {
					return false
				}
			}
			last = &v.top[len(v.top)-1]
			last.valEnd = int32(end)
		}
		i = skipWS(b, int(last.valEnd))
		switch {
		case i >= len(b):
			v.fail(syntaxErr(i, errUnexpectedEnd))
			return false
		case b[i] == '}':
			v.topDone = true
			return false
		case b[i] != ',':
			v.fail(syntaxErr(i, errNoComma))
			return false
		}
		i = skipWS(b, i+1)
	}
	if n := len(v.bot); n > 0 && int(v.bot[n-1].key) == i+1 {
		v.met = true
		return false
	}
	v.top = append(v.top, member{})
	m := &v.top[len(v.top)-1]
	hit, ok := v.readMember(m, i, &v.order, v.topPrev)
	if !ok {
		v.top = v.top[:len(v.top)-1]
		return false
	}
	if hit >= 0 {
		m.name, v.topPrev = v.order.ents[hit].id, hit
	} else {
		m.name = v.classify(m)
		v.topPrev = v.order.learn(v.body[m.key:m.keyEnd], m.esc, m.name, v.topPrev)
	}
	if m.name >= 0 && v.firstGen[m.name] != v.gen {
		v.firstGen[m.name], v.first[m.name] = v.gen, int32(len(v.top)-1)
	}
	v.noteOrder(m.name)
	return true
}

// readHead reads on from the last member read, in one loop, the members the API server writes before the large
// objects, as long as each is written as the View's key order expects: compact JSON, a predicted key. It returns
// after a member named one of want (the caller's); it stops for good before the value of a request or response
// object (left for readTop to skip if a later member is asked for), at the end of the object, or at anything else,
// which readTop then reads (and reports, if it is an error) the general way. It reports whether it read a member.
func (v *View) readHead(want []int32) bool {
	b, ord := v.body, &v.order
	i, prev := v.topStart+1, v.topPrev
	if n := len(v.top); n > 0 {
		last := &v.top[n-1]
		if last.valEnd < 0 && b[last.val] == '{' {
			// An object left for the walk (below): where it ends is known if the walk read it.
			if t := v.tables.get(int(last.val)); t != nil && int(t.end) < len(b) {
				last.valEnd = t.end
			}
		}
		if last.valEnd < 0 || b[last.valEnd] != ',' {
			v.headDone = true
			return false
		}
		i = int(last.valEnd) + 1
	}
	read := false
	for i < len(b) && b[i] == '"' {
		t := -1
		if s := ord.after(prev); s != nil && ord.is(b, i, s[0]) {
			t = int(s[0]) // the key that followed prev last time (keyOrder.is)
		} else if t = ord.predict(b, i, prev); t < 0 {
			break
		}
		e := &ord.ents[t]
		key := i + 1
		val := key + int(e.len) + 2
		if val >= len(b) || b[val] <= ' ' {
			break
		}
		end := -1
		// The object of a member asked for (with no want, any member may be) is left for the walk to read if it
		// needs it, as readTop leaves it: reading it here would report errors in it that readTop does not.
		left := b[val] == '{' && (want == nil || slices.Contains(want, e.id))
		// A member that passes the place of a head field ends the loop as readTop would end a search: read, its
		// value left for later, so that a taught parser and a fresh one read the same bytes.
		past := v.wouldPass(int(e.rank), e.post)
		if !e.large && !left && !past {
			switch b[val] {
			case '"':
				end = stringEnd(b, val)
			case '{':
				if tbl := v.tableIn(val, v.subOrder(e.id)); tbl != nil {
					end = int(tbl.end)
				}
			default:
				end, _ = skipValue(b, val)
			}
			if end <= 0 || end >= len(b) || b[end] != ',' && b[end] != '}' {
				break
			}
		}
		n := len(v.top)
		m := pushMember(&v.top)
		m.key, m.keyEnd, m.val, m.valEnd, m.name, m.esc = int32(key), int32(key+int(e.len)), int32(val), int32(end),
			e.id, false
		if e.id >= 0 && v.firstGen[e.id] != v.gen {
			v.firstGen[e.id], v.first[e.id] = v.gen, int32(n)
		}
		v.noteRankAt(int(e.rank), e.post, int32(n))
		prev, v.topPrev, read = t, t, true
		if past {
			return true
		}
		if left && !e.large {
			return true
		}
		if end < 0 {
			break
		}
		if b[end] == '}' {
			// The end of the object in a valid body. Not in an invalid one: readTop decides, as before, when the
			// next member is asked for (until then, members may still be read from the end).
			break
		}
		i = end + 1
		for _, id := range want {
			if id == e.id {
				return true // what the caller looks for: the rest of the head is read when asked for
			}
		}
	}
	v.headDone = true
	return read
}

// readMember reads `"key":` at b[i] and the first byte of the value into m. With an order, the keys that followed
// entry prev before are tried first: hit is the entry that matched, or -1 when the key was read the general way
// (m.name is then left for the caller to classify).
func (v *View) readMember(m *member, i int, ord *keyOrder, prev int) (hit int, ok bool) {
	b := v.body
	if i >= len(b) || b[i] != '"' {
		v.fail(syntaxErr(i, errNoKey))
		return -1, false
	}
	m.key, m.valEnd, m.name = int32(i+1), -1, -1
	if ord != nil {
		t := -1
		if s := ord.after(prev); s != nil && ord.is(b, i, s[0]) {
			t = int(s[0])
		} else {
			t = ord.predict(b, i, prev)
		}
		if t >= 0 {
			m.keyEnd, m.esc = int32(i+1+int(ord.ents[t].len)), false
			j := skipWS(b, int(m.keyEnd)+2)
			if j >= len(b) {
				v.fail(syntaxErr(j, errUnexpectedEnd))
				return -1, false
			}
			m.val = int32(j)
			return t, true
		}
	}
	j, esc := stringEndEsc(b, i)
	if j < 0 {
		v.fail(syntaxErr(i, errUnexpectedEnd))
		return -1, false
	}
	j--
	m.keyEnd, m.esc = int32(j), esc && bytes.IndexByte(b[i+1:j], '\\') >= 0
	if j++; j < len(b) && b[j] == ':' {
		j++
	} else if j = skipWS(b, j); j < len(b) && b[j] == ':' {
		j++
	} else {
		v.fail(syntaxErr(j, errNoColon))
		return -1, false
	}
	if j = skipWS(b, j); j >= len(b) {
		v.fail(syntaxErr(j, errUnexpectedEnd))
		return -1, false
	}
	m.val = int32(j)
	return -1, true
}

// pushMember appends a member to ms and returns it, to be written field by field where it is. Appending a
// member{...} literal builds it on the stack with narrow stores and copies it with wide loads, which the CPU cannot
// serve from the pending stores: a stall on every member read (about a tenth of reading the head, in profiles).
func pushMember(ms *[]member) *member {
	n := len(*ms)
	if n == cap(*ms) {
		*ms = slices.Grow(*ms, 1)
	}
	*ms = (*ms)[:n+1]
	return &(*ms)[n]
}

// classify returns the registry id of a top-level member's key, or -1.
func (v *View) classify(m *member) int32 {
	key := v.body[m.key:m.keyEnd]
	if !m.esc {
		return v.names.lookup(key)
	}
	mark := len(v.buf)
	v.buf = appendUnescaped(v.buf, key)
	id := v.names.lookup(v.buf[mark:])
	v.buf = v.buf[:mark]
	return id
}

// keyIs reports whether the member's key, unescaped, is key.
func (v *View) keyIs(m *member, key string) bool {
	if !m.esc {
		return string(v.body[m.key:m.keyEnd]) == key // small enough to inline: most keys hold no escape
	}
	return v.escapedKeyIs(m, key)
}

// escapedKeyIs is keyIs for a key with escapes. Not inlined: keyIs must stay small enough to be.
//
//go:noinline
func (v *View) escapedKeyIs(m *member, key string) bool {
	if m.name <= -2 {
		sp := v.keySpans[-2-m.name]
		return string(v.keys[sp.lo:sp.hi]) == key
	}
	// A top-level member, compared by key only for a path compiled after the View was opened (spells).
	countKeyDecode()
	raw := v.body[m.key:m.keyEnd]
	mark := len(v.buf)
	v.buf = appendUnescaped(v.buf, raw)
	eq := string(v.buf[mark:]) == key
	v.buf = v.buf[:mark]
	return eq
}

// valueEnd returns the end of the value at b[at], from the table of an object already read, else by skipping it.
func (v *View) valueEnd(at int) (int, bool) {
	switch v.body[at] {
	case '"':
		if end := stringEnd(v.body, at); end > 0 {
			return end, true
		}
	case '{':
		if t := v.tables.get(at); t != nil {
			return int(t.end), true
		}
	}
	end, err := skipValue(v.body, at)
	if err != nil {
		v.fail(err)
		return 0, false
	}
	return end, true
}

// walkValue continues at segment i with the value at b[at], the value of the previous key; arrayMarked says that key
// carried {}. It reports whether to go on (false: fn stopped the walk) and, when it walked an array to its end,
// where the array ends (else -1), so that an array of arrays is not skipped again after being walked.
func (v *View) walkValue(p *Path, at, i int, arrayMarked bool, fn func([]byte) bool) (cont bool, end int) {
	if v.err != nil {
		return true, -1
	}
	if v.body[at] == '[' {
		if !arrayMarked && !p.anyArray {
			return true, -1
		}
		return v.walkArray(p, at, i, fn)
	}
	if arrayMarked && !p.anyArray {
		// `x{}` names the elements of an array; a scalar x has none.
		return true, -1
	}
	if i == len(p.segs) {
		if p.leaves {
			return v.emitLeaves(at, fn), -1
		}
		return v.emit(at, fn), -1
	}
	if v.body[at] != '{' {
		return true, -1
	}
	return v.walkObject(p, at, i, fn), -1
}

// emitLeaves calls fn with every string, number and boolean in the object at b[at], at any depth and through
// arrays, in document order; object keys and null are not values. It scans the bytes once, as holdsValue does:
// walking member tables level by level would cost a hostile body's size times its depth.
func (v *View) emitLeaves(at int, fn func([]byte) bool) bool {
	b := v.body
	if b[at] != '{' {
		return v.emit(at, fn)
	}
	depth := 0
	for i := at; i < len(b); {
		switch c := b[i]; {
		case c == '{' || c == '[':
			depth++
			i++
		case c == '}' || c == ']':
			if depth--; depth == 0 {
				return true
			}
			i++
		case c == ',' || c == ':' || isWSByte(c):
			i++
		default:
			end := scalarEnd(b, i)
			if end < 0 {
				v.fail(syntaxErr(i, errNoValue))
				return true
			}
			if j := skipWS(b, end); c == '"' && j < len(b) && b[j] == ':' {
				i = j + 1 // a key
				continue
			}
			if !v.emit(i, fn) {
				return false
			}
			i = end
		}
	}
	return true
}

// walkArray walks each element of the array at b[at], and returns where the array ends when it walked all of it (else
// -1). Arrays of arrays are flattened only in anyArray mode; Splunk would need `{}{}`.
func (v *View) walkArray(p *Path, at, i int, fn func([]byte) bool) (cont bool, end int) {
	stopped := false
	_, end = v.eachElement(at, func(j int) (bool, int) {
		cont, end := v.walkValue(p, j, i, p.anyArray, fn)
		stopped = !cont
		return cont, end
	})
	if stopped {
		return false, -1
	}
	return true, end
}

// eachElement calls visit with the offset of each element of the array at b[at], in order, as long as it returns
// true; visit also returns where its element ends when it knows (else -1). eachElement returns whether it reached
// the array's end, and where the array ends then (else -1: stopped by visit, or by an error, which the View keeps).
func (v *View) eachElement(at int, visit func(j int) (cont bool, end int)) (done bool, end int) {
	// Only arrays nest without a path segment per level (anyArray mode). Each level takes the end of an element
	// that is an array from walking it, and objects are read into tables once, so a hostile `[[[[...` costs its size,
	// not its size times its depth; past MaxDepth the body is invalid anyway, and the View stops there.
	if v.depth >= MaxDepth {
		v.fail(syntaxErr(at, errTooDeep))
		return false, -1
	}
	v.depth++
	defer func() { v.depth-- }()
	b := v.body
	j := skipWS(b, at+1)
	if j < len(b) && b[j] == ']' {
		return true, j + 1
	}
	for {
		if j >= len(b) {
			v.fail(syntaxErr(j, errUnexpectedEnd))
			return false, -1
		}
		cont, end := visit(j)
		if !cont || v.err != nil {
			return false, -1
		}
		if end < 0 {
			var ok bool
			if end, ok = v.valueEnd(j); !ok {
				return false, -1
			}
		}
		j = skipWS(b, end)
		switch {
		case j >= len(b):
			v.fail(syntaxErr(j, errUnexpectedEnd))
			return false, -1
		case b[j] == ']':
			return true, j + 1
		case b[j] != ',':
			v.fail(syntaxErr(j, errNoComma))
			return false, -1
		}
		j = skipWS(b, j+1)
	}
}

// walkObject resolves segments i.. against the object at b[at]. Every member whose key spells the next segments
// counts, in document order: every way of grouping the segments into keys the object really has, and every
// occurrence of a duplicate key.
func (v *View) walkObject(p *Path, at, i int, fn func([]byte) bool) bool {
	t := v.table(at)
	if t == nil {
		return true
	}
	lo, hi := t.lo, t.hi
	keys := p.keys[i]
	for k := lo; k < hi; k++ {
		// By index, and the value's offset taken before walking on: walking deeper may grow v.members. Not a copy
		// of the member: a wide load of fields just written narrow stalls (pushMember).
		m := &v.members[k]
		for n, key := range keys {
			if v.keyIs(m, key) {
				last, val := i+n, int(m.val)
				if cont, _ := v.walkValue(p, val, last+1, p.segs[last].array, fn); !cont {
					return false
				}
				break
			}
		}
	}
	return true
}

// table returns the members of the object at b[at], reading it whole the first time.
func (v *View) table(at int) *tableSlot {
	if t := v.tables.get(at); t != nil {
		return t
	}
	return v.tableIn(at, v.orderFor(at))
}

// tableIn is table with the key order to expect (nil: none).
func (v *View) tableIn(at int, ord *keyOrder) *tableSlot {
	if t := v.tables.get(at); t != nil {
		return t
	}
	b := v.body
	lo := int32(len(v.members))
	i := skipWS(b, at+1)
	if i < len(b) && b[i] == '}' {
		return v.tables.put(at, lo, lo, int32(i+1))
	}
	prev := -1
	for {
		if ord != nil && i < len(b) && b[i] == '"' {
			// Compact JSON with the key expected and a string or number value (most members of user, objectRef
			// and responseStatus): read in place, without the general reader's calls.
			t := -1
			if s := ord.after(prev); s != nil && ord.is(b, i, s[0]) {
				t = int(s[0])
			} else {
				t = ord.predict(b, i, prev)
			}
			if t >= 0 {
				val := i + 1 + int(ord.ents[t].len) + 2
				end := -1
				if val < len(b) {
					if c := b[val]; c == '"' {
						end = stringEnd(b, val)
					} else if c >= '0' && c <= '9' {
						end = numberEnd(b, val)
					}
				}
				if end > 0 && end < len(b) && (b[end] == ',' || b[end] == '}') {
					m := pushMember(&v.members)
					m.key, m.keyEnd, m.val, m.valEnd, m.name, m.esc = int32(i+1), int32(i+1+int(ord.ents[t].len)),
						int32(val), int32(end), -1, false
					prev = t
					if b[end] == '}' {
						return v.tables.put(at, lo, int32(len(v.members)), int32(end+1))
					}
					i = skipWS(b, end+1) // as below: whitespace may follow the comma
					continue
				}
			}
		}
		v.members = append(v.members, member{})
		m := &v.members[len(v.members)-1]
		hit, ok := v.readMember(m, i, ord, prev)
		switch {
		case !ok:
			return nil
		case hit >= 0:
			prev = hit
		case ord != nil:
			prev = ord.learn(b[m.key:m.keyEnd], m.esc, -1, prev)
		}
		if m.esc {
			countKeyDecode()
			lo := len(v.keys)
			v.keys = appendUnescaped(v.keys, b[m.key:m.keyEnd])
			m.name = int32(-2 - len(v.keySpans))
			v.keySpans = append(v.keySpans, keySpan{int32(lo), int32(len(v.keys))})
		}
		end, ok := v.valueEnd(int(m.val))
		if !ok {
			return nil
		}
		v.members[len(v.members)-1].valEnd = int32(end)
		i = skipWS(b, end)
		switch {
		case i >= len(b):
			v.fail(syntaxErr(i, errUnexpectedEnd))
			return nil
		case b[i] == '}':
			return v.tables.put(at, lo, int32(len(v.members)), int32(i+1))
		case b[i] != ',':
			v.fail(syntaxErr(i, errNoComma))
			return nil
		}
		i = skipWS(b, i+1)
	}
}

// emit calls fn with the scalar at b[at], if it is one.
func (v *View) emit(at int, fn func([]byte) bool) bool {
	b := v.body
	switch b[at] {
	case '{', '[':
		return true
	case '"':
		end, esc := stringEndEsc(b, at)
		if end < 0 {
			v.fail(syntaxErr(at, errUnexpectedEnd))
			return true
		}
		s := b[at+1 : end-1]
		if !esc || bytes.IndexByte(s, '\\') < 0 {
			v.noteEmitted(at+1, end-1, false)
			return fn(s)
		}
		mark := len(v.buf)
		v.buf = appendUnescaped(v.buf, s)
		v.noteEmitted(mark, len(v.buf), true)
		ok := fn(v.buf[mark:])
		v.buf = v.buf[:mark]
		return ok
	case 'n':
		if bytes.HasPrefix(b[at:], []byte("null")) {
			return true
		}
	}
	end := scalarEnd(b, at)
	if end < 0 {
		v.fail(syntaxErr(at, errNoValue))
		return true
	}
	v.noteEmitted(at, end, false)
	return fn(b[at:end])
}

func (v *View) noteEmitted(lo, hi int, inBuf bool) {
	v.emitted++
	v.emittedAt.lo, v.emittedAt.hi, v.emittedAt.inBuf = lo, hi, inBuf
}

// tableCache maps object offsets to their member tables. It is an open-addressing hash whose slots are stamped
// with a generation, so that forgetting every table between events costs nothing.
type tableCache struct {
	slots []tableSlot
	gen   uint32
	used  int
}

type tableSlot struct {
	gen    uint32
	at     int32
	lo, hi int32 // the members, in View.members
	end    int32 // the offset just past the object's closing brace
}

func (c *tableCache) reset() {
	c.gen++
	c.used = 0
	if c.gen == 0 {
		clear(c.slots)
		c.gen = 1
	}
}

func (c *tableCache) get(at int) *tableSlot {
	if len(c.slots) == 0 {
		return nil
	}
	mask := uint32(len(c.slots) - 1)
	for h := hashOffset(at) & mask; ; h = (h + 1) & mask {
		countProbe()
		s := &c.slots[h]
		if s.gen != c.gen {
			return nil
		}
		if int(s.at) == at {
			return s
		}
	}
}

func (c *tableCache) put(at int, lo, hi, end int32) *tableSlot {
	if (c.used+1)*2 > len(c.slots) {
		c.grow()
	}
	mask := uint32(len(c.slots) - 1)
	h := hashOffset(at) & mask
	for c.slots[h].gen == c.gen {
		countProbe()
		h = (h + 1) & mask
	}
	// Field by field, as pushMember writes members: a struct literal is copied with loads the stores cannot feed.
	s := &c.slots[h]
	s.gen, s.at, s.lo, s.hi, s.end = c.gen, int32(at), lo, hi, end
	c.used++
	return s
}

func (c *tableCache) grow() {
	old := c.slots
	c.slots = make([]tableSlot, max(16, 2*len(old)))
	mask := uint32(len(c.slots) - 1)
	for _, s := range old {
		if s.gen != c.gen {
			continue
		}
		h := hashOffset(int(s.at)) & mask
		for c.slots[h].gen == c.gen {
			h = (h + 1) & mask
		}
		c.slots[h] = s
	}
}

// hashOffset mixes an offset with a key drawn at start-up. Offsets are the sender's to choose (whitespace moves
// them): with a fixed hash, 100,000 empty objects placed where they hash into one quarter of the table made one
// cluster that every insertion probed (15.7 s for a 923 KB event). Without the key, no placement is worse than
// chance.
func hashOffset(at int) uint32 {
	// murmur3's finaliser: every input bit reaches every output bit.
	h := uint32(at) ^ offsetKey
	h ^= h >> 16
	h *= 0x85ebca6b
	h ^= h >> 13
	h *= 0xc2b2ae35
	h ^= h >> 16
	return h
}

var offsetKey = rand.Uint32()

// keyDecodes, when set (by tests), counts the keys unescaped to be compared.
var keyDecodes *int

func countKeyDecode() {
	if keyDecodes != nil {
		*keyDecodes++
	}
}

// tableProbes, when set (by tests), counts the slots the table cache looks at.
var tableProbes *int

func countProbe() {
	if tableProbes != nil {
		*tableProbes++
	}
}
