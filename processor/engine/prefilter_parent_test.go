package engine

import (
	"fmt"
	"math/rand/v2"
	"strings"
	"testing"
	"unicode/utf8"

	"github.com/auditdetect/auditdetect/processor/event"
	"github.com/auditdetect/auditdetect/processor/rule"
)

// TestPrefilterKeysNecessary: whatever keys spell a field (dotted keys grouping its segments, arrays, escapes of any
// character of a key), an event the field's condition holds of passes the condition's prefilter (needles, mayHold),
// with the parent key's needles (`hostPath"` or `hostPath.`) as with the last key's.
func TestPrefilterKeysNecessary(t *testing.T) {
	rng := rand.New(rand.NewPCG(7, 11))
	names := []string{"hostPath", "path", "volumes", "securityContext", "k8s", "io/decision", "a-b_c", "xyz",
		"naïve", "ab", "", "q\"t", `b\s`, "hostPathX", "xhostPath"}
	held, checked := 0, 0
	for iter := 0; iter < 6000; iter++ {
		f, segs := randomField(rng, names)
		var e rule.Expr
		switch rng.IntN(7) {
		case 0, 1:
			e = rule.Compare{Field: f, Op: rule.OpEq, Value: rule.Pattern{Kind: rule.Glob, Text: "val*"}}
		case 2:
			e = rule.Exists{Field: f, AnyValue: true}
		case 3:
			f.Leaves = false
			e = rule.Exists{Field: f, Under: true}
		case 4:
			e = rule.Exists{Field: f}
		case 5:
			e = rule.FieldEquals{A: f, B: f} // both fields' keys are needles
		case 6:
			// An Or's union of branches: either field's keys may be the ones the event has.
			g, _ := randomField(rng, names)
			e = rule.Or{rule.Compare{Field: g, Op: rule.OpEq, Value: rule.Pattern{Kind: rule.Glob, Text: "other"}},
				rule.Exists{Field: f, AnyValue: true}}
		}
		cs := needles(e)
		n, err := compileExpr(e, nil)
		if err != nil {
			t.Fatal(err)
		}
		for k := 0; k < 8; k++ {
			// Half the bodies have a backslash elsewhere: mayHold then looks for escapes.
			body := `{"verb":"create","note":"x\"y",` + randomMember(rng, segs, f.AnyArray) + `}`
			if rng.IntN(2) == 0 {
				body = `{"verb":"create",` + randomMember(rng, segs, f.AnyArray) + `}`
			}
			var p event.Parser
			v, err := p.Open([]byte(body)) // as Evaluate opens it
			if err != nil {
				t.Fatalf("%s: %v", body, err)
			}
			var c evalCtx
			c.begin()
			if !n.eval(&c, source{view: v}) {
				continue
			}
			held++
			var c2 evalCtx
			c2.begin()
			if !c2.mayHold(v, cs) {
				t.Fatalf("%#v holds of %s, whose bytes the prefilter %s turns away", e, body, describe(cs))
			}
			checked++
		}
	}
	if held < 5000 {
		t.Fatalf("only %d events held: the test proves little", held)
	}
	t.Logf("%d events matched, each passed its prefilter", checked)
}

func describe(cs []clause) string {
	var out []string
	for _, c := range cs {
		var alts []string
		for _, n := range c {
			alts = append(alts, string(n.lit))
		}
		out = append(out, strings.Join(alts, "|"))
	}
	return strings.Join(out, " & ")
}

type seg struct {
	key   string
	array bool
}

// randomField returns a field under requestObject of two to four more segments.
func randomField(rng *rand.Rand, names []string) (rule.Field, []seg) {
	segs := []seg{{key: "requestObject"}}
	for n := 2 + rng.IntN(3); n > 0; n-- {
		segs = append(segs, seg{key: names[rng.IntN(len(names))], array: rng.IntN(4) == 0})
	}
	var parts []string
	for _, s := range segs {
		p := s.key
		if s.array {
			p += "{}"
		}
		parts = append(parts, p)
	}
	f := rule.Field{Name: strings.Join(parts, "."), AnyArray: rng.IntN(3) == 0, Leaves: rng.IntN(5) == 0}
	return f, segs
}

// randomMember writes a top-level member that spells segs: segments grouped at random into dotted keys (never past
// an array), arrays where marked (and sometimes elsewhere, when anyArray), keys escaped at random.
func randomMember(rng *rand.Rand, segs []seg, anyArray bool) string {
	var keys []string
	var arrays []bool
	for i := 0; i < len(segs); {
		j := i
		for j+1 < len(segs) && !segs[j].array && rng.IntN(3) == 0 {
			j++
		}
		var parts []string
		for _, s := range segs[i : j+1] {
			parts = append(parts, s.key)
		}
		keys = append(keys, strings.Join(parts, "."))
		arrays = append(arrays, segs[j].array || anyArray && rng.IntN(3) == 0)
		i = j + 1
	}
	var leaf string
	switch rng.IntN(3) {
	case 0:
		leaf = `"val1"`
	case 1:
		leaf = `{"z":"val1"}`
	default:
		leaf = `"val1"`
	}
	val := leaf
	for i := len(keys) - 1; i >= 0; i-- {
		if arrays[i] {
			val = "[" + val + "]"
		}
		if i == 0 {
			return jsonKey(rng, keys[i]) + ":" + val
		}
		val = "{" + jsonKey(rng, keys[i]) + ":" + val + "}"
	}
	return ""
}

func jsonKey(rng *rand.Rand, k string) string {
	esc := []int{0, 0, 4, 12}[rng.IntN(4)] // one character in esc escaped, none for 0
	var b strings.Builder
	b.WriteByte('"')
	for _, r := range k {
		switch {
		case r == '"' || r == '\\':
			b.WriteByte('\\')
			b.WriteRune(r)
		case r == '/' && esc > 0 && rng.IntN(esc) == 0:
			b.WriteString(`\/`)
		case r >= utf8.RuneSelf && rng.IntN(2) == 0 || esc > 0 && rng.IntN(esc) == 0:
			fmt.Fprintf(&b, `\u%04x`, r)
		default:
			b.WriteRune(r)
		}
	}
	b.WriteByte('"')
	return b.String()
}
