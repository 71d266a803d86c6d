package engine

import (
	"fmt"
	"net/url"
	"regexp"
	"slices"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/auditdetect/auditdetect/processor/internal/timefmt"
	"github.com/auditdetect/auditdetect/processor/rule"
)

// evalStage is rule.Eval: it sets one row field from a value computed on each row.
type evalStage struct {
	to string
	v  valueExec
}

func (s evalStage) run(c *evalCtx, rows []*row) []*row {
	for _, r := range rows {
		s.apply(c, r)
	}
	return rows
}

func (s evalStage) apply(c *evalCtx, r *row) {
	v := s.v
	if cv, ok := v.(caseValue); ok && !cv.all {
		// The branch first: ES|QL rules map user_agent.original through case(userAgent ...), a field copy.
		if v = cv.branch(c, r); v == nil {
			r.set(s.to, nil, false)
			return
		}
	}
	// A copy of an event field is read when needed (RowField.from), not copied now.
	if fv, ok := v.(fieldValue); ok && r.ev != nil && r.index(fv.f.name) < 0 && !r.isHidden(fv.f.name) {
		r.copyOf(s.to, fv.f)
		return
	}
	vals, _ := v.values(c, r)
	r.set(s.to, vals, false)
}

// copiesStage is a run of evals that copy event fields or set constants, as an ES|QL query maps each field it
// names to its column (a dozen on most events of "Kubernetes Potential Endpoint Permission Enumeration Attempt
// Detected"). Before it, on the event's own row, only evals and filters ran: an eval always sets its field, so the
// row's field names are known when the rule is compiled, and so is what the run adds to them. The fields are set in
// one copy, instead of two searches of the row's fields per eval. Any other row runs the evals one by one.
type copiesStage struct {
	evals  []evalStage
	base   int        // how many fields the event's row has before the run
	fields []RowField // what the evals add to them
}

// fuseCopies puts each run of two or more evals that copiesStage can set at once into one: runs that only evals
// and filters come before, whose evals copy event fields that are not the row's or set constants, and set no field
// the row had before the run. None in a pipeline with a new_terms or sequence stage: saved state names those by
// their place (persist.go).
func fuseCopies(pre []stageExec) []stageExec {
	for _, st := range pre {
		switch st.(type) {
		case *newTermsStage, *sequenceStage:
			return pre
		}
	}
	var out []stageExec
	var names []string // the event row's field names so far, in order
	for i := 0; i < len(pre); {
		switch pre[i].(type) {
		case filterStage:
			out = append(out, pre[i])
			i++
		case evalStage:
			tmpl := row{fields: make([]RowField, len(names))}
			for k, name := range names {
				tmpl.fields[k].Name = name
			}
			from := i
			for ; i < len(pre); i++ {
				ev, ok := pre[i].(evalStage)
				if !ok || slices.Contains(names, ev.to) || !tmpl.setCopy(ev) {
					break
				}
			}
			if i-from < 2 {
				i = from + 1 // one eval, as it is
				out = append(out, pre[from])
			} else {
				run := make([]evalStage, 0, i-from)
				for _, st := range pre[from:i] {
					run = append(run, st.(evalStage))
				}
				out = append(out, copiesStage{evals: run, base: len(names), fields: slices.Clip(tmpl.fields[len(names):])})
			}
			for _, st := range pre[from:i] {
				if to := st.(evalStage).to; !slices.Contains(names, to) {
					names = append(names, to)
				}
			}
		default:
			// A stage that renames, hides, projects or makes rows: the names after it are not known here.
			return append(out, pre[i:]...)
		}
	}
	return out
}

// setCopy does on r, the names of the event row's fields, what ev does on the row when that is known without the
// event: a copy of an event field that is not one of r's fields (evalStage.apply's copyOf), or a constant.
func (r *row) setCopy(ev evalStage) bool {
	switch v := ev.v.(type) {
	case fieldValue:
		if r.index(v.f.name) >= 0 {
			return false // a copy of a column, read from the row
		}
		r.copyOf(ev.to, v.f)
	case constantValue:
		vals, _ := v.values(nil, nil)
		r.set(ev.to, vals, false)
	default:
		return false
	}
	return true
}

func (s copiesStage) run(c *evalCtx, rows []*row) []*row {
	for _, r := range rows {
		if r.ev != nil && len(r.fields) == s.base && len(r.hidden) == 0 && len(r.gates) == 0 {
			r.fields = append(r.fields, s.fields...)
			continue
		}
		for _, ev := range s.evals {
			ev.apply(c, r)
		}
	}
	return rows
}

// maxComputedInput bounds the value a regex-based function (extract, replace) or url_decode reads: a longer one is
// null to it. RE2 is linear, but a chain of them over a 1 MB request URI (which an unauthenticated client can send)
// cost a rule set of ES|QL exec rules a second per event; real values are far shorter.
const maxComputedInput = 64 << 10

// maxConcat bounds what a concatenation makes: past it the value is cut (at a character), so that a chain of
// assignments doubling a field (`eval x=x.x`) cannot build gigabytes, while a prefix a rule matches survives padding.
// The other functions map their input to about its own size and are not bounded.
const maxConcat = 1 << 20

// concatBounded joins a, cut to maxConcat bytes.
func concatBounded(a []string) string {
	n := 0
	for _, s := range a {
		n += len(s)
	}
	if n <= maxConcat {
		return strings.Join(a, "")
	}
	var b strings.Builder
	b.Grow(maxConcat)
	for _, s := range a {
		if room := maxConcat - b.Len(); len(s) > room {
			s = s[:room]
			// Not inside a character: a last one cut short goes.
			for i := len(s) - 1; i >= 0 && i >= len(s)-utf8.UTFMax; i-- {
				if utf8.RuneStart(s[i]) {
					if !utf8.FullRuneInString(s[i:]) {
						s = s[:i]
					}
					break
				}
			}
			b.WriteString(s)
			break
		}
		b.WriteString(s)
	}
	return b.String()
}

// valueExec is a compiled rule.Value: the values it computes on a row (none: null).
type valueExec interface {
	values(c *evalCtx, r *row) ([]string, bool)
}

type fieldValue struct{ f *fieldRef }

func (v fieldValue) values(_ *evalCtx, r *row) ([]string, bool) {
	vals := r.values(v.f)
	return vals, len(vals) > 0
}

// eventTimeValue is event_time(): the evaluation's event time (evalCtx.at) in epoch seconds.
type eventTimeValue struct{}

func (eventTimeValue) values(c *evalCtx, _ *row) ([]string, bool) {
	return []string{timefmt.EpochText(c.at)}, true
}

// constantValue is a literal; vals is nil for null. Its one slice is handed to every row that takes the value:
// nothing writes into a row's values in place, and the slice is clipped, so an append copies it. ES|QL rules set
// constants on most events (`case(..., 1, 0)` columns for their aggregates).
type constantValue struct{ vals []string }

func newConstantValue(c rule.Constant) constantValue {
	if c.Null {
		return constantValue{}
	}
	return constantValue{vals: slices.Clip([]string{c.Text})}
}

func (v constantValue) values(*evalCtx, *row) ([]string, bool) { return v.vals, v.vals != nil }

// callValue is a single-value function: every argument must have exactly one value.
type callValue struct {
	fn   func(args []string) (string, bool)
	args []valueExec
}

func (v callValue) values(c *evalCtx, r *row) ([]string, bool) {
	args := make([]string, len(v.args))
	for i, a := range v.args {
		vals, _ := a.values(c, r)
		if len(vals) != 1 {
			return nil, false
		}
		args[i] = vals[0]
	}
	if s, ok := v.fn(args); ok {
		return []string{s}, true
	}
	return nil, false
}

// eachValue applies a conversion to every value of its argument, dropping those it cannot convert (ES|QL's
// conversion functions, URL_DECODE among them, TO_LOWER and TO_UPPER, and Splunk's lower and upper keep a
// multi-valued field's values).
type eachValue struct {
	fn  func(string) (string, bool)
	arg valueExec
}

func (v eachValue) values(c *evalCtx, r *row) ([]string, bool) {
	vals, _ := v.arg.values(c, r)
	out := vals[:0:0]
	for _, s := range vals {
		if conv, ok := v.fn(s); ok {
			out = append(out, conv)
		}
	}
	if len(out) == 0 {
		return nil, false
	}
	return out, true
}

type caseValue struct {
	conds []node
	thens []valueExec
	els   valueExec
	all   bool
}

// branch is the value a case that takes its first true branch (not all) gives the row: the then of its first true
// condition, else its else; nil for null.
func (v caseValue) branch(c *evalCtx, r *row) valueExec {
	for i, cond := range v.conds {
		if cond.eval(c, source{row: r}) {
			return v.thens[i]
		}
	}
	return v.els
}

func (v caseValue) values(c *evalCtx, r *row) ([]string, bool) {
	if !v.all {
		if b := v.branch(c, r); b != nil {
			return b.values(c, r)
		}
		return nil, false
	}
	var out []string
	for i, cond := range v.conds {
		if !cond.eval(c, source{row: r}) {
			continue
		}
		vals, _ := v.thens[i].values(c, r)
		out = append(out, vals...)
	}
	if len(out) > 0 {
		return out, true
	}
	if v.els == nil {
		return nil, false
	}
	return v.els.values(c, r)
}

type extractValue struct {
	from  valueExec
	re    *regexp.Regexp
	lits  literalFilter
	group int
	els   valueExec // nil: null
}

func (v extractValue) values(c *evalCtx, r *row) ([]string, bool) {
	vals, _ := v.from.values(c, r)
	if len(vals) == 1 && len(vals[0]) <= maxComputedInput && v.lits.mayMatch(vals[0]) {
		if m := v.re.FindStringSubmatchIndex(vals[0]); m != nil && m[2*v.group] >= 0 {
			return []string{vals[0][m[2*v.group]:m[2*v.group+1]]}, true
		}
	}
	if v.els == nil {
		return nil, false
	}
	return v.els.values(c, r)
}

// compileValue compiles a rule.Value; field names go through rs.
func compileValue(v rule.Value, rs refs) (valueExec, error) {
	switch v := v.(type) {
	case rule.FieldValue:
		if v.Field.AnyArray {
			return fieldValue{newFieldRef(v.Field)}, nil
		}
		return fieldValue{rs.get(v.Field.Name)}, nil
	case rule.Constant:
		return newConstantValue(v), nil
	case rule.Call:
		return compileCall(v, rs)
	case rule.Case:
		out := caseValue{all: v.All}
		for _, w := range v.Whens {
			n, err := compileExpr(w.Cond, nil)
			if err != nil {
				return nil, err
			}
			then, err := compileValue(w.Then, rs)
			if err != nil {
				return nil, err
			}
			out.conds, out.thens = append(out.conds, n), append(out.thens, then)
		}
		if v.Else != nil {
			els, err := compileValue(v.Else, rs)
			if err != nil {
				return nil, err
			}
			out.els = els
		}
		return out, nil
	case rule.Extract:
		from, err := compileValue(v.From, rs)
		if err != nil {
			return nil, err
		}
		if err := rule.CheckRegex(v.Regex); err != nil {
			return nil, fmt.Errorf("extract: %w", err)
		}
		re := regexp.MustCompile(v.Regex)
		group := re.SubexpIndex(v.Group)
		if group < 0 {
			return nil, fmt.Errorf("extract: the regular expression has no group named %q", v.Group)
		}
		out := extractValue{from: from, re: re, lits: newLiteralFilter(v.Regex), group: group}
		if v.Else != nil {
			if out.els, err = compileValue(v.Else, rs); err != nil {
				return nil, err
			}
		}
		return out, nil
	case nil:
		return nil, fmt.Errorf("a value is missing")
	}
	return nil, fmt.Errorf("unsupported value %T", v)
}

func compileCall(v rule.Call, rs refs) (valueExec, error) {
	want, known := rule.CallFuncs[v.Func]
	optional := rule.CallOptional[v.Func]
	switch {
	case !known:
		return nil, fmt.Errorf("unsupported function %q", v.Func)
	case want >= 0 && (len(v.Args) > want || len(v.Args) < want-optional) || want < 0 && len(v.Args) == 0:
		return nil, fmt.Errorf("%s takes %d arguments, not %d", v.Func, want, len(v.Args))
	}
	args := make([]valueExec, len(v.Args))
	for i, a := range v.Args {
		var err error
		if args[i], err = compileValue(a, rs); err != nil {
			return nil, err
		}
	}
	// constArg is an argument that must be a constant, known when the rule loads (a regex, a unit).
	constArg := func(i int, what string) (string, error) {
		if c, ok := v.Args[i].(rule.Constant); ok && !c.Null {
			return c.Text, nil
		}
		return "", fmt.Errorf("%s: the %s must be a constant", v.Func, what)
	}
	if ex, ok, err := compileNumeric(v, args, constArg); ok || err != nil {
		return ex, err
	}
	var fn func([]string) (string, bool)
	switch v.Func {
	case "url_decode":
		return eachValue{arg: args[0], fn: func(s string) (string, bool) {
			if len(s) > maxComputedInput {
				return "", false
			}
			s, err := url.QueryUnescape(s)
			return s, err == nil
		}}, nil
	case "url_decode_lenient":
		return eachValue{arg: args[0], fn: func(s string) (string, bool) {
			if len(s) > maxComputedInput {
				return "", false
			}
			return unescapeLenient(s), true
		}}, nil
	case "to_lower":
		return eachValue{arg: args[0], fn: func(s string) (string, bool) { return strings.ToLower(s), true }}, nil
	case "to_upper":
		return eachValue{arg: args[0], fn: func(s string) (string, bool) { return strings.ToUpper(s), true }}, nil
	case "replace":
		src, err := constArg(1, "regular expression")
		if err != nil {
			return nil, err
		}
		if err := rule.CheckRegex(src); err != nil {
			return nil, fmt.Errorf("replace: %w", err)
		}
		re, lits := regexp.MustCompile(src), newLiteralFilter(src)
		template, err := constArg(2, "replacement")
		if err != nil {
			return nil, err
		}
		fn = func(a []string) (string, bool) {
			switch {
			case len(a[0]) > maxComputedInput:
				return "", false
			case !lits.mayMatch(a[0]):
				return a[0], true // nothing to replace
			}
			return re.ReplaceAllString(a[0], template), true
		}
	case "concat":
		fn = func(a []string) (string, bool) { return concatBounded(a), true }
	case "trim":
		fn = func(a []string) (string, bool) { return strings.TrimSpace(a[0]), true }
	case "trim_chars", "ltrim_chars", "rtrim_chars":
		// A constant, so that an event cannot make the set a megabyte long (a set of runes is searched per rune).
		chars, err := constArg(1, "set of characters")
		if err != nil {
			return nil, err
		}
		trim := map[string]func(string, string) string{"trim_chars": strings.Trim, "ltrim_chars": strings.TrimLeft, "rtrim_chars": strings.TrimRight}[v.Func]
		fn = func(a []string) (string, bool) { return trim(a[0], chars), true }
	case "event_time":
		return eventTimeValue{}, nil
	case "format_time", "format_time_lenient", "parse_time", "parse_time_lenient":
		format, err := constArg(1, "format")
		if err != nil {
			return nil, err
		}
		loc, err := zoneArg(v, 2, constArg)
		if err != nil {
			return nil, err
		}
		keep := strings.HasSuffix(v.Func, "_lenient")
		conv := func(s string) (string, bool) {
			t, ok := timefmt.Epoch(s)
			if !ok {
				return "", false
			}
			return timefmt.FormatIn(t, format, loc), true
		}
		if strings.HasPrefix(v.Func, "parse_time") {
			conv = func(s string) (string, bool) {
				if len(s) > maxComputedInput {
					return "", false
				}
				t, ok := timefmt.ParseIn(format, s, loc)
				if !ok {
					return "", false
				}
				return timefmt.EpochText(t), true
			}
		}
		return eachValue{arg: args[0], fn: func(s string) (string, bool) {
			if out, ok := conv(s); ok {
				return out, true
			}
			return s, keep // as written, for the lenient forms
		}}, nil
	case "bin_floor":
		text, err := constArg(1, "span")
		if err != nil {
			return nil, err
		}
		span, err := newBinSpan(text)
		if err != nil {
			return nil, err
		}
		if len(v.Args) == 3 {
			loc, err := zoneArg(v, 2, constArg)
			if err != nil {
				return nil, err
			}
			if span, err = span.inDays(loc); err != nil {
				return nil, err
			}
		}
		fn = func(a []string) (string, bool) { return span.floor(a[0]) }
	case "date_trunc":
		text, err := constArg(0, "unit")
		if err != nil {
			return nil, err
		}
		unit, err := time.ParseDuration(text)
		if err != nil || unit <= 0 {
			return nil, fmt.Errorf("date_trunc: the unit %q is not a positive duration", text)
		}
		fn = func(a []string) (string, bool) {
			t, err := time.Parse(time.RFC3339Nano, a[1])
			if err != nil {
				return "", false
			}
			return truncEpoch(t, unit).Format(time.RFC3339Nano), true
		}
	}
	return callValue{fn: fn, args: args}, nil
}

// zoneArg is the time zone a time function's optional argument i names (an IANA name such as Europe/Berlin): UTC
// without it.
func zoneArg(v rule.Call, i int, constArg func(int, string) (string, error)) (*time.Location, error) {
	if len(v.Args) <= i {
		return time.UTC, nil
	}
	name, err := constArg(i, "time zone")
	if err != nil {
		return nil, err
	}
	loc, err := timefmt.Zone(name)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", v.Func, err)
	}
	return loc, nil
}

// truncEpoch rounds t down to a multiple of unit counted from the Unix epoch, in milliseconds, as Elasticsearch's
// fixed-interval rounding does (ES|QL DATE_TRUNC of a time span, or of a number of days other than 1 and 7); a unit
// of 7 days starts on a Monday, as DATE_TRUNC(1 week) does (WEEK_OF_WEEKYEAR). Time.Truncate counts from January 1
// of year 1 instead: 5 hours, 7 minutes or 3 days would start elsewhere.
func truncEpoch(t time.Time, unit time.Duration) time.Time {
	if unit%time.Millisecond != 0 {
		return t.UTC().Truncate(unit)
	}
	const day = 24 * 60 * 60 * 1000
	u, offset := unit.Milliseconds(), int64(0)
	if u == 7*day {
		offset = 4 * day // 1970-01-05, a Monday
	}
	k := t.UnixMilli() - offset
	k -= (k%u + u) % u
	return time.UnixMilli(k + offset).UTC()
}

// unescapeLenient is url.QueryUnescape keeping an invalid escape (`%zz`, a `%` at the end) as written.
func unescapeLenient(s string) string {
	if !strings.ContainsAny(s, "%+") {
		return s
	}
	var b strings.Builder
	b.Grow(len(s))
	for i := 0; i < len(s); i++ {
		switch c := s[i]; {
		case c == '+':
			b.WriteByte(' ')
		case c == '%' && i+2 < len(s) && isHex(s[i+1]) && isHex(s[i+2]):
			b.WriteByte(unhex(s[i+1])<<4 | unhex(s[i+2]))
			i += 2
		default:
			b.WriteByte(c)
		}
	}
	return b.String()
}

func isHex(c byte) bool { return '0' <= c && c <= '9' || 'a' <= c && c <= 'f' || 'A' <= c && c <= 'F' }

func unhex(c byte) byte {
	switch {
	case c <= '9':
		return c - '0'
	case c <= 'F':
		return c - 'A' + 10
	}
	return c - 'a' + 10
}
