package engine

import (
	"encoding/json"
	"testing"

	"github.com/auditdetect/auditdetect/processor/event"
	"github.com/auditdetect/auditdetect/processor/rule"
)

// An Or of one field's values compiles to one lookup (inNode) and answers as the Or of its terms does: on the
// event and on a row, case-insensitive or not, with globs and a CIDR among the values, for values outside ASCII
// (Kelvin sign, long s, invalid UTF-8), several values, numbers and values that are no strings. The reference is
// the same Or written as NOT (NOT a AND NOT b ...), which compiles term by term.
func TestInListAnswersAsItsTerms(t *testing.T) {
	lists := []struct {
		name  string
		terms []rule.Pattern
	}{
		{"fold", pats(false, "system:node:x", "Kubernetes-Admin", "kelvin", "secrets", "", "\ufffd")},
		{"fold with globs", pats(false, "system:serviceaccount:kube-system:replicaset-controller",
			"system:serviceaccount:kube-system:replication-controller", "system:node:*", "*-admin", "σας", "a?c")},
		{"case-sensitive", pats(true, "ResponseComplete", "ResponseStarted", "RESPONSECOMPLETE", "kelvin")},
		{"case-sensitive with a fold glob", append(pats(true, "get", "list", "watch"), pats(false, "Patch*")...)},
		{"mixed exact", append(pats(true, "Get", "LIST"), pats(false, "watch", "patch", "update")...)},
		{"numbers and an address", append(pats(false, "403", "401", "200"),
			rule.Pattern{Kind: rule.CIDR, Text: "10.0.0.0/8"})},
	}
	values := []any{
		"system:node:x", "SYSTEM:NODE:X", "system:node:", "system:node:xy", "Kubernetes-Admin", "kubernetes-admin",
		"\u212aelvin", "\u212aELVIN", "kelvin", "\u017fecrets", "SECRETS", "", "ΣΑΣ", "σας", "ςας", "abc", "aXc", "ac",
		"system:serviceaccount:kube-system:replicaset-controller", "SYSTEM:SERVICEACCOUNT:KUBE-SYSTEM:REPLICASET-CONTROLLER",
		"system:serviceaccount:kube-system:replication-controllers", "cluster-admin", "ResponseComplete",
		"responsecomplete", "RESPONSECOMPLETE", "ResponseStarted", "get", "GET", "Get", "list", "LIST", "Patch",
		"patchy", "PATCH-x", "watch", "WATCH", "403", "401", "200", "10.1.2.3", "11.0.0.1", 403, 200.0, true, nil,
		[]any{"x", "system:node:x"}, []any{"y", "z"}, []any{}, map[string]any{"a": "system:node:x"},
		[]any{"\xff", "403"}, "\xff", "\xef\xbf\xbd",
	}
	for _, l := range lists {
		var or rule.Or
		var negated rule.And
		for _, p := range l.terms {
			c := rule.Compare{Field: rule.Field{Name: "f"}, Op: rule.OpEq, Value: p}
			or = append(or, c)
			negated = append(negated, rule.Not{X: c})
		}
		in, err := compileExpr(or, nil)
		if err != nil {
			t.Fatal(err)
		}
		if _, ok := in.(inNode); !ok {
			t.Fatalf("%s: compiled to %T, want inNode", l.name, in)
		}
		ref, err := compileExpr(rule.Not{X: negated}, nil)
		if err != nil {
			t.Fatal(err)
		}
		var p event.Parser
		for _, val := range values {
			body, err := json.Marshal(map[string]any{"f": val})
			if err != nil {
				t.Fatal(err)
			}
			if s, ok := val.(string); ok {
				body = []byte(`{"f":"` + s + `"}`) // as written: json.Marshal would replace invalid UTF-8
			}
			v, err := p.Open(body)
			if err != nil {
				t.Fatal(err)
			}
			c := &evalCtx{gen: 1}
			got, want := in.eval(c, source{view: v}), ref.eval(&evalCtx{}, source{view: v})
			if got != want {
				t.Errorf("%s, event %s: %v, the terms one by one %v", l.name, body, got, want)
			}
			// On a row, with the values the event has.
			var vals []string
			v.Each(event.CompilePath("f", false), func(b []byte) bool {
				vals = append(vals, string(b))
				return true
			})
			r := &row{fields: []RowField{{Name: "f", Values: vals}}}
			got, want = in.eval(c, source{row: r}), ref.eval(&evalCtx{}, source{row: r})
			if got != want {
				t.Errorf("%s, row f=%q: %v, the terms one by one %v", l.name, vals, got, want)
			}
		}
	}
}

// Only an Or of one field's values, with at least two exact values of one case-sensitivity, becomes an inNode.
func TestInListOnlyForOneFieldsValues(t *testing.T) {
	for _, tc := range []struct {
		e    rule.Or
		want bool
	}{
		{rule.Or{eq("verb", "get"), eq("verb", "list")}, true},
		{rule.Or{eq("verb", "get"), eq("verb", "list"), eq("verb", "w*")}, true},
		{rule.Or{eq("verb", "get"), eq("objectRef.resource", "pods")}, false},
		{rule.Or{eq("verb", "get"), eq("verb", "l*")}, false},
		{rule.Or{eq("verb", "get"), cmp("verb", rule.OpNe, "list")}, false},
		{rule.Or{eq("verb", "get"), rule.Exists{Field: rule.Field{Name: "verb"}}}, false},
		{rule.Or{eq("verb", "get")}, false},
		{rule.Or{rule.Compare{Field: rule.Field{Name: "verb"}, Op: rule.OpEq, Value: rule.Pattern{Kind: rule.Glob, Text: "get", CaseSensitive: true}},
			eq("verb", "list")}, false},
		{rule.Or{eq("user.groups{}", "a"), eq("user.groups{}", "b")}, true},
		{rule.Or{eq("user.groups{}", "a"), eq("user.groups", "b")}, false},
	} {
		n, err := compileExpr(tc.e, nil)
		if err != nil {
			t.Fatal(err)
		}
		if _, got := n.(inNode); got != tc.want {
			t.Errorf("%v: compiled to %T, want an inNode: %v", tc.e, n, tc.want)
		}
	}
}

func pats(caseSensitive bool, texts ...string) []rule.Pattern {
	var out []rule.Pattern
	for _, s := range texts {
		out = append(out, rule.Pattern{Kind: rule.Glob, Text: s, CaseSensitive: caseSensitive})
	}
	return out
}
