package engine

import (
	"fmt"
	"math/rand"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/auditdetect/auditdetect/processor/rule"
	"github.com/auditdetect/auditdetect/processor/spl"
)

func length(field string) rule.Value {
	return rule.Call{Func: "length", Args: []rule.Value{rule.FieldValue{Field: rule.Field{Name: field}}}}
}

// TestCompareSetsAgreesWithPairs: past smallProduct pairs, compareSets works on the sets' extremes and a set of
// values; it must answer as comparing every pair would (numbers numerically, a pair with text as text).
func TestCompareSetsAgreesWithPairs(t *testing.T) {
	pool := []string{"1", "2", "10", "-3", "1.0", "2e1", "a", "b", "10x", "", "Z", "09"}
	rnd := rand.New(rand.NewSource(1))
	pick := func() []string {
		out := make([]string, 5+rnd.Intn(20))
		for i := range out {
			out[i] = pool[rnd.Intn(len(pool))]
		}
		return out
	}
	for range 3000 {
		l, r := pick(), pick()
		for _, asText := range []bool{false, true} {
			for op := rule.OpEq; op <= rule.OpGe; op++ {
				want := false
				eq := false
				for _, a := range l {
					for _, b := range r {
						c := compareOne(a, b, asText)
						eq = eq || c == 0
						want = want || op.Holds(c)
					}
				}
				switch op {
				case rule.OpEq:
					want = eq
				case rule.OpNe:
					want = !eq
				}
				if got := compareSets(l, r, op, asText); got != want {
					t.Fatalf("%v %s %v (text %v) = %v, want %v", l, op, r, asText, got, want)
				}
			}
		}
	}
}

// TestValueCompareInAFilter: a comparison of computed values in a rule's filter (no front end writes one there
// today; the engine must still be sound): the operation index and the literal prefilter cannot read it, so they must
// let through every event it may match, escaped keys and values included.
func TestValueCompareInAFilter(t *testing.T) {
	long := rule.ValueCompare{Left: length("requestObject.spec.note"), Op: rule.OpGt, Right: rule.Constant{Text: "3"}}
	body := `{"verb":"create","objectRef":{"resource":"pods"},"requestObject":{"spec":{"not\u0065":"abcd"}}}`
	for _, tc := range []struct {
		name   string
		filter rule.Expr
		want   bool
	}{
		{"alone", long, true},
		{"beside an operation", rule.And{eq("objectRef.resource", "pods"), long}, true},
		{"in an OR with an operation it does not have", rule.Or{eq("verb", "get"), long}, true},
		{"NOT of it", rule.Not{X: long}, false},
		{"another operation", rule.And{eq("objectRef.resource", "secrets"), long}, false},
		{"has a value", rule.ValueCompare{Left: length("requestObject.spec.note")}, true},
		{"has none", rule.ValueCompare{Left: length("requestObject.spec.nosuch")}, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if got := matches(t, tc.filter, body); got != tc.want {
				t.Errorf("matched %v, want %v", got, tc.want)
			}
		})
	}
	if ops := requiredOps(rule.Or{eq("verb", "get"), long}); !slices.Equal(ops, []Operation{{Any, Any}}) {
		t.Errorf("required operations %v: a value comparison can hold on any operation", ops)
	}
	if n := needles(rule.Or{eq("requestObject.kind", "Pod"), long}); len(n) != 0 {
		t.Errorf("needles %v: an OR with a term that has none has none", n)
	}
}

// TestArithmeticOverAWindow: arithmetic of constants is folded (`count > 2*5` is `count > 10`, answered when it first
// holds); arithmetic on an aggregate cannot be followed as the window fills: answered when the window closes, with
// the final counts (fork), refused where no record could carry that answer (enrich), and refused on a dc(), whose
// window keeps only the values its comparisons with numbers need.
func TestArithmeticOverAWindow(t *testing.T) {
	const stats = `responseStatus.code=403 | stats count dc(requestURI) as uris by sourceIPs{} | `
	compile := func(tail string, opts Options) (*Engine, error) {
		filter, pipeline, err := spl.Compile(stats+tail, nil)
		if err != nil {
			t.Fatal(err)
		}
		return Compile([]*rule.Rule{{ID: "w", Name: "w", Filter: filter, Pipeline: pipeline}}, opts)
	}
	e, err := compile(`where count > 2*1`, Options{NoCloseResults: true})
	if err != nil || e.rules[0].window.atClose {
		t.Fatalf("count > 2*1: %v (must answer when it first holds)", err)
	}
	events := [][]byte{ev("10.0.0.1", 1, ""), ev("10.0.0.1", 2, ""), ev("10.0.0.1", 3, ""), ev("10.0.0.1", 4, "")}
	if got := play(t, e, events); !slices.Equal(got, []string{"2:3"}) {
		t.Errorf("count > 2*1 fired %v, want on the 3rd event", got)
	}

	_, err = compile(`where count*2 > 4`, Options{NoCloseResults: true})
	if err == nil || !strings.Contains(err.Error(), "where `(count * 2) > 4` computes on an aggregate") {
		t.Errorf("enrich mode: %v", err)
	}
	e, err = compile(`where count*2 > 4`, Options{Window: 10 * time.Minute})
	if err != nil || !e.rules[0].window.atClose {
		t.Fatalf("fork mode: %v (must answer at the close)", err)
	}
	if got := play(t, e, events); len(got) != 0 {
		t.Errorf("answered as the window filled: %v", got)
	}
	play(t, e, [][]byte{ev("10.0.0.9", 20, "")})
	var got []string
	for _, c := range e.TakeClosed() {
		got = append(got, fmt.Sprintf("%s:%s", c.Row.Values("sourceIPs{}")[0], c.Row.Values("count")[0]))
	}
	if !slices.Equal(got, []string{"10.0.0.1:4"}) {
		t.Errorf("closed %v, want the group with its final count", got)
	}

	_, err = compile(`where uris/count > 0.5`, Options{})
	if err == nil || !strings.Contains(err.Error(), "reads uris other than by comparing it with a number") {
		t.Errorf("dc in arithmetic: %v", err)
	}
}

// TestNumericFunctions covers the functions' edges the SPL tests do not reach.
func TestNumericFunctions(t *testing.T) {
	for _, tc := range []struct {
		s        string
		start, n int64
		hasLen   bool
		want     string
	}{
		{"abcdef", 1, 3, true, "abc"},
		{"abcdef", -3, 0, false, "def"},
		{"abcdef", -3, 2, true, "de"},
		{"abcdef", 0, 3, true, "ab"},
		{"abcdef", -8, 4, true, "ab"},
		{"abcdef", 4, -2, true, "bc"},
		{"abcdef", 2, -5, true, "a"},
		{"abcdef", 7, 1, true, ""},
		{"jösé", 2, 2, true, "ös"},
		{"abcdef", -1 << 62, 1 << 62, true, "abcdef"}, // no overflow at the bounds
	} {
		if got := substrSQLite(tc.s, tc.start, tc.n, tc.hasLen); got != tc.want {
			t.Errorf("substr(%q, %d, %d) = %q, want %q", tc.s, tc.start, tc.n, got, tc.want)
		}
	}
	for x, want := range map[float64]string{1234.5: "1,234.50", -1234567: "-1,234,567", 999: "999", 0.005: "0.01", 1e21: "1,000,000,000,000,000,000,000"} {
		if got := formatCommas(x); got != want {
			t.Errorf("commas(%v) = %q, want %q", x, got, want)
		}
	}
	if got, want := strings.Join(mustSplit(t, strings.Repeat("a,", maxSplitValues+5)), ""), strings.Repeat("a", maxSplitValues-1)+strings.Repeat("a,", 6); got != want {
		t.Errorf("a split past its bound: the last value must hold the rest")
	}
	if vals := mustSplit(t, strings.Repeat("é", maxSplitValues+1)); len(vals) != maxSplitValues || vals[len(vals)-1] != "éé" {
		t.Errorf("split into characters past its bound: %d values, last %q", len(vals), vals[len(vals)-1])
	}
}

func mustSplit(t *testing.T, s string) []string {
	t.Helper()
	sep := ","
	if !strings.Contains(s, ",") {
		sep = ""
	}
	vals, ok := splitValues([]string{s, sep})
	if !ok {
		t.Fatalf("split(%.20q) is null", s)
	}
	return vals
}
