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
		if _, err := engine.Compile([]*rule.Rule{r}, engine.Options{}); err != nil {
			t.Fatalf("parsed rule does not compile: %v", err)
		}
	})
}
