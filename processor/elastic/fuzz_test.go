package elastic

import (
	"errors"
	"testing"

	"github.com/auditdetect/auditdetect/processor/engine"
	"github.com/auditdetect/auditdetect/processor/rule"
)

// compiles checks that an expression a parser accepted also compiles in the engine.
func compiles(t *testing.T, e rule.Expr) {
	t.Helper()
	if e == nil {
		t.Fatal("nil expression without an error")
	}
	if _, err := engine.Compile([]*rule.Rule{{ID: "f", Name: "f", Filter: e}}, engine.Options{}); err != nil {
		t.Fatalf("accepted query does not compile: %v", err)
	}
}

// checkQueryError checks that a query error is an *Error inside the query text.
func checkQueryError(t *testing.T, query string, err error) {
	t.Helper()
	var e *Error
	if !errors.As(err, &e) || e.Line < 1 || e.Column < 1 || e.Reason == "" || e.Line > 1+countLines(query) {
		t.Fatalf("bad error %T %v", err, err)
	}
}

func countLines(s string) int {
	n := 0
	for i := 0; i < len(s); i++ {
		if s[i] == '\n' {
			n++
		}
	}
	return n
}

// fuzzQuery: no query panics; errors are *Error inside the query; accepted queries compile in the engine.
func fuzzQuery(f *testing.F, seed string, compile func(string, *FieldMap) (rule.Expr, error)) {
	f.Add(seed)
	fm, err := NewFieldMap(nil)
	if err != nil {
		f.Fatal(err)
	}
	f.Fuzz(func(t *testing.T, query string) {
		e, err := compile(query, fm)
		if err != nil {
			checkQueryError(t, query, err)
			return
		}
		compiles(t, e)
	})
}

// FuzzKQL fuzzes CompileKQL. Seeds: testdata/fuzz/FuzzKQL.
func FuzzKQL(f *testing.F) {
	fuzzQuery(f, `kubernetes.audit.verb:(get or "list") and not user_agent.original:(* and not *kubernetes/$Format)`, CompileKQL)
}

// FuzzEQL fuzzes CompileEQL. Seeds: testdata/fuzz/FuzzEQL.
func FuzzEQL(f *testing.F) {
	fuzzQuery(f, `any where kubernetes.audit.verb in ("get", "list") and not startsWith~(user_agent.original, "kubectl")`, CompileEQL)
}

// FuzzESQL fuzzes CompileESQL: no query panics; errors are *Error inside the query; an accepted query compiles in
// the engine, unless it aggregates (the engine refuses windowed conditions that can stop holding as the window
// fills, a check of its own).
func FuzzESQL(f *testing.F) {
	for _, seed := range []string{
		`FROM logs-kubernetes.audit_logs-* | WHERE kubernetes.audit.objectRef.subresource == "exec" AND kubernetes.audit.requestURI LIKE "*command=*"
| EVAL decoded_uri = URL_DECODE(kubernetes.audit.requestURI)
| GROK decoded_uri "%{DATA}/exec\\?%{DATA:raw_commands}&(?:container|stdin|stdout|stderr)=%{GREEDYDATA}"
| EVAL command = REPLACE(raw_commands, "command=", "") | WHERE command RLIKE """.*(curl.*https|0>&1|[a-z]{2,}).*"""`,
		`from logs-* | where not user.name in ("a", null) and source.ip is not null
| stats n = count_distinct(kubernetes.audit.objectRef.name), v = values(user_agent.original) by user.name, t = date_trunc(1 minute, @timestamp)
| where n >= 3 | keep *`,
		`from logs-* | eval k = case(kubernetes.audit.verb == "get", "r", to_lower(user.name)) | rename k as kind | where KQL("a:b") or kind != "r"`,
	} {
		f.Add(seed)
	}
	fm, err := NewFieldMap(nil)
	if err != nil {
		f.Fatal(err)
	}
	f.Fuzz(func(t *testing.T, query string) {
		filter, pipeline, err := CompileESQL(query, fm)
		if err != nil {
			checkQueryError(t, query, err)
			return
		}
		_, err = engine.Compile([]*rule.Rule{{ID: "f", Name: "f", Filter: filter, Pipeline: pipeline}}, engine.Options{})
		if err != nil && !aggregates(pipeline) {
			t.Fatalf("accepted query does not compile: %v", err)
		}
	})
}

func aggregates(pipeline []rule.Stage) bool {
	for _, st := range pipeline {
		if _, ok := st.(rule.Stats); ok {
			return true
		}
	}
	return false
}

// FuzzParse: no TOML file panics; errors are *rule.Error naming the file; parsed rules compile. Seeds:
// testdata/fuzz/FuzzParse.
func FuzzParse(f *testing.F) {
	f.Add([]byte(tomlRule("severity = \"low\"\ntype = \"query\"\nquery = 'kubernetes.audit.verb:get'\n")))
	f.Fuzz(func(t *testing.T, data []byte) {
		IsRule(data)
		r, err := Parse("f.toml", data, nil)
		if err != nil {
			var e *rule.Error
			if !errors.As(err, &e) || e.File != "f.toml" || e.Reason == "" {
				t.Fatalf("bad error %T %v", err, err)
			}
			return
		}
		if r.Name == "" || r.ID == "" {
			t.Fatalf("incomplete rule %+v", r)
		}
		if _, err := engine.Compile([]*rule.Rule{r}, engine.Options{}); err != nil && !aggregates(r.Pipeline) {
			t.Fatalf("parsed rule does not compile: %v", err)
		}
	})
}
