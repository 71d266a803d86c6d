package lint

import (
	"testing"

	"github.com/auditdetect/auditdetect/processor/rule"
	"github.com/auditdetect/auditdetect/processor/spl"
)

// TestLookupOutputs: a field a lookup outputs is a field of the rows, not of the audit event: a search on it after
// the lookup is no term that is never true, and a group by it is not judged by what the event has, even when an
// earlier stage copied an absent event field to the name the lookup then writes.
func TestLookupOutputs(t *testing.T) {
	tab, err := rule.NewLookupTable(rule.LookupTable{Name: "allowed", Columns: []string{"namespace", "is_allowed"}})
	if err != nil {
		t.Fatal(err)
	}
	filter, pipeline, err := spl.CompileWith("verb=create | lookup allowed namespace AS objectRef.namespace OUTPUT is_allowed"+
		" | search is_allowed=true", nil, spl.LookupTables{"allowed": tab})
	if err != nil {
		t.Fatal(err)
	}
	if res := Check(&rule.Rule{ID: "r", Name: "r", Filter: filter, Pipeline: pipeline}); len(res.Findings) > 0 {
		t.Errorf("findings %+v", res.Findings)
	}

	grouped := &rule.Rule{ID: "g", Name: "g", Pipeline: []rule.Stage{
		rule.Eval{To: "team", Value: rule.FieldValue{Field: rule.Field{Name: "user.name", AnyArray: true}}},
		rule.Lookup{Table: tab, Inputs: []rule.LookupField{{Column: "namespace", Field: "objectRef.namespace"}},
			Outputs: []rule.LookupField{{Column: "is_allowed", Field: "team"}}},
		rule.Stats{Aggs: []rule.Aggregate{{Func: "count"}}, By: []string{"team"}, Windowed: true},
	}}
	if res := Check(grouped); res.NeverMatches {
		t.Errorf("a group by a lookup's output judged by the event: %+v", res.Because)
	}
}
