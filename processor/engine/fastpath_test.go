package engine

import (
	"bytes"
	"fmt"
	"math/rand/v2"
	"reflect"
	"slices"
	"strings"
	"testing"
	"time"
	"unicode"

	"github.com/auditdetect/auditdetect/processor/auditgen"
	"github.com/auditdetect/auditdetect/processor/event"
	"github.com/auditdetect/auditdetect/processor/rule"
)

// TestParseTimeAgreesWithTimeParse: the event time read by the engine's own parser is time.Parse's, on the
// generated log's timestamps and on odd ones (other offsets, out-of-range fields, short and long fractions).
func TestParseTimeAgreesWithTimeParse(t *testing.T) {
	var inputs []string
	for _, ev := range auditgen.Generate(3, 300) {
		for _, key := range []string{`"stageTimestamp":"`, `"requestReceivedTimestamp":"`} {
			if i := bytes.Index(ev.Body, []byte(key)); i >= 0 {
				rest := ev.Body[i+len(key):]
				inputs = append(inputs, string(rest[:bytes.IndexByte(rest, '"')]))
			}
		}
	}
	if len(inputs) < 300 {
		t.Fatalf("only %d timestamps in the generated log", len(inputs))
	}
	inputs = append(inputs,
		"2024-01-02T15:04:05Z", "2024-01-02T15:04:05.1Z", "2024-01-02T15:04:05.123456789Z",
		"2024-01-02T15:04:05.1234567891Z", "2024-01-02T15:04:05.Z", "2024-01-02T15:04:05,123Z",
		"2024-01-02T15:04:05.000000Z", "0000-01-01T00:00:00Z", "9999-12-31T23:59:59.999999999Z",
		"2024-02-29T00:00:00Z", "2023-02-29T00:00:00Z", "2100-02-29T00:00:00Z", "2000-02-29T00:00:00Z",
		"2024-04-31T00:00:00Z", "2024-13-01T00:00:00Z", "2024-00-01T00:00:00Z", "2024-01-00T00:00:00Z",
		"2024-01-02T24:00:00Z", "2024-01-02T23:60:00Z", "2024-01-02T23:59:60Z", "2024-01-02t15:04:05Z",
		"2024-01-02T15:04:05z", "2024-01-02T15:04:05+00:00", "2024-01-02T15:04:05.5-07:00",
		"2024-01-02T15:04:05+01:30", "2024-01-02 15:04:05Z", "2024-1-02T15:04:05Z", "+024-01-02T15:04:05Z",
		"2024-01-02T15:04:5Z", "2024-01-02T15:04:05.12a4Z", "2024-01-02T15:04:05.-1Z", "", "Z",
		"2024-01-02T15:04:05", "2024-01-02T15:04:05.123", "20x4-01-02T15:04:05Z", "2024-01-02T15:04:05ZZ",
	)
	for _, s := range inputs {
		want, err := time.Parse(time.RFC3339Nano, s)
		got, ok := parseTime([]byte(s))
		// Each time.Parse of an offset makes a zone of its own: compare the instant and the zone's name and offset.
		gn, go_ := got.Zone()
		wn, wo := want.Zone()
		if ok != (err == nil) || !got.Equal(want) || gn != wn || go_ != wo {
			t.Errorf("%q: parseTime = %v, %v; time.Parse = %v, %v", s, got, ok, want, err)
		}
		if fast, ok := parseUTC([]byte(s)); ok && fast != want {
			t.Errorf("%q: fast path %v, time.Parse %v", s, fast, want)
		}
	}
}

// TestFoldsToASCII checks foldsToASCII against the Unicode tables: every character outside ASCII that a
// case-insensitive comparison of Go may take for an ASCII letter is listed under that letter.
func TestFoldsToASCII(t *testing.T) {
	want := map[byte][]rune{}
	for r := rune(0x80); r <= unicode.MaxRune; r++ {
		var to []rune
		to = append(to, unicode.ToLower(r), unicode.ToUpper(r), unicode.ToTitle(r))
		for f := unicode.SimpleFold(r); f != r; f = unicode.SimpleFold(f) {
			to = append(to, f)
		}
		for _, s := range [][]byte{bytes.ToLower([]byte(string(r))), bytes.ToUpper([]byte(string(r)))} {
			if len(s) == 1 {
				to = append(to, rune(s[0]))
			}
		}
		for _, x := range to {
			if x < 0x80 && unicode.IsLetter(x) {
				l := byte(unicode.ToLower(x))
				if !slices.Contains(want[l], r) {
					want[l] = append(want[l], r)
				}
			}
		}
	}
	if fmt.Sprint(want) != fmt.Sprint(foldsToASCII) {
		t.Errorf("foldsToASCII = %U, the Unicode tables say %U", foldsToASCII, want)
	}
}

// TestPrefilterSearch: the needle search (sparse anchors, then sixteen positions at a time) finds a needle wherever
// it is, in either case when folded, and nothing else: checked against a plain search at every position of bodies
// dense with the anchors.
func TestPrefilterSearch(t *testing.T) {
	for _, tc := range []struct {
		lit  string
		fold bool
	}{{"pulling image", true}, {`message"`, false}, {"NodePort", false}, {"abc", true}, {"a b", true}, {"@`", true}} {
		n := newNeedle([]byte(tc.lit), tc.fold)
		for _, filler := range []string{"x", " ", "g ", "pulling imag", "PULLING IMAGE", "message", "@`@", "a b"} {
			for size := 0; size < 300; size += 7 {
				base := bytes.Repeat([]byte(filler), size/len(filler)+1)[:size]
				for _, spelled := range []string{tc.lit, string(bytes.ToUpper([]byte(tc.lit))), "Q" + tc.lit[1:]} {
					for at := 0; at <= size; at += 1 + size/9 {
						body := append(append(append([]byte(nil), base[:at]...), spelled...), base[at:]...)
						want := bytes.Contains(body, []byte(tc.lit)) ||
							tc.fold && bytes.Contains(bytes.ToLower(body), []byte(tc.lit))
						if got := n.in(body); got != want {
							t.Fatalf("%q fold=%v in %q: %v, want %v", tc.lit, tc.fold, body, got, want)
						}
						if got := n.inDense(body, 0); got != want {
							t.Fatalf("%q fold=%v dense in %q: %v, want %v", tc.lit, tc.fold, body, got, want)
						}
					}
				}
				want := bytes.Contains(base, []byte(tc.lit)) || tc.fold && bytes.Contains(bytes.ToLower(base), []byte(tc.lit))
				if n.in(base) != want || n.inDense(base, 0) != want {
					t.Fatalf("%q fold=%v in %q: want %v", tc.lit, tc.fold, base, want)
				}
			}
		}
	}
}

// TestStatsOneRowGroups: stats over one event's row makes one group per distinct tuple key without a set, and still
// merges tuples whose keys coincide (a value holding the separator), as with several rows.
func TestStatsOneRowGroups(t *testing.T) {
	a, b := newFieldRef(rule.Field{Name: "a"}), newFieldRef(rule.Field{Name: "b"})
	s := statsStage{by: []*fieldRef{a, b}, aggs: []aggExec{{fn: "count", out: "count"}}}
	for _, tc := range []struct {
		as, bs []string
		want   int
	}{
		{[]string{"x", "y"}, []string{"1", "2"}, 4},
		{[]string{"x", "x"}, []string{"1"}, 1},
		{[]string{"x\x00y", "x"}, []string{"z", "y\x00z"}, 3},
	} {
		r := &row{fields: []RowField{{Name: "a", Values: tc.as}, {Name: "b", Values: tc.bs}}}
		if got := s.run(nil, []*row{r}); len(got) != tc.want {
			t.Errorf("%q × %q: %d groups, want %d", tc.as, tc.bs, len(got), tc.want)
		}
	}
}

// singleTuple, the one-string path for rows whose by-fields hold at most one value each, makes the tuples that
// productTuples makes, with and without null groups, and declines any row with a field of several values (whose
// values it would keep alive together); singleKey, the window's lookup key, is that tuple joined as update joins it.
// Rows mix values set on the row with values read from an event.
func TestSingleTupleAgreesWithProduct(t *testing.T) {
	names := []string{"a", "b{}", "c"}
	var by []*fieldRef
	for _, n := range names {
		by = append(by, newFieldRef(rule.Field{Name: n}))
	}
	values := []string{"", "x", "x\x00y", "\x00null", "é", strings.Repeat("v", 300)}
	rng := rand.New(rand.NewPCG(3, 4))
	declined, answered := 0, 0
	for range 20000 {
		r := &row{}
		if rng.IntN(2) == 0 { // some fields from an event, read through the row
			var p event.Parser
			v, err := p.Parse([]byte(`{"a":"from-event","b":["e1","e2"],"c":"one"}`))
			if err != nil {
				t.Fatal(err)
			}
			r.ev = v
		}
		for _, n := range names {
			switch k := rng.IntN(5); {
			case k == 0: // not set on the row: the event's values, or none
			case k == 4:
				r.set(n, []string{values[rng.IntN(len(values))], values[rng.IntN(len(values))]}, false)
			default:
				r.set(n, []string{values[rng.IntN(len(values))]}, false)
			}
		}
		several := slices.ContainsFunc(by, func(f *fieldRef) bool { return len(r.values(f)) > 1 })
		for _, nullGroups := range []bool{false, true} {
			s := statsStage{by: by, nullGroups: nullGroups}
			got, ok := s.singleTuple(r)
			want := s.productTuples(r)
			// The window's key of the same row: the one tuple joined as update joins it, or no group.
			key, single, grouped := s.singleKey(r, nil)
			switch {
			case single != ok:
				t.Fatalf("nullGroups=%v, row %v: singleKey single %v, singleTuple %v", nullGroups, r.fields, single, ok)
			case single && grouped != (len(got) == 1):
				t.Fatalf("nullGroups=%v, row %v: singleKey grouped %v, singleTuple %q", nullGroups, r.fields, grouped, got)
			case grouped && string(key) != strings.Join(got[0], "\x00"):
				t.Fatalf("nullGroups=%v, row %v: singleKey %q, singleTuple %q", nullGroups, r.fields, key, got)
			}
			if ok && several && len(got) > 0 { // no tuple (a field missing first) is an answer for any row
				t.Fatalf("singleTuple answered for a row with a field of several values: %v", r.fields)
			}
			if !ok {
				declined++
				if !several {
					t.Fatalf("singleTuple declined a row of single values: %v", r.fields)
				}
				continue
			}
			answered++
			if !reflect.DeepEqual(got, want) && !(len(got) == 0 && len(want) == 0) {
				t.Fatalf("nullGroups=%v, row %v: singleTuple %q, productTuples %q", nullGroups, r.fields, got, want)
			}
		}
	}
	if declined == 0 || answered == 0 {
		t.Fatalf("declined %d, answered %d: both paths must be tried", declined, answered)
	}
}

// Per-event aggregates (a stats without a window condition answers each event on its own): values() is the distinct
// values in lexicographic order, dc() their number, count(field) whether the row has the field, over the event's
// values and over values a stage set on the row.
func TestStatsPerEventAggregates(t *testing.T) {
	e, err := compileSPL(t, `* | eval tags=split("z,a,z,m,a", ",") | eval none=null()`+
		` | stats values(user.groups{}) as g dc(user.groups{}) as n values(tags) as tags dc(tags) as tn`+
		` count(tags) as has_tags count(none) as has_none by user.username`, Options{})
	if err != nil {
		t.Fatal(err)
	}
	ms, err := e.Match([]byte(`{"verb":"get","user":{"username":"u","groups":["b","a","b","C","a"]}}`))
	if err != nil || len(ms) != 1 || len(ms[0].Rows) != 1 {
		t.Fatalf("%v, %v", ms, err)
	}
	r := ms[0].Rows[0]
	for name, want := range map[string][]string{
		"g": {"C", "a", "b"}, "n": {"3"}, "tags": {"a", "m", "z"}, "tn": {"3"}, "has_tags": {"1"}, "has_none": {"0"},
		"user.username": {"u"},
	} {
		if got := r.Values(name); !slices.Equal(got, want) {
			t.Errorf("%s = %q, want %q", name, got, want)
		}
	}
}

// A stats row's by-fields are one-element slices of one tuple (setGroup): clipped, so that appending to one field's
// values copies instead of writing over the next field's value.
func TestStatsGroupFieldsDoNotShareCapacity(t *testing.T) {
	a, b := newFieldRef(rule.Field{Name: "a"}), newFieldRef(rule.Field{Name: "b"})
	s := statsStage{by: []*fieldRef{a, b}, aggs: []aggExec{{fn: "count", out: "count"}}}
	r := &row{fields: []RowField{{Name: "a", Values: []string{"x"}}, {Name: "b", Values: []string{"y"}}}}
	out := s.run(nil, []*row{r})
	if len(out) != 1 {
		t.Fatalf("%d rows", len(out))
	}
	av, _ := out[0].get("a")
	_ = append(av, "appended")
	if bv, _ := out[0].get("b"); !slices.Equal(bv, []string{"y"}) {
		t.Fatalf("appending to a's values changed b's to %q", bv)
	}
}
