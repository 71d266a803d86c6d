package event

import (
	"bytes"
	"slices"
	"sync"
	"sync/atomic"
)

// The name registry gives every top-level key a compiled path can start with a small integer id. A View classifies
// each top-level member it reads once, so that finding a path's first member compares integers, however many paths
// ask. Snapshots are immutable: a View keeps the one current when it was opened, and a path compiled later is
// resolved by comparing keys instead.

// maxNames bounds the registry (paths built from untrusted input, such as fuzzing, must not grow it forever); a name
// past the bound gets no id.
const maxNames = 4096

// maxShortName is the longest name kept in the by-length table; longer ones go to a map.
const maxShortName = 32

type nameTable struct {
	count int32
	byLen [maxShortName + 1][]nameEntry
	long  map[string]int32
}

type nameEntry struct {
	name []byte
	id   int32
}

var registry struct {
	mu  sync.Mutex
	ids map[string]int32
	cur atomic.Pointer[nameTable]
}

func init() {
	registry.ids = map[string]int32{}
	registry.cur.Store(&nameTable{})
	for r, name := range headFields {
		id := registerName(name)
		for int(id) >= len(headRanks) {
			headRanks = append(headRanks, 0)
		}
		headRanks[id] = r + 1 // 0 is "not a head field"
	}
	if len(headFields) != numHeadFields || headFields[rankLevel] != "level" || headFields[rankUser] != "user" ||
		headFields[rankImpersonated] != "impersonatedUser" || headFields[rankObjectRef] != "objectRef" ||
		headFields[rankResponseStatus] != "responseStatus" {
		panic("event: numHeadFields or a rank constant does not match headFields")
	}
	for _, name := range postHeadFields {
		id := registerName(name)
		for int(id) >= len(postHead) {
			postHead = append(postHead, false)
		}
		postHead[id] = true
	}
}

// postHeadFields are the top-level fields the API server writes after every head field, in its order.
var postHeadFields = []string{"requestObject", "responseObject", "requestReceivedTimestamp", "stageTimestamp", "annotations"}

// tailFields are the fields written after requestObject: a View reads them from the end of the event.
var tailFields = postHeadFields[1:]

// Cost estimates what reading the top-level field name costs a View, from where the API server writes it: a head
// field about the bytes before it (its place in the head, 1 to 13), a field read from the end about the bytes after
// it (20 for the last, annotations, and on), requestObject (100) and responseObject (200) the large ones. ok is
// false for a field the Event does not have: its absence is known only when every member has been read.
func Cost(name string) (cost int, ok bool) {
	if i := slices.Index(headFields, name); i >= 0 {
		return i + 1, true
	}
	switch i := slices.Index(tailFields, name); {
	case name == "requestObject":
		return 100, true
	case name == "responseObject":
		return 200, true
	case i >= 0:
		return 20 + len(tailFields) - 1 - i, true
	}
	return 0, false
}

// postHead[id] says the name registered as id is one of postHeadFields (read for every member: a table, not a search).
var postHead []bool

func isPostHead(id int32) bool { return id >= 0 && int(id) < len(postHead) && postHead[id] }

// Ranks in headFields that the order checks and the fast head (headfast.go) name, and their number.
const (
	rankLevel          = 2
	rankUser           = 7
	rankImpersonated   = 8
	rankObjectRef      = 11
	rankResponseStatus = 12
	numHeadFields      = 13
)

// headFields are the top-level fields the API server writes before requestObject, in its order.
var headFields = []string{"kind", "apiVersion", "level", "auditID", "stage", "requestURI", "verb", "user",
	"impersonatedUser", "sourceIPs", "userAgent", "objectRef", "responseStatus"}

// headRanks[id] is 1 + the place in headFields of the name registered as id, 0 for other names.
var headRanks []int

// headRank returns the place in headFields of the name id, or -1.
func headRank(id int32) int {
	if id < 0 || int(id) >= len(headRanks) {
		return -1
	}
	return headRanks[id] - 1
}

func currentNames() *nameTable { return registry.cur.Load() }

// lookup returns the id of name, or -1.
func (t *nameTable) lookup(name []byte) int32 {
	if len(name) <= maxShortName {
		for _, e := range t.byLen[len(name)] {
			if bytes.Equal(e.name, name) {
				return e.id
			}
		}
		return -1
	}
	if id, ok := t.long[string(name)]; ok {
		return id
	}
	return -1
}

// registerName returns the id of name, registering it if needed; -1 once the registry is full.
func registerName(name string) int32 {
	if id := currentNames().lookup([]byte(name)); id >= 0 {
		return id
	}
	registry.mu.Lock()
	defer registry.mu.Unlock()
	if id, ok := registry.ids[name]; ok {
		return id
	}
	if len(registry.ids) >= maxNames {
		return -1
	}
	id := int32(len(registry.ids))
	registry.ids[name] = id
	// Copy on write: Views opened before keep reading the old snapshot.
	old := registry.cur.Load()
	t := &nameTable{count: id + 1, long: old.long}
	t.byLen = old.byLen
	if len(name) <= maxShortName {
		t.byLen[len(name)] = append(old.byLen[len(name)][:len(old.byLen[len(name)]):len(old.byLen[len(name)])],
			nameEntry{name: []byte(name), id: id})
	} else {
		t.long = make(map[string]int32, len(old.long)+1)
		for k, v := range old.long {
			t.long[k] = v
		}
		t.long[name] = id
	}
	registry.cur.Store(t)
	return id
}
