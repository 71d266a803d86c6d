package elastic

import (
	"strings"
	"testing"

	"github.com/auditdetect/auditdetect/processor/engine"
	"github.com/auditdetect/auditdetect/processor/rule"
)

// esqlRow compiles query, runs body through it and returns the first result row (ok false: no row).
func esqlRow(t *testing.T, query, body string) (engine.Row, bool) {
	t.Helper()
	filter, pipeline, err := CompileESQL(query, defaultMap(t))
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
	if len(ms) == 0 || len(ms[0].Rows) == 0 {
		return engine.Row{}, false
	}
	return ms[0].Rows[0], true
}

// COUNT(field) counts the field's values, each value of a multi-valued field (ES|QL's COUNT: "Returns the total
// number (count) of input values"; COUNT(SPLIT("foo;bar;baz;qux;quux;foo", ";")) is 6). auditEvent lists two
// sourceIPs.
func TestESQLCountOfMultiValuedField(t *testing.T) {
	row, ok := esqlRow(t, `FROM logs-* | STATS n = COUNT(kubernetes.audit.sourceIPs) BY user.name`, auditEvent)
	if !ok {
		t.Fatal("no row")
	}
	if got := strings.Join(row.Values("n"), ","); got != "2" {
		t.Errorf("COUNT(kubernetes.audit.sourceIPs) = %s, want 2 (one per value)", got)
	}
	// Through the window: two such events make 4 values, which `n >= 3` needs.
	filter, pipeline, err := CompileESQL(`FROM logs-* | STATS n = COUNT(source.ip) BY user.name | WHERE n >= 3`, defaultMap(t))
	if err != nil {
		t.Fatal(err)
	}
	eng, err := engine.Compile([]*rule.Rule{{ID: "q", Name: "q", Filter: filter, Pipeline: pipeline}}, engine.Options{})
	if err != nil {
		t.Fatal(err)
	}
	fired := 0
	for range 2 {
		ms, err := eng.Match([]byte(auditEvent))
		if err != nil {
			t.Fatal(err)
		}
		fired += len(ms)
	}
	if fired != 1 {
		t.Errorf("COUNT(source.ip) >= 3 over two events of two addresses fired %d times, want once", fired)
	}
}

// DATE_TRUNC buckets are aligned as Elasticsearch's Rounding aligns them: a time span (minutes, hours) and a span
// of several days count from the Unix epoch (Rounding.Builder(TimeValue): floorDiv(millis, interval)); 1 week (7 days)
// starts on Monday (WEEK_OF_WEEKYEAR). Go's Time.Truncate counts from January 1 of year 1.
func TestESQLDateTruncAlignment(t *testing.T) {
	body := strings.Replace(auditEvent, `"kind":"Event"`, `"stageTimestamp":"2025-01-01T10:03:30.123456Z","kind":"Event"`, 1)
	for span, want := range map[string]string{
		"1 minute":  "2025-01-01T10:03:00Z",
		"7 minutes": "2025-01-01T10:00:00Z", // 28928763 epoch minutes, floor to a multiple of 7: 28928760
		"5 hours":   "2025-01-01T09:00:00Z", // 482146 epoch hours, floor to a multiple of 5: 482145
		"3 days":    "2024-12-31T00:00:00Z", // 20089 epoch days, floor to a multiple of 3: 20088
		"1 week":    "2024-12-30T00:00:00Z", // the Monday
	} {
		row, ok := esqlRow(t, `FROM logs-* | EVAL Esql.t = DATE_TRUNC(`+span+`, @timestamp)`, body)
		if !ok {
			t.Fatal("no row")
		}
		if got := strings.Join(row.Values("Esql.t"), ","); got != want {
			t.Errorf("DATE_TRUNC(%s, 2025-01-01T10:03:30.123Z) = %s, want %s", span, got, want)
		}
	}
}

// RENAME a AS b replaces an existing column b with a, also where a is null ("If a column with the new name already
// exists, it will be replaced by the new column").
func TestESQLRenameOntoExistingColumn(t *testing.T) {
	q := `FROM logs-* | EVAL Esql.b = "old" | EVAL Esql.a = kubernetes.audit.objectRef.subresource | RENAME Esql.a AS Esql.b | WHERE Esql.b IS NULL`
	if !esqlMatches(t, q) {
		t.Errorf("%s: no row; Esql.b should be the renamed null column", q)
	}
	q = `FROM logs-* | EVAL Esql.b = "old", Esql.a = "new" | RENAME Esql.a AS Esql.b | WHERE Esql.b == "new"`
	if !esqlMatches(t, q) {
		t.Errorf("%s: no row", q)
	}
}

// TO_LOWER(f) and TO_UPPER(f) compared by <, <=, > or >= compare the converted value: TO_UPPER("create") is
// "CREATE", which is < "a" ("create" is not); TO_LOWER("Python-requests/2.31.0") is > "p" ("Python..." is not).
func TestESQLOrderedComparisonOfConvertedCase(t *testing.T) {
	capital := strings.Replace(auditEvent, `"userAgent":"python`, `"userAgent":"Python`, 1)
	for q, body := range map[string]string{
		`FROM logs-* | WHERE TO_UPPER(kubernetes.audit.verb) < "a"`:    auditEvent,
		`FROM logs-* | WHERE TO_LOWER(user_agent.original) > "p"`:      capital,
		`FROM logs-* | WHERE NOT TO_LOWER(user_agent.original) <= "p"`: capital,
	} {
		filter, pipeline, err := CompileESQL(q, defaultMap(t))
		if err != nil {
			continue // refused: no wrong answer
		}
		eng, err := engine.Compile([]*rule.Rule{{ID: "q", Name: "q", Filter: filter, Pipeline: pipeline}}, engine.Options{})
		if err != nil {
			t.Fatal(err)
		}
		ms, err := eng.Match([]byte(body))
		if err != nil {
			t.Fatal(err)
		}
		if len(ms) == 0 {
			t.Errorf("%s: no row (the comparison read the value as written, not converted)", q)
		}
	}
}

// TO_LOWER and TO_UPPER convert each value of a multi-valued field, as Elasticsearch 9.1.0 and later do (the str
// parameter: "The input can be a single-valued column or expression, or a multi-valued column or expression
// {applies_to}`stack: ga 9.1.0`"; `ROW v = TO_LOWER(["Some", "Text"])` is ["some", "text"]). The other functions
// are null for several values: "Unless otherwise documented functions will return `null` when applied to a
// multivalued field" (ES|QL multivalued fields, Functions), and TRIM, REPLACE and CONCAT document nothing else.
func TestESQLFunctionsOfMultiValuedField(t *testing.T) {
	for eval, want := range map[string]string{
		`TO_UPPER(kubernetes.audit.user.groups)`:                  "SYSTEM:SERVICEACCOUNTS,SYSTEM:AUTHENTICATED",
		`TO_LOWER(TO_UPPER(kubernetes.audit.user.groups))`:        "system:serviceaccounts,system:authenticated",
		`TRIM(kubernetes.audit.user.groups)`:                      "",
		`REPLACE(kubernetes.audit.user.groups, "system", "s")`:    "",
		`CONCAT(kubernetes.audit.user.groups, "!")`:               "",
		`CONCAT(TO_UPPER(kubernetes.audit.user.groups), "!")`:     "",
		`TO_STRING(kubernetes.audit.user.groups)`:                 "system:serviceaccounts,system:authenticated",
		`URL_DECODE(kubernetes.audit.user.groups)`:                "system:serviceaccounts,system:authenticated",
		`TO_UPPER(kubernetes.audit.user.username)`:                "SYSTEM:SERVICEACCOUNT:SHOP:WEB",
		`CASE(TRUE, TO_UPPER(kubernetes.audit.user.groups), "x")`: "SYSTEM:SERVICEACCOUNTS,SYSTEM:AUTHENTICATED",
	} {
		row, ok := esqlRow(t, `FROM logs-* | EVAL Esql.g = `+eval, auditEvent)
		if !ok {
			t.Fatalf("%s: no row", eval)
		}
		if got := strings.Join(row.Values("Esql.g"), ","); got != want {
			t.Errorf("%s = %q, want %q", eval, got, want)
		}
	}
}

// TO_STRING of a number is its text, a keyword (`ROW a=10 | EVAL j = TO_STRING(a)` is "10"): it does not equal
// "201.0" as the number 201 does, and it is ordered as text ("201" < "3").
func TestESQLToStringOfNumberIsText(t *testing.T) {
	const code = "kubernetes.audit.responseStatus.code"
	for q, want := range map[string]bool{
		`WHERE TO_STRING(` + code + `) == "201"`:                                      true,
		`WHERE TO_STRING(` + code + `) == "201.0"`:                                    false,
		`WHERE TO_STRING(` + code + `) IN ("201.0", "2.01e2")`:                        false,
		`WHERE TO_STRING(` + code + `) != "201.0"`:                                    true,
		`WHERE NOT TO_STRING(` + code + `) == "201.0"`:                                true,
		`WHERE ` + code + ` == 201.0`:                                                 true, // the number compares as a number
		`WHERE TO_STRING(` + code + `) < "3"`:                                         true,
		`WHERE TO_STRING(` + code + `) >= "3"`:                                        false,
		`WHERE NOT TO_STRING(` + code + `) < "3"`:                                     false,
		`WHERE ` + code + ` < 3`:                                                      false,
		`EVAL Esql.c = ` + code + ` | WHERE TO_STRING(Esql.c) < "3"`:                  true,
		`EVAL Esql.c = ` + code + ` | WHERE TO_STRING(Esql.c) == "201.0"`:             false,
		`EVAL Esql.s = TO_STRING(` + code + `) | WHERE Esql.s == "201"`:               true,
		`WHERE TO_STRING(source.ip) > "10.1"`:                                         true, // "10.244.1.7": text, not an address
		`WHERE TO_STRING(kubernetes.audit.verb) < "d" AND TO_STRING(user.name) > "s"`: true,
	} {
		if got := esqlMatches(t, "FROM logs-* | "+q); got != want {
			t.Errorf("%s: match = %v, want %v", q, got, want)
		}
	}
}
