package elastic

import (
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/auditdetect/auditdetect/processor/rule"
)

// EQL sequences run as a rule.Sequence:
//
//	sequence  = "sequence" [ "by" keys ] [ "with" "maxspan" "=" span ] [ "by" keys ] step step { step } [ "until" step ]
//	step      = "[" query "]" [ "by" keys ] [ "with" "runs" "=" number ]
//	keys      = field { "," field }
//	span      = number ("ms" | "s" | "m" | "h" | "d")
//
// Missing events (`![ ... ]`) are refused, naming them.

// maxSpan bounds maxspan: a sequence's partials are state, and a year of them is more than any rule means.
const maxSpan = 366 * 24 * time.Hour

// maxSequenceSteps bounds a sequence's steps, runs expanded (Elasticsearch allows runs up to 100).
const maxSequenceSteps = 100

var spanUnits = map[string]time.Duration{"ms": time.Millisecond, "s": time.Second, "m": time.Minute,
	"h": time.Hour, "d": 24 * time.Hour}

// CompileEQLSequence compiles an EQL sequence query: the rule's filter (any step's condition) and its sequence stage.
// Errors are *Error.
func CompileEQLSequence(query string, fm *FieldMap) (rule.Expr, rule.Sequence, error) {
	var seq rule.Sequence
	toks, err := eqlLex(query)
	if err != nil {
		return nil, seq, err
	}
	p := &eqlParser{tokCursor: tokCursor{src: query, toks: toks}, fm: fm}
	head := p.peek()
	if !p.accept("sequence") {
		return nil, seq, p.failAt(head, "expected `sequence`")
	}
	var shared []joinKey
	for p.peek().kind == eqlIdent {
		switch t := p.peek(); {
		case p.accept("by"):
			if shared != nil {
				return nil, seq, p.failAt(t, "the sequence's `by` is written once")
			}
			if shared, err = p.joinKeys(); err != nil {
				return nil, seq, err
			}
		case p.accept("with"):
			if seq.MaxSpan != 0 {
				return nil, seq, p.failAt(t, "the sequence's `with maxspan` is written once")
			}
			if seq.MaxSpan, err = p.maxSpan(); err != nil {
				return nil, seq, err
			}
		default:
			return nil, seq, p.failAt(t, fmt.Sprintf("unexpected %q: a sequence's steps are written in brackets, `[any where ...]`", t.text))
		}
	}
	var filters []rule.Expr
	for {
		t := p.peek()
		if t.kind == eqlOp && t.text == "![" {
			return nil, seq, p.failAt(t, "missing events (`![ ... ]`) are not supported: a stream cannot tell that an event will never come")
		}
		if t.kind != eqlOp || t.text != "[" {
			break
		}
		step, err := p.bracketed(shared)
		if err != nil {
			return nil, seq, err
		}
		runs := 1
		if w := p.peek(); p.accept("with") {
			if !p.accept("runs") {
				return nil, seq, p.failAt(w, "a step takes `with runs=<n>`")
			}
			if runs, err = p.paramNumber(1, maxSequenceSteps); err != nil {
				return nil, seq, err
			}
		}
		if len(seq.Steps)+runs > maxSequenceSteps {
			return nil, seq, p.failAt(t, fmt.Sprintf("a sequence has at most %d steps", maxSequenceSteps))
		}
		for range runs {
			seq.Steps = append(seq.Steps, step)
		}
		filters = append(filters, step.Cond)
	}
	if len(seq.Steps) < 2 {
		return nil, seq, p.failAt(head, "a sequence has at least two steps, each in brackets: `[any where ...]`")
	}
	for _, st := range seq.Steps[1:] {
		if len(st.By) != len(seq.Steps[0].By) {
			return nil, seq, p.failAt(head, "every step of a sequence joins on as many fields")
		}
	}
	if t := p.peek(); p.accept("until") {
		if b := p.peek(); b.kind != eqlOp || b.text != "[" {
			return nil, seq, p.failAt(b, "`until` takes a condition in brackets: `until [any where ...]`")
		}
		until, err := p.bracketed(shared)
		if err != nil {
			return nil, seq, err
		}
		if len(until.By) != len(seq.Steps[0].By) {
			return nil, seq, p.failAt(t, "`until` joins on as many fields as the steps")
		}
		seq.Until = until
		filters = append(filters, until.Cond)
	}
	if err := p.end("EQL pipes (`| head`, `| tail`, ...) after a sequence are not supported"); err != nil {
		return nil, seq, err
	}
	return or(filters...), seq, nil
}

// bracketed parses `[ query ] [ by keys ]` at `[`: a step, or until's condition, joining on shared and its own keys.
// An event without a value of one of them is not the step's.
func (p *eqlParser) bracketed(shared []joinKey) (rule.SequenceStep, error) {
	p.next()
	cond, err := p.eventQuery()
	if err != nil {
		return rule.SequenceStep{}, err
	}
	if c := p.next(); c.kind != eqlOp || c.text != "]" {
		return rule.SequenceStep{}, p.failAt(c, "expected `]` after the condition")
	}
	keys := shared
	if p.accept("by") {
		own, err := p.joinKeys()
		if err != nil {
			return rule.SequenceStep{}, err
		}
		keys = append(append([]joinKey(nil), shared...), own...)
	}
	step := rule.SequenceStep{Cond: cond}
	for _, k := range keys {
		step.By = append(step.By, k.field)
		step.Cond = and(step.Cond, k.present)
	}
	return step, nil
}

// joinKey is a sequence's join field and what an event must satisfy to have a value of it.
type joinKey struct {
	field   rule.Field
	present rule.Expr
}

// joinKeys parses the fields of a `by`, mapped to the audit event. A field the map makes a constant joins every
// event alike and is left out; one it leaves out of the audit event is null, and Elasticsearch joins no event on a
// null key (nor on an empty one the ingest pipeline leaves unset: present says so).
func (p *eqlParser) joinKeys() ([]joinKey, error) {
	var out []joinKey
	for {
		t := p.next()
		if t.kind != eqlIdent && t.kind != eqlField {
			return nil, p.failAt(t, "expected a field to join on")
		}
		f, err := p.fm.resolve(t.text)
		if err != nil {
			return nil, p.failAt(t, err.Error())
		}
		switch f.kind {
		case absentTarget:
			return nil, p.failAt(t, fmt.Sprintf("%s is not in the audit event (the field map leaves it out): no event would join on it", t.text))
		case pathTarget:
			// Of several spellings of an annotation key, the first (underscores kept in the name part) is read.
			out = append(out, joinKey{field: rule.Field{Name: f.alts[0], AnyArray: true}, present: f.exists()})
		}
		if c := p.peek(); c.kind != eqlOp || c.text != "," {
			return out, nil
		}
		p.next()
	}
}

// maxSpan parses `maxspan=<number><unit>`.
func (p *eqlParser) maxSpan() (time.Duration, error) {
	t := p.peek()
	if !p.accept("maxspan") {
		return 0, p.failAt(t, "a sequence takes `with maxspan=<n><unit>`")
	}
	at := p.peek()
	n, err := p.paramNumber(1, 1<<20)
	if err != nil {
		return 0, err
	}
	u := p.next()
	unit, ok := spanUnits[strings.ToLower(u.text)]
	if u.kind != eqlIdent || !ok {
		return 0, p.failAt(u, "maxspan's unit is ms, s, m, h or d")
	}
	if time.Duration(n) > maxSpan/unit {
		return 0, p.failAt(at, fmt.Sprintf("maxspan is at most %d days", maxSpan/(24*time.Hour)))
	}
	return time.Duration(n) * unit, nil
}

// paramNumber parses `=<n>` with lo <= n <= hi.
func (p *eqlParser) paramNumber(lo, hi int) (int, error) {
	if eq := p.next(); eq.kind != eqlOp || eq.text != "=" {
		return 0, p.failAt(eq, "expected `=`")
	}
	t := p.next()
	n, err := strconv.Atoi(t.text)
	if t.kind != eqlNumber || err != nil || n < lo || n > hi {
		return 0, p.failAt(t, fmt.Sprintf("expected a whole number from %d to %d", lo, hi))
	}
	return n, nil
}
