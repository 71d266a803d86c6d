package engine

import (
	"fmt"
	"net/netip"
	"reflect"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/auditdetect/auditdetect/processor/rule"
)

func eq(field, value string) rule.Compare {
	return rule.Compare{Field: rule.Field{Name: field}, Op: rule.OpEq, Value: rule.Pattern{Kind: rule.Glob, Text: value}}
}

func cmp(field string, op rule.Op, value string) rule.Compare {
	return rule.Compare{Field: rule.Field{Name: field}, Op: op, Value: rule.Pattern{Kind: rule.Glob, Text: value}}
}

const podEvent = `{"kind":"Event","auditID":"a-1","verb":"create","user":{"username":"Alice","groups":["dev","ops"]},
"sourceIPs":["10.1.1.1","192.168.0.9"],"userAgent":"kubectl/v1.30","objectRef":{"resource":"pods","namespace":"default","name":"web"},
"responseStatus":{"code":201},"requestObject":{"kind":"Pod","spec":{"hostNetwork":true,"containers":[{"image":"nginx:1.25"}]},
"metadata":{"annotations":{"kubectl.kubernetes.io/last-applied-configuration":"{\"spec\":{\"hostNetwork\":true}}"}}},
"stageTimestamp":"2026-01-02T03:04:05.000000Z"}`

func matches(t *testing.T, filter rule.Expr, body string) bool {
	t.Helper()
	e, err := Compile([]*rule.Rule{{ID: "r", Name: "r", Filter: filter}}, Options{})
	if err != nil {
		t.Fatalf("Compile: %v", err)
	}
	ms, err := e.Match([]byte(body))
	if err != nil {
		t.Fatalf("Match: %v", err)
	}
	return len(ms) == 1
}

func TestFilterSemantics(t *testing.T) {
	tests := []struct {
		name   string
		filter rule.Expr
		want   bool
	}{
		{"equal", eq("verb", "create"), true},
		{"values are case-insensitive", eq("verb", "CREATE"), true},
		{"case-sensitive pattern", rule.Compare{Field: rule.Field{Name: "verb"}, Value: rule.Pattern{Text: "CREATE", CaseSensitive: true}}, false},
		{"field names are case-sensitive", eq("Verb", "create"), false},
		{"prefix wildcard", eq("userAgent", "kubectl*"), true},
		{"suffix wildcard", eq("user.username", "*ICE"), true},
		{"contains wildcard", eq("requestObject.metadata.annotations.kubectl.kubernetes.io/last-applied-configuration", `*"hostNetwork":true*`), true},
		{"general glob", eq("userAgent", "kub*/v1.*0"), true},
		{"? is one character", rule.Compare{Field: rule.Field{Name: "verb"}, Value: rule.Pattern{Text: "creat?"}}, true},
		{"escaped star is literal", eq("verb", `creat\*`), false},
		{"glob must cover the whole value", eq("verb", "creat"), false},
		{"multi-value: any value matches", eq("sourceIPs{}", "192.168.*"), true},
		{"multi-value: no value matches", eq("sourceIPs{}", "172.*"), false},
		{"number compared as text", eq("responseStatus.code", "201"), true},
		{"greater than numeric", cmp("responseStatus.code", rule.OpGt, "200"), true},
		{"numeric not lexicographic", cmp("responseStatus.code", rule.OpLt, "1000"), true},
		{"less-or-equal false", cmp("responseStatus.code", rule.OpLe, "200"), false},
		{"!= on a different value", cmp("verb", rule.OpNe, "delete"), true},
		{"!= on the same value", cmp("verb", rule.OpNe, "create"), false},
		{"!= on a missing field is false", cmp("objectRef.subresource", rule.OpNe, "exec"), false},
		{"NOT on a missing field is true", rule.Not{X: eq("objectRef.subresource", "exec")}, true},
		{"!= multi-value: one value matching makes it false", cmp("user.groups{}", rule.OpNe, "ops"), false},
		{"exists", rule.Exists{Field: rule.Field{Name: "requestObject.spec.hostNetwork"}}, true},
		{"exists missing", rule.Exists{Field: rule.Field{Name: "requestObject.spec.hostPID"}}, false},
		{"and", rule.And{eq("verb", "create"), eq("objectRef.resource", "pods")}, true},
		{"and false", rule.And{eq("verb", "create"), eq("objectRef.resource", "secrets")}, false},
		{"or", rule.Or{eq("verb", "update"), eq("verb", "create")}, true},
		{"empty or matches nothing", rule.Or{}, false},
		{"anyArray path", rule.Compare{Field: rule.Field{Name: "requestObject.spec.containers.image", AnyArray: true}, Value: rule.Pattern{Text: "nginx*"}}, true},
		{"regex", rule.Compare{Field: rule.Field{Name: "userAgent"}, Value: rule.Pattern{Kind: rule.Regex, Text: `^KUBECTL/v1\.\d+$`}}, true},
		{"cidr", rule.Compare{Field: rule.Field{Name: "sourceIPs{}"}, Value: rule.Pattern{Kind: rule.CIDR, Text: "192.168.0.0/16"}}, true},
		{"cidr miss", rule.Compare{Field: rule.Field{Name: "sourceIPs{}"}, Value: rule.Pattern{Kind: rule.CIDR, Text: "172.16.0.0/12"}}, false},
		{"fieldref", rule.FieldEquals{A: rule.Field{Name: "objectRef.namespace"}, B: rule.Field{Name: "user.username"}}, false},
		{"nil filter matches", nil, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := matches(t, tt.filter, podEvent); got != tt.want {
				t.Errorf("match = %v, want %v", got, tt.want)
			}
		})
	}
}

func TestGlobMatch(t *testing.T) {
	tests := []struct {
		pattern, value string
		want           bool
	}{
		{"a*b*c", "abc", true}, {"a*b*c", "aXbYc", true}, {"a*b*c", "acb", false},
		{"*a*a*a*a*b", strings.Repeat("a", 5000), false}, // linear backtracking, not exponential
		{"?", "é", true}, {"??", "é", false}, {"*", "", true}, {"", "", true}, {"", "x", false},
		{`\?`, "?", true}, {`\?`, "x", false},
	}
	for _, tt := range tests {
		m := compileGlob(tt.pattern, true)
		if got := m.match(&evalCtx{}, []byte(tt.value)); got != tt.want {
			t.Errorf("glob %q on %.20q = %v, want %v", tt.pattern, tt.value, got, tt.want)
		}
	}
}

func TestRequiredOps(t *testing.T) {
	tests := []struct {
		name   string
		filter rule.Expr
		want   string
	}{
		{"resource and verb", rule.And{eq("objectRef.resource", "services"), eq("verb", "create")}, "create-services"},
		{"verb alternatives", rule.And{eq("objectRef.resource", "pods"), rule.Or{eq("verb", "create"), eq("verb", "update")}}, "create-pods update-pods"},
		{"resource only is the any-verb bucket", eq("objectRef.resource", "Secrets"), "any-secrets"},
		{"nothing known", eq("user.username", "bob"), "any-any"},
		{"wildcards widen", eq("objectRef.resource", "pod*"), "any-any"},
		{"NOT widens", rule.Not{X: eq("verb", "get")}, "any-any"},
		{"contradiction is empty", rule.And{eq("verb", "get"), eq("verb", "list")}, ""},
		{"or with an unconstrained branch", rule.Or{eq("verb", "get"), eq("user.username", "x")}, "any-any"},
	}
	for _, tt := range tests {
		var names []string
		for _, o := range requiredOps(tt.filter) {
			names = append(names, o.String())
		}
		if got := strings.Join(names, " "); got != tt.want {
			t.Errorf("%s: ops = %q, want %q", tt.name, got, tt.want)
		}
	}
}

// TestIndexAgreesWithBruteForce checks that dispatch by operation never changes an answer: every rule is run on
// every event with and without the index.
func TestIndexAgreesWithBruteForce(t *testing.T) {
	rules := []*rule.Rule{
		{ID: "1", Filter: rule.And{eq("objectRef.resource", "pods"), eq("verb", "create")}},
		{ID: "2", Filter: eq("objectRef.resource", "secrets")},
		{ID: "3", Filter: eq("verb", "delete")},
		{ID: "4", Filter: eq("user.username", "system:anonymous")},
		{ID: "5", Filter: rule.And{eq("objectRef.resource", "PODS"), rule.Or{eq("verb", "update"), eq("verb", "patch")}}},
	}
	e, err := Compile(rules, Options{})
	if err != nil {
		t.Fatal(err)
	}
	var bodies []string
	for _, res := range []string{"pods", "secrets", "Pods", "nodes", ""} {
		for _, verb := range []string{"create", "delete", "update", "PATCH", "get", ""} {
			for _, user := range []string{"system:anonymous", "bob"} {
				bodies = append(bodies, fmt.Sprintf(`{"verb":%q,"objectRef":{"resource":%q},"user":{"username":%q}}`, verb, res, user))
			}
		}
	}
	for _, body := range bodies {
		ms, _ := e.Match([]byte(body))
		var got []string
		for _, m := range ms {
			got = append(got, m.Rule.ID)
		}
		var want []string
		for _, r := range rules {
			if matches(t, r.Filter, body) {
				want = append(want, r.ID)
			}
		}
		if strings.Join(got, ",") != strings.Join(want, ",") {
			t.Errorf("%s: indexed %v, brute force %v", body, got, want)
		}
	}
}

// TestCandidates checks what Evaluator.Candidates reports against the rules' operations: a rule keyed on a resource
// and verbs is a candidate for exactly those (folded), one on a verb alone for that verb on any resource, one on
// neither for every event; and every rule that matches was a candidate.
func TestCandidates(t *testing.T) {
	rules := []*rule.Rule{
		{ID: "pods-create", Filter: rule.And{eq("objectRef.resource", "pods"), eq("verb", "create")}},
		{ID: "secrets", Filter: eq("objectRef.resource", "secrets")},
		{ID: "delete", Filter: eq("verb", "delete")},
		{ID: "every", Filter: eq("user.username", "system:anonymous")},
	}
	e, err := Compile(rules, Options{})
	if err != nil {
		t.Fatal(err)
	}
	ev := e.Evaluator()
	defer ev.Close()
	for _, tc := range []struct{ resource, verb, want string }{
		{"pods", "create", "pods-create,every"},
		{"PODS", "Create", "pods-create,every"},
		{"pods", "delete", "delete,every"},
		{"secrets", "get", "secrets,every"},
		{"secrets", "delete", "secrets,delete,every"},
		{"nodes", "patch", "every"},
	} {
		body := fmt.Sprintf(`{"verb":%q,"user":{"username":"system:anonymous"},"objectRef":{"resource":%q}}`, tc.verb, tc.resource)
		var got []string
		if err := ev.Candidates([]byte(body), func(r *rule.Rule) { got = append(got, r.ID) }); err != nil {
			t.Fatal(err)
		}
		if strings.Join(got, ",") != tc.want {
			t.Errorf("%s %s: candidates %v, want %s", tc.verb, tc.resource, got, tc.want)
		}
		res, err := ev.Evaluate([]byte(body))
		if err != nil {
			t.Fatal(err)
		}
		for _, m := range res.Matches {
			if !strings.Contains(","+tc.want+",", ","+m.Rule.ID+",") {
				t.Errorf("%s %s: %s matched but was no candidate", tc.verb, tc.resource, m.Rule.ID)
			}
		}
	}
	// objectRef written with the resource twice (no API server does): candidates for both, each rule once, in order.
	var got []string
	twice := `{"verb":"delete","objectRef":{"resource":"secrets","resource":"pods"}}`
	if err := ev.Candidates([]byte(twice), func(r *rule.Rule) { got = append(got, r.ID) }); err != nil {
		t.Fatal(err)
	}
	if strings.Join(got, ",") != "secrets,delete,every" {
		t.Errorf("two resources: candidates %v, want secrets,delete,every", got)
	}
	if err := ev.Candidates([]byte(`[1]`), func(*rule.Rule) { t.Error("a candidate for a body that is no object") }); err == nil {
		t.Error("Candidates of a body that is no object: no error")
	}
}

// TestVerbDecidesCandidates checks that objectRef is not read when the verb alone decides the candidates (no rule
// names a resource for it), and is read when it does not. The witness is a broken objectRef: read, it is an error.
func TestVerbDecidesCandidates(t *testing.T) {
	rules := []*rule.Rule{
		{ID: "agent", Filter: eq("userAgent", "scanner")},
		{ID: "secrets-delete", Filter: rule.And{eq("objectRef.resource", "secrets"), eq("verb", "delete")}},
	}
	e, err := Compile(rules, Options{})
	if err != nil {
		t.Fatal(err)
	}
	ev := e.Evaluator()
	defer ev.Close()
	for _, tc := range []struct {
		verb, want string
		read       bool
	}{
		{"get", "agent", false},
		{"delete", "agent", true},
	} {
		body := fmt.Sprintf(`{"verb":%q,"userAgent":"kubectl","objectRef":{"resource":tru}}`, tc.verb)
		var got []string
		err := ev.Candidates([]byte(body), func(r *rule.Rule) { got = append(got, r.ID) })
		if read := err != nil; read != tc.read {
			t.Errorf("%s: objectRef read = %v (err %v), want %v", tc.verb, read, err, tc.read)
		}
		if !tc.read && strings.Join(got, ",") != tc.want {
			t.Errorf("%s: candidates %v, want %s", tc.verb, got, tc.want)
		}
	}
	good := `{"verb":"get","userAgent":"scanner","objectRef":{"resource":"secrets"}}`
	if ms, err := e.Match([]byte(good)); err != nil || len(ms) != 1 || ms[0].Rule.ID != "agent" {
		t.Errorf("get by scanner: matches %v, err %v; want agent", ms, err)
	}
}

func nodePortLikeRule() *rule.Rule {
	return &rule.Rule{
		ID: "np", Name: "pods",
		Filter: rule.And{eq("objectRef.resource", "pods"), eq("verb", "create")},
		Pipeline: []rule.Stage{
			rule.FillNull{Value: "0"},
			rule.Stats{
				Aggs: []rule.Aggregate{{Func: "count"}, {Func: "values", Field: "user.groups{}", As: "user_groups"}},
				By:   []string{"objectRef.name", "sourceIPs{}", "user.username", "objectRef.subresource"},
			},
			rule.Rename{Pairs: []rule.RenamePair{{From: "sourceIPs{}", To: "src_ip"}, {From: "user.username", To: "user"}}},
			rule.Search{Cond: rule.Not{X: eq("user", "admin")}},
		},
		Risk: rule.Risk{Message: "pod $objectRef.name$ by $user$", Objects: []rule.RiskObject{{Field: "user", Type: "user", Score: 20}}},
	}
}

func TestPerEventStats(t *testing.T) {
	e, err := Compile([]*rule.Rule{nodePortLikeRule()}, Options{})
	if err != nil {
		t.Fatal(err)
	}
	ms, err := e.Match([]byte(podEvent))
	if err != nil || len(ms) != 1 {
		t.Fatalf("matches = %v, %v", ms, err)
	}
	rows := ms[0].Rows
	// sourceIPs{} has two values: one row per value.
	if len(rows) != 2 {
		t.Fatalf("rows = %d, want 2: %+v", len(rows), rows)
	}
	want := Row{Fields: []RowField{
		{Name: "objectRef.name", Values: []string{"web"}},
		{Name: "src_ip", Values: []string{"10.1.1.1"}},
		{Name: "user", Values: []string{"Alice"}},
		// fillnull gave the missing by-field Splunk's default "0", so stats kept the row.
		{Name: "objectRef.subresource", Values: []string{"0"}},
		{Name: "count", Values: []string{"1"}, Numeric: true},
		{Name: "user_groups", Values: []string{"dev", "ops"}},
	}}
	if !reflect.DeepEqual(rows[0], want) {
		t.Errorf("row 0 = %+v\nwant    %+v", rows[0], want)
	}
	if got := rows[1].Values("src_ip"); len(got) != 1 || got[0] != "192.168.0.9" {
		t.Errorf("row 1 src_ip = %v", got)
	}

	// The filter macro after rename reads the renamed field.
	admin := strings.Replace(podEvent, `"Alice"`, `"admin"`, 1)
	if ms, _ := e.Match([]byte(admin)); len(ms) != 0 {
		t.Errorf("search NOT user=admin let admin through: %+v", ms)
	}
}

func TestStatsDropsRowsWithoutByField(t *testing.T) {
	r := nodePortLikeRule()
	r.Pipeline = r.Pipeline[1:] // no fillnull
	e, err := Compile([]*rule.Rule{r}, Options{})
	if err != nil {
		t.Fatal(err)
	}
	if ms, _ := e.Match([]byte(podEvent)); len(ms) != 0 {
		t.Errorf("a row missing by-field objectRef.subresource survived stats: %+v", ms)
	}
}

// TestStatsMinMaxMixed: per-event stats order numbers before text, as Splunk's min and max do.
func TestStatsMinMaxMixed(t *testing.T) {
	r := &rule.Rule{ID: "m", Name: "m", Pipeline: []rule.Stage{rule.Stats{
		Aggs: []rule.Aggregate{{Func: "min", Field: "n{}", As: "mn"}, {Func: "max", Field: "n{}", As: "mx"}},
		By:   []string{"k"},
	}}}
	e, err := Compile([]*rule.Rule{r}, Options{})
	if err != nil {
		t.Fatal(err)
	}
	for body, want := range map[string][2]string{
		`{"k":"a","n":["10","9","abc"]}`: {"9", "abc"},
		`{"k":"a","n":["10","9","100"]}`: {"9", "100"},
		`{"k":"a","n":["b","abc","c"]}`:  {"abc", "c"},
	} {
		ms, err := e.Match([]byte(body))
		if err != nil || len(ms) != 1 || len(ms[0].Rows) != 1 {
			t.Fatalf("%s: %+v %v", body, ms, err)
		}
		row := ms[0].Rows[0]
		if got := [2]string{strings.Join(row.Values("mn"), ","), strings.Join(row.Values("mx"), ",")}; got != want {
			t.Errorf("%s: min, max = %q, want %q", body, got, want)
		}
	}
}

func scanRule() *rule.Rule {
	return &rule.Rule{
		ID: "scan", Name: "scan",
		Filter: eq("responseStatus.code", "403"),
		Pipeline: []rule.Stage{
			rule.Stats{Aggs: []rule.Aggregate{{Func: "count"}, {Func: "values", Field: "verb", As: "verbs"}, {Func: "dc", Field: "requestURI"}}, By: []string{"sourceIPs{}"}},
			rule.Where{Cond: cmp("count", rule.OpGt, "5")},
			rule.Rename{Pairs: []rule.RenamePair{{From: "sourceIPs{}", To: "src_ip"}}},
		},
		Risk: rule.Risk{Objects: []rule.RiskObject{{Field: "src_ip", Type: "system", Score: 40}}},
	}
}

func forbidden(ip, verb string, at time.Time, n int) []byte {
	return []byte(fmt.Sprintf(`{"verb":%q,"requestURI":"/api/v1/x%d","sourceIPs":[%q],"responseStatus":{"code":403},"stageTimestamp":%q}`,
		verb, n, ip, at.UTC().Format(time.RFC3339Nano)))
}

func TestWindowedStats(t *testing.T) {
	e, err := Compile([]*rule.Rule{scanRule()}, Options{Window: time.Hour})
	if err != nil {
		t.Fatal(err)
	}
	base := time.Date(2026, 1, 1, 10, 0, 0, 0, time.UTC)
	fired := func(ip string, at time.Time, n int) []Match {
		ms, err := e.Match(forbidden(ip, []string{"get", "list"}[n%2], at, n))
		if err != nil {
			t.Fatal(err)
		}
		return ms
	}
	for i := 0; i < 5; i++ {
		if ms := fired("1.2.3.4", base.Add(time.Duration(i)*time.Minute), i); ms != nil {
			t.Fatalf("event %d fired early: %+v", i+1, ms)
		}
	}
	ms := fired("1.2.3.4", base.Add(6*time.Minute), 5)
	if len(ms) != 1 {
		t.Fatalf("6th 403 did not fire")
	}
	row := ms[0].Rows[0]
	if got := row.Values("count"); got[0] != "6" {
		t.Errorf("count = %v, want 6", got)
	}
	if got := row.Values("verbs"); !reflect.DeepEqual(got, []string{"get", "list"}) {
		t.Errorf("values(verb) = %v", got)
	}
	if got := row.Values("dc(requestURI)"); got[0] != "6" {
		t.Errorf("dc = %v", got)
	}
	if got := row.Values("src_ip"); got[0] != "1.2.3.4" {
		t.Errorf("src_ip = %v", got)
	}
	if ms := fired("1.2.3.4", base.Add(7*time.Minute), 6); ms != nil {
		t.Errorf("fired twice in one window")
	}
	// Another key is independent.
	if ms := fired("5.6.7.8", base.Add(8*time.Minute), 0); ms != nil {
		t.Errorf("a new key fired on its first event")
	}
	// The next window starts from zero.
	next := base.Add(time.Hour)
	for i := 0; i < 5; i++ {
		if ms := fired("1.2.3.4", next.Add(time.Duration(i)*time.Minute), i); ms != nil {
			t.Fatalf("new window fired at event %d", i+1)
		}
	}
	if ms := fired("1.2.3.4", next.Add(10*time.Minute), 5); len(ms) != 1 {
		t.Errorf("new window did not fire on its 6th event")
	}
}

func TestWindowEvictsLeastRecentKey(t *testing.T) {
	e, err := Compile([]*rule.Rule{scanRule()}, Options{MaxKeys: 3})
	if err != nil {
		t.Fatal(err)
	}
	at := time.Date(2026, 1, 1, 10, 0, 0, 0, time.UTC)
	for i := 0; i < 10; i++ {
		e.Match(forbidden(fmt.Sprintf("10.0.0.%d", i), "get", at, i))
	}
	held := e.WindowKeys()["scan"]
	if held[0] != 3 || held[1] != 7 {
		t.Errorf("held %d evicted %d, want 3 and 7", held[0], held[1])
	}
}

type fakeGeo map[string]Location

func (g fakeGeo) Lookup(ip netip.Addr) (Location, bool) {
	l, ok := g[ip.String()]
	return l, ok
}

func TestIPLocation(t *testing.T) {
	r := &rule.Rule{
		ID: "geo", Name: "geo",
		Filter: eq("objectRef.resource", "pods"),
		Pipeline: []rule.Stage{
			rule.IPLocation{Field: "sourceIPs{}"},
			rule.FillNull{Value: "0"},
			rule.Search{Cond: rule.Not{X: eq("Country", "United States")}},
			rule.Stats{Aggs: []rule.Aggregate{{Func: "count"}}, By: []string{"Country", "City"}},
		},
	}
	if _, err := Compile([]*rule.Rule{r}, Options{}); err == nil || !strings.Contains(err.Error(), "iplocation") {
		t.Fatalf("iplocation without a database: err = %v", err)
	}
	geo := fakeGeo{"10.1.1.1": {City: "Paris", Country: "France", Lat: 48.85, Lon: 2.35}}
	e, err := Compile([]*rule.Rule{r}, Options{GeoIP: geo})
	if err != nil {
		t.Fatal(err)
	}
	ms, _ := e.Match([]byte(podEvent))
	if len(ms) != 1 || ms[0].Rows[0].Values("Country")[0] != "France" || ms[0].Rows[0].Values("City")[0] != "Paris" {
		t.Fatalf("iplocation rows = %+v", ms)
	}
	geo["10.1.1.1"] = Location{City: "Boston", Country: "United States"}
	if ms, _ := e.Match([]byte(podEvent)); len(ms) != 0 {
		t.Errorf("allowed location matched: %+v", ms)
	}
	delete(geo, "10.1.1.1")
	// Unknown location: fillnull makes Country "0", which is not an allowed location.
	if ms, _ := e.Match([]byte(podEvent)); len(ms) != 1 || ms[0].Rows[0].Values("Country")[0] != "0" {
		t.Errorf("unknown location = %+v", ms)
	}
}

// TestIPLocationWritesItsOutputs checks that the stage writes, prefixed, exactly the fields rule.IPLocation.Outputs
// names, which the parser, the routing and the rule-override checks rely on.
func TestIPLocationWritesItsOutputs(t *testing.T) {
	stage := rule.IPLocation{Field: "sourceIPs{}", Prefix: "geo_"}
	r := &rule.Rule{ID: "geo", Name: "geo", Filter: eq("verb", "create"), Pipeline: []rule.Stage{stage}}
	geo := fakeGeo{"10.1.1.1": {City: "Paris", Region: "Ile-de-France", Country: "France", Lat: 48.85, Lon: 2.35}}
	e, err := Compile([]*rule.Rule{r}, Options{GeoIP: geo})
	if err != nil {
		t.Fatal(err)
	}
	ms, err := e.Match([]byte(podEvent))
	if err != nil || len(ms) != 1 {
		t.Fatalf("matches %+v, %v", ms, err)
	}
	row := ms[0].Rows[0]
	for _, f := range stage.Outputs() {
		if len(row.Values(f)) != 1 {
			t.Errorf("%s: %q", f, row.Values(f))
		}
	}
	if got := row.Values("geo_lat"); len(got) != 1 || got[0] != "48.85" {
		t.Errorf("geo_lat = %q", got)
	}
}

func TestRowsWithoutStatsShowRiskAndSummaryFields(t *testing.T) {
	r := &rule.Rule{ID: "s", Name: "s", Filter: eq("verb", "create"),
		Risk: rule.Risk{Message: "by $user.username$", Objects: []rule.RiskObject{{Field: "user.username", Type: "user", Score: 5}},
			Threats: []rule.ThreatObject{{Field: "sourceIPs{}", Type: "ip_address"}}}}
	e, _ := Compile([]*rule.Rule{r}, Options{})
	ms, _ := e.Match([]byte(podEvent))
	if len(ms) != 1 {
		t.Fatal("no match")
	}
	row := ms[0].Rows[0]
	if got := row.Values("user.username"); len(got) != 1 || got[0] != "Alice" {
		t.Errorf("user.username = %v", got)
	}
	if got := row.Values("sourceIPs{}"); len(got) != 2 {
		t.Errorf("sourceIPs{} = %v", got)
	}
	if got := row.Values("requestObject.spec.hostNetwork"); got != nil {
		t.Errorf("an unnamed event field leaked into the row: %v", got)
	}
}

// TestRowsWithoutStatsShowEveryFieldATokenCanRead: a token the row does not fill gives its closing `$` to the next
// one (rule.MessageTokens), so the row keeps that one's field too: `$nope$requestObject.kind$` reads
// requestObject.kind.
func TestRowsWithoutStatsShowEveryFieldATokenCanRead(t *testing.T) {
	r := &rule.Rule{ID: "s", Name: "s", Filter: eq("verb", "create"), Risk: rule.Risk{Message: "$nope$requestObject.kind$"}}
	e, _ := Compile([]*rule.Rule{r}, Options{})
	ms, _ := e.Match([]byte(podEvent))
	if len(ms) != 1 {
		t.Fatal("no match")
	}
	if got := ms[0].Rows[0].Values("requestObject.kind"); len(got) != 1 || got[0] != "Pod" {
		t.Errorf("requestObject.kind = %v", got)
	}
}

func TestEvaluateResult(t *testing.T) {
	e, _ := Compile([]*rule.Rule{nodePortLikeRule()}, Options{})
	res, err := e.Evaluate([]byte(podEvent))
	if err != nil {
		t.Fatal(err)
	}
	if res.AuditID != "a-1" || !res.Time.Equal(time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)) {
		t.Errorf("result = %q %v", res.AuditID, res.Time)
	}
	for _, bad := range []string{"", "not json", "[]", `{"verb":`} {
		if _, err := e.Evaluate([]byte(bad)); err == nil {
			t.Errorf("Evaluate(%q) gave no error", bad)
		}
	}
}

// TestVerbAloneDecides: when no rule can match an event's verb on any resource, the event is decided after its verb:
// objectRef is not read (here it is malformed, which only reading it would notice). An event whose verb some rule
// names reads on, and meets the error.
func TestVerbAloneDecides(t *testing.T) {
	r := &rule.Rule{ID: "c", Name: "c", Filter: rule.And{eq("verb", "create"), eq("objectRef.resource", "pods")}}
	e, err := Compile([]*rule.Rule{r}, Options{})
	if err != nil {
		t.Fatal(err)
	}
	for verb, wantErr := range map[string]bool{"get": false, "watch": false, "create": true, "CREATE": true} {
		_, err := e.Evaluate([]byte(`{"verb":"` + verb + `","objectRef":{"resource" "pods"}}`))
		if (err != nil) != wantErr {
			t.Errorf("verb %s: error %v, want an error: %v", verb, err, wantErr)
		}
	}
	ms, err := e.Match([]byte(`{"verb":"create","objectRef":{"resource":"pods"}}`))
	if err != nil || len(ms) != 1 {
		t.Fatalf("create pods: %d matches, %v", len(ms), err)
	}
}

// TestGroupsCutIsCounted: an event whose by-fields hold more value combinations than one event may make groups
// keeps the first 999 and the group of the last values (of sourceIPs, the address the API server saw, which padding
// X-Forwarded-For must not push out), and the rule's counter says so; an event within the bound is not counted.
func TestGroupsCutIsCounted(t *testing.T) {
	r := nodePortLikeRule()
	e, err := Compile([]*rule.Rule{r}, Options{})
	if err != nil {
		t.Fatal(err)
	}
	ips := make([]string, 1500)
	for i := range ips {
		ips[i] = fmt.Sprintf(`"10.0.%d.%d"`, i/250, i%250)
	}
	many := strings.Replace(podEvent, `"sourceIPs":["10.1.1.1","192.168.0.9"]`, `"sourceIPs":[`+strings.Join(ips, ",")+`]`, 1)
	if many == podEvent {
		t.Fatal("the test event has no sourceIPs to replace")
	}
	if ms, err := e.Match([]byte(podEvent)); err != nil || len(ms) != 1 || e.GroupsCut() != nil {
		t.Fatalf("two addresses: %d matches, %v, cut %v", len(ms), err, e.GroupsCut())
	}
	ms, err := e.Match([]byte(many))
	if err != nil || len(ms) != 1 || len(ms[0].Rows) != maxGroupsPerEvent {
		t.Fatalf("1500 addresses: %d matches, %v", len(ms), err)
	}
	rows := ms[0].Rows
	if first, last := rows[0].Values("src_ip"), rows[len(rows)-1].Values("src_ip"); len(first) != 1 ||
		first[0] != "10.0.0.0" || len(last) != 1 || last[0] != strings.Trim(ips[len(ips)-1], `"`) {
		t.Errorf("rows run from %v to %v, want from the first address to the last", first, last)
	}
	if got := e.GroupsCut(); got[r.ID] != 1 || len(got) != 1 {
		t.Fatalf("GroupsCut() = %v, want %s: 1", got, r.ID)
	}
}

// Only one stats is windowed; a second, run per event, would count the rows of one event and a `where count > 5`
// after it could never hold, so such a rule does not load.
func TestSecondStatsDoesNotCompile(t *testing.T) {
	count := rule.Stats{Aggs: []rule.Aggregate{{Func: "count"}}, By: []string{"user.username"}}
	r := &rule.Rule{ID: "s2", Name: "s2", Filter: eq("verb", "get"), Pipeline: []rule.Stage{
		count, count, rule.Where{Cond: rule.Compare{Field: rule.Field{Name: "count"}, Op: rule.OpGt, Value: rule.Literal("5", true)}},
	}}
	if _, err := Compile([]*rule.Rule{r}, Options{}); err == nil || !strings.Contains(err.Error(), "more than one stats") {
		t.Fatalf("err = %v, want a refusal of the second stats", err)
	}
	r.Pipeline = r.Pipeline[1:]
	if _, err := Compile([]*rule.Rule{r}, Options{}); err != nil {
		t.Fatalf("one stats: %v", err)
	}
}

// where's = and != against a number compare numerically, as its <, <=, > and >= do; only decimal numbers are
// numbers ("nan" would otherwise be both <= 5 and >= 5).
func TestNumbersCompareAsEval(t *testing.T) {
	num := func(op rule.Op, n string) rule.Expr {
		return rule.Compare{Field: rule.Field{Name: "x"}, Op: op, Value: rule.Pattern{Kind: rule.Number, Text: n, CaseSensitive: true}}
	}
	tests := []struct {
		name   string
		value  string // JSON
		filter rule.Expr
		want   bool
	}{
		{"decimal string equals the integer", `"10.0"`, num(rule.OpEq, "10"), true},
		{"JSON number equals", `10`, num(rule.OpEq, "10.00"), true},
		{"exponent", `"1e1"`, num(rule.OpEq, "10"), true},
		{"not equal numerically", `"10.5"`, num(rule.OpEq, "10"), false},
		{"!= is numeric too", `"10.0"`, num(rule.OpNe, "10"), false},
		{"a non-number compares as text", `"abc"`, num(rule.OpEq, "10"), false},
		{"nan is not a number", `"nan"`, rule.And{cmp("x", rule.OpLe, "5"), cmp("x", rule.OpGe, "5")}, false},
		{"-inf is not a number", `"-inf"`, cmp("x", rule.OpGt, "-5"), true}, // as text, "-i" > "-5"
		{"hex float is not a number", `"0x1p4"`, num(rule.OpEq, "16"), false},
		{"an exponent needs digits", `"1e"`, num(rule.OpEq, "1"), false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := matches(t, tt.filter, `{"verb":"get","x":`+tt.value+`}`); got != tt.want {
				t.Errorf("match = %v, want %v", got, tt.want)
			}
		})
	}
}

// rule.String compares text, byte by byte, even where both sides are numbers: ES|QL's TO_STRING(201) is the
// keyword "201" (`ROW a=10 | EVAL j = TO_STRING(a)` is "10"), which does not equal "201.0" and sorts before "3".
func TestStringPatternComparesText(t *testing.T) {
	str := func(op rule.Op, s string) rule.Expr {
		return rule.Compare{Field: rule.Field{Name: "x", AnyArray: true}, Op: op, Value: rule.Pattern{Kind: rule.String, Text: s, CaseSensitive: true}}
	}
	tests := []struct {
		name   string
		value  string // JSON
		filter rule.Expr
		want   bool
	}{
		{"equal text", `201`, str(rule.OpEq, "201"), true},
		{"the number written otherwise is other text", `201`, str(rule.OpEq, "201.0"), false},
		{"!= as text", `201`, str(rule.OpNe, "201.0"), true},
		{"a wildcard is a character", `"abc"`, str(rule.OpEq, "a*"), false},
		{"a wildcard equals itself", `"a*"`, str(rule.OpEq, "a*"), true},
		{"ordered as text", `201`, str(rule.OpLt, "3"), true},
		{"not as numbers", `201`, str(rule.OpGt, "3"), false},
		{"at the bound", `"201"`, str(rule.OpGe, "201"), true},
		{"any value", `[5, 201]`, str(rule.OpLt, "3"), true},
		{"folded when not case-sensitive", `"ABC"`, rule.Compare{Field: rule.Field{Name: "x"}, Op: rule.OpEq, Value: rule.Pattern{Kind: rule.String, Text: "abc"}}, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := matches(t, tt.filter, `{"verb":"get","x":`+tt.value+`}`); got != tt.want {
				t.Errorf("match = %v, want %v", got, tt.want)
			}
		})
	}
}

// rule.IP compares addresses as Elasticsearch's ip type does, not as text: 10.1.2.3 >= 9.0.0.0, though "10" < "9".
func TestIPCompare(t *testing.T) {
	ip := func(op rule.Op, addr string) rule.Expr {
		return rule.Compare{Field: rule.Field{Name: "ips", AnyArray: true}, Op: op, Value: rule.Pattern{Kind: rule.IP, Text: addr}}
	}
	tests := []struct {
		name   string
		value  string // JSON
		filter rule.Expr
		want   bool
	}{
		{"above as an address, below as text", `["10.1.2.3"]`, ip(rule.OpGe, "9.0.0.0"), true},
		{"not below", `["10.1.2.3"]`, ip(rule.OpLt, "9.0.0.0"), false},
		{"greater", `["10.1.2.3"]`, ip(rule.OpGt, "10.1.2.2"), true},
		{"equal bound", `["10.1.2.3"]`, ip(rule.OpLe, "10.1.2.3"), true},
		{"strict at the bound", `["10.1.2.3"]`, ip(rule.OpLt, "10.1.2.3"), false},
		{"IPv4 sorts below IPv6", `["255.255.255.255"]`, ip(rule.OpLt, "2001:db8::"), true},
		{"IPv6 above IPv4", `["2001:db8::1"]`, ip(rule.OpGt, "9.0.0.0"), true},
		{"IPv4-mapped is its IPv4 address", `["::ffff:10.1.2.3"]`, ip(rule.OpGe, "10.1.2.3"), true},
		{"bound written mapped", `["10.1.2.3"]`, ip(rule.OpLe, "::ffff:10.1.2.3"), true},
		{"any value", `["1.1.1.1","10.1.2.3"]`, ip(rule.OpGe, "9.0.0.0"), true},
		{"not an address never matches", `["zzz"]`, ip(rule.OpGt, "9.0.0.0"), false},
		{"equality as addresses", `["::ffff:10.1.2.3"]`, ip(rule.OpEq, "10.1.2.3"), true},
		{"inequality as addresses", `["10.1.2.3"]`, ip(rule.OpEq, "10.1.2.4"), false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := matches(t, tt.filter, `{"verb":"get","ips":`+tt.value+`}`); got != tt.want {
				t.Errorf("match = %v, want %v", got, tt.want)
			}
		})
	}
	if _, err := Compile([]*rule.Rule{{ID: "x", Name: "x", Filter: ip(rule.OpGt, "10.0.0.0/8")}}, Options{}); err == nil {
		t.Error("a network as an IP bound compiled")
	}
}

// TestSkipNeverMatching: a rule lint says can never match an API server's event (a top-level hostPath, which no API
// server writes) is compiled, listed with its operations, and, with SkipNeverMatching, never evaluated: an event
// written by hand with that member does not match it, where the rule as written would. A rule that can match is
// evaluated as before.
func TestSkipNeverMatching(t *testing.T) {
	dead := &rule.Rule{ID: "dead", Name: "dead", Filter: rule.And{eq("verb", "create"), eq("objectRef.resource", "pods"),
		rule.Exists{Field: rule.Field{Name: "hostPath"}}}}
	live := &rule.Rule{ID: "live", Name: "live", Filter: rule.And{eq("verb", "create"), eq("objectRef.resource", "pods")}}
	body := []byte(`{"kind":"Event","verb":"create","objectRef":{"resource":"pods"},"hostPath":"/"}`)
	for _, skip := range []bool{false, true} {
		e, err := Compile([]*rule.Rule{dead, live}, Options{SkipNeverMatching: skip})
		if err != nil {
			t.Fatal(err)
		}
		if len(e.Rules()) != 2 || !slices.Equal(e.Operations()[0], []Operation{{"pods", "create"}}) {
			t.Fatalf("skip=%v: rules %d, operations %v: want both listed, the dead one's operations kept", skip, len(e.Rules()), e.Operations()[0])
		}
		ms, err := e.Match(body)
		if err != nil {
			t.Fatal(err)
		}
		var names []string
		for _, m := range ms {
			names = append(names, m.Rule.ID)
		}
		want := []string{"dead", "live"} // as written, on any JSON
		if skip {
			want = []string{"live"}
		}
		if !slices.Equal(names, want) {
			t.Errorf("skip=%v: matched %v, want %v", skip, names, want)
		}
	}
}
