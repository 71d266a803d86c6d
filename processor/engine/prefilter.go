package engine

import (
	"bytes"
	"encoding/binary"
	"math/bits"
	"slices"
	"strings"

	"github.com/auditdetect/auditdetect/processor/event"
	"github.com/auditdetect/auditdetect/processor/rule"
)

// Literal prefilters. A term that reads requestObject or responseObject costs a walk through a large object. Most
// such terms compare with a literal (`requestObject.message="Pulling image*"`), and an event whose bytes do not hold
// that literal cannot match: one fast search over the bytes decides most events without reading the object.

// dearCost is the cost (exprCost) from which a term is worth a prefilter: it reads a large object or a field the
// event may not have.
const dearCost = 100

// compileFilter compiles a rule's filter as its cheap conjuncts, then a prefilter, then its dear conjuncts, with the
// engine's shared fields.
func compileFilter(e rule.Expr, fs *fields) (node, error) {
	var cheap, dear rule.And
	for _, t := range conjuncts(e) {
		if exprCost(t) < dearCost {
			cheap = append(cheap, t)
		} else {
			dear = append(dear, t)
		}
	}
	if len(dear) == 0 {
		return compileExprIn(e, nil, fs)
	}
	c, err := compileExprIn(cheap, nil, fs)
	if err != nil {
		return nil, err
	}
	d, err := compileExprIn(dear, nil, fs)
	if err != nil {
		return nil, err
	}
	return gateNode{cheap: c, lits: needles(dear), dear: d}, nil
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
}

func (n gateNode) eval(c *evalCtx, s source) bool {
	if !n.cheap.eval(c, s) {
		return false
	}
	if len(n.lits) > 0 && s.row == nil && !c.mayHold(s.view, n.lits) {
		return false
	}
	return n.dear.eval(c, s)
}

// needle is a literal the event's bytes must hold for a rule to match.
type needle struct {
	lit  []byte // lower-cased when fold
	fold bool
	// at[0] and at[1] are the indexes in lit of its two rarest bytes: a candidate position must hold both, which
	// eight positions are tested for at once.
	at     [2]int
	cases  []byte // the first anchor, and its other case when fold and it is a letter
	rarity int    // of the commoner of the two, for ordering clauses (see byteRarity)
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
		// One term must hold: the first clause of each, together.
		var any clause
		for _, t := range e {
			cs := needles(t)
			if len(cs) == 0 {
				return nil
			}
			any = append(any, cs[0]...)
		}
		out = []clause{any}
	case rule.Compare:
		out = appendKey(out, e.Field)
		if e.Op == rule.OpEq && e.Value.Kind == rule.Glob {
			if lit := longestLiteral(e.Value.Text); len(lit) >= minNeedle {
				out = append(out, clause{newNeedle(lit, !e.Value.CaseSensitive)})
			}
		}
	case rule.Exists:
		out = appendKey(out, e.Field)
	case rule.FieldEquals:
		out = appendKey(appendKey(out, e.A), e.B)
	}
	// Rarest anchors first: the first clause usually decides.
	slices.SortStableFunc(out, func(a, b clause) int { return b.rarity() - a.rarity() })
	return out[:min(len(out), maxClauses)]
}

// appendKey adds the clause that the field's last key is in the bytes: its name's end, then the key's closing quote.
func appendKey(out []clause, f rule.Field) []clause {
	name := f.Name
	if i := strings.LastIndexByte(name, '.'); i >= 0 {
		name = name[i+1:]
	}
	name = strings.TrimSuffix(name, "{}")
	lit := []byte(name)
	for i := len(name) - 1; i >= 0; i-- {
		if c := name[i]; c < 0x20 || c >= 0x7f || c == '"' || c == '\\' {
			lit = lit[i+1:]
			break
		}
	}
	if len(lit) < minNeedle {
		return out
	}
	return append(out, clause{newNeedle(append(lit, '"'), false)})
}

// rarity is the rarity of the clause's commonest anchor: the higher, the cheaper the clause is to search.
func (c clause) rarity() int {
	r := len(byteRarity)
	for _, n := range c {
		r = min(r, n.rarity)
	}
	return r
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
	return n
}

const (
	swarOnes  = 0x0101010101010101
	swarHighs = 0x8080808080808080
)

// zeroBytes flags (high bit) the zero bytes of x; a byte above a true zero may be flagged too.
func zeroBytes(x uint64) uint64 { return (x - swarOnes) &^ x & swarHighs }

// matchBytes flags the bytes of x equal to c, or to c's other case when fold and c is a letter.
func matchBytes(x uint64, c byte, fold bool) uint64 {
	m := zeroBytes(x ^ uint64(c)*swarOnes)
	if fold && 'a' <= c && c <= 'z' {
		m |= zeroBytes(x ^ uint64(c-'a'+'A')*swarOnes)
	}
	return m
}

// in reports whether body holds the needle as written. While the rarest anchor byte is sparse, IndexByte finds it
// at vector speed; once its hits come dense (prose in a large body), eight positions at a time are tested for both
// anchors, and only positions holding both are compared in full.
func (n *needle) in(body []byte) bool {
	a0, last := n.at[0], len(n.lit)-1
	for _, c := range n.cases {
		hits := 0
		for i := a0; i < len(body); i++ {
			k := bytes.IndexByte(body[i:], c)
			if k < 0 {
				break
			}
			i += k
			if p := i - a0; p+last < len(body) && n.equal(body[p:p+last+1]) {
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

// denseHits anchor hits within denseGap bytes each on average switch in to the dense search.
const (
	denseHits = 16
	denseGap  = 64
)

// inDense is in from position p on, eight positions at a time.
func (n *needle) inDense(body []byte, p int) bool {
	a0, a1 := n.at[0], n.at[1]
	c0, c1 := n.lit[a0], n.lit[a1]
	last := len(n.lit) - 1
	for ; p+last < len(body) && p+max(a0, a1)+8 <= len(body); p += 8 {
		m := matchBytes(binary.LittleEndian.Uint64(body[p+a0:]), c0, n.fold) &
			matchBytes(binary.LittleEndian.Uint64(body[p+a1:]), c1, n.fold)
		for ; m != 0; m &= m - 1 {
			if q := p + bits.TrailingZeros64(m)>>3; q+last < len(body) && n.equal(body[q:q+last+1]) {
				return true
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
// (\uXXXX, \/) a character of one, or hold a character outside ASCII where a needle is matched case-insensitively
// (Unicode folding), which then cannot be searched for as written.
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
			esc, nonASCII := v.EscapedASCII()
			held = cl[i].escaped(esc) || cl[i].fold && nonASCII
		}
		if !held {
			return false
		}
	}
	return true
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
