package engine

import (
	"fmt"
	"math"
	"math/big"
	"strconv"
	"strings"
	"unicode/utf8"

	"github.com/auditdetect/auditdetect/processor/rule"
)

// Eval's numbers and the functions on them (rule.CallFuncs): arguments are read with rule.ParseNumber and results
// written with rule.FormatNumber, the functions SPL's compiler folds constants with.

// valueCompareNode is rule.ValueCompare: a comparison of computed values, or with right nil, a test that left has one.
type valueCompareNode struct {
	left, right valueExec
	op          rule.Op
	text        bool
}

func compileValueCompare(e rule.ValueCompare) (node, error) {
	if e.Left == nil {
		return nil, fmt.Errorf("a comparison of values needs a left value")
	}
	rs := refs{}
	left, err := compileValue(e.Left, rs)
	if err != nil {
		return nil, err
	}
	n := valueCompareNode{left: left, op: e.Op, text: e.AsText}
	if e.Right != nil {
		if e.Op < rule.OpEq || e.Op > rule.OpGe {
			return nil, fmt.Errorf("unknown operator %d", e.Op)
		}
		if n.right, err = compileValue(e.Right, rs); err != nil {
			return nil, err
		}
	}
	return n, nil
}

func (n valueCompareNode) eval(c *evalCtx, s source) bool {
	r := s.row
	if r == nil {
		r = &row{ev: s.view} // a filter: the event is the row
	}
	lv, _ := n.left.values(c, r)
	if n.right == nil || len(lv) == 0 {
		return len(lv) > 0 && n.right == nil
	}
	rv, _ := n.right.values(c, r)
	return len(rv) > 0 && compareSets(lv, rv, n.op, n.text)
}

// compareOne compares two values as where does: numerically when both are numbers (and not asText), else as text.
func compareOne(a, b string, asText bool) int {
	if !asText {
		if x, ok := rule.ParseNumber(a); ok {
			if y, ok := rule.ParseNumber(b); ok {
				switch {
				case x < y:
					return -1
				case x > y:
					return 1
				}
				return 0
			}
		}
	}
	return strings.Compare(a, b)
}

// smallProduct is the number of pairs of values compared one by one; past it, compareSets works on the two sets'
// extremes and a set of values, so that two multi-valued fields of an event cost the sum of their sizes, not the
// product.
const smallProduct = 64

// compareSets reports whether some value of l and some value of r satisfy op (OpNe: none are equal), both non-empty.
func compareSets(l, r []string, op rule.Op, asText bool) bool {
	if len(l)*len(r) <= smallProduct {
		eq := false
		for _, a := range l {
			for _, b := range r {
				cmp := compareOne(a, b, asText)
				switch op {
				case rule.OpEq, rule.OpNe:
					eq = eq || cmp == 0
				default:
					if op.Holds(cmp) {
						return true
					}
				}
			}
		}
		return op == rule.OpEq && eq || op == rule.OpNe && !eq
	}
	ls, rs := splitNumbers(l, asText), splitNumbers(r, asText)
	switch op {
	case rule.OpEq:
		return ls.meets(rs)
	case rule.OpNe:
		return !ls.meets(rs)
	}
	// Some a op b: for < and <=, the least a against the greatest b; for > and >=, the greatest against the least.
	// A pair of numbers compares numerically; a pair with text in it compares as text.
	low := op == rule.OpLt || op == rule.OpLe
	if len(ls.nums) > 0 && len(rs.nums) > 0 {
		a, b := ls.numMax(), rs.numMin()
		if low {
			a, b = ls.numMin(), rs.numMax()
		}
		if op.Holds(compareFloat(a, b)) {
			return true
		}
	}
	textPair := func(as, bs []string) bool {
		if len(as) == 0 || len(bs) == 0 {
			return false
		}
		a, b := textExtreme(as, true), textExtreme(bs, false)
		if low {
			a, b = textExtreme(as, false), textExtreme(bs, true)
		}
		return op.Holds(strings.Compare(a, b))
	}
	// (text of l, any of r) and (number of l, text of r).
	return textPair(ls.texts, r) || textPair(ls.numTexts, rs.texts)
}

func compareFloat(a, b float64) int {
	switch {
	case a < b:
		return -1
	case a > b:
		return 1
	}
	return 0
}

// numberSplit is a set of values parted into numbers (with their text) and text.
type numberSplit struct {
	nums     []float64
	numTexts []string
	texts    []string
}

func splitNumbers(vals []string, asText bool) numberSplit {
	var s numberSplit
	for _, v := range vals {
		if n, ok := rule.ParseNumber(v); ok && !asText {
			s.nums, s.numTexts = append(s.nums, n), append(s.numTexts, v)
		} else {
			s.texts = append(s.texts, v)
		}
	}
	return s
}

// meets reports whether the sets share a value: an equal number, or an equal text (a text never equals a number:
// the same text would be a number too).
func (s numberSplit) meets(o numberSplit) bool {
	return shareValue(s.nums, o.nums) || shareValue(s.texts, o.texts)
}

// shareValue reports whether a and b have a value in common, in the time of reading both once.
func shareValue[T comparable](a, b []T) bool {
	if len(a) == 0 || len(b) == 0 {
		return false
	}
	set := make(map[T]bool, len(a))
	for _, v := range a {
		set[v] = true
	}
	for _, v := range b {
		if set[v] {
			return true
		}
	}
	return false
}

func (s numberSplit) numMin() float64 {
	m := s.nums[0]
	for _, n := range s.nums[1:] {
		m = min(m, n)
	}
	return m
}

func (s numberSplit) numMax() float64 {
	m := s.nums[0]
	for _, n := range s.nums[1:] {
		m = max(m, n)
	}
	return m
}

func textExtreme(vals []string, greatest bool) string {
	m := vals[0]
	for _, v := range vals[1:] {
		if greatest && v > m || !greatest && v < m {
			m = v
		}
	}
	return m
}

// number1 is a function of one number: null for an argument that is none.
func number1(f func(float64) float64) func([]string) (string, bool) {
	return func(a []string) (string, bool) {
		x, ok := rule.ParseNumber(a[0])
		if !ok {
			return "", false
		}
		return rule.FormatNumber(f(x)), true
	}
}

// arithmetic is SPL's + - * / %: numbers computed (rule.Arithmetic); for add, two values that are no numbers joined.
func arithmetic(fn string) func([]string) (string, bool) {
	return func(a []string) (string, bool) {
		x, xNum := rule.ParseNumber(a[0])
		y, yNum := rule.ParseNumber(a[1])
		switch {
		case xNum && yNum:
			r, ok := rule.Arithmetic(fn, x, y)
			if !ok {
				return "", false
			}
			return rule.FormatNumber(r), true
		case fn == "add" && !xNum && !yNum:
			return concatBounded(a), true
		}
		return "", false
	}
}

// maxRoundDigits bounds round's digits, which a rule writes: past a double's 17 significant digits and its exponent
// range nothing changes.
const maxRoundDigits = 400

// roundHalfUp rounds x to digits decimals, half toward +infinity (round(-4.5) is -4, as Splunk's round gives), on
// x's shortest decimal form, so that round(2.675, 2) is the 2.68 the rule's author reads, not the 2.67 of the double
// just below it.
func roundHalfUp(x float64, digits int) float64 {
	q, ok := new(big.Rat).SetString(strconv.FormatFloat(x, 'e', -1, 64))
	if !ok {
		return x
	}
	scale := new(big.Rat).SetInt(new(big.Int).Exp(big.NewInt(10), big.NewInt(int64(abs(digits))), nil))
	if digits < 0 {
		scale.Inv(scale)
	}
	q.Mul(q, scale)
	q.Add(q, big.NewRat(1, 2))
	floor := new(big.Int).Div(q.Num(), q.Denom()) // Euclidean: rounds down for a positive denominator
	q.SetInt(floor)
	q.Quo(q, scale)
	f, _ := q.Float64()
	return f
}

func abs(n int) int {
	if n < 0 {
		return -n
	}
	return n
}

// substrSQLite is SQLite's substr(X, Y, Z) over the code points of s (Splunk: "The indexes follow SQLite
// semantics"), ported from its substrFunc; hasLen false is substr(X, Y).
func substrSQLite(s string, p1, p2 int64, hasLen bool) string {
	n := int64(utf8.RuneCountInString(s))
	if !hasLen {
		p2 = 1 << 62 // SQLite's length limit: the rest, whatever start is
	}
	negP2 := p2 < 0
	if negP2 {
		p2 = -p2
	}
	switch {
	case p1 < 0:
		p1 += n
		if p1 < 0 {
			p2 += p1
			if p2 < 0 {
				p2 = 0
			}
			p1 = 0
		}
	case p1 > 0:
		p1--
	case p2 > 0:
		p2--
	}
	if negP2 {
		p1 -= p2
		if p1 < 0 {
			p2 += p1
			p1 = 0
		}
	}
	if p1 >= n || p2 <= 0 {
		return ""
	}
	start := runeOffset(s, p1)
	return s[start : start+runeOffset(s[start:], p2)]
}

// runeOffset is the byte offset of code point k of s (len(s) past the last).
func runeOffset(s string, k int64) int {
	for i := range s {
		if k == 0 {
			return i
		}
		k--
	}
	return len(s)
}

// wholeNumber reads a as a number and cuts its fraction, bounded to ±2^62 (an index or a length past any value).
func wholeNumber(a string) (int64, bool) {
	x, ok := rule.ParseNumber(a)
	if !ok {
		return 0, false
	}
	const bound = 1 << 62
	return int64(math.Max(-bound, math.Min(bound, math.Trunc(x)))), true
}

// maxExactInteger is 2^53: every whole number up to it is a double.
const maxExactInteger = 1 << 53

// integral reads a as a whole number from 0 to 2^53.
func integral(a string) (uint64, bool) {
	x, ok := rule.ParseNumber(a)
	if !ok || x < 0 || x > maxExactInteger || x != math.Trunc(x) {
		return 0, false
	}
	return uint64(x), true
}

// formatCommas writes x with its thousands separated by commas, a fraction rounded to two decimals.
func formatCommas(x float64) string {
	s := strconv.FormatFloat(x, 'f', 0, 64)
	if x != math.Trunc(x) {
		s = strconv.FormatFloat(x, 'f', 2, 64)
	}
	sign := ""
	if s[0] == '-' {
		sign, s = "-", s[1:]
	}
	whole, frac, _ := strings.Cut(s, ".")
	var b strings.Builder
	b.WriteString(sign)
	for i, c := range whole {
		if i > 0 && (len(whole)-i)%3 == 0 {
			b.WriteByte(',')
		}
		b.WriteRune(c)
	}
	if frac != "" {
		b.WriteString("." + frac)
	}
	return b.String()
}

// formatDuration writes a number of seconds as [D+]HH:MM:SS, the form of Splunk's durations (convert dur2sec reads
// it).
func formatDuration(secs uint64) string {
	d, rest := secs/86400, secs%86400
	hms := fmt.Sprintf("%02d:%02d:%02d", rest/3600, rest%3600/60, rest%60)
	if d > 0 {
		return strconv.FormatUint(d, 10) + "+" + hms
	}
	return hms
}

// isIntegerText reports whether s is a whole number written as one: an optional sign and digits.
func isIntegerText(s string) bool {
	if s != "" && (s[0] == '+' || s[0] == '-') {
		s = s[1:]
	}
	if s == "" {
		return false
	}
	for i := 0; i < len(s); i++ {
		if !isDigit(s[i]) {
			return false
		}
	}
	return true
}

func isDigit(c byte) bool { return '0' <= c && c <= '9' }

// extremeValue is min() or max() of every value of its arguments.
type extremeValue struct {
	args     []valueExec
	greatest bool
}

func (v extremeValue) values(c *evalCtx, r *row) ([]string, bool) {
	var all []string
	for _, a := range v.args {
		vals, _ := a.values(c, r)
		all = append(all, vals...)
	}
	if len(all) == 0 {
		return nil, false
	}
	return []string{extreme(all, v.greatest)}, true
}

// mvCountValue is mv_count(): how many values its argument has.
type mvCountValue struct{ arg valueExec }

func (v mvCountValue) values(c *evalCtx, r *row) ([]string, bool) {
	vals, _ := v.arg.values(c, r)
	if len(vals) == 0 {
		return nil, false
	}
	return []string{strconv.Itoa(len(vals))}, true
}

// mvIndexValue is mv_index(): the values from start to end (nil: start alone).
type mvIndexValue struct {
	arg, start, end valueExec
}

func (v mvIndexValue) values(c *evalCtx, r *row) ([]string, bool) {
	vals, _ := v.arg.values(c, r)
	index := func(x valueExec) (int64, bool) {
		a, _ := x.values(c, r)
		if len(a) != 1 {
			return 0, false
		}
		i, ok := wholeNumber(a[0])
		if i < 0 {
			i += int64(len(vals))
		}
		return i, ok
	}
	n := int64(len(vals))
	s, ok := index(v.start)
	if !ok || s < 0 || s >= n {
		return nil, false
	}
	e := s
	if v.end != nil {
		if e, ok = index(v.end); !ok || e < s {
			return nil, false
		}
		e = min(e, n-1)
	}
	return append([]string(nil), vals[s:e+1]...), true
}

// mvJoinValue is mv_join(): the values joined by a separator.
type mvJoinValue struct{ arg, sep valueExec }

func (v mvJoinValue) values(c *evalCtx, r *row) ([]string, bool) {
	vals, _ := v.arg.values(c, r)
	sep, _ := v.sep.values(c, r)
	if len(vals) == 0 || len(sep) != 1 {
		return nil, false
	}
	parts := make([]string, 0, 2*len(vals)-1)
	for i, s := range vals {
		if i > 0 {
			parts = append(parts, sep[0])
		}
		parts = append(parts, s)
	}
	return []string{concatBounded(parts)}, true
}

// maxSplitValues bounds the values split makes: a megabyte request URI split at each character would otherwise make
// a million. The last value holds the rest, as a split with a limit does, so that mvcount() still passes any
// threshold below it.
const maxSplitValues = 10000

func splitValues(a []string) (out []string, ok bool) {
	s, sep := a[0], a[1]
	if sep != "" {
		return strings.SplitN(s, sep, maxSplitValues), true
	}
	for i := range s {
		if len(out) == maxSplitValues-1 {
			return append(out, s[i:]), true
		}
		_, n := utf8.DecodeRuneInString(s[i:])
		out = append(out, s[i:i+n])
	}
	return out, len(out) > 0
}

// splitValue is split(): one value cut into several.
type splitValue struct{ args []valueExec }

func (v splitValue) values(c *evalCtx, r *row) ([]string, bool) {
	a := make([]string, 2)
	for i, x := range v.args {
		vals, _ := x.values(c, r)
		if len(vals) != 1 {
			return nil, false
		}
		a[i] = vals[0]
	}
	return splitValues(a)
}

// compileNumeric compiles the Call functions of eval's numbers, lengths and multi-valued fields; ok false for another
// function.
func compileNumeric(v rule.Call, args []valueExec, constArg func(int, string) (string, error)) (valueExec, bool, error) {
	var fn func([]string) (string, bool)
	switch v.Func {
	case "add", "subtract", "multiply", "divide", "modulo":
		fn = arithmetic(v.Func)
	case "negate":
		fn = number1(func(x float64) float64 { return -x })
	case "abs":
		fn = number1(math.Abs)
	case "ceil":
		fn = number1(math.Ceil)
	case "floor":
		fn = number1(math.Floor)
	case "round":
		text, err := constArg(1, "number of decimals")
		if err != nil {
			return nil, true, err
		}
		digits, err := strconv.Atoi(text)
		if err != nil || abs(digits) > maxRoundDigits {
			return nil, true, fmt.Errorf("round: the number of decimals %q is not a whole number from -%d to %d", text, maxRoundDigits, maxRoundDigits)
		}
		fn = number1(func(x float64) float64 { return roundHalfUp(x, digits) })
	case "length":
		fn = func(a []string) (string, bool) { return strconv.Itoa(utf8.RuneCountInString(a[0])), true }
	case "substr":
		fn = func(a []string) (string, bool) {
			start, ok := wholeNumber(a[1])
			if !ok {
				return "", false
			}
			var n int64
			if len(a) == 3 {
				if n, ok = wholeNumber(a[2]); !ok {
					return "", false
				}
			}
			return substrSQLite(a[0], start, n, len(a) == 3), true
		}
	case "to_number":
		text, err := constArg(1, "base")
		if err != nil {
			return nil, true, err
		}
		base, err := strconv.Atoi(text)
		if err != nil || base < 2 || base > 36 {
			return nil, true, fmt.Errorf("to_number: the base %q is not a whole number from 2 to 36", text)
		}
		fn = func(a []string) (string, bool) {
			if base == 10 {
				x, ok := rule.ParseNumber(a[0])
				return rule.FormatNumber(x), ok
			}
			n, err := strconv.ParseInt(a[0], base, 64)
			return rule.FormatNumber(float64(n)), err == nil
		}
	case "to_hex":
		fn = func(a []string) (string, bool) {
			n, ok := integral(a[0])
			return "0x" + strings.ToUpper(strconv.FormatUint(n, 16)), ok
		}
	case "format_commas":
		fn = func(a []string) (string, bool) {
			x, ok := rule.ParseNumber(a[0])
			if !ok {
				return "", false
			}
			return formatCommas(x), true
		}
	case "format_duration":
		fn = func(a []string) (string, bool) {
			n, ok := integral(a[0])
			return formatDuration(n), ok
		}
	case "min", "max":
		return extremeValue{args: args, greatest: v.Func == "max"}, true, nil
	case "mv_count":
		return mvCountValue{arg: args[0]}, true, nil
	case "mv_index":
		out := mvIndexValue{arg: args[0], start: args[1]}
		if len(args) == 3 {
			out.end = args[2]
		}
		return out, true, nil
	case "mv_join":
		return mvJoinValue{arg: args[0], sep: args[1]}, true, nil
	case "split":
		return splitValue{args: args}, true, nil
	case "numbers", "integers", "strings":
		keep := map[string]func(string) bool{
			"numbers":  func(s string) bool { _, ok := rule.ParseNumber(s); return ok },
			"integers": func(s string) bool { _, ok := rule.ParseNumber(s); return ok && isIntegerText(s) },
			"strings":  func(s string) bool { _, ok := rule.ParseNumber(s); return !ok },
		}[v.Func]
		return eachValue{arg: args[0], fn: func(s string) (string, bool) { return s, keep(s) }}, true, nil
	default:
		return nil, false, nil
	}
	return callValue{fn: fn, args: args}, true, nil
}
