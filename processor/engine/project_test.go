package engine

import (
	"fmt"
	"testing"

	"github.com/auditdetect/auditdetect/processor/rule"
)

// rowOf compiles r, matches podEvent and returns the one result row's fields as "name=values", in order.
func rowOf(t *testing.T, r *rule.Rule, body string) []string {
	t.Helper()
	e, err := Compile([]*rule.Rule{r}, Options{})
	if err != nil {
		t.Fatal(err)
	}
	ms, err := e.Match([]byte(body))
	if err != nil {
		t.Fatal(err)
	}
	if len(ms) == 0 {
		return nil
	}
	if len(ms) != 1 || len(ms[0].Rows) != 1 {
		t.Fatalf("matches %+v", ms)
	}
	var out []string
	for _, f := range ms[0].Rows[0].Fields {
		out = append(out, fmt.Sprintf("%s=%v", f.Name, f.Values))
	}
	return out
}

// eventRule is a rule without stats on podEvent: its rows read the event, and show the risk, threat and message
// fields and the request's summary.
func eventRule(stages ...rule.Stage) *rule.Rule {
	return &rule.Rule{ID: "p", Name: "p", Filter: eq("verb", "create"), Pipeline: stages,
		Risk: rule.Risk{Message: "$verb$ by $user.username$", Objects: []rule.RiskObject{{Field: "user.username", Type: "user", Score: 5}},
			Threats: []rule.ThreatObject{{Field: "sourceIPs{}", Type: "ip_address"}}}}
}

// TestProjectEventRow: a projection of a row that still reads the event keeps the fields it lists, in a table's
// order, and those only: the message's verb, the threat field and the summary are gone, an event field the table
// names is shown, and nothing else of the event is copied.
func TestProjectEventRow(t *testing.T) {
	tests := []struct {
		name   string
		stages []rule.Stage
		want   []string
	}{
		{"table names", []rule.Stage{rule.Project{Fields: []string{"objectRef.name", "user.username", "requestObject.spec.hostNetwork", "nothere"}, Ordered: true}},
			[]string{"objectRef.name=[web]", "user.username=[Alice]", "requestObject.spec.hostNetwork=[true]"}},
		// A wildcard keeps what the row shows that matches (the risk field, the summary's userAgent), and copies no
		// other event field (user.groups{}).
		{"wildcard", []rule.Stage{rule.Project{Fields: []string{"user*"}, Ordered: true}},
			[]string{"user.username=[Alice]", "userAgent=[kubectl/v1.30]"}},
		{"table star copies nothing", []rule.Stage{rule.Project{Fields: []string{"*"}, Ordered: true}},
			[]string{"user.username=[Alice]", "sourceIPs{}=[10.1.1.1 192.168.0.9]", "verb=[create]", "objectRef.resource=[pods]",
				"objectRef.namespace=[default]", "objectRef.name=[web]", "userAgent=[kubectl/v1.30]", "responseStatus.code=[201]"}},
		{"remove", []rule.Stage{rule.Project{Fields: []string{"sourceIPs{}", "objectRef.*", "_raw"}, Remove: true}},
			[]string{"user.username=[Alice]", "verb=[create]", "userAgent=[kubectl/v1.30]", "responseStatus.code=[201]"}},
		// Fields stages set are projected as the event's are; the table orders them with the event's.
		{"set fields", []rule.Stage{
			rule.Eval{To: "_time", Value: rule.Call{Func: "event_time"}},
			rule.Rename{Pairs: []rule.RenamePair{{From: "sourceIPs{}", To: "src"}}},
			rule.Eval{To: "x", Value: rule.Constant{Text: "1"}},
			rule.Project{Fields: []string{"user.username", "src", "_time"}, Ordered: true},
		}, []string{"user.username=[Alice]", "src=[10.1.1.1 192.168.0.9]", "_time=[1767323045]"}},
		// Two projections: the second sees only what the first kept.
		{"table then fields", []rule.Stage{
			rule.Project{Fields: []string{"verb", "user.username", "objectRef.name"}, Ordered: true},
			rule.Project{Fields: []string{"objectRef.name", "userAgent"}, Remove: true},
		}, []string{"verb=[create]", "user.username=[Alice]"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := rowOf(t, eventRule(tt.stages...), podEvent); fmt.Sprint(got) != fmt.Sprint(tt.want) {
				t.Errorf("row = %q\nwant %q", got, tt.want)
			}
		})
	}
}

// TestProjectHidesFieldsFromLaterStages: after a projection, later stages read only the fields it kept, of the
// event as of the row.
func TestProjectHidesFieldsFromLaterStages(t *testing.T) {
	keep := rule.Project{Fields: []string{"user.username", "objectRef.*"}, Ordered: true}
	tests := []struct {
		name  string
		after rule.Stage
		match bool
	}{
		{"kept field", rule.Where{Cond: eq("objectRef.resource", "pods")}, true},
		{"projected away", rule.Where{Cond: eq("verb", "create")}, false},
		{"projected away, negated", rule.Search{Cond: rule.Not{X: eq("verb", "create")}}, true},
		{"exists", rule.Where{Cond: rule.Exists{Field: rule.Field{Name: "userAgent"}}}, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := rowOf(t, eventRule(keep, tt.after), podEvent)
			if (got != nil) != tt.match {
				t.Errorf("row %q, want a match: %v", got, tt.match)
			}
		})
	}
	// A stats after a projection groups by what it kept: a by-field projected away makes no group.
	r := eventRule(rule.Project{Fields: []string{"user.username"}}, rule.Stats{Aggs: []rule.Aggregate{{Func: "count"}}, By: []string{"verb"}})
	if got := rowOf(t, r, podEvent); got != nil {
		t.Errorf("stats by a field projected away: %q", got)
	}
	r = eventRule(rule.Project{Fields: []string{"verb", "sourceIPs{}"}, Remove: true},
		rule.Stats{Aggs: []rule.Aggregate{{Func: "count"}, {Func: "dc", Field: "sourceIPs{}"}}, By: []string{"user.username"}})
	if got, want := fmt.Sprint(rowOf(t, r, podEvent)), "[user.username=[Alice] count=[1] dc(sourceIPs{})=[0]]"; got != want {
		t.Errorf("stats after fields -: %s, want %s", got, want)
	}
}

// TestProjectStatsRows: a table after stats and rename keeps the listed fields in its order; a wildcard removes
// several.
func TestProjectStatsRows(t *testing.T) {
	stats := []rule.Stage{
		rule.Stats{Aggs: []rule.Aggregate{{Func: "count"}, {Func: "values", Field: "objectRef.name", As: "names"}}, By: []string{"user.username", "sourceIPs{}"}},
		rule.Rename{Pairs: []rule.RenamePair{{From: "user.username", To: "user"}, {From: "sourceIPs{}", To: "src"}}},
	}
	tests := []struct {
		name string
		proj []rule.Stage
		want []string // one per row
	}{
		{"table", []rule.Stage{rule.Project{Fields: []string{"src", "count", "user"}, Ordered: true}},
			[]string{"[src=[10.1.1.1] count=[1] user=[Alice]]", "[src=[192.168.0.9] count=[1] user=[Alice]]"}},
		{"fields keeps the row's order", []rule.Stage{rule.Project{Fields: []string{"src", "user", "_*"}}},
			[]string{"[user=[Alice] src=[10.1.1.1]]", "[user=[Alice] src=[192.168.0.9]]"}},
		{"fields minus wildcard", []rule.Stage{rule.Project{Fields: []string{"src", "name*"}, Remove: true}},
			[]string{"[user=[Alice] count=[1]]", "[user=[Alice] count=[1]]"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := eventRule(append(append([]rule.Stage{}, stats...), tt.proj...)...)
			e, err := Compile([]*rule.Rule{r}, Options{})
			if err != nil {
				t.Fatal(err)
			}
			var rows []string
			eachRow(t, e, [][]byte{[]byte(podEvent)}, func(_ int, row Row) {
				var fs []string
				for _, f := range row.Fields {
					fs = append(fs, fmt.Sprintf("%s=%v", f.Name, f.Values))
				}
				rows = append(rows, fmt.Sprint(fs))
			})
			if fmt.Sprint(rows) != fmt.Sprint(tt.want) {
				t.Errorf("rows = %q\nwant %q", rows, tt.want)
			}
		})
	}
}

// TestProjectAfterWindowedStats: a table after a windowed stats projects the row the window fires with; a where
// that reads an aggregate the projection took away reads nothing.
func TestProjectAfterWindowedStats(t *testing.T) {
	r := windowRule(cmp("count", rule.OpGt, "2"), countOnly)
	r.Pipeline = append(r.Pipeline, rule.Project{Fields: []string{"sourceIPs{}"}, Ordered: true})
	e, err := Compile([]*rule.Rule{r}, Options{})
	if err != nil {
		t.Fatal(err)
	}
	events := [][]byte{ev("10.0.0.1", 1, ""), ev("10.0.0.1", 2, ""), ev("10.0.0.1", 3, ""), ev("10.0.0.1", 4, "")}
	var got []string
	eachRow(t, e, events, func(i int, row Row) { got = append(got, fmt.Sprintf("%d:%v", i, row.Fields)) })
	if want := "[2:[{sourceIPs{} [10.0.0.1] false <nil>}]]"; fmt.Sprint(got) != want {
		t.Errorf("rows = %v, want %s", got, want)
	}
	// fields - count | where count > 2: the where has no count to read.
	gone := windowRule(cmp("count", rule.OpGt, "2"), countOnly)
	gone.Pipeline = []rule.Stage{gone.Pipeline[0], rule.Project{Fields: []string{"count"}, Remove: true}, gone.Pipeline[1]}
	if windowedStatsIndex(gone.Pipeline) != -1 {
		t.Error("a where on an aggregate projected away windows the stats")
	}
	e, err = Compile([]*rule.Rule{gone}, Options{})
	if err != nil {
		t.Fatal(err)
	}
	if n := len(play(t, e, events)); n != 0 {
		t.Errorf("%d rows from a where on a field projected away", n)
	}
}
