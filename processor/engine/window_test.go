package engine

import (
	"bytes"
	"fmt"
	"reflect"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/auditdetect/auditdetect/processor/rule"
	"github.com/auditdetect/auditdetect/processor/spl"
	"github.com/auditdetect/auditdetect/processor/window"
)

var w0 = time.Date(2026, 5, 4, 10, 0, 0, 0, time.UTC)

// ev is a 403 from ip at minute min of w0 with the given extra top-level fields (JSON, without braces).
func ev(ip string, min float64, extra string) []byte {
	at := w0.Add(time.Duration(min * float64(time.Minute))).Format(time.RFC3339Nano)
	if extra != "" {
		extra = "," + extra
	}
	return []byte(fmt.Sprintf(`{"verb":"get","sourceIPs":[%q],"responseStatus":{"code":403},"stageTimestamp":%q%s}`, ip, at, extra))
}

// windowRule is `stats <aggs> by sourceIPs{} | where <cond>`, filtering on 403s.
func windowRule(cond rule.Expr, aggs ...rule.Aggregate) *rule.Rule {
	return &rule.Rule{
		ID: "w", Name: "w", Filter: eq("responseStatus.code", "403"),
		Pipeline: []rule.Stage{
			rule.Stats{Aggs: aggs, By: []string{"sourceIPs{}"}},
			rule.Where{Cond: cond},
		},
	}
}

var countOnly = rule.Aggregate{Func: "count"}

// play feeds the events and returns, per event that fired, "i:count" (i its index).
func play(t *testing.T, e *Engine, events [][]byte) []string {
	t.Helper()
	var fired []string
	eachRow(t, e, events, func(i int, r Row) {
		fired = append(fired, fmt.Sprintf("%d:%s", i, strings.Join(r.Values("count"), ",")))
	})
	return fired
}

// eachRow feeds the events and calls fn with each result row and the index of the event that made it.
func eachRow(t *testing.T, e *Engine, events [][]byte, fn func(i int, r Row)) {
	t.Helper()
	for i, body := range events {
		ms, err := e.Match(body)
		if err != nil {
			t.Fatal(err)
		}
		for _, m := range ms {
			for _, r := range m.Rows {
				fn(i, r)
			}
		}
	}
}

func TestWindowAggregates(t *testing.T) {
	many := make([][]byte, 0, 150)
	for i := 150; i >= 1; i-- {
		many = append(many, ev("1.1.1.1", 1, fmt.Sprintf(`"n":%d,"s":"v%03d"`, i, i)))
	}
	tests := []struct {
		name   string
		agg    rule.Aggregate
		events [][]byte
		want   []string
	}{
		{"count(f) counts events with the field", rule.Aggregate{Func: "count", Field: "n"},
			[][]byte{ev("1.1.1.1", 1, `"n":1`), ev("1.1.1.1", 2, ""), ev("1.1.1.1", 3, `"n":2`)}, []string{"2"}},
		{"values are distinct and sorted", rule.Aggregate{Func: "values", Field: "s"},
			[][]byte{ev("1.1.1.1", 1, `"s":"b"`), ev("1.1.1.1", 2, `"s":"a"`), ev("1.1.1.1", 3, `"s":"b"`)}, []string{"a", "b"}},
		{"values keep at most 100", rule.Aggregate{Func: "values", Field: "s"}, many, []string{"100"}},
		// The first 99 distinct values and the newest: values padded in front cannot keep the latest out.
		{"values keep the newest value", rule.Aggregate{Func: "values", Field: "s"}, many, []string{"v001"}},
		{"dc", rule.Aggregate{Func: "dc", Field: "s"},
			[][]byte{ev("1.1.1.1", 1, `"s":"b"`), ev("1.1.1.1", 2, `"s":"a"`), ev("1.1.1.1", 3, `"s":"b"`)}, []string{"2"}},
		{"min is numeric when every value is a number", rule.Aggregate{Func: "min", Field: "n"},
			[][]byte{ev("1.1.1.1", 1, `"n":10`), ev("1.1.1.1", 2, `"n":9`), ev("1.1.1.1", 3, `"n":100`)}, []string{"9"}},
		{"max is numeric when every value is a number", rule.Aggregate{Func: "max", Field: "n"},
			[][]byte{ev("1.1.1.1", 1, `"n":10`), ev("1.1.1.1", 2, `"n":9`), ev("1.1.1.1", 3, `"n":100`)}, []string{"100"}},
		// Splunk puts every number before any text: min is the least number, max the greatest text.
		{"max of numbers and text is the greatest text", rule.Aggregate{Func: "max", Field: "n"},
			[][]byte{ev("1.1.1.1", 1, `"n":10`), ev("1.1.1.1", 2, `"n":"9"`), ev("1.1.1.1", 3, `"n":"abc"`)}, []string{"abc"}},
		{"min of numbers and text is the least number", rule.Aggregate{Func: "min", Field: "n"},
			[][]byte{ev("1.1.1.1", 1, `"n":10`), ev("1.1.1.1", 2, `"n":"abc"`), ev("1.1.1.1", 3, `"n":"9"`)}, []string{"9"}},
		{"min of text only is lexicographic", rule.Aggregate{Func: "min", Field: "n"},
			[][]byte{ev("1.1.1.1", 1, `"n":"b"`), ev("1.1.1.1", 2, `"n":"abc"`), ev("1.1.1.1", 3, `"n":"c"`)}, []string{"abc"}},
		{"max of numbers after text is still the text", rule.Aggregate{Func: "max", Field: "n"},
			[][]byte{ev("1.1.1.1", 1, `"n":"abc"`), ev("1.1.1.1", 2, `"n":100`), ev("1.1.1.1", 3, `"n":9`)}, []string{"abc"}},
		{"min over all values, not the first 100 distinct", rule.Aggregate{Func: "min", Field: "n"}, many, []string{"1"}},
		{"max over all values, not the first 100 distinct", rule.Aggregate{Func: "max", Field: "n"}, many, []string{"150"}},
		{"earliest by event time, not arrival", rule.Aggregate{Func: "earliest", Field: "s"},
			[][]byte{ev("1.1.1.1", 5, `"s":"late"`), ev("1.1.1.1", 1, `"s":"early"`), ev("1.1.1.1", 9, `"s":"last"`)}, []string{"early"}},
		{"latest by event time, not arrival", rule.Aggregate{Func: "latest", Field: "s"},
			[][]byte{ev("1.1.1.1", 5, `"s":"mid"`), ev("1.1.1.1", 9, `"s":"last"`), ev("1.1.1.1", 1, `"s":"early"`)}, []string{"last"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			// Fire on the last event only: count reaches len(events) there.
			r := windowRule(cmp("count", rule.OpGe, strconv.Itoa(len(tt.events))), countOnly, tt.agg)
			e, err := Compile([]*rule.Rule{r}, Options{AllowedLateness: time.Hour})
			if err != nil {
				t.Fatal(err)
			}
			var rows []Row
			for _, body := range tt.events {
				ms, _ := e.Match(body)
				for _, m := range ms {
					rows = append(rows, m.Rows...)
				}
			}
			if len(rows) != 1 {
				t.Fatalf("rows = %+v, want one", rows)
			}
			got := rows[0].Values(tt.agg.OutputName())
			switch tt.name {
			case "values keep at most 100":
				got = []string{strconv.Itoa(len(got))}
			case "values keep the newest value":
				// many sends v150 down to v001: v001 comes last, and sorted it comes first.
				got = got[:1]
			}
			if !reflect.DeepEqual(got, tt.want) {
				t.Errorf("%s = %v, want %v", tt.agg.OutputName(), got, tt.want)
			}
		})
	}
}

func TestWindowTime(t *testing.T) {
	gt5 := cmp("count", rule.OpGt, "5")
	burst := func(ip string, mins ...float64) [][]byte {
		var out [][]byte
		for _, m := range mins {
			out = append(out, ev(ip, m, ""))
		}
		return out
	}
	tests := []struct {
		name     string
		opts     Options
		events   [][]byte
		want     []string
		wantLate uint64
	}{
		{name: "six in ten minutes fire once, on the sixth, with count 6",
			events: burst("a", 0, 2, 4, 6, 8, 10, 11, 12), want: []string{"5:6"}},
		{name: "five do not fire",
			events: burst("a", 0, 10, 20, 30, 40)},
		{name: "a burst across the hour boundary is split and does not fire",
			events: burst("a", 55, 57, 59, 61, 63, 65)},
		{name: "the next window fires again",
			events: append(burst("a", 0, 1, 2, 3, 4, 5), burst("a", 60, 61, 62, 63, 64, 65)...), want: []string{"5:6", "11:6"}},
		{name: "a per-rule window override widens the window",
			opts:   Options{RuleWindows: map[string]time.Duration{"w": 2 * time.Hour}},
			events: burst("a", 55, 57, 59, 61, 63, 65), want: []string{"5:6"}},
		{name: "an override for another rule changes nothing",
			opts:   Options{RuleWindows: map[string]time.Duration{"other": 2 * time.Hour}},
			events: burst("a", 55, 57, 59, 61, 63, 65)},
		{name: "late events within the allowed lateness count in their own window",
			opts:   Options{AllowedLateness: 5 * time.Minute},
			events: burst("a", 50, 51, 52, 61, 53, 54, 55), want: []string{"6:6"}},
		{name: "events later than the allowed lateness are dropped and counted",
			opts:   Options{AllowedLateness: 5 * time.Minute},
			events: burst("a", 50, 51, 52, 66, 53, 54, 55), wantLate: 3},
		{name: "without lateness an event for the previous window is late",
			events: burst("a", 50, 51, 52, 53, 54, 60, 55), wantLate: 1},
		{name: "a late event does not reopen a window that fired",
			opts:   Options{AllowedLateness: 30 * time.Minute},
			events: burst("a", 50, 51, 52, 53, 54, 55, 61, 56), want: []string{"5:6"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			e, err := Compile([]*rule.Rule{windowRule(gt5, countOnly)}, tt.opts)
			if err != nil {
				t.Fatal(err)
			}
			if got := play(t, e, tt.events); !reflect.DeepEqual(got, tt.want) {
				t.Errorf("fired %v, want %v", got, tt.want)
			}
			if st := e.WindowStats(); len(st) != 1 || st[0].Late != tt.wantLate {
				t.Errorf("stats %+v, want %d late", st, tt.wantLate)
			}
		})
	}
}

func TestWindowWhereOverAggregates(t *testing.T) {
	aggs := []rule.Aggregate{countOnly, {Func: "dc", Field: "requestURI", As: "uris"}, {Func: "values", Field: "userAgent", As: "agents"}}
	uri := func(ip string, min float64, u, agent string) []byte {
		return ev(ip, min, fmt.Sprintf(`"requestURI":%q,"userAgent":%q`, u, agent))
	}
	events := [][]byte{
		uri("a", 1, "/x", "curl"), uri("a", 2, "/y", "curl"), uri("a", 3, "/z", "curl"),
		uri("b", 4, "/x", "kubectl"), uri("b", 5, "/x", "kubectl"), uri("b", 6, "/x", "kubectl"), uri("b", 7, "/x", "kubectl"),
	}
	tests := []struct {
		name string
		cond rule.Expr
		want []string
	}{
		{"OR of two aggregates", rule.Or{cmp("count", rule.OpGt, "3"), cmp("uris", rule.OpGe, "3")}, []string{"2:3", "6:4"}},
		{"AND of two aggregates", rule.And{cmp("count", rule.OpGe, "3"), cmp("uris", rule.OpGe, "3")}, []string{"2:3"}},
		{"NOT of a falling comparison", rule.And{cmp("count", rule.OpGe, "2"), rule.Not{X: cmp("uris", rule.OpLt, "2")}}, []string{"1:2"}},
		{"like-style pattern on a values() field", rule.And{cmp("count", rule.OpGe, "3"), eq("agents", "kube*")}, []string{"5:3"}},
		{"isnull on a field the row lacks", rule.And{cmp("count", rule.OpGe, "4"), rule.Not{X: rule.Exists{Field: rule.Field{Name: "nosuch"}}}}, []string{"6:4"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			e, err := Compile([]*rule.Rule{windowRule(tt.cond, aggs...)}, Options{})
			if err != nil {
				t.Fatal(err)
			}
			if got := play(t, e, events); !reflect.DeepEqual(got, tt.want) {
				t.Errorf("fired %v, want %v", got, tt.want)
			}
		})
	}
}

func TestWindowStateIsBoundedAndSwept(t *testing.T) {
	e, err := Compile([]*rule.Rule{windowRule(cmp("count", rule.OpGt, "5"), countOnly)}, Options{MaxKeys: 50, AllowedLateness: 5 * time.Minute})
	if err != nil {
		t.Fatal(err)
	}
	stat := func() WindowStat { return e.WindowStats()[0] }
	for i := 0; i < 80; i++ {
		e.Match(ev(fmt.Sprintf("10.0.0.%d", i), 1, ""))
	}
	if st := stat(); st.Keys != 50 || st.Evicted != 30 {
		t.Fatalf("after 80 keys: %+v, want 50 held and 30 evicted", st)
	}
	// Still inside the lateness of the first window: nothing is freed yet.
	e.Match(ev("10.9.9.9", 62, ""))
	if st := stat(); st.Keys != 50 {
		t.Fatalf("swept before the window closed: %+v", st)
	}
	// The first window has closed: its groups are freed, only the new key's group stays.
	e.Match(ev("10.9.9.8", 66, ""))
	if st := stat(); st.Keys != 2 || st.Evicted != 31 {
		t.Errorf("after the sweep: %+v, want 2 held (the two keys of the second window), 31 evicted", st)
	}
}

// TestWindowFiresOnceUnderConcurrency runs one key's events on many goroutines: the group must fire exactly once.
func TestWindowFiresOnceUnderConcurrency(t *testing.T) {
	e, err := Compile([]*rule.Rule{windowRule(cmp("count", rule.OpGt, "5"), countOnly)}, Options{})
	if err != nil {
		t.Fatal(err)
	}
	var mu sync.Mutex
	fired := 0
	var wg sync.WaitGroup
	for g := 0; g < 8; g++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := 0; i < 50; i++ {
				ms, _ := e.Match(ev("7.7.7.7", float64(i%50), ""))
				mu.Lock()
				fired += len(ms)
				mu.Unlock()
			}
		}()
	}
	wg.Wait()
	if fired != 1 {
		t.Errorf("fired %d times, want once", fired)
	}
}

func TestRouteKey(t *testing.T) {
	byIP := windowRule(cmp("count", rule.OpGt, "5"), countOnly)
	byUserIP := &rule.Rule{ID: "u", Name: "u", Filter: eq("verb", "list"), Pipeline: []rule.Stage{
		rule.IPLocation{Field: "sourceIPs{}"},
		rule.Stats{Aggs: []rule.Aggregate{countOnly}, By: []string{"user.username", "Country", "sourceIPs{}"}},
		rule.Where{Cond: cmp("count", rule.OpGt, "5")},
	}}
	byUser := &rule.Rule{ID: "v", Name: "v", Filter: eq("verb", "list"), Pipeline: []rule.Stage{
		rule.Stats{Aggs: []rule.Aggregate{countOnly}, By: []string{"user.username"}},
		rule.Where{Cond: cmp("count", rule.OpGt, "5")},
	}}
	stateless := &rule.Rule{ID: "s", Name: "s", Filter: eq("verb", "delete")}
	// A group column copied from an event field (ES|QL's, a Sigma correlation's) routes by that field; a computed one
	// cannot be read by an agent.
	byCopy := &rule.Rule{ID: "c", Name: "c", Filter: eq("verb", "list"), Pipeline: []rule.Stage{
		rule.Eval{To: "user.name", Value: rule.FieldValue{Field: rule.Field{Name: "user.username", AnyArray: true}}},
		rule.Eval{To: "shout", Value: rule.Call{Func: "to_upper", Args: []rule.Value{rule.FieldValue{Field: rule.Field{Name: "verb"}}}}},
		rule.Stats{Aggs: []rule.Aggregate{countOnly}, By: []string{"user.name", "shout"}, Windowed: true},
	}}
	byCopyIP := &rule.Rule{ID: "ci", Name: "ci", Filter: eq("verb", "list"), Pipeline: []rule.Stage{
		rule.Eval{To: "source.ip", Value: rule.FieldValue{Field: rule.Field{Name: "sourceIPs", AnyArray: true}}},
		rule.Stats{Aggs: []rule.Aggregate{countOnly}, By: []string{"source.ip"}, Windowed: true},
	}}
	// A copy of a field an eval overwrote reads the eval's value, not the event's field of that name; a copy of a
	// copy reads the field the first copied.
	byOverwritten := &rule.Rule{ID: "o", Name: "o", Filter: eq("verb", "list"), Pipeline: []rule.Stage{
		rule.Eval{To: "verb", Value: rule.FieldValue{Field: rule.Field{Name: "user.username"}}},
		rule.Eval{To: "res", Value: rule.FieldValue{Field: rule.Field{Name: "verb"}}},
		rule.Eval{To: "again", Value: rule.FieldValue{Field: rule.Field{Name: "res"}}},
		rule.Stats{Aggs: []rule.Aggregate{countOnly}, By: []string{"again"}},
		rule.Where{Cond: cmp("count", rule.OpGt, "5")},
	}}
	byComputed := &rule.Rule{ID: "p", Name: "p", Filter: eq("verb", "list"), Pipeline: []rule.Stage{
		rule.Eval{To: "verb", Value: rule.Call{Func: "to_upper", Args: []rule.Value{rule.FieldValue{Field: rule.Field{Name: "verb"}}}}},
		rule.Eval{To: "res", Value: rule.FieldValue{Field: rule.Field{Name: "verb"}}},
		rule.Stats{Aggs: []rule.Aggregate{countOnly}, By: []string{"res", "user.username"}},
		rule.Where{Cond: cmp("count", rule.OpGt, "5")},
	}}
	// A field computed from itself stays computed when copied onto itself; an iplocation output overwrites a copy.
	bySelfCopy := &rule.Rule{ID: "q", Name: "q", Filter: eq("verb", "list"), Pipeline: []rule.Stage{
		rule.Eval{To: "verb", Value: rule.Call{Func: "to_upper", Args: []rule.Value{rule.FieldValue{Field: rule.Field{Name: "verb"}}}}},
		rule.Eval{To: "verb", Value: rule.FieldValue{Field: rule.Field{Name: "verb"}}},
		rule.Stats{Aggs: []rule.Aggregate{countOnly}, By: []string{"verb", "user.username"}},
		rule.Where{Cond: cmp("count", rule.OpGt, "5")},
	}}
	byLocatedCopy := &rule.Rule{ID: "l", Name: "l", Filter: eq("verb", "list"), Pipeline: []rule.Stage{
		rule.Eval{To: "Country", Value: rule.FieldValue{Field: rule.Field{Name: "user.username"}}},
		rule.IPLocation{Field: "sourceIPs{}"},
		rule.Stats{Aggs: []rule.Aggregate{countOnly}, By: []string{"Country", "sourceIPs{}"}},
		rule.Where{Cond: cmp("count", rule.OpGt, "5")},
	}}
	// The last address routes: the one the API server saw, whatever a client puts before it in X-Forwarded-For.
	list := `{"verb":"list","user":{"username":"bob"},"sourceIPs":["10.0.0.1","9.9.9.9"],"responseStatus":{"code":200}}`
	forbiddenList := `{"verb":"list","user":{"username":"bob"},"sourceIPs":["9.9.9.9"],"responseStatus":{"code":403}}`
	tests := []struct {
		name       string
		rules      []*rule.Rule
		body       string
		wantFields string
		wantKey    string
		wantOK     bool
	}{
		{"shared by-field of all windowed rules", []*rule.Rule{byIP, byUserIP, stateless}, list, "sourceIPs{}", "9.9.9.9", true},
		{"the same key for an event of the other rule", []*rule.Rule{byIP, byUserIP, stateless}, forbiddenList, "sourceIPs{}", "9.9.9.9", true},
		{"a by-field written by iplocation is not an event field", []*rule.Rule{byUserIP}, list, "user.username,sourceIPs{}", "bob\x009.9.9.9", true},
		{"no shared field: the matching rule's own by-fields", []*rule.Rule{byIP, byUser}, list, "", "bob", true},
		{"no windowed rule matches", []*rule.Rule{byIP, stateless}, `{"verb":"delete","sourceIPs":["9.9.9.9"]}`, "sourceIPs{}", "", false},
		{"a copied group column is read where it was copied from", []*rule.Rule{byCopy, byUser}, list, "user.username", "bob", true},
		{"sourceIPs{} and a copy of sourceIPs read one field", []*rule.Rule{byIP, byCopyIP}, list, "sourceIPs{}", "9.9.9.9", true},
		{"a copy of an overwritten field reads what overwrote it", []*rule.Rule{byOverwritten}, list, "user.username", "bob", true},
		{"a copy of a computed field is computed", []*rule.Rule{byComputed}, list, "user.username", "bob", true},
		{"a computed field copied onto itself stays computed", []*rule.Rule{bySelfCopy}, list, "user.username", "bob", true},
		{"iplocation overwrites a copy", []*rule.Rule{byLocatedCopy}, list, "sourceIPs{}", "9.9.9.9", true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			e, err := Compile(tt.rules, Options{GeoIP: fakeGeo{}})
			if err != nil {
				t.Fatal(err)
			}
			if got := strings.Join(e.RouteFields(), ","); got != tt.wantFields {
				t.Errorf("route fields %q, want %q", got, tt.wantFields)
			}
			key, ok, err := e.RouteKey([]byte(tt.body))
			if err != nil || ok != tt.wantOK || key != tt.wantKey {
				t.Errorf("RouteKey = %q %v %v, want %q %v", key, ok, err, tt.wantKey, tt.wantOK)
			}
		})
	}
	e, _ := Compile([]*rule.Rule{byIP}, Options{})
	if _, _, err := e.RouteKey([]byte("not json")); err == nil {
		t.Error("RouteKey accepted a body that is not JSON")
	}
}

// TestWindowWhereFromSPL compiles real SPL `where` clauses over windowed aggregates, so that eval syntax (like(),
// isnull(), isnotnull(), parentheses, NOT, OR) reaches the window as written in a detection.
func TestWindowWhereFromSPL(t *testing.T) {
	uri := func(ip string, min float64, u, agent string) []byte {
		return ev(ip, min, fmt.Sprintf(`"requestURI":%q,"userAgent":%q`, u, agent))
	}
	events := [][]byte{
		uri("a", 1, "/x", "curl/8"), uri("a", 2, "/y", "curl/8"), uri("a", 3, "/z", "curl/8"),
		uri("b", 4, "/x", "kubectl/1.30"), uri("b", 5, "/x", "kubectl/1.30"), uri("b", 6, "/x", "kubectl/1.30"), uri("b", 7, "/x", "kubectl/1.30"),
	}
	const stats = `responseStatus.code=403 | stats count dc(requestURI) as uris values(userAgent) as agents by sourceIPs{} | where `
	tests := []struct {
		where string
		want  []string
	}{
		{`count >= 3 AND like(agents, "kube%")`, []string{"5:3"}},
		{`(count > 3 OR uris >= 3) AND like(agents, "curl%")`, []string{"2:3"}},
		{`NOT uris < 2 AND count >= 2`, []string{"1:2"}},
		{`count >= 2 AND agents IN ("wget", "kubectl/1.30")`, []string{"4:2"}},
		{`count >= 4 AND isnull(nosuch)`, []string{"6:4"}},
		{`count >= 2 AND isnotnull(agents) AND agents="curl/8"`, []string{"1:2"}},
		{`count > 10`, nil},
	}
	for _, tt := range tests {
		t.Run(tt.where, func(t *testing.T) {
			filter, pipeline, err := spl.Compile(stats+tt.where, nil)
			if err != nil {
				t.Fatal(err)
			}
			e, err := Compile([]*rule.Rule{{ID: "w", Name: "w", Filter: filter, Pipeline: pipeline}}, Options{})
			if err != nil {
				t.Fatal(err)
			}
			if got := play(t, e, events); !reflect.DeepEqual(got, tt.want) {
				t.Errorf("fired %v, want %v", got, tt.want)
			}
		})
	}
}

// TestWindowRefusesConditionsThatFall: a window answers when its condition first holds, Splunk at the end of the
// window. A condition that can stop holding as the window fills would report counts Splunk never does (`count=3` on
// the 3rd of 4 events, `count<2` on every group's first event): such a window answers when it closes
// (TestWindowAnswersAtClose), and where that is refused (enrich mode), the rule fails to load, naming the term.
func TestWindowRefusesConditionsThatFall(t *testing.T) {
	const stats = `responseStatus.code=403 | stats count dc(requestURI) as uris values(userAgent) as agents max(n) as hi by sourceIPs{} | `
	tests := []struct{ tail, want string }{
		{`where count=3`, "where `count=3` would fire when the count reaches 3, though more events may come"},
		{`where count<2`, "where `count<2` would fire on the first event of every group"},
		{`where count > 5 OR count <= 2`, "where `count<=2` would fire on the first event of every group"},
		{`where NOT count > 5`, "where `count<=5` would fire on the first event of every group"},
		{`where uris != 3`, "where `uris!=3` can hold and then stop holding"},
		{`where count > 5 AND NOT like(agents, "kube%")`, "where `agents!=kube*` can hold and then stop holding"},
		{`where count > 5 AND isnull(agents)`, "where `isnull(agents)` can hold early in the window and stop holding"},
		{`where hi > 5`, "where `hi>5` can hold and then stop holding"},
		{`where count > "abc"`, "where `count>abc` can hold and then stop holding"},
		{`rename count as n | where n < 3`, "where `n<3` would fire on the first event of every group"},
		{`search count<3`, "search `count<3` would fire on the first event of every group"},
	}
	for _, tt := range tests {
		t.Run(tt.tail, func(t *testing.T) {
			filter, pipeline, err := spl.Compile(stats+tt.tail, nil)
			if err != nil {
				t.Fatal(err)
			}
			r := &rule.Rule{ID: "w", Name: "w", Filter: filter, Pipeline: pipeline}
			_, err = Compile([]*rule.Rule{r}, Options{NoCloseResults: true})
			if err == nil || !strings.Contains(err.Error(), tt.want) || !strings.Contains(err.Error(), `rule "w"`) {
				t.Errorf("err = %v\nwant one naming the rule and saying %q", err, tt.want)
			}
			e, err := Compile([]*rule.Rule{r}, Options{})
			if err != nil || !e.rules[0].window.atClose {
				t.Errorf("answered at close: %v", err)
			}
		})
	}
	// Rising conditions, and conditions on the by-fields, load.
	for _, tail := range []string{`where count > 5 AND (uris > 2 OR count >= 100)`, `where count > 5 AND 'sourceIPs{}'!="10.0.0.1"`,
		`where isnotnull(hi) AND agents="curl*"`, `search count>=3 NOT sourceIPs{}=10.*`, `rename count as n | where NOT n <= 5`} {
		filter, pipeline, err := spl.Compile(stats+tail, nil)
		if err != nil {
			t.Fatal(err)
		}
		e, err := Compile([]*rule.Rule{{ID: "w", Name: "w", Filter: filter, Pipeline: pipeline}}, Options{NoCloseResults: true})
		if err != nil || e.rules[0].window.atClose {
			t.Errorf("%s: %v (answered at close: must answer when it first holds)", tail, err)
		}
	}
}

// TestWindowDCIsExactUpToItsThreshold: dc() keeps as many distinct values as the number its rule compares it with
// needs (past the 100 values() keeps), so `where n > 100` fires on the 101st distinct value, as Splunk's exact dc.
func TestWindowDCIsExactUpToItsThreshold(t *testing.T) {
	var events [][]byte
	for i := 0; i < 160; i++ {
		events = append(events, ev("1.1.1.1", 1+float64(i)/200, fmt.Sprintf(`"u":["u%03d"]`, i)))
	}
	// 80 distinct values, each twice: past the first 64 they are found through an index, and repeats still count once.
	var cycled [][]byte
	for i := 0; i < 160; i++ {
		cycled = append(cycled, ev("1.1.1.1", 1+float64(i)/200, fmt.Sprintf(`"u":["u%03d"]`, i%80)))
	}
	// One event with many values counts each.
	many := make([]string, 160)
	for i := range many {
		many[i] = fmt.Sprintf("%q", fmt.Sprintf("v%03d", i))
	}
	tests := []struct {
		tail   string
		events [][]byte
		want   []string // "event index:n"
	}{
		{`where n > 100`, events, []string{"100:101"}},
		{`where n >= 150`, events, []string{"149:150"}},
		{`where n > 99.5`, events, []string{"99:100"}},
		{`rename n as users | where users > 120`, events, []string{"120:121"}},
		{`where n > 100`, [][]byte{ev("1.1.1.1", 1, `"u":[`+strings.Join(many, ",")+`]`)}, []string{"0:101"}},
		{`where n > 200`, events, nil},
		{`where n > 79`, cycled, []string{"79:80"}},
		{`where n > 80`, cycled, nil},
	}
	for _, tt := range tests {
		t.Run(tt.tail, func(t *testing.T) {
			filter, pipeline, err := spl.Compile(`responseStatus.code=403 | stats dc(u{}) as n by sourceIPs{} | `+tt.tail, nil)
			if err != nil {
				t.Fatal(err)
			}
			e, err := Compile([]*rule.Rule{{ID: "w", Name: "w", Filter: filter, Pipeline: pipeline}}, Options{})
			if err != nil {
				t.Fatal(err)
			}
			var fired []string
			for i, body := range tt.events {
				ms, err := e.Match(body)
				if err != nil {
					t.Fatal(err)
				}
				for _, m := range ms {
					for _, r := range m.Rows {
						n := r.Values("n")
						if n == nil {
							n = r.Values("users")
						}
						fired = append(fired, fmt.Sprintf("%d:%s", i, strings.Join(n, ",")))
					}
				}
			}
			if !reflect.DeepEqual(fired, tt.want) {
				t.Errorf("fired %v, want %v", fired, tt.want)
			}
		})
	}
	// Past the ceiling the rule does not load, naming the threshold.
	filter, pipeline, err := spl.Compile(`* | stats dc(u) as n by ip | where n > 10000`, nil)
	if err != nil {
		t.Fatal(err)
	}
	_, err = Compile([]*rule.Rule{{ID: "w", Name: "w", Filter: filter, Pipeline: pipeline}}, Options{})
	if err == nil || !strings.Contains(err.Error(), "`n>10000` compares dc(u) with 10000") {
		t.Errorf("err = %v, want a refusal naming the threshold", err)
	}
	filter, pipeline, _ = spl.Compile(`* | stats dc(u) as n by ip | where n > 9999`, nil)
	if _, err := Compile([]*rule.Rule{{ID: "w", Name: "w", Filter: filter, Pipeline: pipeline}}, Options{}); err != nil {
		t.Errorf("a threshold below the ceiling: %v", err)
	}
	// A dc() compared with a large number beside one kept at the default loads: only the raised ones count.
	filter, pipeline, _ = spl.Compile(`* | stats dc(u) as n dc(v) as m by ip | where n > 9950`, nil)
	if _, err := Compile([]*rule.Rule{{ID: "w", Name: "w", Filter: filter, Pipeline: pipeline}}, Options{}); err != nil {
		t.Errorf("one raised dc() beside a default one: %v", err)
	}
	// Nor do dc() that would keep more than the ceiling between them: memory per group stays bounded.
	filter, pipeline, _ = spl.Compile(`* | stats dc(u) as a dc(v) as b by ip | where a > 6000 AND b > 6000`, nil)
	_, err = Compile([]*rule.Rule{{ID: "w", Name: "w", Filter: filter, Pipeline: pipeline}}, Options{})
	if err == nil || !strings.Contains(err.Error(), "would keep 12002 distinct values per group between them (dc(u) 6001, dc(v) 6001)") {
		t.Errorf("err = %v, want a refusal naming the total", err)
	}
}

// TestWindowHugeThresholds: a number past float64's range is still a number: `count > 1e400` is a threshold that
// grows (accepted; it never fires), and `dc > 1e400` is refused for its size, not as a condition that can stop
// holding.
func TestWindowHugeThresholds(t *testing.T) {
	compile := func(search string) error {
		filter, pipeline, err := spl.Compile(search, nil)
		if err != nil {
			t.Fatal(err)
		}
		_, err = Compile([]*rule.Rule{{ID: "w", Name: "w", Filter: filter, Pipeline: pipeline}}, Options{})
		return err
	}
	if err := compile(`* | stats count by ip | where count > 1e400`); err != nil {
		t.Errorf("count > 1e400: %v", err)
	}
	if err := compile(`* | stats dc(u) as n by ip | where n > 1e400`); err == nil || !strings.Contains(err.Error(), "compares dc(u) with 1e400") {
		t.Errorf("dc > 1e400: err = %v, want a refusal for its size", err)
	}
}

// TestWindowAnswersAtClose: a window whose condition can stop holding answers each group once, when the window
// closes, with its final counts, as a scheduled search over the window does: `count < 3` reports the groups that
// ended with fewer than 3 events, `count = 3` those that ended with exactly 3.
func TestWindowAnswersAtClose(t *testing.T) {
	for _, tc := range []struct {
		cond rule.Expr
		want []string
	}{
		{cmp("count", rule.OpLt, "3"), []string{"10.0.0.1:2"}},
		{cmp("count", rule.OpEq, "3"), []string{"10.0.0.3:3"}},
	} {
		r := windowRule(tc.cond, countOnly)
		e, err := Compile([]*rule.Rule{r}, Options{Window: 10 * time.Minute, AllowedLateness: time.Minute})
		if err != nil {
			t.Fatal(err)
		}
		var events [][]byte
		for ip, n := range map[string]int{"10.0.0.1": 2, "10.0.0.3": 3, "10.0.0.4": 4} {
			for i := 0; i < n; i++ {
				events = append(events, ev(ip, float64(i), ""))
			}
		}
		// Nothing answers while the window is open, whatever the counts.
		if got := play(t, e, events); len(got) != 0 {
			t.Fatalf("answered per event: %v", got)
		}
		if got := e.TakeClosed(); len(got) != 0 {
			t.Fatalf("answered before the window closed: %v", got)
		}
		// An event of the next window within the lateness does not close it; past it, the window closes.
		play(t, e, [][]byte{ev("10.0.0.9", 10.5, "")})
		if got := e.TakeClosed(); len(got) != 0 {
			t.Fatalf("answered within the lateness: %v", got)
		}
		play(t, e, [][]byte{ev("10.0.0.9", 11.5, "")})
		var got []string
		for _, c := range e.TakeClosed() {
			got = append(got, strings.Join(c.Row.Values("sourceIPs{}"), ",")+":"+strings.Join(c.Row.Values("count"), ","))
			if !c.Time.Equal(w0.Add(10 * time.Minute)) {
				t.Errorf("answer at %s, want the window's end", c.Time)
			}
		}
		if !slices.Equal(got, tc.want) {
			t.Errorf("%v: closed %v, want %v", tc.cond, got, tc.want)
		}
		if again := e.TakeClosed(); len(again) != 0 {
			t.Errorf("answered twice: %v", again)
		}
		// The next window's group (two events) answers at the end of the input (the tools' CloseAll), if it is one.
		rest := e.CloseAll()
		if wantRest := tc.cond.(rule.Compare).Op == rule.OpLt; len(rest) != map[bool]int{true: 1}[wantRest] {
			t.Errorf("at the end of the input: %+v", rest)
		}
	}
}

// A window answered at its close closes with the stream's time, not only with its own rule's next event.
func TestWindowClosesWithOtherRulesEvents(t *testing.T) {
	closing := windowRule(cmp("count", rule.OpLt, "5"), countOnly)
	other := newTermsRule(time.Hour) // reads the time of every secret read
	e, err := Compile([]*rule.Rule{closing, other}, Options{Window: 10 * time.Minute})
	if err != nil {
		t.Fatal(err)
	}
	play(t, e, [][]byte{ev("10.0.0.1", 1, "")})
	secretRead := fmt.Sprintf(`{"verb":"get","user":{"username":"alice"},"sourceIPs":["10.0.0.2"],"objectRef":{"resource":"secrets"},"responseStatus":{"code":200},"stageTimestamp":%q}`,
		w0.Add(11*time.Minute).Format(time.RFC3339Nano)) // the other rule's event, at 10:11
	if _, err := e.Match([]byte(secretRead)); err != nil {
		t.Fatal(err)
	}
	if got := e.TakeClosed(); len(got) != 1 || got[0].Rule.ID != "w" {
		t.Errorf("closed %+v, want the 10:00 window of w", got)
	}
}

// A window answered at its close closes with the time of an event no rule reads, when the Evaluator is told to read
// it (the processor does for the last record of a batch); an Evaluator not told so leaves the clock alone, and an
// event without a timestamp moves nothing.
func TestWindowClosesWithAnEventNoRuleReads(t *testing.T) {
	e, err := Compile([]*rule.Rule{windowRule(cmp("count", rule.OpLt, "5"), countOnly)}, Options{Window: 10 * time.Minute})
	if err != nil {
		t.Fatal(err)
	}
	play(t, e, [][]byte{ev("10.0.0.1", 1, "")})
	leaseGet := func(min float64) []byte {
		return fmt.Appendf(nil, `{"verb":"get","objectRef":{"resource":"leases"},"stageTimestamp":%q}`,
			w0.Add(time.Duration(min*float64(time.Minute))).Format(time.RFC3339Nano))
	}
	ev := e.Evaluator()
	defer ev.Close()
	if _, err := ev.Evaluate(leaseGet(20)); err != nil {
		t.Fatal(err)
	}
	if got := e.TakeClosed(); len(got) != 0 {
		t.Fatalf("an event read without MoveClock closed %+v", got)
	}
	ev.MoveClock(true)
	if _, err := ev.Evaluate([]byte(`{"verb":"get","objectRef":{"resource":"leases"}}`)); err != nil {
		t.Fatal(err)
	}
	if got := e.TakeClosed(); len(got) != 0 || !e.Clock().Equal(w0.Add(time.Minute)) {
		t.Fatalf("an event without a timestamp closed %+v, clock %s", got, e.Clock())
	}
	if _, err := ev.Evaluate(leaseGet(20)); err != nil {
		t.Fatal(err)
	}
	if got := e.TakeClosed(); len(got) != 1 || got[0].Rule.ID != "w" {
		t.Errorf("closed %+v, want the 10:00 window of w", got)
	}
}

// AdvanceClock moves the clock of windows answered at their close as an event's time would (the processor's idle
// advance); it never moves it back.
func TestAdvanceClock(t *testing.T) {
	e, err := Compile([]*rule.Rule{windowRule(cmp("count", rule.OpLt, "5"), countOnly)}, Options{Window: 10 * time.Minute, AllowedLateness: 5 * time.Minute})
	if err != nil {
		t.Fatal(err)
	}
	play(t, e, [][]byte{ev("10.0.0.1", 1, "")})
	e.AdvanceClock(w0.Add(14 * time.Minute)) // within the lateness
	if got := e.TakeClosed(); len(got) != 0 {
		t.Fatalf("closed within the lateness: %+v", got)
	}
	e.AdvanceClock(w0.Add(16 * time.Minute))
	e.AdvanceClock(w0.Add(2 * time.Minute))
	if got := e.TakeClosed(); len(got) != 1 || !e.Clock().Equal(w0.Add(16*time.Minute)) {
		t.Errorf("closed %+v, clock %s", got, e.Clock())
	}
}

// The clock is kept without a rule answered at its window's close only when the caller asks for it (KeepClock: the
// processor moves its throttles with it): then a stateful rule's events, an event read with MoveClock and
// AdvanceClock move it as they move the clock of such windows.
func TestKeepClock(t *testing.T) {
	growing := windowRule(cmp("count", rule.OpGt, "5"), countOnly) // answered when it first holds
	lease := fmt.Appendf(nil, `{"verb":"get","objectRef":{"resource":"leases"},"stageTimestamp":%q}`,
		w0.Add(3*time.Minute).Format(time.RFC3339Nano))
	for _, keep := range []bool{false, true} {
		e, err := Compile([]*rule.Rule{growing}, Options{Window: 10 * time.Minute, KeepClock: keep})
		if err != nil {
			t.Fatal(err)
		}
		want := func(at time.Time) time.Time {
			if keep {
				return at
			}
			return time.Time{}
		}
		play(t, e, [][]byte{ev("10.0.0.1", 1, "")})
		if got := e.Clock(); !got.Equal(want(w0.Add(time.Minute))) {
			t.Errorf("keep %v: after the rule's event, clock %s", keep, got)
		}
		ev := e.Evaluator()
		ev.MoveClock(true)
		if _, err := ev.Evaluate(lease); err != nil {
			t.Fatal(err)
		}
		ev.Close()
		if got := e.Clock(); !got.Equal(want(w0.Add(3 * time.Minute))) {
			t.Errorf("keep %v: after the last record, clock %s", keep, got)
		}
		e.AdvanceClock(w0.Add(7 * time.Minute))
		if got := e.Clock(); !got.Equal(want(w0.Add(7 * time.Minute))) {
			t.Errorf("keep %v: advanced, clock %s", keep, got)
		}
	}
}

// TestWindowSum: sum adds the values that are numbers (Splunk's and ES|QL's), per event and over a window; a
// condition on it can go either way (values may be negative), so the window answers at its close, with the sum kept
// across a restart.
func TestWindowSum(t *testing.T) {
	r := windowRule(cmp("total", rule.OpGt, "10"), rule.Aggregate{Func: "sum", Field: "n{}", As: "total"})
	compile := func() *Engine {
		e, err := Compile([]*rule.Rule{r}, Options{Window: 10 * time.Minute})
		if err != nil {
			t.Fatal(err)
		}
		return e
	}
	e := compile()
	play(t, e, [][]byte{ev("10.0.0.1", 1, `"auditID":"a","n":[3]`), ev("10.0.0.1", 2, `"auditID":"b","n":["x"]`),
		ev("10.0.0.2", 2, `"auditID":"c","n":[-4]`)})
	var saved bytes.Buffer
	if err := e.SaveState(&saved); err != nil {
		t.Fatal(err)
	}
	e = compile()
	if _, _, err := e.RestoreState(&saved); err != nil {
		t.Fatal(err)
	}
	play(t, e, [][]byte{ev("10.0.0.1", 3, `"auditID":"d","n":[4,5.5]`), ev("10.0.0.2", 3, `"auditID":"e","n":[20]`)})
	var got []string
	for _, c := range e.CloseAll() {
		got = append(got, strings.Join(c.Row.Values("sourceIPs{}"), "")+"="+strings.Join(c.Row.Values("total"), ""))
	}
	slices.Sort(got)
	if !slices.Equal(got, []string{"10.0.0.1=12.5", "10.0.0.2=16"}) {
		t.Errorf("closed %q", got)
	}
	// Per event, the sum of one event's values; none when none is a number.
	per := &rule.Rule{ID: "p", Name: "p", Filter: eq("responseStatus.code", "403"),
		Pipeline: []rule.Stage{rule.Stats{Aggs: []rule.Aggregate{{Func: "sum", Field: "n{}", As: "total"}}, By: []string{"sourceIPs{}"}}}}
	pe, err := Compile([]*rule.Rule{per}, Options{})
	if err != nil {
		t.Fatal(err)
	}
	for body, want := range map[string]string{`"n":[1,2]`: "3", `"n":["x"]`: ""} {
		ms, err := pe.Match(ev("10.0.0.1", 1, body))
		if err != nil || len(ms) != 1 {
			t.Fatalf("%s: %v %v", body, ms, err)
		}
		if got := strings.Join(ms[0].Rows[0].Values("total"), ""); got != want {
			t.Errorf("%s: total %q, want %q", body, got, want)
		}
	}
}

// An event stamped far in the future moves the newest event time, by which windows answered at their close close,
// no further than a watermark goes: the wall clock plus MaxFutureSkew, as of the next TakeClosed, and not later on.
func TestNewestTimeOfAFutureEvent(t *testing.T) {
	e, err := Compile([]*rule.Rule{windowRule(cmp("count", rule.OpLt, "5"), countOnly), newTermsRule(time.Hour)}, Options{})
	if err != nil {
		t.Fatal(err)
	}
	forged := `{"verb":"get","user":{"username":"x"},"sourceIPs":["10.0.0.9"],"objectRef":{"resource":"secrets"},"stageTimestamp":"2100-01-01T00:00:00Z"}`
	if _, err := e.Match([]byte(forged)); err != nil {
		t.Fatal(err)
	}
	e.TakeClosed()
	limit := time.Now().Add(window.MaxFutureSkew)
	if got := time.Unix(0, e.newest.Load()); got.After(limit) {
		t.Errorf("newest event time %s, past the wall clock's limit %s", got, limit)
	}
}

// A window answered at its close refuses a condition that reads dc() or values() other than by comparing it with a
// number: they keep only the values those numbers need (dc stops counting at 100 unless compared with more).
func TestWindowAtCloseRefusesInexactDC(t *testing.T) {
	const stats = `responseStatus.code=403 | stats count dc(requestURI) as uris by sourceIPs{} | `
	for tail, refused := range map[string]bool{
		`eval n=uris | where n<150`:        true,
		`eval n=uris, m=n | where m>150`:   true,
		`where uris = count`:               true,
		`where uris < 150`:                 false,
		`eval n=count | where n<150`:       false,
		`eval n=uris, n=count | where n<5`: false,
	} {
		filter, pipeline, err := spl.Compile(stats+tail, nil)
		if err != nil {
			t.Fatal(err)
		}
		_, err = Compile([]*rule.Rule{{ID: "w", Name: "w", Filter: filter, Pipeline: pipeline}}, Options{})
		if got := err != nil && strings.Contains(err.Error(), "other than by comparing it with a number"); got != refused {
			t.Errorf("%s: %v, want refused %v", tail, err, refused)
		}
	}
}

// A group evicted to respect max_keys answers nothing for the window it was evicted in, even if it comes back: its
// counts would be those of its return only.
func TestWindowAtCloseEvictedGroup(t *testing.T) {
	e, err := Compile([]*rule.Rule{windowRule(cmp("count", rule.OpLt, "3"), countOnly)}, Options{Window: 10 * time.Minute, MaxKeys: 2})
	if err != nil {
		t.Fatal(err)
	}
	var events [][]byte
	for i := 0; i < 6; i++ {
		events = append(events, ev("10.0.0.1", float64(i)/10, ""))
	}
	events = append(events, ev("10.0.0.2", 1, ""), ev("10.0.0.3", 2, ""), ev("10.0.0.1", 3, ""))
	play(t, e, events)
	var got []string
	for _, c := range e.CloseAll() {
		got = append(got, strings.Join(c.Row.Values("sourceIPs{}"), "")+":"+strings.Join(c.Row.Values("count"), ""))
	}
	slices.Sort(got)
	if !slices.Equal(got, []string{"10.0.0.3:1"}) {
		t.Errorf("answered %q, want only 10.0.0.3 (10.0.0.1 was evicted in the window, 10.0.0.2 by its return)", got)
	}
}

// A window keeps copies of the values it holds, never views of an event's bytes: a collector reuses the buffers
// records arrive in.
func TestWindowKeepsCopiesOfValues(t *testing.T) {
	aggs := []rule.Aggregate{{Func: "values", Field: "s", As: "vals"}, {Func: "dc", Field: "s", As: "n"},
		{Func: "min", Field: "s", As: "lo"}, {Func: "max", Field: "s", As: "hi"}, {Func: "earliest", Field: "s", As: "first"},
		{Func: "latest", Field: "s", As: "last"}}
	e, err := Compile([]*rule.Rule{windowRule(cmp("count", rule.OpLt, "100"), append(aggs, countOnly)...)}, Options{Window: time.Hour})
	if err != nil {
		t.Fatal(err)
	}
	buf := make([]byte, 0, 512)
	for i, s := range []string{"bravo", "alpha", "delta"} {
		buf = append(buf[:0], ev("10.0.0.1", float64(i), fmt.Sprintf(`"auditID":"a%d","s":%q`, i, s))...)
		if _, err := e.Match(buf); err != nil {
			t.Fatal(err)
		}
		for j := range buf {
			buf[j] = 'X' // the next record overwrites the buffer
		}
	}
	closed := e.CloseAll()
	if len(closed) != 1 {
		t.Fatalf("%d answers", len(closed))
	}
	row := closed[0].Row
	for field, want := range map[string]string{"vals": "alpha,bravo,delta", "n": "3", "lo": "alpha", "hi": "delta", "first": "bravo", "last": "delta"} {
		if got := strings.Join(row.Values(field), ","); got != want {
			t.Errorf("%s = %q, want %q", field, got, want)
		}
	}
}

// Every window that closes answers, however many close at once (a gap in the stream, lateness longer than the
// window: several windows open per group).
func TestWindowManyWindowsCloseAtOnce(t *testing.T) {
	e, err := Compile([]*rule.Rule{windowRule(cmp("count", rule.OpLt, "5"), countOnly)},
		Options{Window: time.Minute, AllowedLateness: 5 * time.Minute, MaxKeys: 2})
	if err != nil {
		t.Fatal(err)
	}
	var events [][]byte
	for min := 0; min < 6; min++ {
		events = append(events, ev("10.0.0.1", float64(min), ""), ev("10.0.0.2", float64(min), ""))
	}
	play(t, e, append(events, ev("10.0.0.3", 30, "")))
	if got := len(e.TakeClosed()); got != 12 {
		t.Errorf("%d answers, want 12 (2 groups x 6 windows)", got)
	}
}

// The memory of evicted groups is saved with the state: after a restart, a group evicted in a window answered at its
// close still answers nothing for that window. Once the window closes, the memory is dropped.
func TestWindowAtCloseEvictedGroupAcrossRestart(t *testing.T) {
	compile := func() *Engine {
		e, err := Compile([]*rule.Rule{windowRule(cmp("count", rule.OpLt, "3"), countOnly)}, Options{Window: 10 * time.Minute, MaxKeys: 2})
		if err != nil {
			t.Fatal(err)
		}
		return e
	}
	before := compile()
	var events [][]byte
	for i := 0; i < 6; i++ {
		events = append(events, ev("10.0.0.1", float64(i)/10, ""))
	}
	play(t, before, append(events, ev("10.0.0.2", 1, ""), ev("10.0.0.3", 2, ""))) // 10.0.0.3 evicts 10.0.0.1
	var saved bytes.Buffer
	if err := before.SaveState(&saved); err != nil {
		t.Fatal(err)
	}
	after := compile()
	if _, _, err := after.RestoreState(&saved); err != nil {
		t.Fatal(err)
	}
	play(t, after, [][]byte{ev("10.0.0.1", 3, "")})
	var got []string
	for _, c := range after.CloseAll() {
		got = append(got, strings.Join(c.Row.Values("sourceIPs{}"), "")+":"+strings.Join(c.Row.Values("count"), ""))
	}
	if !slices.Equal(got, []string{"10.0.0.3:1"}) {
		t.Errorf("answered %q after the restart, want only 10.0.0.3", got)
	}
	if n := after.rules[0].window.lost.Len(); n != 0 {
		t.Errorf("%d evicted groups still remembered after their window closed", n)
	}
}

// A window answered at its close keeps the origin of the last event each group counted (the processor's resource of
// the batch it came in), so that its answer is written where its events came from.
func TestWindowAtCloseKeepsOrigin(t *testing.T) {
	e, err := Compile([]*rule.Rule{windowRule(cmp("count", rule.OpLt, "3"), countOnly)}, Options{Window: 10 * time.Minute})
	if err != nil {
		t.Fatal(err)
	}
	ev1 := e.Evaluator()
	defer ev1.Close()
	for i, tc := range []struct {
		ip     string
		origin uint64
	}{{"10.0.0.1", 7}, {"10.0.0.2", 8}, {"10.0.0.1", 9}, {"10.0.0.3", 0}} {
		ev1.SetOrigin(tc.origin)
		if _, err := ev1.Evaluate(ev(tc.ip, float64(i), "")); err != nil {
			t.Fatal(err)
		}
	}
	// Saved with the state: a restarted engine answers with the same origins.
	var saved bytes.Buffer
	if err := e.SaveState(&saved); err != nil {
		t.Fatal(err)
	}
	restarted, err := Compile([]*rule.Rule{windowRule(cmp("count", rule.OpLt, "3"), countOnly)}, Options{Window: 10 * time.Minute})
	if err != nil {
		t.Fatal(err)
	}
	if _, _, err := restarted.RestoreState(&saved); err != nil {
		t.Fatal(err)
	}
	want := map[string]uint64{"10.0.0.1": 9, "10.0.0.2": 8, "10.0.0.3": 0}
	for name, eng := range map[string]*Engine{"running": e, "restarted": restarted} {
		got := map[string]uint64{}
		for _, c := range eng.CloseAll() {
			got[strings.Join(c.Row.Values("sourceIPs{}"), "")] = c.Origin
		}
		if !reflect.DeepEqual(got, want) {
			t.Errorf("%s: origins %v, want %v", name, got, want)
		}
	}
	// A state taken from the pool again starts without one.
	ev1.Close()
	ev2 := e.Evaluator()
	defer ev2.Close()
	if ev2.st.ctx.origin != 0 {
		t.Errorf("a new Evaluator has origin %d", ev2.st.ctx.origin)
	}
}
