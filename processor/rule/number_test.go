package rule

import (
	"math"
	"strings"
	"testing"
)

func TestFormatNumber(t *testing.T) {
	tenth, fifth := 0.1, 0.2 // computed in double precision, not as Go's exact constants
	for f, want := range map[float64]string{
		3: "3", -3: "-3", 3.5: "3.5", tenth + fifth: "0.30000000000000004", 1.0 / 3: "0.3333333333333333",
		math.Copysign(0, -1): "0", 1e20: "100000000000000000000", 1e21: "1e+21", 1e-6: "0.000001", 2.5e-7: "2.5e-07",
		math.Inf(1): "inf", math.Inf(-1): "-inf", math.NaN(): "nan", 9007199254740993: "9007199254740992",
	} {
		if got := FormatNumber(f); got != want {
			t.Errorf("FormatNumber(%v) = %q, want %q", f, got, want)
		}
		// What is written reads back as the same number (but for the special values, which are text).
		if back, ok := ParseNumber(FormatNumber(f)); ok != !(math.IsInf(f, 0) || math.IsNaN(f)) || ok && back != f {
			t.Errorf("%q reads back as %v, %v", FormatNumber(f), back, ok)
		}
	}
}

func TestParseNumber(t *testing.T) {
	for s, want := range map[string]bool{
		"1": true, "-0": true, "010": true, "1e3": true, "+.5": true, "5.": true, "1e400": false, "nan": false, "inf": false,
		"0x10": false, " 5": false, "": false, strings.Repeat("1", 64): true, strings.Repeat("1", 65): false,
	} {
		if _, ok := ParseNumber(s); ok != want {
			t.Errorf("ParseNumber(%q) = %v, want %v", s, ok, want)
		}
	}
}

func TestArithmetic(t *testing.T) {
	for _, tc := range []struct {
		fn   string
		a, b float64
		want float64
		ok   bool
	}{
		{"add", 1, 2, 3, true}, {"subtract", 1, 2, -1, true}, {"multiply", 3, 0.5, 1.5, true}, {"divide", 7, 2, 3.5, true},
		{"divide", 1, 0, 0, false}, {"modulo", -7, 3, -1, true}, {"modulo", 1, 0, 0, false}, {"power", 2, 3, 0, false},
	} {
		if got, ok := Arithmetic(tc.fn, tc.a, tc.b); got != tc.want || ok != tc.ok {
			t.Errorf("%s(%v, %v) = %v, %v; want %v, %v", tc.fn, tc.a, tc.b, got, ok, tc.want, tc.ok)
		}
	}
}

func TestRuleText(t *testing.T) {
	f := func(n string) Value { return FieldValue{Field: Field{Name: n}} }
	e := And{
		ValueCompare{Left: Call{Func: "divide", Args: []Value{f("dc(x)"), f("count")}}, Op: OpGt, Right: Constant{Text: "0.5"}},
		Not{X: ValueCompare{Left: Call{Func: "negate", Args: []Value{Call{Func: "length", Args: []Value{f("uri")}}}}}},
		Or{Exists{Field: Field{Name: "a"}}, Compare{Field: Field{Name: "b"}, Op: OpNe, Value: Pattern{Text: "x"}}},
		ValueCompare{Left: Case{Whens: []When{{Cond: True{}, Then: Constant{Text: `say "hi"`}}}, Else: Constant{Null: true}}, Op: OpEq, Right: f("c")},
		// Spelt by SPL's names, as the author of an SPL rule wrote them.
		ValueCompare{Left: Call{Func: "mv_count", Args: []Value{f("vals")}}, Op: OpGe, Right: Call{Func: "to_number", Args: []Value{f("n"), Constant{Text: "10"}}}},
		ValueCompare{Left: Call{Func: "event_time"}, Op: OpGt, Right: Constant{Text: "1"}},
	}
	want := `((dc(x) / count) > 0.5 AND NOT isnotnull(-len(uri)) AND (isnotnull(a) OR b!=x) AND case(true(), "say \"hi\"", true(), null()) = c` +
		` AND mvcount(vals) >= tonumber(n, 10) AND _time > 1)`
	if got := ExprText(e); got != want {
		t.Errorf("ExprText:\n got %s\nwant %s", got, want)
	}
}
