package engine

import (
	"fmt"
	"math/rand"
	"strings"
	"testing"

	"github.com/auditdetect/auditdetect/processor/event"
	"github.com/auditdetect/auditdetect/processor/rule"
)

// termByTerm rewrites every Or of e as NOT (NOT a AND NOT b ...), which compiles term by term: no inNode.
func termByTerm(e rule.Expr) rule.Expr {
	switch e := e.(type) {
	case rule.Or:
		var a rule.And
		for _, t := range e {
			a = append(a, rule.Not{X: termByTerm(t)})
		}
		return rule.Not{X: a}
	case rule.And:
		var a rule.And
		for _, t := range e {
			a = append(a, termByTerm(t))
		}
		return a
	case rule.Not:
		return rule.Not{X: termByTerm(e.X)}
	}
	return e
}

// Random filters of Ors (one field's values mixed with globs, regexes, numbers, CIDRs, full text, other fields,
// nested Ors, NOT, Exists, FieldEquals) answer as the same filter compiled term by term without a prefilter, on
// events whose keys and values are escaped (\uXXXX) or spelled outside ASCII (Kelvin sign, long s, dotted I), and on
// rows: inNode answers as the Or of its terms, and an Or's prefilter (eitherOf) turns away no event that matches.
func TestRandomOrsAnswerTermByTerm(t *testing.T) {
	rnd := rand.New(rand.NewSource(1))
	flds := []rule.Field{{Name: "requestObject.add{}"}, {Name: "requestObject.add", AnyArray: true}, {Name: "requestObject.spec.name"},
		{Name: "requestObject", Leaves: true}, {Name: "requestObject.code"}, {Name: "verb"}, {Name: "requestObject.x.add{}"}}
	texts := []string{"all", "sys_admin", "SYS_ADMIN", "kelvin", "\u212aelvin", "secret", "\u017fecret", "", "sys*", "*min", "403", "\u0130stanbul",
		"istanbul", "a\\*b", "a*b", "cap_bpf", "x?z", "kubernetes-admin", "*netes-ad*", "x\\\"q", "back\\\\slash", "\u00e9t\u00e9", "\u00c9T\u00c9"}
	vals := []string{"all", "ALL", "sys_admin", "Sys_Admin", "kelvin", "\u212aelvin", "KELVIN", "secret", "\u017fecret", "SECRET", "", "403",
		"\u0130stanbul", "istanbul", "\u0131stanbul", "a*b", "axb", "kubernetes-admin", "\u212aUBERNETES-ADMIN", "x\"q", "back\\slash",
		"cap_bpf", "xyz", "\u00e9t\u00e9", "\u00c9T\u00c9", "sysxx", "zzmin", "other", "10.1.2.3", "sys admin now", "KUBE-x y"}
	pat := func() rule.Pattern {
		switch rnd.Intn(16) {
		case 12:
			return rule.Pattern{Kind: rule.Token, Text: "kube*"}
		case 13:
			return rule.Pattern{Kind: rule.Phrase, Text: "sys admin"}
		case 14:
			return rule.Pattern{Kind: rule.CIDR, Text: "10.0.0.0/8"}
		case 15:
			return rule.Pattern{Kind: rule.IP, Text: "10.1.2.3"}
		case 0:
			return rule.Pattern{Kind: rule.Number, Text: "403"}
		case 1:
			return rule.Pattern{Kind: rule.Regex, Text: "^s.s_"}
		case 2:
			return rule.Pattern{Kind: rule.String, Text: texts[rnd.Intn(len(texts))], CaseSensitive: rnd.Intn(2) == 0}
		}
		return rule.Pattern{Kind: rule.Glob, Text: texts[rnd.Intn(len(texts))], CaseSensitive: rnd.Intn(3) == 0}
	}
	var expr func(depth int) rule.Expr
	expr = func(depth int) rule.Expr {
		k := rnd.Intn(10)
		if depth > 2 {
			k = 0
		}
		switch {
		case k < 5:
			op := rule.OpEq
			if rnd.Intn(6) == 0 {
				op = rule.OpNe
			}
			return rule.Compare{Field: flds[rnd.Intn(len(flds))], Op: op, Value: pat()}
		case k < 8:
			// Mostly a list of one field's exact values of one case-sensitivity, as an IN list or a list macro.
			f, cs := flds[rnd.Intn(len(flds))], rnd.Intn(3) == 0
			var or rule.Or
			for range 2 + rnd.Intn(5) {
				switch k := rnd.Intn(10); {
				case k < 2:
					or = append(or, expr(depth+1))
				case k < 5:
					or = append(or, rule.Compare{Field: f, Op: rule.OpEq, Value: pat()})
				default:
					or = append(or, rule.Compare{Field: f, Op: rule.OpEq, Value: rule.Pattern{Kind: rule.String,
						Text: vals[rnd.Intn(len(vals))], CaseSensitive: cs}})
				}
			}
			return or
		case k < 9:
			switch rnd.Intn(3) {
			case 0:
				return rule.Exists{Field: flds[rnd.Intn(len(flds))], AnyValue: rnd.Intn(2) == 0, Under: rnd.Intn(3) == 0}
			case 1:
				return rule.FieldEquals{A: flds[rnd.Intn(len(flds))], B: flds[rnd.Intn(len(flds))]}
			}
			return rule.And{expr(depth + 1), expr(depth + 1)}
		}
		return rule.Not{X: expr(depth + 1)}
	}
	enc := func(s string) string {
		var b strings.Builder
		for _, r := range s {
			switch {
			case rnd.Intn(8) == 0 && r < 0x10000:
				b.WriteString(fmt.Sprintf(`\u%04x`, r))
			case r == '"' || r == '\\':
				b.WriteString(`\` + string(r))
			default:
				b.WriteRune(r)
			}
		}
		return b.String()
	}
	val := func() string {
		if rnd.Intn(8) == 0 {
			return "403"
		}
		return `"` + enc(vals[rnd.Intn(len(vals))]) + `"`
	}
	arr := func() string {
		n := rnd.Intn(3)
		var p []string
		for range n {
			p = append(p, val())
		}
		return "[" + strings.Join(p, ",") + "]"
	}
	var p event.Parser
	n, diffs, ins, turnedAway := 0, 0, 0, 0
	for range 2500 {
		e := expr(0)
		fs := &fields{refs: map[rule.Field]*fieldRef{}}
		got, err := compileFilter(e, nil, fs, nil)
		if err != nil {
			continue
		}
		rowNode, err := compileExpr(e, nil)
		if err != nil {
			t.Fatal(err)
		}
		want, err := compileExpr(termByTerm(e), nil)
		if err != nil {
			t.Fatalf("%v: reference: %v", e, err)
		}
		ins += countIns(e)
		lits := needles(e)
		c := &evalCtx{}
		for range 30 {
			var parts []string
			if rnd.Intn(4) > 0 {
				parts = append(parts, `"`+enc("add")+`":`+arr())
			}
			if rnd.Intn(3) == 0 {
				parts = append(parts, `"add":`+val())
			}
			if rnd.Intn(2) == 0 {
				parts = append(parts, `"spec":{"name":`+val()+`}`)
			}
			if rnd.Intn(2) == 0 {
				parts = append(parts, `"code":`+val())
			}
			if rnd.Intn(2) == 0 {
				parts = append(parts, `"x":{"add":`+arr()+`}`)
			}
			body := `{"verb":` + val() + `,"requestObject":{` + strings.Join(parts, ",") + `}}`
			v, err := p.Open([]byte(body))
			if err != nil {
				continue
			}
			c.begin()
			if len(lits) > 0 && !c.mayHold(v, lits) {
				turnedAway++
			}
			g := got.eval(c, source{view: v})
			w := want.eval(&evalCtx{}, source{view: v})
			// On a row with the event's values of each field, as a search stage reads it.
			r := &row{}
			for _, f := range flds {
				var vs []string
				v.Each(newFieldRef(f).path, func(b []byte) bool { vs = append(vs, string(b)); return true })
				if vs != nil && !r.has(newFieldRef(f)) {
					r.fields = append(r.fields, RowField{Name: f.Name, Values: vs})
				}
			}
			if gr, wr := rowNode.eval(c, source{row: r}), want.eval(&evalCtx{}, source{row: r}); gr != wr {
				diffs++
				t.Errorf("%#v\nrow %v: got %v, want %v", e, r.fields, gr, wr)
			}
			n++
			if g != w {
				diffs++
				if diffs < 10 {
					t.Errorf("%#v\nevent %s: got %v, want %v; needles %v", e, body, g, w, needles(e))
				}
			}
		}
	}
	t.Logf("%d evaluations, %d differ; %d inNodes, %d events turned away by the needles of the whole filter", n, diffs,
		ins, turnedAway)
	if ins < 300 || turnedAway < 6000 {
		t.Errorf("the filters exercise too little: %d inNodes, %d events turned away", ins, turnedAway)
	}
}

// countIns counts the Ors in e that compile to an inNode.
func countIns(e rule.Expr) int {
	n := 0
	switch e := e.(type) {
	case rule.Or:
		if in, ok, _ := compileIn(e, newFieldRef); ok && in != nil {
			n++
		}
		for _, t := range e {
			n += countIns(t)
		}
	case rule.And:
		for _, t := range e {
			n += countIns(t)
		}
	case rule.Not:
		n += countIns(e.X)
	}
	return n
}
