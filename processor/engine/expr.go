package engine

import (
	"bytes"
	"fmt"
	"net/netip"
	"slices"
	"strings"
	"unsafe"

	"github.com/auditdetect/auditdetect/processor/event"
	"github.com/auditdetect/auditdetect/processor/rule"
)

// source is what an expression reads fields from: the event itself, or a result row. It is a concrete type, not an
// interface, so that the callbacks passed to each do not escape and evaluation allocates nothing.
type source struct {
	view *event.View
	row  *row
}

func (s source) each(f *fieldRef, fn func(v []byte) bool) bool {
	if s.row != nil {
		return s.row.each(f, fn)
	}
	return s.view.Each(f.path, fn)
}

// fieldRef is a field compiled for both places it can be read from: as a row name and as an event path.
type fieldRef struct {
	name string
	path *event.Path
	// id numbers the field among the filter fields of an engine, whose values an evaluation reads once (memo);
	// -1 for the others.
	id int32
}

func newFieldRef(f rule.Field) *fieldRef {
	if f.Leaves {
		return &fieldRef{name: f.Name, path: event.CompileLeavesPath(f.Name, f.AnyArray), id: -1}
	}
	return &fieldRef{name: f.Name, path: event.CompilePath(f.Name, f.AnyArray), id: -1}
}

// fields hands out one numbered fieldRef per field read by the filters of an engine's rules, so that every rule
// reading user.username reads the one value an evaluation memoizes.
type fields struct {
	refs map[rule.Field]*fieldRef
	// lookups are the lookup tables' indexes, one per table and input columns (lookup.go).
	lookups map[lookupIndexKey]*lookupIndex
	// shared numbers the terms more than one filter tests (shared.go); nil: none is shared.
	shared map[string]int32
}

func (fs *fields) get(f rule.Field) *fieldRef {
	if r, ok := fs.refs[f]; ok {
		return r
	}
	r := newFieldRef(f)
	r.id = int32(len(fs.refs))
	fs.refs[f] = r
	return r
}

// each calls fn with the values of f in s, as source.each does. The values of a filter field in the event are read
// once per evaluation and replayed from the memo after that.
func (c *evalCtx) each(s source, f *fieldRef, fn func(v []byte) bool) bool {
	m, ok := c.memoized(s, f)
	if !ok {
		return s.each(f, fn)
	}
	body := s.view.Body()
	for k := m.lo; k < m.hi; k++ {
		if !fn(c.value(body, k)) {
			return false
		}
	}
	return true
}

// memoized returns where the values of f in s are memoized (c.spans[m.lo:m.hi], read now if they were not yet);
// ok is false when they are not kept: s is a row, or f is not a filter field. The terms read most often (a head
// field compared with a value) loop over them themselves, without a callback per value through each (about 1% of
// an event the built-in pack does not match).
func (c *evalCtx) memoized(s source, f *fieldRef) (m memoEntry, ok bool) {
	if s.row != nil || f.id < 0 || c.gen == 0 {
		return memoEntry{}, false
	}
	return c.memoize(s.view, f), true
}

// value is the memoized value c.spans[k] of the evaluation's body.
func (c *evalCtx) value(body []byte, k int32) []byte {
	sp := c.spans[k]
	if sp.arena {
		return c.arena[sp.off : sp.off+sp.n]
	}
	return body[sp.off : sp.off+sp.n]
}

// span is one memoized value: bytes of the body, or of the arena when unescaping made new bytes.
type span struct {
	off, n int32
	arena  bool
}

// memoEntry is a field's values in c.spans[lo:hi], valid when gen is the evaluation's.
type memoEntry struct {
	gen    uint32
	lo, hi int32
}

func (c *evalCtx) memoize(v *event.View, f *fieldRef) memoEntry {
	if int(f.id) >= len(c.memo) {
		c.memo = append(c.memo, make([]memoEntry, int(f.id)+1-len(c.memo))...)
	}
	if m := c.memo[f.id]; m.gen == c.gen {
		return m
	}
	lo := len(c.spans)
	body := v.Body()
	v.Each(f.path, func(b []byte) bool {
		if off, ok := offsetIn(body, b); ok {
			c.spans = append(c.spans, span{off: int32(off), n: int32(len(b))})
		} else {
			c.spans = append(c.spans, span{off: int32(len(c.arena)), n: int32(len(b)), arena: true})
			c.arena = append(c.arena, b...)
		}
		return true
	})
	m := memoEntry{gen: c.gen, lo: int32(lo), hi: int32(len(c.spans))}
	c.memo[f.id] = m
	return m
}

// offsetIn returns where b lies in body, if it is a part of it.
func offsetIn(body, b []byte) (int, bool) {
	if len(b) == 0 || len(body) == 0 {
		return 0, false
	}
	off := uintptr(unsafe.Pointer(unsafe.SliceData(b))) - uintptr(unsafe.Pointer(unsafe.SliceData(body)))
	return int(off), off < uintptr(len(body)) && off+uintptr(len(b)) <= uintptr(len(body))
}

// node is a compiled boolean expression.
type node interface {
	eval(c *evalCtx, s source) bool
}

type trueNode struct{}

func (trueNode) eval(*evalCtx, source) bool { return true }

type andNode []node

func (n andNode) eval(c *evalCtx, s source) bool {
	for _, t := range n {
		if !t.eval(c, s) {
			return false
		}
	}
	return true
}

type orNode []node

func (n orNode) eval(c *evalCtx, s source) bool {
	for _, t := range n {
		if t.eval(c, s) {
			return true
		}
	}
	return false
}

type notNode struct{ x node }

func (n notNode) eval(c *evalCtx, s source) bool { return !n.x.eval(c, s) }

// matchNode is `field=pattern`: true when any value matches.
type matchNode struct {
	f *fieldRef
	m matcher
}

func (n matchNode) eval(c *evalCtx, s source) bool {
	if m, ok := c.memoized(s, n.f); ok {
		body := s.view.Body()
		for k := m.lo; k < m.hi; k++ {
			if n.m.match(c, c.value(body, k)) {
				return true
			}
		}
		return false
	}
	found := false
	c.each(s, n.f, func(v []byte) bool {
		found = n.m.match(c, v)
		return !found
	})
	return found
}

// inNode is an Or of `field=value` terms on one field, as `field IN (...)` and list macros write them
// (kube_workload_controllers in five built-in rules): a value is looked up among the exact values at once, then
// compared with the other patterns, instead of being compared with each value in turn. An ASCII value is folded
// once when the exact values are case-insensitive; any other value is compared as exactMatcher does.
type inNode struct {
	f     *fieldRef
	exact []exactMatcher // the exact values, all of one case-sensitivity
	set   valueNums      // their literals
	fold  bool
	rest  []matcher // the terms' other patterns, in the Or's order
}

func (n inNode) eval(c *evalCtx, s source) bool {
	if m, ok := c.memoized(s, n.f); ok {
		body := s.view.Body()
		for k := m.lo; k < m.hi; k++ {
			if n.holds(c, c.value(body, k)) {
				return true
			}
		}
		return false
	}
	found := false
	c.each(s, n.f, func(v []byte) bool {
		found = n.holds(c, v)
		return !found
	})
	return found
}

func (n inNode) holds(c *evalCtx, v []byte) bool {
	switch {
	case !n.fold:
		_, found := n.set.get(v)
		if found {
			return true
		}
	case isASCII(v):
		_, found := n.set.get(c.fold(v))
		if found {
			return true
		}
	default:
		for _, m := range n.exact {
			if m.match(c, v) {
				return true
			}
		}
	}
	for _, m := range n.rest {
		if m.match(c, v) {
			return true
		}
	}
	return false
}

// compileIn compiles an Or as an inNode when every term compares one field with a value (=) and at least two of
// them are exact values of one case-sensitivity; ok is false for any other Or. The terms read one field, so
// testing them in another order reads nothing else.
func compileIn(or rule.Or, ref func(rule.Field) *fieldRef) (n node, ok bool, err error) {
	if len(or) < 2 {
		return nil, false, nil
	}
	var field rule.Field
	ms := make([]matcher, len(or))
	folds := [2]int{} // exact matchers by fold
	for i, t := range byCost(or) {
		c, isCmp := t.(rule.Compare)
		if !isCmp || c.Op != rule.OpEq || (i > 0 && c.Field != field) {
			return nil, false, nil
		}
		field = c.Field
		if ms[i], err = compilePattern(c.Value); err != nil {
			return nil, true, fmt.Errorf("field %s: %w", c.Field.Name, err)
		}
		if x, isExact := ms[i].(exactMatcher); isExact {
			folds[b2i(x.fold)]++
		}
	}
	fold := folds[1] > folds[0]
	if folds[b2i(fold)] < 2 {
		return nil, false, nil
	}
	in := inNode{f: ref(field), fold: fold}
	lits := map[string]int{}
	for _, m := range ms {
		if x, isExact := m.(exactMatcher); isExact && x.fold == fold {
			in.exact = append(in.exact, x)
			lits[string(x.lit)] = len(lits)
		} else {
			in.rest = append(in.rest, m)
		}
	}
	in.set = newValueNums(lits)
	return in, true, nil
}

func b2i(b bool) int {
	if b {
		return 1
	}
	return 0
}

// notEqualNode is Splunk's `field!=pattern`: the field exists and none of its values matches.
type notEqualNode struct {
	f *fieldRef
	m matcher
}

func (n notEqualNode) eval(c *evalCtx, s source) bool {
	exists, matched := false, false
	c.each(s, n.f, func(v []byte) bool {
		exists = true
		matched = n.m.match(c, v)
		return !matched
	})
	return exists && !matched
}

type existsNode struct{ f *fieldRef }

func (n existsNode) eval(c *evalCtx, s source) bool {
	if m, ok := c.memoized(s, n.f); ok {
		return m.hi > m.lo
	}
	return !c.each(s, n.f, func([]byte) bool { return false })
}

// presentNode is rule.Exists with AnyValue: the field's key is present in the event, whatever its value (with
// notNull, a value other than null); or with Under, the field has a value or holds an object with one at any depth.
// A row field set by a stage holds values only: it is present when it has one.
type presentNode struct {
	f              *fieldRef
	notNull, under bool
}

func (n presentNode) eval(c *evalCtx, s source) bool {
	v := s.view
	if r := s.row; r != nil {
		if r.index(n.f.name) >= 0 || r.ev == nil || r.isHidden(n.f.name) {
			return r.has(n.f)
		}
		v = r.ev
	}
	switch {
	case n.under:
		return v.PresentUnder(n.f.path)
	case n.notNull:
		return v.PresentNonNull(n.f.path)
	}
	return v.Present(n.f.path)
}

// orderNode is a <, <=, > or >= comparison: numeric when both sides are numbers, else a string comparison.
type orderNode struct {
	f       *fieldRef
	op      rule.Op
	text    []byte
	num     float64
	numeric bool
	fold    bool
}

func (n orderNode) eval(c *evalCtx, s source) bool {
	found := false
	c.each(s, n.f, func(v []byte) bool {
		var cmp int
		if x, ok := numberOf(v); ok && n.numeric {
			switch {
			case x < n.num:
				cmp = -1
			case x > n.num:
				cmp = 1
			}
		} else {
			if n.fold {
				v = c.fold(v)
			}
			cmp = bytes.Compare(v, n.text)
		}
		found = n.op.Holds(cmp)
		return !found
	})
	return found
}

// ipOrderNode is an ordered comparison of addresses (rule.IP), in the order of Elasticsearch's ip type: every
// address as 16 bytes, IPv4 as IPv4-mapped IPv6. Values that are not addresses are skipped.
type ipOrderNode struct {
	f    *fieldRef
	op   rule.Op
	addr [16]byte
}

func (n ipOrderNode) eval(c *evalCtx, s source) bool {
	found := false
	c.each(s, n.f, func(v []byte) bool {
		addr, err := netip.ParseAddr(b2s(v))
		if err != nil {
			return true
		}
		a := addr.As16()
		found = n.op.Holds(bytes.Compare(a[:], n.addr[:]))
		return !found
	})
	return found
}

// fieldEqualsNode is Sigma's fieldref: some value of a equals some value of b.
type fieldEqualsNode struct {
	a, b *fieldRef
	fold bool
}

func (n fieldEqualsNode) eval(c *evalCtx, s source) bool {
	// Copy a's values first: the source may reuse its buffer while b is walked.
	var as [][]byte
	c.each(s, n.a, func(v []byte) bool {
		as = append(as, bytes.Clone(v))
		return true
	})
	found := false
	c.each(s, n.b, func(v []byte) bool {
		for _, a := range as {
			if (n.fold && bytes.EqualFold(a, v)) || (!n.fold && bytes.Equal(a, v)) {
				found = true
				return false
			}
		}
		return true
	})
	return found
}

// compileExpr turns a rule expression into a node, calling visit for each field it reads.
func compileExpr(e rule.Expr, visit func(*fieldRef)) (node, error) {
	return compileExprIn(e, visit, nil)
}

// compileExprIn is compileExpr taking the fields from fs (nil: fields of their own).
func compileExprIn(e rule.Expr, visit func(*fieldRef), fs *fields) (node, error) {
	ref := func(f rule.Field) *fieldRef {
		var r *fieldRef
		if fs != nil {
			r = fs.get(f)
		} else {
			r = newFieldRef(f)
		}
		if visit != nil {
			visit(r)
		}
		return r
	}
	switch e := e.(type) {
	case nil, rule.True:
		return trueNode{}, nil
	case rule.And:
		out := make(andNode, 0, len(e))
		for _, t := range byCost(e) {
			n, err := compileExprIn(t, visit, fs)
			if err != nil {
				return nil, err
			}
			out = append(out, n)
		}
		return out, nil
	case rule.Or:
		if n, ok, err := compileIn(e, ref); ok || err != nil {
			return fs.share(e, n), err
		}
		out := make(orNode, 0, len(e))
		for _, t := range byCost(e) {
			n, err := compileExprIn(t, visit, fs)
			if err != nil {
				return nil, err
			}
			out = append(out, n)
		}
		return fs.share(e, out), nil
	case rule.Not:
		x, err := compileExprIn(e.X, visit, fs)
		if err != nil {
			return nil, err
		}
		return notNode{x}, nil
	case rule.Exists:
		if e.AnyValue {
			return fs.share(e, presentNode{f: ref(e.Field), notNull: e.NotNull}), nil
		}
		if e.Under {
			return fs.share(e, presentNode{f: ref(e.Field), under: true}), nil
		}
		return fs.share(e, existsNode{ref(e.Field)}), nil
	case rule.FieldEquals:
		return fieldEqualsNode{a: ref(e.A), b: ref(e.B), fold: !e.CaseSensitive}, nil
	case rule.ValueCompare:
		return compileValueCompare(e)
	case rule.Compare:
		f := ref(e.Field)
		switch e.Op {
		case rule.OpEq, rule.OpNe:
			m, err := compilePattern(e.Value)
			if err != nil {
				return nil, fmt.Errorf("field %s: %w", e.Field.Name, err)
			}
			if e.Op == rule.OpEq {
				return fs.share(e, matchNode{f, m}), nil
			}
			return fs.share(e, notEqualNode{f, m}), nil
		case rule.OpLt, rule.OpLe, rule.OpGt, rule.OpGe:
			if e.Value.Kind == rule.IP {
				addr, err := parseIP(e.Value.Text)
				if err != nil {
					return nil, fmt.Errorf("field %s: %w", e.Field.Name, err)
				}
				return ipOrderNode{f: f, op: e.Op, addr: addr.As16()}, nil
			}
			if e.Value.Kind != rule.Glob && e.Value.Kind != rule.String {
				return nil, fmt.Errorf("field %s: %s needs a plain value", e.Field.Name, e.Op)
			}
			text := e.Value.Text
			if e.Value.Kind == rule.Glob {
				text = unescapeGlob(text)
			}
			n := orderNode{f: f, op: e.Op, text: []byte(text), fold: !e.Value.CaseSensitive}
			if n.fold {
				n.text = appendFold(nil, n.text)
			}
			if e.Value.Kind == rule.Glob { // a String bound is text, a number's too
				n.num, n.numeric = numberOf([]byte(text))
			}
			return n, nil
		}
		return nil, fmt.Errorf("field %s: unknown operator %d", e.Field.Name, e.Op)
	}
	return nil, fmt.Errorf("unknown expression %T", e)
}

func unescapeGlob(s string) string {
	if !bytes.ContainsRune([]byte(s), '\\') {
		return s
	}
	var b []byte
	for i := 0; i < len(s); i++ {
		if s[i] == '\\' && i+1 < len(s) {
			i++
		}
		b = append(b, s[i])
	}
	return string(b)
}

const unknownFieldCost = 1000

// headCost is the cost (event.Cost) of the last field of the head, and multiCost what a head field whose path
// walks an array (user.groups{}) costs: after every scalar of the head, before the fields read from the end. The
// head is read in one forward scan, so its fields' places differ little; an array is walked and each of its values
// compared, and the values (system:authenticated) tell few events apart, where a scalar such as responseStatus.code
// rules out most.
const (
	headCost  = 13
	multiCost = headCost + 1
)

// fieldCost estimates what reading a field costs, by where the API server writes its top-level key (event.Cost).
func fieldCost(name string) int {
	top, _, _ := strings.Cut(name, ".")
	if c, ok := event.Cost(strings.TrimSuffix(top, "{}")); ok {
		if c <= headCost && strings.Contains(name, "{}") {
			return multiCost
		}
		return c
	}
	return unknownFieldCost
}

// exprCost estimates what evaluating an expression costs: the dearest field it may read, plus one per comparison.
func exprCost(e rule.Expr) int {
	cost, n := 0, 0
	rule.EachField(e, func(f rule.Field) { cost, n = max(cost, fieldCost(f.Name)), n+1 })
	return cost + n
}

// byCost orders the terms of an And or an Or cheapest first, so that an event is usually decided by the fields the
// API server writes before the large objects. Terms have no side effects: the order changes no answer.
func byCost(terms []rule.Expr) []rule.Expr {
	out := slices.Clone(terms)
	slices.SortStableFunc(out, func(a, b rule.Expr) int { return exprCost(a) - exprCost(b) })
	return out
}
