package engine

import (
	"slices"
	"sort"

	"github.com/auditdetect/auditdetect/processor/event"
	"github.com/auditdetect/auditdetect/processor/rule"
)

// Any stands for "every resource" or "every verb" in an Operation.
const Any = "*"

// Operation is an audit operation, objectRef.resource × verb, as the event catalog groups them. Resource "pods" with
// Verb Any is the catalog's "any-pods" bucket: rules that name the resource but no verb.
type Operation struct {
	Resource, Verb string
}

func (o Operation) String() string {
	v, r := o.Verb, o.Resource
	if v == Any {
		v = "any"
	}
	if r == Any {
		r = "any"
	}
	return v + "-" + r
}

// maxOpsPerRule bounds the operation set derived from one rule; a rule past it is treated as matching any operation.
const maxOpsPerRule = 256

// requiredOps derives from a filter the operations an event must have for the filter to possibly match. It is
// conservative: anything it cannot read (NOT, wildcards, other fields) widens the set to Any, never narrows it.
func requiredOps(e rule.Expr) []Operation {
	anyOp := []Operation{{Any, Any}}
	switch e := e.(type) {
	case rule.And:
		ops := anyOp
		for _, t := range e {
			ops = intersectOps(ops, requiredOps(t))
			if len(ops) > maxOpsPerRule {
				return anyOp
			}
		}
		return ops
	case rule.Or:
		var ops []Operation
		for _, t := range e {
			sub := requiredOps(t)
			for _, o := range sub {
				if o == (Operation{Any, Any}) {
					return anyOp
				}
			}
			ops = append(ops, sub...)
		}
		if len(ops) > maxOpsPerRule {
			return anyOp
		}
		return dedupOps(ops)
	case rule.Compare:
		if e.Op != rule.OpEq || e.Value.Kind != rule.Glob || hasWildcard(e.Value.Text) {
			return anyOp
		}
		v := foldString(unescapeGlob(e.Value.Text))
		switch e.Field.Name {
		case "objectRef.resource":
			return []Operation{{v, Any}}
		case "verb":
			return []Operation{{Any, v}}
		}
	}
	return anyOp
}

func hasWildcard(glob string) bool {
	for i := 0; i < len(glob); i++ {
		switch glob[i] {
		case '\\':
			i++
		case '*', '?':
			return true
		}
	}
	return false
}

// intersectOps is the operations both sets allow: each pair narrowed to the more specific resource and verb.
func intersectOps(a, b []Operation) []Operation {
	var out []Operation
	for _, x := range a {
		for _, y := range b {
			r, ok1 := meet(x.Resource, y.Resource)
			v, ok2 := meet(x.Verb, y.Verb)
			if ok1 && ok2 {
				out = append(out, Operation{r, v})
			}
		}
	}
	return dedupOps(out)
}

func meet(a, b string) (string, bool) {
	switch {
	case a == Any:
		return b, true
	case b == Any, a == b:
		return a, true
	}
	return "", false
}

func dedupOps(ops []Operation) []Operation {
	seen := map[Operation]bool{}
	out := ops[:0:0]
	for _, o := range ops {
		if !seen[o] {
			seen[o] = true
			out = append(out, o)
		}
	}
	sort.Slice(out, func(i, j int) bool {
		if out[i].Resource != out[j].Resource {
			return out[i].Resource < out[j].Resource
		}
		return out[i].Verb < out[j].Verb
	})
	return out
}

// opIndex maps an event's operation to the rules that can match it. Every lookup key is precomputed with the rules
// of its "any" buckets merged in, so a lookup is two reads of small tables (valueNums), one slice index and no
// allocation.
type opIndex struct {
	// resources and verbs map each value some rule names to itself, so a lookup yields the key without allocating.
	resources map[string]string
	verbs     map[string]string
	table     map[Operation][]int
	resource  *event.Path
	verb      *event.Path
	// resIDs and verbIDs number the named values; dense[r*len(verbIDs+1)+v] is table's entry for them, the last
	// number of each standing for Any. resNums and verbNums are the same numbers for the lookups of every event.
	resIDs, verbIDs   map[string]int
	resNums, verbNums valueNums
	dense             [][]int
	// byVerb[v] says every resource of verb v has the same candidates (none, or only rules on any resource): the
	// verb decides the event's candidates without reading objectRef, written after user, sourceIPs and userAgent.
	// Most of a cluster's traffic is get/list/watch, which a rule set of writes never needs, and a rule on every
	// operation needs no resource either.
	byVerb []bool
}

func buildIndex(ruleOps [][]Operation) *opIndex {
	idx := &opIndex{
		resources: map[string]string{},
		verbs:     map[string]string{},
		table:     map[Operation][]int{},
		resource:  event.CompilePath("objectRef.resource", false),
		verb:      event.CompilePath("verb", false),
	}
	for _, ops := range ruleOps {
		for _, o := range ops {
			if o.Resource != Any {
				idx.resources[o.Resource] = o.Resource
			}
			if o.Verb != Any {
				idx.verbs[o.Verb] = o.Verb
			}
		}
	}
	resources := append(keys(idx.resources), Any)
	verbs := append(keys(idx.verbs), Any)
	idx.resIDs, idx.verbIDs = map[string]int{}, map[string]int{}
	for ri, r := range resources {
		idx.resIDs[r] = ri
		for vi, v := range verbs {
			idx.verbIDs[v] = vi
			key := Operation{r, v}
			for i, ops := range ruleOps {
				for _, o := range ops {
					if (o.Resource == Any || o.Resource == r) && (o.Verb == Any || o.Verb == v) {
						idx.table[key] = append(idx.table[key], i)
						break
					}
				}
			}
			idx.dense = append(idx.dense, idx.table[key])
		}
	}
	idx.resNums, idx.verbNums = newValueNums(idx.resIDs), newValueNums(idx.verbIDs)
	idx.byVerb = make([]bool, len(verbs))
	anyRes := len(resources) - 1
	for vi := range verbs {
		idx.byVerb[vi] = true
		for ri := range resources {
			if !slices.Equal(idx.dense[ri*len(verbs)+vi], idx.dense[anyRes*len(verbs)+vi]) {
				idx.byVerb[vi] = false
			}
		}
	}
	return idx
}

func keys(m map[string]string) []string {
	out := make([]string, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	sort.Strings(out)
	return out
}

// candidates returns the indexes of the rules that may match the event, in rule order.
func (idx *opIndex) candidates(c *evalCtx, v *event.View) []int {
	anyRes, anyVerb := len(idx.resIDs)-1, len(idx.verbIDs)-1
	verb := anyVerb
	if b, ok := v.First(idx.verb); ok {
		if id, ok := idx.verbNums.get(c.fold(b)); ok && id != anyVerb {
			verb = id
		}
	}
	if idx.byVerb[verb] {
		return idx.dense[anyRes*(anyVerb+1)+verb]
	}
	// objectRef is read exactly, like every object below the top level: a resource written twice (which no API
	// server does) makes the event a candidate for the rules of both, as the filters would see both values.
	c.resIDs = c.resIDs[:0]
	v.Each(idx.resource, func(b []byte) bool {
		id, ok := idx.resNums.get(c.fold(b))
		if !ok || id == anyRes {
			id = anyRes
		}
		c.resIDs = append(c.resIDs, id)
		return true
	})
	switch len(c.resIDs) {
	case 0:
		return idx.dense[anyRes*(anyVerb+1)+verb]
	case 1:
		return idx.dense[c.resIDs[0]*(anyVerb+1)+verb]
	}
	c.cands = c.cands[:0]
	for _, r := range c.resIDs {
		c.cands = append(c.cands, idx.dense[r*(anyVerb+1)+verb]...)
	}
	slices.Sort(c.cands)
	c.cands = slices.Compact(c.cands)
	return c.cands
}

// valueNums is a map of a few strings (the verbs or the resources the rules name) to their numbers, read once or
// twice for every event: open addressing on a hash of the length and three bytes, which tells the values of an
// index apart, instead of a Go map's hash of every byte (the two lookups were a tenth of a seed rule's time).
type valueNums struct {
	slots []valueSlot
	mask  uint32
}

type valueSlot struct {
	s    string
	num  int
	used bool
}

func newValueNums(m map[string]int) valueNums {
	n := 8
	for n < 4*len(m) {
		n *= 2
	}
	t := valueNums{slots: make([]valueSlot, n), mask: uint32(n - 1)}
	for s, num := range m {
		h := valueHash(s) & t.mask
		for t.slots[h].used {
			h = (h + 1) & t.mask
		}
		t.slots[h] = valueSlot{s: s, num: num, used: true}
	}
	return t
}

func (t *valueNums) get(b []byte) (int, bool) {
	for h := valueHash(b2s(b)) & t.mask; ; h = (h + 1) & t.mask {
		e := &t.slots[h]
		if !e.used {
			return 0, false
		}
		if e.s == b2s(b) {
			return e.num, true
		}
	}
}

// valueHash mixes a value's length with its first, middle and last bytes.
func valueHash(s string) uint32 {
	if len(s) == 0 {
		return 0
	}
	x := uint32(len(s)) | uint32(s[0])<<8 | uint32(s[len(s)/2])<<16 | uint32(s[len(s)-1])<<24
	x *= 0x9E3779B1
	return x ^ x>>15
}

// undecided returns the conjuncts of filter that the operation index does not decide. A conjunct that compares verb
// (or objectRef.resource) with values without wildcards, in any case, alone or as an Or of such values, holds of
// every event the rule is a candidate of when each operation of ops names one of its values: the index made the
// event a candidate because its verb (a resource of it) folds to such a value, and the comparison folds alike
// (fold.go). 22 of the built-in pack's 31 rules had one or two such conjuncts (the pod rules' `objectRef.resource=pods`
// and verb list, the secret reads' resource), tested again on every candidate evaluation.
func undecided(filter rule.Expr, ops []Operation) rule.And {
	var kept rule.And
	for _, t := range conjuncts(filter) {
		if field, values, ok := indexTerm(t); !ok || !opsWithin(ops, field, values) {
			kept = append(kept, t)
		}
	}
	return kept
}

// indexTerm returns the field and the folded values of a conjunct the index can decide (see undecided).
func indexTerm(e rule.Expr) (field string, values []string, ok bool) {
	terms := []rule.Expr{e}
	if or, isOr := e.(rule.Or); isOr {
		terms = or
	}
	for _, t := range terms {
		c, isCmp := t.(rule.Compare)
		if !isCmp || c.Op != rule.OpEq || c.Value.Kind != rule.Glob || c.Value.CaseSensitive ||
			hasWildcard(c.Value.Text) || c.Field != (rule.Field{Name: c.Field.Name}) ||
			c.Field.Name != "verb" && c.Field.Name != "objectRef.resource" || field != "" && c.Field.Name != field {
			return "", nil, false
		}
		field = c.Field.Name
		values = append(values, foldString(unescapeGlob(c.Value.Text)))
	}
	return field, values, len(values) > 0
}

// opsWithin says every operation of ops names one of values for field (none is Any for it).
func opsWithin(ops []Operation, field string, values []string) bool {
	if len(ops) == 0 {
		return false
	}
	for _, o := range ops {
		v := o.Verb
		if field == "objectRef.resource" {
			v = o.Resource
		}
		if v == Any || !slices.Contains(values, v) {
			return false
		}
	}
	return true
}
