package lint_test

import (
	"testing"

	"github.com/auditdetect/auditdetect/processor/engine"
	"github.com/auditdetect/auditdetect/processor/lint"
	"github.com/auditdetect/auditdetect/processor/rule"
)

// termString spells a term as lint's findings do.
func termString(e rule.Expr) (string, bool) {
	switch t := e.(type) {
	case rule.Compare:
		return t.Field.Name + t.Op.String() + t.Value.Text, true
	case rule.Exists:
		return t.Field.Name + "=*", true
	}
	return "", false
}

// occurrences counts the terms of e spelled term.
func occurrences(e rule.Expr, term string) int {
	n := 0
	rule.EachTerm(e, func(t rule.Expr) {
		if s, ok := termString(t); ok && s == term {
			n++
		}
	})
	return n
}

// without replaces the terms of e spelled term with the empty Or, which is never true.
func without(e rule.Expr, term string) rule.Expr {
	switch t := e.(type) {
	case rule.And:
		out := make(rule.And, len(t))
		for i, x := range t {
			out[i] = without(x, term)
		}
		return out
	case rule.Or:
		out := make(rule.Or, len(t))
		for i, x := range t {
			out[i] = without(x, term)
		}
		return out
	case rule.Not:
		return rule.Not{X: without(t.X, term)}
	}
	if s, ok := termString(e); ok && s == term {
		return rule.Or{}
	}
	return e
}

// matchCount is how many of events r matches in the engine, or -1 when it does not compile.
func matchCount(t *testing.T, r *rule.Rule, events [][]byte) int {
	e, err := engine.Compile([]*rule.Rule{r}, engine.Options{})
	if err != nil {
		return -1
	}
	n := 0
	for _, body := range events {
		ms, err := e.Match(body)
		if err != nil {
			t.Fatalf("%s: %v", body, err)
		}
		n += len(ms)
	}
	return n
}

// checkFindingsAreFalse: every term lint calls never true can be replaced with false without changing what r
// matches on events. A term written more than once is skipped (lint may judge its occurrences apart: a verb is
// closed only where objectRef is required).
func checkFindingsAreFalse(t *testing.T, r *rule.Rule, res lint.Result, events [][]byte) {
	t.Helper()
	if len(res.Findings) == 0 {
		return
	}
	before := matchCount(t, r, events)
	if before < 0 {
		return
	}
	for _, f := range res.Findings {
		if occurrences(r.Filter, f.Term) != 1 {
			continue
		}
		changed := *r
		changed.Filter = without(r.Filter, f.Term)
		if after := matchCount(t, &changed, events); after != before {
			t.Fatalf("lint says %v is never true, but replacing it with false changes %#v's matches from %d to %d", f, r.Filter, before, after)
		}
	}
}
