package elastic

import (
	"net"
	"net/netip"
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

// A keyword compared with a string is ordered as text, by UTF-8 bytes (BytesRef.compareTo in ES|QL's LessThan
// evaluator for keywords): "10" < "9", however numeric both look. A number field or column against a number stays
// numeric (201 > 3).
func TestESQLKeywordOrderIsText(t *testing.T) {
	body := strings.Replace(auditEvent, `"name":"web-7d9f"`, `"name":"10"`, 1)
	const code = "kubernetes.audit.responseStatus.code"
	for q, want := range map[string]bool{
		`WHERE kubernetes.audit.objectRef.name < "9"`:                                              true,
		`WHERE kubernetes.audit.objectRef.name > "9"`:                                              false,
		`WHERE kubernetes.audit.objectRef.name >= "10.0"`:                                          false, // "10" is a prefix of "10.0"
		`EVAL Esql.n = kubernetes.audit.objectRef.name | WHERE Esql.n < "9"`:                       true,
		`EVAL Esql.n = "10" | WHERE Esql.n < "9"`:                                                  true,
		`EVAL Esql.n = CONCAT("1", "0") | WHERE Esql.n <= "9"`:                                     true,
		`GROK user_agent.original "%{DATA}/%{INT:major}\\.%{INT:minor}" | WHERE minor < "4"`:       true, // "31" < "4"
		`STATS Esql.n = VALUES(kubernetes.audit.objectRef.name) BY user.name | WHERE Esql.n < "9"`: true,
		`WHERE user.name > "system:serviceaccount:shop:web"`:                                       false,
		`WHERE user.name > "system:serviceaccount:shop:wea"`:                                       true,
		`WHERE ` + code + ` > 3`:                                                                   true, // numerically
		`WHERE ` + code + ` < 300`:                                                                 true,
		`EVAL Esql.c = ` + code + ` | WHERE Esql.c > 3`:                                            true,
	} {
		_, got := esqlRow(t, "FROM logs-* | "+q, body)
		if got != want {
			t.Errorf("%s: match = %v, want %v", q, got, want)
		}
	}
	// An aggregate is of its type: COUNT and MAX of a number compare as numbers, VALUES of a keyword as text (the
	// pattern shows it: a windowed STATS fires only as its count rises).
	for q, kind := range map[string]rule.PatternKind{
		`STATS Esql.n = COUNT(*) BY user.name | WHERE Esql.n < 10`:                             rule.Glob,
		`STATS Esql.c = MAX(` + code + `) BY user.name | WHERE Esql.c > 3`:                     rule.Glob,
		`STATS Esql.v = VALUES(kubernetes.audit.verb) BY user.name | WHERE Esql.v > "3"`:       rule.String,
		`STATS Esql.v = MIN(kubernetes.audit.verb) BY Esql.u = user.name | WHERE Esql.u > "3"`: rule.String,
		`EVAL Esql.k = CASE(` + code + ` > 300, "10", "20") | WHERE Esql.k < "9"`:              rule.String,
		`EVAL Esql.k = CASE(` + code + ` > 300, 10, null) | WHERE Esql.k < 9`:                  rule.Glob,
	} {
		_, pipeline, err := CompileESQL("FROM logs-* | "+q, defaultMap(t))
		if err != nil {
			t.Fatalf("%s: %v", q, err)
		}
		w, ok := pipeline[len(pipeline)-1].(rule.Where)
		c, isCompare := w.Cond.(rule.Compare)
		if !ok || !isCompare || c.Value.Kind != kind {
			t.Errorf("%s: last stage %#v, want a comparison of pattern kind %d", q, pipeline[len(pipeline)-1], kind)
		}
	}
}

// TO_STRING of an ip is its canonical text (EsqlDataTypeConverter.ipToString, DocValueFormat.IP): dotted decimal
// for IPv4 and IPv4-mapped IPv6 addresses, RFC 5952 for other IPv6 ones. It equals a string only when the string is
// that text: "::ffff:10.244.1.7", "2001:DB8::1" and "10.244.0.0/16" never equal it, whatever the event wrote. The ip
// field itself compared with a string compares addresses (Elasticsearch casts the string to an ip).
func TestESQLToStringOfIPIsCanonicalText(t *testing.T) {
	mapped := strings.Replace(auditEvent, `"sourceIPs":["10.244.1.7","10.0.0.2"]`, `"sourceIPs":["::ffff:10.244.1.7"]`, 1)
	v6 := strings.Replace(auditEvent, `"sourceIPs":["10.244.1.7","10.0.0.2"]`, `"sourceIPs":["2001:0DB8:0:0::1"]`, 1)
	if mapped == auditEvent || v6 == auditEvent {
		t.Fatal("the test event's sourceIPs changed")
	}
	for _, tt := range []struct {
		body, where string
		want        bool
	}{
		{mapped, `TO_STRING(source.ip) == "10.244.1.7"`, true},
		{mapped, `TO_STRING(source.ip) == "::ffff:10.244.1.7"`, false},
		{mapped, `TO_STRING(source.ip) != "::ffff:10.244.1.7"`, true},
		{mapped, `TO_STRING(source.ip) IN ("::ffff:10.244.1.7", "::ffff:a.b.c.d")`, false},
		{mapped, `TO_STRING(source.ip) NOT IN ("::ffff:10.244.1.7")`, true},
		{mapped, `TO_STRING(source.ip) == "10.244.0.0/16"`, false},
		{mapped, `source.ip == "::ffff:10.244.1.7"`, true}, // an ip compared with an ip
		{mapped, `source.ip == "10.244.1.7"`, true},
		{v6, `TO_STRING(source.ip) == "2001:db8::1"`, true},
		{v6, `TO_STRING(source.ip) == "2001:DB8::1"`, false},
		{v6, `TO_STRING(source.ip) == "2001:0db8:0:0::1"`, false},
		{v6, `source.ip == "2001:DB8::1"`, true},
		{auditEvent, `TO_STRING(source.ip) IN ("10.0.0.2")`, true},
		{auditEvent, `NOT TO_STRING(source.ip) IN ("127.0.0.1", "::1")`, true},
	} {
		_, got := esqlRow(t, "FROM logs-* | WHERE "+tt.where, tt.body)
		if got != tt.want {
			t.Errorf("%s on %s: match = %v, want %v", tt.where, tt.body[strings.Index(tt.body, `"sourceIPs"`):strings.Index(tt.body, `,"userAgent"`)], got, tt.want)
		}
	}
}

// esqlIPText is the text Go's net.IP.String gives (the form the API server writes sourceIPs in: dotted decimal for
// IPv4 and IPv4-mapped addresses, RFC 5952 for IPv6), so an ordered comparison of TO_STRING(source.ip), which
// compares the event's text, compares Elasticsearch's text for such events.
func TestESQLIPTextIsGoForm(t *testing.T) {
	for _, s := range []string{"10.0.0.1", "::ffff:10.0.0.1", "::1", "::", "2001:DB8::1", "2001:db8:0:0:1:0:0:1",
		"2001:0db8:0000:0000:0000:0000:0000:0001", "fe80::1:0:0:0", "2001:db8:0:1:1:1:1:1", "::102:304", "::1.2.3.4"} {
		want := net.ParseIP(s).String()
		if got := esqlIPText(netip.MustParseAddr(s)); got != want {
			t.Errorf("%s: %s, net.IP says %s", s, got, want)
		}
	}
}

// Triple-quoted strings are lexed as Elasticsearch's QUOTED_STRING: '"""' (~[\r\n])*? '"""' '"'? '"'? — up to the
// first """, and up to two more quotes after it belong to the string (AbstractBuilder.unquote drops three quotes
// from each end). Backslashes are characters.
func TestESQLTripleQuotedStrings(t *testing.T) {
	for _, tt := range []struct{ src, want, rest string }{
		{`"""a\"b""""`, `a\"b"`, ``},
		{`"""a"""""`, `a""`, ``},
		{`""""""`, ``, ``},
		{`"""""""`, `"`, ``},
		{`"""a" "b"""`, `a" "b`, ``},
		{`"""a""" == "x"`, `a`, ` == "x"`},
		{`"""a"""" == "x"`, `a"`, ` == "x"`},
		{`"""a""""""x"""`, `a""`, `"x"""`}, // the sixth quote starts another string
		{`"""say "hi""""`, `say "hi"`, ``},
		{`"""\d+\.\w"""`, `\d+\.\w`, ``},
		{`"""a // b /* c"""`, `a // b /* c`, ``},
	} {
		got, n, err := esqlString(tt.src, 0)
		if err != nil || got != tt.want || tt.src[n:] != tt.rest {
			t.Errorf("%s: %q then %q, %v; want %q then %q", tt.src, got, tt.src[min(n, len(tt.src)):], err, tt.want, tt.rest)
		}
	}
	said := strings.Replace(auditEvent, `"userAgent":"python-requests/2.31.0"`, `"userAgent":"say \"hi\""`, 1)
	for q, want := range map[string]bool{
		`WHERE user_agent.original == """say "hi""""`:                           true,
		`WHERE user_agent.original == """say "hi"""" AND user.name IS NOT NULL`: true,
		`WHERE user_agent.original LIKE """*"hi""""`:                            true,
		`EVAL Esql.s = """say "hi"""" | WHERE Esql.s == "say \"hi\""`:           true,
	} {
		if _, got := esqlRow(t, "FROM logs-* | "+q, said); got != want {
			t.Errorf("%s: match = %v, want %v", q, got, want)
		}
	}
}

// KEEP, DROP and RENAME leave the columns and fields they keep readable: `KEEP Esql.*, user.name` keeps user.name, a
// dropped name made again by EVAL is a column, and the pattern `*` keeps everything.
func TestESQLProjectionsKeepWhatTheyName(t *testing.T) {
	for _, q := range []string{
		`KEEP Esql.*, user.name | WHERE user.name == "system:serviceaccount:shop:web"`,
		`KEEP * | WHERE kubernetes.audit.verb == "create"`,
		"KEEP `kubernetes.audit.annotations.authorization_k8s_io/decision` | WHERE `kubernetes.audit.annotations.authorization_k8s_io/decision` == \"allow\"",
		`KEEP kubernetes.audit.* | WHERE kubernetes.audit.verb == "create"`,
		`DROP Esql.* | WHERE kubernetes.audit.verb == "create"`,
		`EVAL Esql.a = "x" | DROP Esql.a | EVAL Esql.a = "y" | WHERE Esql.a == "y"`,
		`EVAL Esql.a = kubernetes.audit.verb | KEEP Esql.a | WHERE Esql.a == "create"`,
		`RENAME user.name AS Esql.who | KEEP Esql.who | WHERE Esql.who == "system:serviceaccount:shop:web"`,
		`STATS Esql.c = COUNT(*) BY user.name | KEEP Esql.*, user.name | WHERE Esql.c >= 1 AND user.name IS NOT NULL`,
		`KEEP user.name | SORT user.name DESC NULLS LAST`,
	} {
		if !esqlMatches(t, "FROM logs-* | "+q) {
			t.Errorf("%s: no row", q)
		}
	}
}
