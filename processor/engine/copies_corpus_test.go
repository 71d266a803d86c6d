package engine

import (
	"bytes"
	"fmt"
	"net/netip"
	"reflect"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/auditdetect/auditdetect/processor/auditgen"
	"github.com/auditdetect/auditdetect/processor/internal/corpus"
)

// anyGeo places every address somewhere, so that iplocation rules set their fields.
type anyGeo struct{}

func (anyGeo) Lookup(a netip.Addr) (Location, bool) {
	if a.IsPrivate() {
		return Location{}, false
	}
	return Location{City: "Paris", Country: "France", Region: "IDF", Lat: 48.85, Lon: 2.35}, true
}

func rowsText(rows []Row) string {
	var b strings.Builder
	for _, r := range rows {
		b.WriteString("{")
		for _, f := range r.Fields {
			fmt.Fprintf(&b, "%s=%q", f.Name, f.Values)
			if f.Numeric {
				b.WriteString("#")
			}
			if f.from != nil {
				b.WriteString("(from!)")
			}
			b.WriteString(" ")
		}
		b.WriteString("}")
	}
	return b.String()
}

func matchesText(ms []Match) []string {
	var out []string
	for _, m := range ms {
		out = append(out, m.Rule.ID+" "+rowsText(m.Rows))
	}
	return out
}

func closedText(cs []Closed) []string {
	var out []string
	for _, c := range cs {
		out = append(out, fmt.Sprintf("%s %s %s %d", c.Rule.ID, c.Time.Format(time.RFC3339Nano), rowsText([]Row{c.Row}), c.Origin))
	}
	return out
}

// constants records, for every constantValue reachable from e's compiled rules, its text: checked after the run.
type constSeen struct {
	where string
	vals  reflect.Value
	text  []string
}

// constantsUnchanged reports each constant whose values are no longer those collectConstants saw.
func constantsUnchanged(t *testing.T, consts []constSeen) {
	t.Helper()
	for _, c := range consts {
		var now []string
		for i := 0; i < c.vals.Len(); i++ {
			now = append(now, c.vals.Index(i).String())
		}
		if !slices.Equal(now, c.text) {
			t.Errorf("rule %s: a constant was %q, is now %q", c.where, c.text, now)
		}
	}
}

func collectConstants(e *Engine) []constSeen {
	var out []constSeen
	pkg := reflect.TypeOf(constantValue{}).PkgPath()
	ctype := reflect.TypeOf(constantValue{})
	visited := map[uintptr]bool{}
	var walk func(v reflect.Value, where string, depth int)
	walk = func(v reflect.Value, where string, depth int) {
		if depth > 40 || !v.IsValid() {
			return
		}
		switch v.Kind() {
		case reflect.Interface:
			if !v.IsNil() {
				walk(v.Elem(), where, depth+1)
			}
		case reflect.Pointer:
			if v.IsNil() || v.Type().Elem().PkgPath() != pkg {
				return
			}
			if visited[v.Pointer()] {
				return
			}
			visited[v.Pointer()] = true
			walk(v.Elem(), where, depth+1)
		case reflect.Slice, reflect.Array:
			for i := 0; i < v.Len(); i++ {
				walk(v.Index(i), where, depth+1)
			}
		case reflect.Struct:
			if v.Type() == ctype {
				vals := v.Field(0)
				var text []string
				for i := 0; i < vals.Len(); i++ {
					text = append(text, vals.Index(i).String())
				}
				out = append(out, constSeen{where: where, vals: vals, text: text})
				return
			}
			if v.Type().PkgPath() != pkg {
				return
			}
			for i := 0; i < v.NumField(); i++ {
				walk(v.Field(i), where, depth+1)
			}
		}
	}
	for _, cr := range e.rules {
		walk(reflect.ValueOf(cr.pre), cr.rule.ID, 0)
		walk(reflect.ValueOf(cr.post), cr.rule.ID, 0)
		walk(reflect.ValueOf(cr.filter), cr.rule.ID, 0)
		walk(reflect.ValueOf(cr.window), cr.rule.ID, 0)
	}
	return out
}

// TestCopiesCorpusDifferential runs every rule that loads over generated events through an engine as compiled and
// one with its runs unfused, and compares every match's rows, the windows closed on the way and at the end, and
// state saved by one and restored into the other.
func TestCopiesCorpusDifferential(t *testing.T) {
	corpus.Dir(t) // the built-in pack has no run to fuse
	rules := allRules(t)
	opts := Options{GeoIP: anyGeo{}, Window: 10 * time.Minute}
	fused, err := Compile(rules, opts)
	if err != nil {
		t.Fatal(err)
	}
	plain, err := Compile(rules, opts)
	if err != nil {
		t.Fatal(err)
	}
	unfused(plain)
	nfused := 0
	for _, cr := range fused.rules {
		for _, s := range cr.pre {
			if _, ok := s.(copiesStage); ok {
				nfused++
				break
			}
		}
	}
	t.Logf("%d rules, %d with a fused run", len(fused.rules), nfused)
	if nfused == 0 {
		t.Fatal("no rule has a fused run: nothing to compare")
	}
	consts := collectConstants(fused)
	constsPlain := collectConstants(plain)
	t.Logf("%d constants", len(consts))

	var events [][]byte
	for _, ev := range auditgen.Generate(7, 3000) {
		events = append(events, ev.Body)
	}
	extra := testBodies(t, 0)
	for i, b := range extra {
		events = append(events, b)
		if i%3 == 0 {
			for _, name := range []string{"duplicates", "dotted"} {
				events = append(events, variants(t, b)[name])
			}
		}
	}
	ids := auditgen.NewIDs(events)

	type pair struct {
		name     string
		fused    *Engine
		expected *Engine
	}
	compare := func(p pair, events [][]byte, pass uint32) {
		ef, ep := p.fused.Evaluator(), p.expected.Evaluator()
		defer ef.Close()
		defer ep.Close()
		diffs := 0
		perRule := map[string]int{}
		defer func() { t.Logf("%s: matches by rule %v", p.name, perRule) }()
		for i, body := range events {
			if pass > 0 {
				ids.Renew(events, i, pass*uint32(len(events))+uint32(i))
			}
			ef.MoveClock(i%50 == 49)
			ep.MoveClock(i%50 == 49)
			rf, errf := ef.Evaluate(body)
			rp, errp := ep.Evaluate(body)
			if (errf == nil) != (errp == nil) {
				t.Errorf("%s: event %d: errors %v / %v", p.name, i, errf, errp)
			}
			for _, m := range rf.Matches {
				perRule[m.Rule.Name[:min(20, len(m.Rule.Name))]] += len(m.Rows)
			}
			if a, b := matchesText(rf.Matches), matchesText(rp.Matches); !slices.Equal(a, b) && diffs < 10 {
				diffs++
				t.Errorf("%s: event %d %.200s:\n fused %q\n evals %q", p.name, i, body, a, b)
			}
			if i%100 == 99 {
				if a, b := closedText(p.fused.TakeClosed()), closedText(p.expected.TakeClosed()); !slices.Equal(a, b) {
					t.Errorf("%s: closed after event %d:\n fused %q\n evals %q", p.name, i, a, b)
				}
			}
		}
	}
	half := len(events) / 2
	compare(pair{"first half", fused, plain}, events[:half], 1)
	// The same bodies again, as redeliveries (the auditIDs of pass 1).
	compare(pair{"redelivered", fused, plain}, events[:half], 0)

	// Saved by one, restored into the other: both ways.
	sf, sp := savedBytes(t, fused), savedBytes(t, plain)
	if !bytes.Equal(sf, sp) {
		t.Errorf("saved state differs: %d bytes fused, %d evals", len(sf), len(sp))
	} else {
		t.Logf("saved state: %d bytes, the same", len(sf))
	}
	fused2, err := Compile(rules, opts)
	if err != nil {
		t.Fatal(err)
	}
	plain2, err := Compile(rules, opts)
	if err != nil {
		t.Fatal(err)
	}
	unfused(plain2)
	r1, d1, err := fused2.RestoreState(bytes.NewReader(sp))
	if err != nil {
		t.Fatal(err)
	}
	r2, d2, err := plain2.RestoreState(bytes.NewReader(sf))
	if err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(r1, r2) || d1 != d2 || d1 != 0 {
		t.Errorf("restored %d/%d dropped %d/%d", len(r1), len(r2), d1, d2)
	}
	// Adopted: a reload from the fused engine into a new fused one, against the evals.
	fused3, err := Compile(rules, opts)
	if err != nil {
		t.Fatal(err)
	}
	fused3.AdoptState(fused)
	plain3, err := Compile(rules, opts)
	if err != nil {
		t.Fatal(err)
	}
	unfused(plain3)
	plain3.AdoptState(plain)

	compare(pair{"restored", fused2, plain2}, events[half:], 2)
	compare(pair{"adopted", fused3, plain3}, events[half:], 2)
	if a, b := closedText(fused2.CloseAll()), closedText(plain2.CloseAll()); !slices.Equal(a, b) {
		t.Errorf("restored: closed at the end:\n fused %q\n evals %q", a, b)
	} else {
		t.Logf("restored: %d closed at the end", len(a))
	}
	if a, b := closedText(fused3.CloseAll()), closedText(plain3.CloseAll()); !slices.Equal(a, b) {
		t.Errorf("adopted: closed at the end:\n fused %q\n evals %q", a, b)
	}
	for i, es := range [][2]*Engine{{fused2, plain2}, {fused3, plain3}} {
		a, b := savedBytes(t, es[0]), savedBytes(t, es[1])
		if !bytes.Equal(a, b) {
			t.Errorf("pair %d: saved state at the end differs", i)
		} else {
			t.Logf("pair %d: saved state at the end: %d bytes, the same", i, len(a))
		}
	}
	constantsUnchanged(t, consts)
	constantsUnchanged(t, constsPlain)
}

// savedBytes is what e.SaveState writes.
func savedBytes(t *testing.T, e *Engine) []byte {
	t.Helper()
	var buf bytes.Buffer
	if err := e.SaveState(&buf); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}
