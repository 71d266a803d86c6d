package engine

import (
	"testing"

	"github.com/auditdetect/auditdetect/processor/event"
	"github.com/auditdetect/auditdetect/processor/rule"
)

// The terms that loop over an event's memoized values (matchNode, inNode, existsNode) answer as they do read
// straight from the event (no evaluation: gen 0), on values unescaped into the arena, fields with no scalar value,
// several terms of one field sharing its memo, and bodies invalid part way.
func TestMemoizedTermsAgreeWithDirectRead(t *testing.T) {
	f := rule.Field{Name: "f{}", AnyArray: true}
	eqT := func(s string, cs bool) rule.Expr {
		return rule.Compare{Field: f, Op: rule.OpEq, Value: rule.Pattern{Kind: rule.Glob, Text: s, CaseSensitive: cs}}
	}
	exprs := []rule.Expr{
		rule.Exists{Field: f},
		eqT("a\"b", false),
		eqT("K*", false),
		eqT("é", false),
		eqT("x", true),
		rule.Or{eqT("get", false), eqT("LIST", false), eqT("w*", false)},
		rule.Or{eqT("a\"b", true), eqT("x", true)},
		rule.Not{X: rule.Exists{Field: f}},
	}
	bodies := []string{
		`{"f":"x"}`, `{"f":"a\"b"}`, `{"f":["q","a\u0022b"]}`, `{"f":null}`, `{"f":{}}`, `{"f":{"x":"x"}}`, `{"f":[]}`,
		`{"f":[null,{},[]]}`, `{"f":[[],"kelvin\u212a"]}`, `{"f":"\u00c9"}`, `{"f":["GET","x"]}`, `{"g":"x"}`,
		`{"f":["x", "y"`, `{"f":["a\"b",{"z":`, `{"f":"\u212a"}`, `{"f":[1,true,"w1"]}`,
	}
	fs := &fields{refs: map[rule.Field]*fieldRef{}}
	nodes := make([]node, len(exprs))
	for i, e := range exprs {
		n, err := compileExprIn(e, nil, fs)
		if err != nil {
			t.Fatal(err)
		}
		nodes[i] = n
	}
	kinds := map[string]bool{}
	for _, n := range nodes {
		switch n.(type) {
		case matchNode:
			kinds["match"] = true
		case inNode:
			kinds["in"] = true
		case existsNode:
			kinds["exists"] = true
		}
	}
	if len(kinds) != 3 {
		t.Fatalf("terms compiled to %v, want a matchNode, an inNode and an existsNode", kinds)
	}
	var p event.Parser
	c := &evalCtx{}
	arena := false
	for _, body := range bodies {
		v, _ := p.Open([]byte(body))
		if v == nil {
			continue
		}
		c.begin()
		for i, n := range nodes {
			got := n.eval(c, source{view: v})
			want := n.eval(&evalCtx{}, source{view: v})
			if got != want {
				t.Errorf("%s, term %d (%T): memoized %v, read directly %v", body, i, n, got, want)
			}
		}
		for _, sp := range c.spans {
			arena = arena || sp.arena
		}
	}
	if !arena {
		t.Error("no value was unescaped into the arena: the memo's arena went untested")
	}
}
