package engine

import (
	"bytes"
	"encoding/gob"
	"fmt"
	"reflect"
	"slices"
	"testing"
	"time"

	"github.com/auditdetect/auditdetect/processor/rule"
)

// TestCopiesAdversarialStages: runs of copies and constants after each stage that can leave the event's own row as it
// was (fillnull of present fields, a lookup or an iplocation that finds nothing, a filter, a copy) or change it, before
// and after new_terms and sequence stages, and constants after a window; rows, closes and saved state compared with
// the same rules unfused.
func TestCopiesAdversarialStages(t *testing.T) {
	cp := func(to, from string) rule.Stage {
		return rule.Eval{To: to, Value: rule.FieldValue{Field: rule.Field{Name: from}}}
	}
	cpAny := func(to, from string) rule.Stage {
		return rule.Eval{To: to, Value: rule.FieldValue{Field: rule.Field{Name: from, AnyArray: true}}}
	}
	k := func(to, text string) rule.Stage { return rule.Eval{To: to, Value: rule.Constant{Text: text}} }
	null := func(to string) rule.Stage { return rule.Eval{To: to, Value: rule.Constant{Null: true}} }
	run := []rule.Stage{cp("a", "verb"), k("b", "x"), cp("c", "user.username"), null("d"), cpAny("e", "sourceIPs"), k("verb", "over")}
	users := table(t, rule.LookupTable{}, "user,team", "alice,dev")
	stages := map[string][]rule.Stage{
		"fillnull present": {rule.FillNull{Value: "0", Fields: []string{"verb"}}},
		"fillnull absent":  {rule.FillNull{Value: "0", Fields: []string{"nosuch"}}},
		"lookup":           {rule.Lookup{Table: users, Inputs: in("user", "user.username"), Outputs: out("team", "team")}},
		"lookup new":       {rule.Lookup{Table: users, Inputs: in("user", "user.username"), Outputs: out("team", "team"), New: true}},
		"iplocation":       {rule.IPLocation{Field: "sourceIPs{}", Prefix: "g_"}},
		"where":            {rule.Where{Cond: rule.Exists{Field: rule.Field{Name: "verb"}}}},
		"copy":             {rule.Copy{From: "sourceIPs{}", To: "src", Ends: true}},
		"rename":           {rule.Rename{Pairs: []rule.RenamePair{{From: "verb", To: "v"}}}},
		"project":          {rule.Project{Fields: []string{"verb", "user*"}}},
		"project remove":   {rule.Project{Fields: []string{"userAgent"}, Remove: true}},
		"new_terms before": {rule.NewTerms{Fields: []rule.Field{{Name: "verb"}}, History: time.Hour}},
		"nothing":          nil,
	}
	var rules []*rule.Rule
	n := 0
	for name, before := range stages {
		for _, after := range [][]rule.Stage{
			nil,
			{rule.NewTerms{Fields: []rule.Field{{Name: "a"}, {Name: "c"}}, History: time.Hour}},
			{rule.Stats{Aggs: []rule.Aggregate{{Func: "count", As: "n"}, {Func: "values", Field: "b", As: "bs"},
				{Func: "values", Field: "e", As: "es"}, {Func: "max", Field: "verb", As: "mv"}}, By: []string{"a", "b"}, Windowed: true},
				k("sev", "high"), k("bs2", "y")},
		} {
			n++
			p := slices.Concat(before, run, after)
			rules = append(rules, &rule.Rule{ID: fmt.Sprintf("r%d", n), Name: name, Filter: rule.True{}, Pipeline: p})
		}
	}
	// A sequence first, a run after it.
	by := []rule.Field{{Name: "user.username"}}
	get, list := eq("verb", "get"), eq("verb", "list")
	n++
	rules = append(rules, &rule.Rule{ID: fmt.Sprintf("r%d", n), Name: "sequence", Filter: rule.Or{get, list},
		Pipeline: append([]rule.Stage{rule.Sequence{MaxSpan: time.Hour, Columns: []string{"user.username"},
			Steps: []rule.SequenceStep{{Cond: get, By: by}, {Cond: list, By: by}}}}, run...)})

	opts := Options{GeoIP: anyGeo{}, Window: time.Hour}
	fused, err := Compile(rules, opts)
	if err != nil {
		t.Fatal(err)
	}
	if !hasCopies(fused) {
		t.Fatal("nothing fused")
	}
	plain, err := Compile(rules, opts)
	if err != nil {
		t.Fatal(err)
	}
	unfused(plain)
	consts := collectConstants(fused)
	// The fused runs' templates, as compiled: a row's copy of them must never write into them.
	templates := map[*RowField]RowField{}
	for _, cr := range fused.rules {
		for _, st := range cr.pre {
			if cs, ok := st.(copiesStage); ok {
				for i := range cs.fields {
					templates[&cs.fields[i]] = cs.fields[i]
				}
			}
		}
	}

	var events []string
	users2 := []string{"alice", "bob", ""}
	verbs := []string{"get", "list", "watch"}
	ips := []string{`"10.0.0.1"`, `"203.0.113.9","10.0.0.2"`, ``}
	for i := range 60 {
		u := users2[i%3]
		userJSON := ""
		if u != "" {
			userJSON = fmt.Sprintf(`"user":{"username":%q,"groups":["g1","g2"]},`, u)
		}
		at := time.Date(2026, 1, 1, 10, 0, i, 0, time.UTC).Format(time.RFC3339Nano)
		events = append(events, fmt.Sprintf(`{"auditID":"id-%d","verb":%q,%s"sourceIPs":[%s],"userAgent":"ua%d","stageTimestamp":%q}`,
			i, verbs[(i/3)%3], userJSON, ips[(i/9)%3], i%2, at))
	}
	events = append(events, `{"auditID":"dup","verb":"get","verb":"list","user":{"username":"alice"},"stageTimestamp":"2026-01-01T10:02:00Z"}`,
		`{"stageTimestamp":"2026-01-01T10:02:00Z"}`)
	compared := 0
	for _, body := range events {
		a, err := fused.Match([]byte(body))
		if err != nil {
			t.Fatal(err)
		}
		b, err := plain.Match([]byte(body))
		if err != nil {
			t.Fatal(err)
		}
		ta, tb := matchesText(a), matchesText(b)
		if !slices.Equal(ta, tb) {
			t.Errorf("%s:\n fused %q\n evals %q", body, ta, tb)
		}
		compared += len(ta)
	}
	if a, b := closedText(fused.CloseAll()), closedText(plain.CloseAll()); !slices.Equal(a, b) {
		t.Errorf("closed:\n fused %q\n evals %q", a, b)
	}
	if sa, sb := savedBytes(t, fused), savedBytes(t, plain); !bytes.Equal(sa, sb) {
		var da, db savedState
		_ = gob.NewDecoder(bytes.NewReader(sa)).Decode(&da)
		_ = gob.NewDecoder(bytes.NewReader(sb)).Decode(&db)
		for i := range da.Rules {
			for j := range da.Rules[i].Sequences {
				da.Rules[i].Sequences[j].FloorSeed, db.Rules[i].Sequences[j].FloorSeed = 0, 0
			}
			if !reflect.DeepEqual(da.Rules[i], db.Rules[i]) {
				t.Errorf("saved state differs: rule %s:\n fused %+v\n evals %+v", da.Rules[i].ID, da.Rules[i], db.Rules[i])
			}
		}
	}
	constantsUnchanged(t, consts)
	for p, was := range templates {
		if p.Name != was.Name || p.from != was.from || !slices.Equal(p.Values, was.Values) || (p.Values == nil) != (was.Values == nil) {
			t.Errorf("a template field was %+v, is now %+v", was, *p)
		}
	}
	// State saved by the engine as compiled restores into one unfused (a build before the fusion), and back.
	for _, way := range []struct {
		from, to *Engine
		unfuse   bool
	}{{fused, nil, true}, {plain, nil, false}} {
		to, err := Compile(rules, opts)
		if err != nil {
			t.Fatal(err)
		}
		if way.unfuse {
			unfused(to)
		}
		saved := savedBytes(t, way.from)
		restored, dropped, err := to.RestoreState(bytes.NewReader(saved))
		if err != nil || dropped != 0 {
			t.Fatalf("restore: %v, %d dropped", err, dropped)
		}
		if d := savedDiff(savedBytes(t, to), saved); d != nil {
			t.Errorf("state restored across the fusion (unfuse %v, %d rules) saves differently: %v", way.unfuse, len(restored), d)
		}
	}
	t.Logf("%d rules, %d matches compared, %d template fields", len(rules), compared, len(templates))
	if compared == 0 || len(templates) == 0 {
		t.Errorf("%d matches compared, %d template fields: the pipelines test nothing", compared, len(templates))
	}
}

// savedDiff returns the ids of the rules whose saved state differs between a and b, the sequences' random floor
// seeds and the mark of a restored history aside.
func savedDiff(a, b []byte) []string {
	var da, db savedState
	if err := gob.NewDecoder(bytes.NewReader(a)).Decode(&da); err != nil {
		return []string{err.Error()}
	}
	if err := gob.NewDecoder(bytes.NewReader(b)).Decode(&db); err != nil {
		return []string{err.Error()}
	}
	if len(da.Rules) != len(db.Rules) {
		return []string{"rule counts"}
	}
	var out []string
	for i := range da.Rules {
		for j := range da.Rules[i].Sequences {
			da.Rules[i].Sequences[j].FloorSeed = 0
		}
		for j := range db.Rules[i].Sequences {
			db.Rules[i].Sequences[j].FloorSeed = 0
		}
		// A history restored without a learning period is marked so (newTermsStage.restore): not the fusion's doing.
		for _, d := range []*savedState{&da, &db} {
			for j := range d.Rules[i].NewTerms {
				if d.Rules[i].NewTerms[j].LearnUntil.Equal(historyRestored) {
					d.Rules[i].NewTerms[j].LearnUntil = time.Time{}
				}
			}
		}
		if !reflect.DeepEqual(da.Rules[i], db.Rules[i]) {
			out = append(out, da.Rules[i].ID)
		}
	}
	return out
}
