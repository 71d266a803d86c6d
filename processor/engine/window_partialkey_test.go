package engine

import (
	"testing"
)

// TestWindowSeveralValuesTouchNoOtherGroup: an event whose by-field holds several values looks up only the groups
// of its own tuples. The part of a key singleKey builds before it meets a second value ("p\x00q", one value of a) can
// be another group's (a=p, b=q): looked up, that group would count as just updated, and the store evict another.
func TestWindowSeveralValuesTouchNoOtherGroup(t *testing.T) {
	e, err := compileSPL(t, `* | stats count by a{} b | where count > 5`, Options{MaxKeys: 2})
	if err != nil {
		t.Fatal(err)
	}
	ev := e.Evaluator()
	defer ev.Close()
	for _, body := range []string{
		`{"a":["p"],"b":"q","stageTimestamp":"2026-01-01T10:00:00Z"}`,
		`{"a":["m"],"b":"n","stageTimestamp":"2026-01-01T10:00:01Z"}`,
		// a holds one value twice: one tuple (p\x00q, s), a new group, which evicts the least recently updated.
		`{"a":["p\u0000q","p\u0000q"],"b":"s","stageTimestamp":"2026-01-01T10:00:02Z"}`,
	} {
		if _, err := ev.Evaluate([]byte(body)); err != nil {
			t.Fatal(err)
		}
	}
	w := e.rules[0].window
	if _, ok := w.groups.Get("m\x00n"); !ok {
		t.Errorf("group (m, n), updated after (p, q), was evicted; (p, q) was touched by an event not of it")
	}
	if _, ok := w.groups.Get("p\x00q"); ok {
		t.Errorf("group (p, q), the least recently updated, is still held")
	}
}
