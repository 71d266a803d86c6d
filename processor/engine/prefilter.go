package engine

import (
	"bytes"
	"encoding/binary"
	"math/bits"
	"slices"
	"strings"
	"sync/atomic"
	"unicode/utf8"

	"github.com/auditdetect/auditdetect/processor/event"
	"github.com/auditdetect/auditdetect/processor/rule"
)

// Literal prefilters. A term that reads requestObject or responseObject costs a walk through a large object. Most
// such terms compare with a literal (`requestObject.message="Pulling image*"`), and an event whose bytes do not hold
// that literal cannot match: one fast search over the bytes decides most events without reading the object.

// dearCost is the cost (exprCost) from which a term is worth a prefilter: it reads a large object or a field the
// event may not have.
const dearCost = 100

// compileFilter compiles a rule's filter as its cheap conjuncts, then early (see hoisted), then a prefilter, then its
// dear conjuncts, with the engine's shared fields.
func compileFilter(e rule.Expr, early rule.And, fs *fields, count *prefilterCount) (node, error) {
	cheap, dear := split(e)
	if len(dear) == 0 {
		return compileExprIn(e, nil, fs)
	}
	c, err := compileExprIn(cheap, nil, fs)
	if err != nil {
		return nil, err
	}
	if len(early) > 0 {
		// After the filter's own cheap terms, which the operation index mostly decides: an event they turn away
		// reads nothing more than before.
		h, err := compileExprIn(early, nil, fs)
		if err != nil {
			return nil, err
		}
		c = andNode{c, h}
	}
	d, err := compileExprIn(dear, nil, fs)
	if err != nil {
		return nil, err
	}
	return gateNode{cheap: c, lits: needles(dear), dear: d, count: count}, nil
}

// split returns the conjuncts of e that read the head or the tail of an event, and those that read a large object
// or a field the event may not have.
func split(e rule.Expr) (cheap, dear rule.And) {
	for _, t := range conjuncts(e) {
		if exprCost(t) < dearCost {
			cheap = append(cheap, t)
		} else {
			dear = append(dear, t)
		}
	}
	return cheap, dear
}

// hoisted returns the conjuncts of a rule's leading search stage (its `| search NOT allow-list`) that its filter tests
// before the prefilter and the dear conjuncts: the cheap ones that compare fields with values (plainTerm), when the
// filter has dear conjuncts and the rule keeps no state. The stage sees the event as it came, so a condition holds of
// its row exactly when it holds of the event; and for a rule without state (no window, new_terms or sequence, hence
// no replay memory) an event the stage turns away is one the filter turns away: nothing else happens in between.
// It keeps a controller's writes out of the body searches and reads of the workload rules
// (`kube_workload_controllers`). The stage stays as it is.
func hoisted(r *rule.Rule) rule.And {
	s, ok := firstStage(r.Pipeline).(rule.Search)
	if !ok || readsTime(r.Pipeline) || windowedStatsIndex(r.Pipeline) >= 0 {
		return nil
	}
	if _, dear := split(r.Filter); len(dear) == 0 {
		return nil
	}
	var out rule.And
	for _, t := range conjuncts(s.Cond) {
		if exprCost(t) < dearCost && plainTerm(t) {
			if _, err := compileExpr(t, nil); err == nil { // else the stage reports it, as the search's
				out = append(out, t)
			}
		}
	}
	return out
}

// plainTerm reports whether e compares fields with values only: no comparison of computed values (which may read
// the time the pipeline sets, and builds a row) and no comparison of two fields (which copies values), so that it
// reads the event as the stage would and allocates nothing.
func plainTerm(e rule.Expr) bool {
	switch e := e.(type) {
	case rule.True, rule.Compare, rule.Exists:
		return true
	case rule.Not:
		return plainTerm(e.X)
	case rule.And:
		return !slices.ContainsFunc(e, func(t rule.Expr) bool { return !plainTerm(t) })
	case rule.Or:
		return !slices.ContainsFunc(e, func(t rule.Expr) bool { return !plainTerm(t) })
	}
	return false
}

// conjuncts flattens nested Ands.
func conjuncts(e rule.Expr) []rule.Expr {
	a, ok := e.(rule.And)
	if !ok {
		return []rule.Expr{e}
	}
	var out []rule.Expr
	for _, t := range a {
		out = append(out, conjuncts(t)...)
	}
	return out
}

// gateNode evaluates cheap, then, when the event's bytes may hold each clause of lits, dear.
type gateNode struct {
	cheap node
	lits  []clause // none: no prefilter
	dear  node
	count *prefilterCount // nil unless Options.CountPrefilters
}

// prefilterCount is what a gate did (Engine.Prefilter).
type prefilterCount struct{ reached, passed, held atomic.Uint64 }

func (n gateNode) eval(c *evalCtx, s source) bool {
	if !n.cheap.eval(c, s) {
		return false
	}
	counted := n.count != nil && s.row == nil && len(n.lits) > 0
	if counted {
		n.count.reached.Add(1)
	}
	if len(n.lits) > 0 && s.row == nil && !c.mayHold(s.view, n.lits) {
		return false
	}
	if counted {
		n.count.passed.Add(1)
	}
	held := n.dear.eval(c, s)
	if held && counted {
		n.count.held.Add(1)
	}
	return held
}

// needle is a literal the event's bytes must hold for a rule to match.
type needle struct {
	lit  []byte // lower-cased when fold
	fold bool
	// parent: the needle is a field's parent key (appendKey), which an Or's union takes for a branch only when the
	// branch has nothing else: "securityContext" is in nearly every pod, "privileged" in few.
	parent bool
	// at[0] and at[1] are the indexes in lit of its two rarest bytes: a candidate position must hold both, which
	// eight positions are tested for at once.
	at     [2]int
	cases  []byte // the first anchor, and its other case when fold and it is a letter
	rarity int    // of the commoner of the two, for ordering clauses (see byteRarity)
	// uni holds, when fold, the characters outside ASCII that a case-insensitive match takes for a letter of lit
	// (foldsToASCII), UTF-8 encoded: only they can spell lit otherwise than in ASCII.
	uni [][]byte
}

// foldsToASCII are the characters outside ASCII that Go's case-insensitive comparisons (bytes.EqualFold and
// unicode.SimpleFold, bytes.ToLower and unicode.ToLower, ToUpper) take for an ASCII letter, by that letter.
// TestFoldsToASCII checks the list against the Unicode tables.
var foldsToASCII = map[byte][]rune{
	'i': {'\u0130', '\u0131'}, // İ lower-cases to i; ı upper-cases to I
	'k': {'\u212a'},           // Kelvin sign
	's': {'\u017f'},           // long s
}

// clause is a condition that holds when the bytes hold one of its needles.
type clause []needle

// minNeedle is the shortest literal worth a search.
const minNeedle = 3

// maxClauses bounds the searches one prefilter makes.
const maxClauses = 3

// needles returns clauses that must all hold for e to be true, cheapest first: a field compared must have its key
// in the bytes (`message"`: keys are case-sensitive, so one pass finds them), and a glob's literal its value.
func needles(e rule.Expr) []clause {
	var out []clause
	switch e := e.(type) {
	case rule.And:
		for _, t := range e {
			out = append(out, needles(t)...)
		}
	case rule.Or:
		// The terms comparing one field (a list macro flattened into the Or) go together first: their common
		// clause is the field's key, which a short value of the list ("all" in `kube_dangerous_capabilities`)
		// cannot stand in for, as nearly every body holds it.
		var groups [][]clause
		var fields []rule.Field
		var members [][]rule.Expr
		for _, t := range e {
			if c, ok := t.(rule.Compare); ok {
				if i := slices.Index(fields, c.Field); i >= 0 {
					members[i] = append(members[i], t)
					continue
				}
				fields = append(fields, c.Field)
				members = append(members, []rule.Expr{t})
				continue
			}
			groups = append(groups, needles(t))
		}
		for _, m := range members {
			var alts [][]clause
			for _, t := range m {
				alts = append(alts, needles(t))
			}
			groups = append(groups, sortClauses(eitherOf(alts)))
		}
		out = eitherOf(groups)
	case rule.Compare:
		out = appendKey(out, e.Field)
		if e.Op == rule.OpEq && e.Value.Kind == rule.Glob {
			if lit := longestLiteral(e.Value.Text); len(lit) >= minNeedle {
				out = append(out, clause{newNeedle(lit, !e.Value.CaseSensitive)})
			}
		}
	case rule.Exists:
		// With AnyValue too: a key that is present is in the bytes, whatever its value.
		out = appendKey(out, e.Field)
	case rule.FieldEquals:
		out = appendKey(appendKey(out, e.A), e.B)
	}
	out = sortClauses(out)
	return out[:min(len(out), maxClauses)]
}

// sortClauses puts the rarest anchors first: the first clause usually decides.
func sortClauses(cs []clause) []clause {
	slices.SortStableFunc(cs, func(a, b clause) int { return b.rarity() - a.rarity() })
	return cs
}

// eitherOf returns clauses that hold when the clauses of one of alts all do: those every alternative has, and one
// made of each alternative's first other clause (not a parent key's, when it has another), each needle once (a
// flattened `kube_dangerous_capabilities` on seven fields names each of its fourteen values seven times). None when
// an alternative has none.
func eitherOf(alts [][]clause) []clause {
	if len(alts) == 0 {
		return nil
	}
	for _, cs := range alts {
		if len(cs) == 0 {
			return nil
		}
	}
	common := slices.Clone(alts[0])
	for _, cs := range alts[1:] {
		common = slices.DeleteFunc(common, func(c clause) bool { return !slices.ContainsFunc(cs, c.same) })
	}
	var any clause
	for _, cs := range alts {
		other := func(c clause) bool { return !slices.ContainsFunc(common, c.same) }
		i := slices.IndexFunc(cs, func(c clause) bool { return other(c) && !c[0].parent })
		if i < 0 {
			i = slices.IndexFunc(cs, other)
		}
		if i < 0 {
			return common // this alternative needs nothing more
		}
		for _, n := range cs[i] {
			if !slices.ContainsFunc(any, n.same) {
				any = append(any, n)
			}
		}
	}
	return append(common, any)
}

// appendKey adds the clause that the field's last key is in the bytes: its name's end, then the key's closing quote.
// Below the top level, it adds the clause that its parent key is too, when rarer: its name, then the quote or the dot
// that follows it in the key holding it (`hostPath"` or `hostPath.`). Every probe of a pod has a "path", only a host
// path volume a "hostPath".
func appendKey(out []clause, f rule.Field) []clause {
	segs := strings.Split(f.Name, ".")
	var last clause
	if lit := keyEnd(segs[len(segs)-1]); len(lit) >= minNeedle {
		last = clause{newNeedle(append(lit, '"'), false)}
		out = append(out, last)
	}
	if len(segs) >= 3 {
		lit := []byte(strings.TrimSuffix(segs[len(segs)-2], "{}"))
		if len(lit) >= minNeedle && len(keyEnd(string(lit))) == len(lit) {
			// Only when rarer than the last key: "spec" above "type" would take a clause's place for nothing.
			parent := clause{newNeedle(append(slices.Clip(lit), '"'), false), newNeedle(append(slices.Clip(lit), '.'), false)}
			parent[0].parent, parent[1].parent = true, true
			if last == nil || parent.rarity() > last.rarity() {
				out = append(out, parent)
			}
		}
	}
	return out
}

// keyEnd returns the end of a key's name that JSON writes as it is: from after its last quote, backslash or
// character outside printable ASCII, without a trailing {}.
func keyEnd(name string) []byte {
	name = strings.TrimSuffix(name, "{}")
	lit := []byte(name)
	for i := len(name) - 1; i >= 0; i-- {
		if c := name[i]; c < 0x20 || c >= 0x7f || c == '"' || c == '\\' {
			return lit[i+1:]
		}
	}
	return lit
}

// same reports whether n and m search for the same bytes.
func (n needle) same(m needle) bool { return n.fold == m.fold && bytes.Equal(n.lit, m.lit) }

// rarity is the rarity of the clause's commonest anchor, less unionPenalty for each doubling of its needles: the
// higher, the cheaper the clause is to search and the likelier to fail.
func (c clause) rarity() int {
	r := len(byteRarity)
	for _, n := range c {
		r = min(r, n.rarity)
	}
	return r - unionPenalty*bits.Len(uint(max(len(c), 1)-1))
}

// unionPenalty ranks a clause of two needles as that much commoner than its commonest one: either may be found,
// and both are searched when neither is.
const unionPenalty = 4

// same reports whether c and d hold the same needles.
func (c clause) same(d clause) bool {
	return len(c) == len(d) && !slices.ContainsFunc(c, func(n needle) bool { return !slices.ContainsFunc(d, n.same) })
}

// longestLiteral returns the longest run of a glob's characters that a JSON string holds as written: no wildcard,
// and no quote, backslash or control character (which JSON must escape). Other characters may be escaped too
// (\u0041, \/): mayHold checks for that.
func longestLiteral(glob string) []byte {
	var best, cur []byte
	for i := 0; i < len(glob); i++ {
		c := glob[i]
		if c == '\\' && i+1 < len(glob) {
			i++
			c = glob[i]
		} else if c == '*' || c == '?' {
			cur = nil
			continue
		}
		if c < 0x20 || c >= 0x7f || c == '"' || c == '\\' {
			cur = nil
			continue
		}
		cur = append(cur, c)
		if len(cur) > len(best) {
			best = append(best[:0:0], cur...)
		}
	}
	return best
}

// byteRarity ranks printable bytes from the most to the least frequent in audit events (measured on the generated
// mix, its few events over 20 KiB left out): the anchor of a needle is its byte that comes last here.
const byteRarity = "\"east:onirc,d0mu-l12p.4b863f/k{}95v7gyhT wR\\[]VzqxPZIjCSAD=UE_BMFONL?()G@H#%$W*+J|!&';<>KQXY^`~"

// foldPenalty ranks a letter searched in both cases as that much commoner: it costs a second pass.
const foldPenalty = 4

func rarity(c byte) int { return strings.IndexByte(byteRarity, c) }

func newNeedle(lit []byte, fold bool) needle {
	n := needle{lit: lit, fold: fold}
	if fold {
		n.lit = bytes.ToLower(lit)
	}
	rank := func(c byte) int {
		r := rarity(c)
		if fold && 'a' <= c && c <= 'z' {
			// Both cases are searched: as rare as the commoner of the two, and dearer.
			r = min(r, rarity(c-'a'+'A')) - foldPenalty
		}
		return r
	}
	n.at = [2]int{0, len(n.lit) - 1}
	for i := range n.lit {
		if r := rank(n.lit[i]); r > rank(n.lit[n.at[0]]) {
			n.at[0] = i
		}
	}
	if n.at[1] == n.at[0] {
		n.at[1] = 0
	}
	for i := range n.lit {
		if r := rank(n.lit[i]); i != n.at[0] && r > rank(n.lit[n.at[1]]) {
			n.at[1] = i
		}
	}
	n.rarity = min(rank(n.lit[n.at[0]]), rank(n.lit[n.at[1]]))
	c := n.lit[n.at[0]]
	n.cases = []byte{c}
	if fold && 'a' <= c && c <= 'z' {
		n.cases = append(n.cases, c-'a'+'A')
	}
	if fold {
		for _, l := range []byte("iks") {
			if bytes.IndexByte(n.lit, l) >= 0 {
				for _, r := range foldsToASCII[l] {
					n.uni = append(n.uni, utf8.AppendRune(nil, r))
				}
			}
		}
	}
	return n
}

const (
	swarOnes  = 0x0101010101010101
	swarHighs = 0x8080808080808080
)

// zeroBytes flags (high bit) the zero bytes of x; a byte above a true zero may be flagged too.
func zeroBytes(x uint64) uint64 { return (x - swarOnes) &^ x & swarHighs }

// in reports whether body holds the needle as written. While the rarest anchor byte is sparse, IndexByte finds it
// at vector speed, and a hit is compared in full only when the second anchor is there too; once its hits come dense
// (prose in a large body), sixteen positions at a time are tested for both anchors, and only positions holding both
// are compared in full.
func (n *needle) in(body []byte) bool {
	a0, a1, last := n.at[0], n.at[1], len(n.lit)-1
	c1, or1 := n.lit[a1], n.foldBit(a1)
	for _, c := range n.cases {
		hits := 0
		for i := a0; i < len(body); i++ {
			k := bytes.IndexByte(body[i:], c)
			if k < 0 {
				break
			}
			i += k
			if p := i - a0; p+last < len(body) && body[p+a1]|or1 == c1 && n.equal(body[p:p+last+1]) {
				return true
			}
			if hits++; hits >= denseHits && i < hits*denseGap {
				// From the start: the dense search tests both cases, which this loop has not.
				return n.inDense(body, 0)
			}
		}
	}
	return false
}

// foldBit is 0x20 when lit[i] is a letter matched in either case: b|0x20 is then the lower case of b, and equals
// lit[i] for both cases of it (and for no other letter).
func (n *needle) foldBit(i int) byte {
	if c := n.lit[i]; n.fold && 'a' <= c && c <= 'z' {
		return 0x20
	}
	return 0
}

// denseHits anchor hits within denseGap bytes each on average switch in to the dense search. An IndexByte call per
// hit costs about what the dense search spends on 16–32 bytes.
const (
	denseHits = 16
	denseGap  = 32
)

// inDense is in from position p on, sixteen positions at a time.
func (n *needle) inDense(body []byte, p int) bool {
	a0, a1 := n.at[0], n.at[1]
	last := len(n.lit) - 1
	// A letter matched in either case is compared with its lower case after setting the 0x20 bit of each byte.
	or0, or1 := uint64(n.foldBit(a0))*swarOnes, uint64(n.foldBit(a1))*swarOnes
	k0, k1 := uint64(n.lit[a0])*swarOnes, uint64(n.lit[a1])*swarOnes
	// One step reads body[p+a+15] for each anchor and compares body[p+15:p+15+last+1]: stop where that ends.
	if reach := max(a0, a1, last) + 16; len(body) >= reach {
		b0, b1 := body[a0:], body[a1:]
		for end := len(body) - reach; p <= end; p += 16 {
			m0 := zeroBytes((binary.LittleEndian.Uint64(b0[p:])|or0)^k0) &
				zeroBytes((binary.LittleEndian.Uint64(b1[p:])|or1)^k1)
			m1 := zeroBytes((binary.LittleEndian.Uint64(b0[p+8:])|or0)^k0) &
				zeroBytes((binary.LittleEndian.Uint64(b1[p+8:])|or1)^k1)
			if m0|m1 == 0 {
				continue
			}
			for ; m0 != 0; m0 &= m0 - 1 {
				if q := p + bits.TrailingZeros64(m0)>>3; n.equal(body[q : q+last+1]) {
					return true
				}
			}
			for ; m1 != 0; m1 &= m1 - 1 {
				if q := p + 8 + bits.TrailingZeros64(m1)>>3; n.equal(body[q : q+last+1]) {
					return true
				}
			}
		}
	}
	for ; p+last < len(body); p++ {
		if n.equal(body[p : p+last+1]) {
			return true
		}
	}
	return false
}

func (n *needle) equal(w []byte) bool {
	if n.fold {
		return bytes.EqualFold(w, n.lit)
	}
	return bytes.Equal(w, n.lit)
}

// mayHold reports whether the event may hold each clause: the bytes hold one of its needles as written, or escape
// (\uXXXX, \/) a character of one, or hold a character outside ASCII that a needle matched case-insensitively takes
// for one of its letters (Unicode folding: ſ is s, the Kelvin sign is k), which then cannot be searched for as
// written.
//
// A needle not found as written is looked for otherwise only as far as needed: a body without a backslash escapes
// nothing, and then only the few characters of the needle's uni can spell it; View.EscapedASCII, a pass over the
// whole body, is asked only of a body that has a backslash.
func (c *evalCtx) mayHold(v *event.View, cs []clause) bool {
	body := v.Body()
	for _, cl := range cs {
		held := false
		for i := range cl {
			if cl[i].in(body) {
				held = true
				break
			}
		}
		for i := 0; !held && i < len(cl); i++ {
			held = cl[i].spelledOutsideASCII(body)
		}
		if !held && c.backslash(body) {
			esc, escNonASCII := v.EscapedASCII()
			for i := 0; !held && i < len(cl); i++ {
				held = cl[i].escaped(esc) || escNonASCII && len(cl[i].uni) > 0
			}
		}
		if !held {
			return false
		}
	}
	return true
}

// backslash reports whether body, the evaluation's, holds a backslash; asked once per evaluation.
func (c *evalCtx) backslash(body []byte) bool {
	if c.bsGen != c.gen || c.gen == 0 {
		c.bsGen, c.bs = c.gen, bytes.IndexByte(body, '\\') >= 0
	}
	return c.bs
}

// spelledOutsideASCII reports whether body holds a character outside ASCII that the needle's case-insensitive
// comparison may take for one of its letters.
func (n *needle) spelledOutsideASCII(body []byte) bool {
	for _, u := range n.uni {
		if bytes.Contains(body, u) {
			return true
		}
	}
	return false
}

func (n *needle) escaped(esc *[2]uint64) bool {
	for _, c := range n.lit {
		if esc[c>>6]&(1<<(c&63)) != 0 {
			return true
		}
		if n.fold && 'a' <= c && c <= 'z' {
			if u := c - 'a' + 'A'; esc[u>>6]&(1<<(u&63)) != 0 {
				return true
			}
		}
	}
	return false
}
