package elastic

import (
	"errors"
	"reflect"
	"regexp"
	"runtime"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/auditdetect/auditdetect/processor/engine"
	"github.com/auditdetect/auditdetect/processor/rule"
)

// esqlMatches compiles an ES|QL query and reports whether auditEvent (kql_test.go) gives a row.
func esqlMatches(t *testing.T, query string) bool {
	t.Helper()
	filter, pipeline, err := CompileESQL(query, defaultMap(t))
	if err != nil {
		t.Fatalf("%s: %v", query, err)
	}
	eng, err := engine.Compile([]*rule.Rule{{ID: "q", Name: "q", Filter: filter, Pipeline: pipeline}}, engine.Options{})
	if err != nil {
		t.Fatalf("Compile: %v", err)
	}
	res, err := eng.Evaluate([]byte(auditEvent))
	if err != nil {
		t.Fatal(err)
	}
	return len(res.Matches) == 1
}

func TestESQLSemantics(t *testing.T) {
	const from = "FROM logs-kubernetes.audit_logs-* METADATA _id, _index | "
	tests := []struct {
		query string
		want  bool
	}{
		{`WHERE kubernetes.audit.verb == "create"`, true},
		{`where kubernetes.audit.verb != "create"`, false},
		{`WHERE kubernetes.audit.verb == "Create"`, false}, // case-sensitive
		// Three-valued logic: a comparison with a missing field is null, and NOT null is null, which WHERE drops
		// (KQL's `not x:exec` would be true here).
		{`WHERE NOT kubernetes.audit.objectRef.subresource == "exec"`, false},
		{`WHERE kubernetes.audit.objectRef.subresource != "exec"`, false},
		{`WHERE kubernetes.audit.objectRef.subresource != "exec" OR true`, true},
		{`WHERE NOT (kubernetes.audit.objectRef.subresource == "exec" AND false)`, true}, // false AND null is false
		{`WHERE kubernetes.audit.objectRef.subresource IS NULL`, true},
		{`WHERE NOT kubernetes.audit.objectRef.subresource IS NULL`, false},
		{`WHERE kubernetes.audit.objectRef.subresource IS NOT NULL`, false},
		{`WHERE kubernetes.audit.verb IN ("get", "create")`, true},
		{`WHERE kubernetes.audit.verb NOT IN ("get", "list")`, true},
		{`WHERE NOT kubernetes.audit.verb IN ("get", "create")`, false},
		{`WHERE kubernetes.audit.objectRef.subresource NOT IN ("exec")`, false},
		{`WHERE user_agent.original LIKE "python*"`, true},
		{`WHERE user_agent.original LIKE "Python*"`, false},
		{`WHERE user_agent.original LIKE "python"`, false}, // the whole value
		{`WHERE user_agent.original RLIKE """python-requests/2\.[0-9]+\.0"""`, true},
		{`WHERE user_agent.original RLIKE "requests"`, false}, // anchored to the whole value
		{`WHERE user_agent.original RLIKE ".*requests.*"`, true},
		{`WHERE user_agent.original NOT RLIKE ".*requests.*"`, false},
		{`WHERE STARTS_WITH(user.name, "system:serviceaccount:")`, true},
		{`WHERE ENDS_WITH(user.name, ":web")`, true},
		{`WHERE TO_LOWER(kubernetes.audit.verb) == "create"`, true},
		{`WHERE TO_LOWER(kubernetes.audit.verb) == "Create"`, false},
		{`WHERE TO_STRING(source.ip) IN ("127.0.0.1", "::1")`, false},
		{`WHERE CIDR_MATCH(source.ip, "10.244.0.0/16")`, true},
		{`WHERE KQL("""kubernetes.audit.verb:create and kubernetes.audit.objectRef.resource:pods""")`, true},
		{`WHERE NOT KQL("kubernetes.audit.verb:create")`, false},
		{`WHERE kubernetes.audit.responseStatus.code >= 200 AND kubernetes.audit.responseStatus.code < 300`, true},
		{`WHERE 300 <= kubernetes.audit.responseStatus.code`, false},
		{"WHERE `kubernetes.audit.annotations.authorization_k8s_io/decision` == \"allow\"", true},
		{`WHERE event.dataset == "kubernetes.audit_logs" // a constant of the field map`, true},
		// Columns made by EVAL and GROK are read by later WHEREs.
		{`EVAL ua = TO_UPPER(user_agent.original) | WHERE ua LIKE "PYTHON*"`, true},
		{`GROK user_agent.original "%{WORD:client}-requests/%{GREEDYDATA:version}" | WHERE client == "python" AND version == "2.31.0"`, true},
		{`GROK user_agent.original "%{WORD:client}@%{INT:major}" | WHERE client IS NULL`, true}, // no match: null
		{`EVAL Esql.kind = CASE(kubernetes.audit.verb == "get", "read", "write") | WHERE Esql.kind == "write"`, true},
		{`WHERE kubernetes.audit.responseStatus.code == 201.0`, true}, // numbers compare as numbers
		{`WHERE TO_UPPER(kubernetes.audit.verb) RLIKE "CRE.*"`, true},
		{`WHERE TO_LOWER(kubernetes.audit.verb) LIKE "CRE*"`, false}, // never: a lower-cased value has no capitals
		{`WHERE kubernetes.audit.verb IN ("create", null)`, true},
		{`WHERE kubernetes.audit.verb NOT IN ("get", null)`, false}, // create is in neither: null, not false
		{`WHERE NOT kubernetes.audit.verb IN ("get", null)`, false},
		// A GROK capture named like its input replaces it only after every capture read the input.
		{`EVAL ua = user_agent.original | GROK ua "%{DATA:ua}-requests/%{GREEDYDATA:ver}" | WHERE ua == "python" AND ver == "2.31.0"`, true},
		// Comments anywhere between commands.
		{"// a note\nWHERE true | /* another */ WHERE kubernetes.audit.verb == \"create\"", true},
		{`EVAL c = kubernetes.audit.objectRef.subresource | WHERE c IS NULL`, true},
		{`KEEP user.name | SORT user.name`, true},
		{`RENAME user.name AS who | WHERE who == "system:serviceaccount:shop:web"`, true},
	}
	for _, tt := range tests {
		if got := esqlMatches(t, from+tt.query); got != tt.want {
			t.Errorf("%s: got %v, want %v", tt.query, got, tt.want)
		}
	}
}

func TestESQLErrors(t *testing.T) {
	tests := []struct{ query, at, reason string }{
		{`FROM logs-aws.cloudtrail-* | WHERE true`, `logs-aws`, "cannot hold Kubernetes audit logs"},
		{`ROW a = 1`, `ROW`, "starts with FROM"},
		{`FROM logs-* | LIMIT 10`, `LIMIT`, "LIMIT caps the rows of one run"},
		{`FROM logs-* | MV_EXPAND user.name`, `MV_EXPAND`, "command MV_EXPAND is not supported"},
		{`FROM logs-* | WHERE @timestamp >= NOW() - 9 minutes`, `NOW`, "NOW() is the time a run of the query starts"},
		{`FROM logs-* | WHERE kubernetes.audit.responseStatus.code + 1 > 2`, `+`, "arithmetic is not supported"},
		{`FROM logs-* | STATS s = AVG(kubernetes.audit.responseStatus.code) BY user.name`, `AVG`, "aggregate AVG is not supported"},
		{`FROM logs-* | STATS c = COUNT(*)`, `STATS`, "STATS without BY"},
		{`FROM logs-* | STATS c = COUNT(*) BY user.name | STATS d = COUNT(*) BY c`, `d = COUNT`, "a second STATS"},
		{`FROM logs-* | STATS c = COUNT(*) BY user.name | WHERE kubernetes.audit.verb == "get"`, `kubernetes.audit.verb ==`, "not a column after STATS"},
		{`FROM logs-* | WHERE LENGTH(user.name) > 3`, `LENGTH`, "function LENGTH is not supported"},
		{`FROM logs-* | WHERE URL_DECODE(user.name) == "a"`, `URL_DECODE`, "compute it with EVAL first"},
		{`FROM logs-* | WHERE TO_UPPER(user.name) RLIKE """\w+"""`, `RLIKE`, "EVAL the converted value into a column"},
		{`FROM logs-* | EVAL verb = TO_UPPER(kubernetes.audit.verb) | WHERE kubernetes.audit.verb == "get"`, `verb = TO_UPPER`, "would hide the audit event's own verb"},
		{`FROM logs-* | EVAL x = DATE_TRUNC(1 month, @timestamp)`, `month`, "calendar units vary"},
		{`FROM logs-* | EVAL x = DATE_TRUNC(100000000000 weeks, @timestamp)`, `100000000000`, "a positive whole number of units"},
		{`FROM logs-* | EVAL x = DATE_TRUNC(0 minutes, @timestamp)`, `0 minutes`, "a positive whole number of units"},
		{`FROM logs-* | WHERE user.name RLIKE "a|"`, `"a|"`, "ends where an operand is expected"},
		{"FROM logs-* | WHERE user.name RLIKE \"a\xff\"", `"a`, "not valid UTF-8"},
		{"FROM logs-* | WHERE user.name RLIKE \"" + strings.Repeat(`\\d`, 2000) + "\"", `"\\d`, "over the limit"},
		{`FROM logs-* | WHERE MATCH(user.name, "x")`, `MATCH`, "function MATCH is not supported in a condition"},
		{`FROM logs-* | EVAL x = SUBSTRING(user.name, 1, 2)`, `SUBSTRING`, "function SUBSTRING is not supported"},
		{`FROM logs-* | GROK user.name "%{IP:addr}"`, `"%{IP`, "grok pattern %{IP} is not supported"},
		{`FROM logs-* | WHERE user.name RLIKE "~(a)"`, `"~(a)"`, "complement (~)"},
		{`FROM logs-* | WHERE user.name RLIKE """a\nb"""`, `"""a`, `\n at offset 1 is not a Lucene escape`},
		{`FROM logs-* | WHERE user.name LIKE """a\b"""`, `"""a`, "a backslash must come before"},
		{`FROM logs-* | WHERE user.name == "a\qb"`, `\q`, `unknown escape \q`},
		{`FROM logs-* | EVAL x = user.name | WHERE KQL("user.name:a")`, `KQL`, "KQL() runs only before commands that make columns"},
		{`FROM logs-* | WHERE orchestrator.namespace == "x"`, `orchestrator`, `field "orchestrator.namespace" is not in the Kubernetes audit event`},
		{`FROM logs-* | EVAL x = REPLACE(user.name, "(?<=a)b", "c")`, `"(?<=a)b"`, "RE2 has no lookaround"},
		{`FROM logs-* | WHERE user.name == "a" |`, `|`, "empty command after this pipe"},
		// Columns KEEP, DROP, RENAME or STATS removed are unknown, as in Elasticsearch ("Unknown column [b]").
		{`FROM logs-* | KEEP user.name | WHERE kubernetes.audit.verb == "get"`, `kubernetes.audit.verb ==`, "Unknown column [kubernetes.audit.verb]: KEEP removed it"},
		{`FROM logs-* | KEEP Esql.*, user.* | EVAL Esql.v = kubernetes.audit.verb`, `kubernetes.audit.verb`, "Unknown column [kubernetes.audit.verb]"},
		{`FROM logs-* | DROP kubernetes.audit.verb | WHERE kubernetes.audit.verb == "get"`, `kubernetes.audit.verb ==`, "Unknown column [kubernetes.audit.verb]: DROP removed it"},
		{`FROM logs-* | DROP kubernetes.audit.* | STATS c = COUNT(*) BY kubernetes.audit.verb`, `kubernetes.audit.verb`, "Unknown column"},
		{`FROM logs-* | EVAL Esql.a = user.name | DROP Esql.a | WHERE Esql.a == "x"`, `Esql.a ==`, "Unknown column [Esql.a]"},
		{`FROM logs-* | RENAME user.name AS who | WHERE user.name == "x"`, `user.name ==`, "Unknown column [user.name]: RENAME renamed it to who"},
		{`FROM logs-* | STATS c = COUNT(*) BY user.name | KEEP c | WHERE user.name == "x"`, `user.name ==`, "Unknown column [user.name]: KEEP removed it"},
		{`FROM logs-* | STATS c = COUNT(*) BY user.name | KEEP kubernetes.audit.verb`, `kubernetes.audit.verb`, "Unknown column [kubernetes.audit.verb]: it is not a column after STATS"},
		{`FROM logs-* | KEEP user.name | DROP kubernetes.audit.verb`, `kubernetes.audit.verb`, "Unknown column [kubernetes.audit.verb]"},
		{`FROM logs-* | KEEP user.name | SORT kubernetes.audit.verb DESC`, `kubernetes.audit.verb`, "Unknown column [kubernetes.audit.verb]"},
		{`FROM logs-* | KEEP user.name,`, `,`, "expected a column name"},
		{`FROM logs-* | EVAL x = CONCAT(user.name)`, `CONCAT`, "CONCAT takes two or more arguments"},
		{`FROM logs-* | EVAL x = CONCAT()`, `CONCAT`, "CONCAT takes two or more arguments"},
		// Elasticsearch refuses a number compared with a string, and a keyword with a number.
		{`FROM logs-* | WHERE kubernetes.audit.responseStatus.code < "300"`, `"300"`, "is a number: Elasticsearch refuses to compare it with the string"},
		{`FROM logs-* | WHERE kubernetes.audit.responseStatus.code IN (200, "201")`, `"201"`, "is a number"},
		{`FROM logs-* | WHERE kubernetes.audit.objectRef.name < 9`, `9`, "is a string: Elasticsearch refuses to compare it with the number 9"},
		{`FROM logs-* | WHERE TO_STRING(kubernetes.audit.responseStatus.code) >= 300`, `300`, "is a string"},
		{`FROM logs-* | EVAL Esql.n = CONCAT("1", "0") | WHERE Esql.n == 10`, `10`, "is a string"},
		// A triple-quoted string ends on its line (Elasticsearch's lexer: '"""' (~[\r\n])*? '"""').
		{"FROM logs-* | WHERE user.name == \"\"\"a\nb\"\"\"", `"""a`, "a triple-quoted string ends on its line"},
	}
	for _, tt := range tests {
		_, _, err := CompileESQL(tt.query, defaultMap(t))
		var qe *Error
		if !errors.As(err, &qe) {
			t.Errorf("%s: error %v, want *Error", tt.query, err)
			continue
		}
		col := strings.LastIndex(tt.query, tt.at) + 1
		if !strings.Contains(qe.Reason, tt.reason) {
			t.Errorf("%s: %q, want it to say %q", tt.query, qe.Reason, tt.reason)
		}
		if qe.Line != 1 || qe.Column != col {
			t.Errorf("%s: at 1:%d, want 1:%d (%q)", tt.query, qe.Column, col, tt.at)
		}
	}
}

// TestESQLEmptyAndComments: a field the ingest pipeline leaves unset when empty is null as a value too, and comments
// may stand where the index patterns are.
func TestESQLEmptyAndComments(t *testing.T) {
	fm := defaultMap(t)
	body := strings.Replace(auditEvent, `"userAgent":"python-requests/2.31.0"`, `"userAgent":""`, 1)
	if body == auditEvent {
		t.Fatal("the test event has no userAgent to empty")
	}
	for query, want := range map[string]bool{
		`FROM /* k8s */ logs-kubernetes.audit_logs-* | WHERE user_agent.original IS NULL`:                        true,
		`FROM logs-* | EVAL ua = user_agent.original | WHERE ua IS NULL`:                                         true,
		`FROM logs-* | EVAL ua = kubernetes.audit.userAgent | WHERE ua IS NULL`:                                  false, // the raw field keeps ""
		`FROM logs-* | STATS c = COUNT(*) BY user_agent.original | WHERE c >= 1 AND user_agent.original IS NULL`: true,
	} {
		filter, pipeline, err := CompileESQL(query, fm)
		if err != nil {
			t.Fatalf("%s: %v", query, err)
		}
		eng, err := engine.Compile([]*rule.Rule{{ID: "q", Name: "q", Filter: filter, Pipeline: pipeline}}, engine.Options{})
		if err != nil {
			t.Fatal(err)
		}
		ms, err := eng.Match([]byte(body))
		if err != nil {
			t.Fatal(err)
		}
		if got := len(ms) == 1; got != want {
			t.Errorf("%s: got %v, want %v", query, got, want)
		}
	}
}

func TestLuceneRegex(t *testing.T) {
	tests := []struct {
		pattern  string
		match    []string
		noMatch  []string
		refusal  string
		literals bool
	}{
		{pattern: `a.c`, match: []string{"abc", "a\nc"}, noMatch: []string{"ac", "xabc"}},
		{pattern: `^a$`, match: []string{"^a$"}, noMatch: []string{"a"}}, // ^ and $ are characters
		{pattern: `a\sb\d\w`, match: []string{"a b1_", "a\tb9Z"}, noMatch: []string{"a\vb1a", "ab1a"}},
		{pattern: `[^a-c\-]x`, match: []string{"dx"}, noMatch: []string{"ax", "-x"}},
		{pattern: `(ab|cd){2}e?`, match: []string{"abcd", "cdcde"}, noMatch: []string{"abc"}},
		{pattern: `"a.b"c`, match: []string{"a.bc"}, noMatch: []string{"axbc"}},
		{pattern: `a@`, match: []string{"a", "abc"}, noMatch: []string{"ba"}},
		{pattern: `a|#`, match: []string{"a"}, noMatch: []string{""}},
		{pattern: `\.\-`, match: []string{".-"}},
		// Intersections: rule authors write `>&` meaning the characters; Lucene intersects.
		{pattern: `.*(x>&|0>&1|y).*`, match: []string{"y", "ayb"}, noMatch: []string{"x>&", "0>&1", "x>"}},
		{pattern: `.*&abc`, match: []string{"abc"}, noMatch: []string{"xabc"}},
		// `.*X.*` is searched unanchored: the same strings.
		{pattern: `.*(ab|c\d).*`, match: []string{"ab", "xxc1\n"}, noMatch: []string{"ac", "c"}},
		{pattern: `.*a.*|b`, match: []string{"xax", "b"}, noMatch: []string{"xb"}},
		{pattern: `a~b`, refusal: "complement"},
		{pattern: `<1-10>`, refusal: "interval"},
		{pattern: `a.*&.*b`, refusal: "intersection"},
		{pattern: `\n`, refusal: "not a Lucene escape"},
		{pattern: `(ab`, refusal: "missing )"},
		{pattern: strings.Repeat("(", 100000), refusal: "nested too deeply"},
	}
	for _, tt := range tests {
		re, err := luceneRegex(tt.pattern)
		if tt.refusal != "" {
			if err == nil || !strings.Contains(err.Error(), tt.refusal) {
				t.Errorf("%s: error %v, want %q", tt.pattern, err, tt.refusal)
			}
			continue
		}
		if err != nil {
			t.Errorf("%s: %v", tt.pattern, err)
			continue
		}
		if strings.HasPrefix(tt.pattern, ".*(") && strings.HasPrefix(re, "^") {
			t.Errorf("%s: %s is anchored; .*X.* is searched unanchored", tt.pattern, re)
		}
		r := regexp.MustCompile(re)
		for _, s := range tt.match {
			if !r.MatchString(s) {
				t.Errorf("%s (%s) does not match %q", tt.pattern, re, s)
			}
		}
		for _, s := range tt.noMatch {
			if r.MatchString(s) {
				t.Errorf("%s (%s) matches %q", tt.pattern, re, s)
			}
		}
	}
}

func TestJavaReplacement(t *testing.T) {
	for in, want := range map[string]string{`$1x`: `${1}x`, `${name}`: `${name}`, `\$5`: `$$5`, `a\\b`: `a\b`, ` `: ` `} {
		if got, err := javaReplacement(in); err != nil || got != want {
			t.Errorf("javaReplacement(%q) = %q, %v; want %q", in, got, err, want)
		}
	}
	if _, err := javaReplacement(`$x`); err == nil {
		t.Error("a $ naming no group was accepted")
	}
}

// TestESQLAggregatingRule checks what Parse makes of an aggregating rule: the event fields STATS reads are copied
// into columns of their ES|QL names, groups of a null are kept, the window is the rule's look-back, and the risk
// block names the group columns holding the user and the address.
func TestESQLAggregatingRule(t *testing.T) {
	doc := tomlRule(`risk_score = 47
severity = "medium"
type = "esql"
language = "esql"
from = "now-9m"
interval = "5m"
query = '''
from logs-kubernetes.audit_logs-*
| where kubernetes.audit.objectRef.resource == "secrets"
| stats n = count_distinct(kubernetes.audit.objectRef.name) by user.name, source.ip
| where n >= 3
'''
`)
	r, err := Parse("x.toml", []byte(doc), nil)
	if err != nil {
		t.Fatal(err)
	}
	want := []rule.Stage{
		rule.Eval{To: "kubernetes.audit.objectRef.name", Value: rule.FieldValue{Field: rule.Field{Name: "objectRef.name", AnyArray: true}}},
		// user.name is unset for an empty user name (ignore_empty_value in the ingest pipeline): null, not "".
		rule.Eval{To: "user.name", Value: rule.Case{Whens: []rule.When{{
			Cond: rule.Compare{Field: rule.Field{Name: "user.username", AnyArray: true}, Op: rule.OpEq, Value: rule.Pattern{Kind: rule.Glob, Text: "?*", CaseSensitive: true}},
			Then: rule.FieldValue{Field: rule.Field{Name: "user.username", AnyArray: true}}}}}},
		rule.Eval{To: "source.ip", Value: rule.FieldValue{Field: rule.Field{Name: "sourceIPs", AnyArray: true}}},
		rule.Stats{Aggs: []rule.Aggregate{{Func: "dc", Field: "kubernetes.audit.objectRef.name", As: "n"}}, By: []string{"user.name", "source.ip"}, NullGroups: true, Windowed: true},
		rule.Where{Cond: rule.Compare{Field: rule.Field{Name: "n"}, Op: rule.OpGe, Value: rule.Literal("3", true)}},
		rule.FillNull{Value: "medium", Fields: []string{"severity"}},
		// A null group's columns say null: its risk object is one, and its message names every group.
		rule.FillNull{Value: "null", Fields: []string{"user.name", "source.ip"}},
	}
	if !reflect.DeepEqual(r.Pipeline, want) {
		t.Errorf("pipeline\n%#v\nwant\n%#v", r.Pipeline, want)
	}
	if r.Window != 9*time.Minute {
		t.Errorf("window %v, want the look-back 9m", r.Window)
	}
	wantRisk := rule.Risk{Message: "Test Rule: user.name=$user.name$ source.ip=$source.ip$",
		Objects: []rule.RiskObject{{Field: "user.name", Type: "user", Score: 47}},
		Threats: []rule.ThreatObject{{Field: "source.ip", Type: "ip_address"}}}
	if !reflect.DeepEqual(r.Risk, wantRisk) {
		t.Errorf("risk %+v, want %+v", r.Risk, wantRisk)
	}

	// Through the engine: three secrets read by one user fire once, in its window.
	eng, err := engine.Compile([]*rule.Rule{r}, engine.Options{})
	if err != nil {
		t.Fatal(err)
	}
	fired := 0
	for i, name := range []string{"a", "b", "a", "c", "d"} {
		body := strings.Replace(auditEvent, `"resource":"pods"`, `"resource":"secrets"`, 1)
		body = strings.Replace(body, `"name":"web-7d9f","apiVersion"`, `"name":"`+name+`","apiVersion"`, 1)
		ms, err := eng.Match([]byte(body))
		if err != nil {
			t.Fatal(err)
		}
		if len(ms) > 0 {
			fired++
			if i != 3 {
				t.Errorf("fired at event %d, want at the third distinct name (event 4)", i+1)
			}
		}
	}
	if fired != 1 {
		t.Errorf("fired %d times, want once", fired)
	}

	// Without a condition on its aggregates an aggregating query still counts over its window: each group fires
	// once per window, on its first event, as Kibana alerts once per group and run.
	r, err = Parse("x.toml", []byte(strings.Replace(doc, "| where n >= 3\n", "", 1)), nil)
	if err != nil {
		t.Fatal(err)
	}
	eng, err = engine.Compile([]*rule.Rule{r}, engine.Options{})
	if err != nil {
		t.Fatal(err)
	}
	if len(r.Pipeline) != 6 {
		t.Fatalf("the threshold is still there: %#v", r.Pipeline)
	}
	fired = 0
	for _, name := range []string{"a", "a", "b"} { // one distinct name would never reach the threshold of 3

		body := strings.Replace(auditEvent, `"resource":"pods"`, `"resource":"secrets"`, 1)
		body = strings.Replace(body, `"name":"web-7d9f","apiVersion"`, `"name":"`+name+`","apiVersion"`, 1)
		ms, err := eng.Match([]byte(body))
		if err != nil {
			t.Fatal(err)
		}
		fired += len(ms)
	}
	if fired != 1 {
		t.Errorf("without a threshold: fired %d times, want once per group and window", fired)
	}
}

func TestLookBack(t *testing.T) {
	for from, want := range map[string]time.Duration{"now-6m": 6 * time.Minute, "now-30s": 30 * time.Second, "now-2h": 2 * time.Hour, "": 6 * time.Minute} {
		if got, err := lookBack(from); err != nil || got != want {
			t.Errorf("lookBack(%q) = %v, %v; want %v", from, got, err, want)
		}
	}
	for _, bad := range []string{"now", "now-m", "now-5M", "2024-01-01", "now-0m"} {
		if _, err := lookBack(bad); err == nil {
			t.Errorf("lookBack(%q) accepted", bad)
		}
	}
}

// TestLongQueriesCompileInLinearTime: a query of many commands, or a WHERE of many ORs, costs in proportion to its
// length (measured in bytes allocated, not time): each command once lexed its whole rest, and each OR copied the
// terms below it.
func TestLongQueriesCompileInLinearTime(t *testing.T) {
	fm := defaultMap(t)
	for _, build := range []func(n int) string{
		func(n int) string { return "FROM logs-* | " + strings.Repeat("WHERE true | ", n) + "WHERE true" },
		func(n int) string {
			return "FROM logs-* | WHERE " + strings.Repeat(`kubernetes.audit.verb == "x" OR `, n) + "true"
		},
	} {
		allocated := func(n int) uint64 {
			q := build(n)
			var before, after runtime.MemStats
			runtime.ReadMemStats(&before)
			if _, _, err := CompileESQL(q, fm); err != nil {
				t.Fatal(err)
			}
			runtime.ReadMemStats(&after)
			return after.TotalAlloc - before.TotalAlloc
		}
		small, large := allocated(1000), allocated(4000)
		if ratio := float64(large) / float64(small); ratio > 6 {
			t.Errorf("%.40q...: 4x the length allocates %.1fx the bytes (%d vs %d): not linear", build(1), ratio, large, small)
		}
	}
}

// TestESQLWhereOnEventFieldsIsTheFilter: a WHERE that reads no column joins the filter even after an EVAL (the
// multi-resource discovery rule computes its time bucket first), so the operation index keys the rule on its verbs;
// one that reads a column stays a stage.
func TestESQLWhereOnEventFieldsIsTheFilter(t *testing.T) {
	filter, pipeline, err := CompileESQL(`FROM logs-* | EVAL Esql.u = TO_UPPER(user.name)
| WHERE kubernetes.audit.verb == "get" | WHERE Esql.u == "A"`, defaultMap(t))
	if err != nil {
		t.Fatal(err)
	}
	wantFilter := rule.Compare{Field: rule.Field{Name: "verb", AnyArray: true}, Op: rule.OpEq, Value: rule.Literal("get", true)}
	if !reflect.DeepEqual(filter, wantFilter) {
		t.Errorf("filter %#v, want %#v", filter, wantFilter)
	}
	if len(pipeline) != 2 {
		t.Fatalf("pipeline %#v, want the EVAL and the WHERE on its column", pipeline)
	}
	if w, ok := pipeline[1].(rule.Where); !ok || !reflect.DeepEqual(w.Cond, rule.Expr(rule.Compare{Field: rule.Field{Name: "Esql.u"}, Op: rule.OpEq, Value: rule.Literal("A", true)})) {
		t.Errorf("stage %#v, want the WHERE on Esql.u", pipeline[1])
	}
}

// TestESQLNullRiskObject: a group whose risk object column is null (no impersonation) still writes a risk record,
// naming null, as Elastic alerts on the null row.
func TestESQLNullRiskObject(t *testing.T) {
	doc := tomlRule("risk_score = 47\ntype = \"esql\"\nlanguage = \"esql\"\nquery = \"\"\"\nfrom logs-*\n" +
		"| stats c = count(*) by kubernetes.audit.impersonatedUser.username\n| where c >= 1\n\"\"\"\n")
	r, err := Parse("x.toml", []byte(doc), nil)
	if err != nil {
		t.Fatal(err)
	}
	eng, err := engine.Compile([]*rule.Rule{r}, engine.Options{})
	if err != nil {
		t.Fatal(err)
	}
	ms, err := eng.Match([]byte(auditEvent))
	if err != nil || len(ms) != 1 {
		t.Fatalf("matches %v %v, want one", ms, err)
	}
	obj := r.Risk.Objects[0]
	if got := ms[0].Rows[0].Values(obj.Field); len(got) != 1 || got[0] != "null" || obj.Type != "other" {
		t.Errorf("risk object %s (%s) = %v, want null", obj.Field, obj.Type, got)
	}
}

// TestESQLSumOfExpression: an aggregate of an expression (SUM(CASE(...)), as Elastic's enumeration rules count
// outcomes) computes the expression into a column of its own before the STATS, and the sum runs over it.
func TestESQLSumOfExpression(t *testing.T) {
	filter, pipeline, err := CompileESQL(`FROM logs-* | STATS refused = SUM(CASE(kubernetes.audit.responseStatus.code >= 400, 1, 0)), n = COUNT() BY user.name | WHERE refused >= 2`, defaultMap(t))
	if err != nil {
		t.Fatal(err)
	}
	eng, err := engine.Compile([]*rule.Rule{{ID: "q", Name: "q", Filter: filter, Pipeline: pipeline}}, engine.Options{})
	if err != nil {
		t.Fatal(err)
	}
	for i, code := range []int{403, 200, 401} {
		body := strings.Replace(auditEvent, `"code":`, `"code":`+strconv.Itoa(code)+`,"x":`, 1)
		body = strings.Replace(body, `"auditID":"`, `"auditID":"`+strconv.Itoa(i), 1)
		if _, err := eng.Evaluate([]byte(body)); err != nil {
			t.Fatal(err)
		}
	}
	closed := eng.CloseAll()
	if len(closed) != 1 || strings.Join(closed[0].Row.Values("refused"), "") != "2" || strings.Join(closed[0].Row.Values("n"), "") != "3" {
		t.Fatalf("closed %+v", closed)
	}
}

// The column an aggregate's expression is computed into takes a name no column of the query has.
func TestESQLAggregateColumnNameIsFree(t *testing.T) {
	filter, pipeline, err := CompileESQL(`FROM logs-* | EVAL _agg0 = kubernetes.audit.verb | STATS refused = SUM(CASE(kubernetes.audit.responseStatus.code >= 400, 1, 0)), verbs = VALUES(_agg0) BY user.name | WHERE refused >= 0`, defaultMap(t))
	if err != nil {
		t.Fatal(err)
	}
	eng, err := engine.Compile([]*rule.Rule{{ID: "q", Name: "q", Filter: filter, Pipeline: pipeline}}, engine.Options{})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := eng.Evaluate([]byte(auditEvent)); err != nil {
		t.Fatal(err)
	}
	closed := eng.CloseAll()
	if len(closed) != 1 || strings.Join(closed[0].Row.Values("verbs"), "") != "create" {
		t.Fatalf("closed %+v, want verbs = create", closed)
	}
}
