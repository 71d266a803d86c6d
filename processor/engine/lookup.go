package engine

import (
	"bytes"
	"fmt"
	"net/netip"
	"slices"
	"strings"

	"github.com/auditdetect/auditdetect/processor/rule"
)

// lookupStage is rule.Lookup. Its table is indexed once per engine for the columns a rule matches on (lookupIndex):
// a row whose values match nothing costs a hash look-up and a pass over the few pattern rows, and allocates nothing.
type lookupStage struct {
	inputs []*fieldRef
	outs   []lookupOut
	new    bool
	idx    *lookupIndex
}

type lookupOut struct {
	col int
	to  *fieldRef
}

// maxLookupValues bounds the values (combinations of values, with several inputs) one row looks up, however many its
// fields hold: the first ones, and the one of each field's last value (of sourceIPs, the address the API server saw,
// which a client cannot push out by padding X-Forwarded-For), as stats bounds its groups.
const maxLookupValues = 100

// lookupScratch is an evaluation's space for looking up values: the key and the values' places in it.
type lookupScratch struct {
	key  []byte
	ends []int
	vals []string
	last []byte
	hits []int32
	// cands and merged are the pattern rows a value is tried against (scanIndex.candidates).
	cands, merged []int32
}

func compileLookup(st rule.Lookup, rs refs, fs *fields) *lookupStage {
	s := &lookupStage{new: st.New}
	cols := make([]int, len(st.Inputs))
	for i, in := range st.Inputs {
		s.inputs = append(s.inputs, rs.get(in.Field))
		cols[i] = st.Table.Column(in.Column)
	}
	for _, o := range st.Outputs {
		s.outs = append(s.outs, lookupOut{col: st.Table.Column(o.Column), to: rs.get(o.Field)})
	}
	s.idx = fs.lookupIndex(st.Table, cols)
	return s
}

func (s *lookupStage) run(c *evalCtx, rows []*row) []*row {
	for _, r := range rows {
		s.apply(c, r)
	}
	return rows
}

// lookupResult gathers the output values of one row's look-ups; vals stays nil until a value comes.
type lookupResult struct {
	s    *lookupStage
	vals [][]string
}

// add adds the output cells of a table row; nil adds the default match.
func (res *lookupResult) add(row []string) {
	for i, o := range res.s.outs {
		v := res.s.idx.t.DefaultMatch
		if row != nil {
			v = row[o.col]
		}
		if v == "" {
			continue // an empty cell is Splunk's null: no value
		}
		if res.vals == nil {
			res.vals = make([][]string, len(res.s.outs))
		}
		res.vals[i] = append(res.vals[i], v)
	}
}

// look adds what the value (one per input) matches: its rows, then the default match for each match it lacks of
// the table's minimum.
func (res *lookupResult) look(c *evalCtx, vals []string) {
	ix := res.s.idx
	n := ix.each(c, vals, res)
	for ; n < ix.t.MinMatches; n++ {
		res.add(nil)
	}
}

func (s *lookupStage) apply(c *evalCtx, r *row) {
	if s.new && !slices.ContainsFunc(s.outs, func(o lookupOut) bool { return !r.has(o.to) }) {
		return // OUTPUTNEW: "the lookup is not performed for events in which the output fields already exist"
	}
	res := lookupResult{s: s}
	if !s.lookValues(c, r, &res) {
		return // a row without a value for some input is not looked up
	}
	for i, o := range s.outs {
		var vals []string
		if res.vals != nil {
			vals = res.vals[i]
		}
		switch {
		case s.new:
			if len(vals) > 0 && !r.has(o.to) {
				r.set(o.to.name, vals, false)
			}
		case len(vals) > 0:
			r.set(o.to.name, vals, false)
		case r.has(o.to):
			// OUTPUT: "the output lookup fields overwrite existing fields", with nothing when nothing matched.
			r.set(o.to.name, nil, false)
		}
	}
}

// lookValues looks up into res each value of the row's input (each combination of values, with several inputs), up
// to maxLookupValues; false when some input has no value.
func (s *lookupStage) lookValues(c *evalCtx, r *row, res *lookupResult) bool {
	sc := &c.lookup
	if len(s.inputs) == 1 {
		// The common case, read in place: the event's values are views valid during the call.
		n := 0
		r.eachString(s.inputs[0], func(v string) bool {
			n++
			if n < maxLookupValues {
				sc.vals = append(sc.vals[:0], v)
				res.look(c, sc.vals)
			} else {
				sc.last = append(sc.last[:0], v...)
			}
			return true
		})
		if n >= maxLookupValues {
			sc.vals = append(sc.vals[:0], b2s(sc.last))
			res.look(c, sc.vals)
		}
		return n > 0
	}
	perInput := make([][]string, len(s.inputs))
	for i, f := range s.inputs {
		if perInput[i] = r.values(f); len(perInput[i]) == 0 {
			return false
		}
	}
	combos, cut := 1, false
	for _, vals := range perInput {
		if combos *= len(vals); combos > maxLookupValues {
			cut = true
			break
		}
	}
	tuple := make([]string, len(perInput))
	n := 0
	var walk func(i int) bool
	walk = func(i int) bool {
		if i == len(perInput) {
			n++
			res.look(c, tuple)
			return n < maxLookupValues-1 || !cut
		}
		for _, v := range perInput[i] {
			tuple[i] = v
			if !walk(i + 1) {
				return false
			}
		}
		return true
	}
	walk(0)
	if cut {
		for i, vals := range perInput {
			tuple[i] = vals[len(vals)-1]
		}
		res.look(c, tuple)
	}
	return true
}

// lookupIndexKey names an index: a table matched on some of its columns.
type lookupIndexKey struct {
	t    *rule.LookupTable
	cols string
}

// lookupIndex finds the rows of a table that match values of its input columns. Rows whose input cells are all
// plain text (exact cells, wildcard cells without `*`) are in a hash map by their cells; a lookup on one CIDR field
// has its networks in a map per prefix length (nets); the others (a wildcard, a network beside other inputs) are
// pattern rows (scan), tried only when their literal text can match the value (byLit). The lists are in file order,
// merged when they are read, so that the first MaxMatches in file order are the ones that count, as in Splunk.
type lookupIndex struct {
	t     *rule.LookupTable
	fold  bool
	exact map[string][]int32
	nets  *netIndex
	scan  []scanRow
	// byLit files the pattern rows by literal text that every value they match shows (nil without pattern rows).
	byLit *scanIndex
}

// scanIndex narrows the pattern rows a value is tried against, as netIndex narrows networks. Each pattern row is
// filed under one of its input cells whose text any value it matches must show: the cell itself when it is plain
// text (a pattern row's exact cell beside a wildcard), else the longer of the cell's text before its first `*` (a
// prefix) and after its last (a suffix). A value then costs one map probe per column and kind of text, and per
// length of prefix or suffix filed, and is tried against the rows found there and the rows with no such text
// (`*team*`, `*`, a network beside a pattern, in rest), in file order: a list of thousands of `kubectl/*`-like or
// `*.example.com`-like patterns costs a few probes and the few rows that can match, not a try of each.
type scanIndex struct {
	groups []litGroup
	rest   []int32 // places in lookupIndex.scan, ascending
}

// litGroup is the pattern rows filed under one input's text of one kind and length: the places in lookupIndex.scan
// of the rows by that text, ascending.
type litGroup struct {
	input int
	kind  litKind
	n     int // the text's length, for a prefix or a suffix
	rows  map[string][]int32
}

type litKind uint8

const (
	litWhole litKind = iota
	litPrefix
	litSuffix
)

// probe returns the text of v that the group's rows are filed by, or false when v is too short to show it.
func (g *litGroup) probe(v []byte) ([]byte, bool) {
	switch {
	case g.kind == litWhole:
		return v, true
	case len(v) < g.n:
		return nil, false
	case g.kind == litPrefix:
		return v[:g.n], true
	}
	return v[len(v)-g.n:], true
}

// newScanIndex files the pattern rows of ix, a lookup on the table's columns cols; fold is how the table's cells
// compare (folded without case).
func newScanIndex(ix *lookupIndex, cols []int, fold func(string) string) *scanIndex {
	type groupKey struct {
		input int
		kind  litKind
		n     int
	}
	si := &scanIndex{}
	groups := map[groupKey]int{}
	for place, sr := range ix.scan {
		best, bestText := groupKey{input: -1}, ""
		for i, c := range cols {
			kind, text := literalOf(fold(ix.t.Rows[sr.row][c]), ix.t.MatchOf(c))
			// A whole cell is the narrowest text; else the longest prefix or suffix.
			if text != "" && (best.input < 0 || best.kind != litWhole && (kind == litWhole || len(text) > len(bestText))) {
				best, bestText = groupKey{input: i, kind: kind, n: len(text)}, text
			}
		}
		if best.input < 0 {
			si.rest = append(si.rest, int32(place))
			continue
		}
		if best.kind == litWhole {
			best.n = 0 // one group of whole cells per input, whatever their lengths
		}
		g, ok := groups[best]
		if !ok {
			g = len(si.groups)
			groups[best] = g
			si.groups = append(si.groups, litGroup{input: best.input, kind: best.kind, n: best.n, rows: map[string][]int32{}})
		}
		si.groups[g].rows[bestText] = append(si.groups[g].rows[bestText], int32(place))
	}
	return si
}

// literalOf returns the text that every value a cell matches shows, and where: the cell itself for plain text, the
// longer of a pattern's text before its first `*` and after its last, "" for a network or a pattern with neither.
func literalOf(cell string, m rule.LookupMatch) (litKind, string) {
	star := strings.IndexByte(cell, '*')
	switch {
	case m == rule.MatchCIDR:
		return litWhole, ""
	case m == rule.MatchExact, star < 0:
		return litWhole, cell
	}
	prefix, suffix := cell[:star], cell[strings.LastIndexByte(cell, '*')+1:]
	if len(suffix) > len(prefix) {
		return litSuffix, suffix
	}
	return litPrefix, prefix
}

// candidates returns the places in lookupIndex.scan of the pattern rows that may match the values in sc (the key
// and its ends), ascending; into sc's scratch space.
func (si *scanIndex) candidates(sc *lookupScratch) []int32 {
	sc.cands = sc.cands[:0]
	found := 0 // groups that hold rows for the value
	for i := range si.groups {
		g := &si.groups[i]
		start := 0
		if g.input > 0 {
			start = sc.ends[g.input-1] + 1
		}
		if text, ok := g.probe(sc.key[start:sc.ends[g.input]]); ok {
			if rows := g.rows[string(text)]; len(rows) > 0 {
				sc.cands = append(sc.cands, rows...)
				found++
			}
		}
	}
	if found == 0 {
		return si.rest
	}
	if found > 1 {
		slices.Sort(sc.cands) // a row is filed once: no duplicates
	}
	if len(si.rest) == 0 {
		return sc.cands
	}
	sc.merged = sc.merged[:0]
	a, b := sc.cands, si.rest
	for len(a) > 0 && len(b) > 0 {
		if a[0] < b[0] {
			sc.merged, a = append(sc.merged, a[0]), a[1:]
		} else {
			sc.merged, b = append(sc.merged, b[0]), b[1:]
		}
	}
	sc.merged = append(append(sc.merged, a...), b...)
	return sc.merged
}

// netIndex holds the networks of a lookup on one CIDR field by their masked prefix, so that an address is looked up
// with one probe per prefix length the table uses, not one test per row: a list of thousands of addresses and
// networks (threat intelligence, a cloud's ranges) costs a few map probes per value.
type netIndex struct {
	rows    map[netip.Prefix][]int32
	lengths [2][]int // the prefix lengths present, of IPv4 and of IPv6 networks
}

func (n *netIndex) add(p netip.Prefix, row int32) {
	fam := 0
	if p.Addr().Is6() {
		fam = 1
	}
	if !slices.Contains(n.lengths[fam], p.Bits()) {
		n.lengths[fam] = append(n.lengths[fam], p.Bits())
	}
	n.rows[p] = append(n.rows[p], row)
}

// appendRows appends to hits the rows whose network holds the address v (an IPv4-mapped one as its IPv4 address),
// in no order.
func (n *netIndex) appendRows(hits []int32, v string) []int32 {
	addr, err := netip.ParseAddr(v)
	if err != nil || addr.Zone() != "" {
		return hits
	}
	addr = addr.Unmap()
	fam := 0
	if addr.Is6() {
		fam = 1
	}
	for _, bits := range n.lengths[fam] {
		if p, err := addr.Prefix(bits); err == nil {
			hits = append(hits, n.rows[p]...)
		}
	}
	return hits
}

type scanRow struct {
	row   int32
	cells []cellMatcher // one per input
}

// cellMatcher matches a value (folded, for a case-insensitive table) against one cell.
type cellMatcher struct {
	lit    []byte
	glob   matcher
	prefix netip.Prefix
	cidr   bool
}

func (m *cellMatcher) match(c *evalCtx, v []byte) bool {
	switch {
	case m.cidr:
		addr, err := netip.ParseAddr(b2s(v))
		return err == nil && m.prefix.Contains(addr.Unmap())
	case m.glob != nil:
		return m.glob.match(c, v)
	}
	return bytes.Equal(v, m.lit)
}

// lookupIndex returns the index of t on cols, built once per engine.
func (fs *fields) lookupIndex(t *rule.LookupTable, cols []int) *lookupIndex {
	var b strings.Builder
	for _, c := range cols {
		b.WriteString(t.Columns[c])
		b.WriteByte(0)
	}
	key := lookupIndexKey{t, b.String()}
	if ix, ok := fs.lookups[key]; ok {
		return ix
	}
	ix := newLookupIndex(t, cols)
	if fs.lookups == nil {
		fs.lookups = map[lookupIndexKey]*lookupIndex{}
	}
	fs.lookups[key] = ix
	return ix
}

func newLookupIndex(t *rule.LookupTable, cols []int) *lookupIndex {
	ix := &lookupIndex{t: t, fold: !t.CaseSensitive, exact: map[string][]int32{}}
	if len(cols) == 1 && t.MatchOf(cols[0]) == rule.MatchCIDR {
		ix.nets = &netIndex{rows: map[netip.Prefix][]int32{}}
	}
	fold := func(s string) string {
		if ix.fold {
			return foldString(s)
		}
		return s
	}
rows:
	for i, row := range t.Rows {
		plain := true
		for _, c := range cols {
			cell := row[c]
			switch {
			case cell == "":
				continue rows // Splunk's null: it matches no value
			case t.MatchOf(c) == rule.MatchCIDR, t.MatchOf(c) == rule.MatchWildcard && strings.Contains(cell, "*"),
				strings.IndexByte(cell, 0) >= 0:
				plain = false
			}
		}
		if plain {
			var key []byte
			for j, c := range cols {
				if j > 0 {
					key = append(key, 0)
				}
				key = append(key, fold(row[c])...)
			}
			ix.exact[string(key)] = append(ix.exact[string(key)], int32(i))
			continue
		}
		if ix.nets != nil {
			// The loader checked every cell of a CIDR field (rule.LookupNetwork); one it did not matches nothing.
			if p, err := rule.LookupNetwork(row[cols[0]]); err == nil {
				ix.nets.add(p.Masked(), int32(i))
			}
			continue
		}
		sr := scanRow{row: int32(i)}
		for _, c := range cols {
			cell := row[c]
			var m cellMatcher
			switch t.MatchOf(c) {
			case rule.MatchCIDR:
				// The loader checked every cell of a CIDR field (rule.LookupNetwork); one it did not matches nothing.
				m.cidr = true
				m.prefix, _ = rule.LookupNetwork(cell)
			case rule.MatchWildcard:
				// Only `*` is a wildcard in a lookup's cells: `?` and `\` are themselves.
				glob := strings.NewReplacer(`\`, `\\`, `?`, `\?`).Replace(fold(cell))
				m.glob = compileGlob(glob, true)
			default:
				m.lit = []byte(fold(cell))
			}
			sr.cells = append(sr.cells, m)
		}
		ix.scan = append(ix.scan, sr)
	}
	if len(ix.scan) > 0 {
		ix.byLit = newScanIndex(ix, cols, fold)
	}
	return ix
}

// each adds to res the rows that match vals (one value per input column), in file order, at most MaxMatches of them,
// and returns how many it added.
func (ix *lookupIndex) each(c *evalCtx, vals []string, res *lookupResult) int {
	sc := &c.lookup
	sc.key, sc.ends = sc.key[:0], sc.ends[:0]
	nul := false // a value holding the key's separator, which no hashed row holds
	for i, v := range vals {
		if i > 0 {
			sc.key = append(sc.key, 0)
		}
		nul = nul || strings.IndexByte(v, 0) >= 0
		if ix.fold {
			sc.key = appendFold(sc.key, []byte(v)) // not kept: the conversion copies nothing
		} else {
			sc.key = append(sc.key, v...)
		}
		sc.ends = append(sc.ends, len(sc.key))
	}
	var hits []int32
	switch {
	case ix.nets != nil:
		sc.hits = ix.nets.appendRows(sc.hits[:0], vals[0])
		slices.Sort(sc.hits)
		hits = sc.hits
	case len(ix.exact) > 0 && !nul:
		hits = ix.exact[string(sc.key)]
	}
	var tries []int32 // the places in ix.scan of the pattern rows that may match
	if ix.byLit != nil {
		tries = ix.byLit.candidates(sc)
	}
	rows := ix.t.Rows
	n, max := 0, ix.t.MaxMatches
	si := 0
	for n < max {
		// The next pattern row that matches, not before the next hit.
		next := int32(-1)
		for ; si < len(tries); si++ {
			sr := &ix.scan[tries[si]]
			if len(hits) > 0 && sr.row > hits[0] {
				break
			}
			if ix.scanMatch(c, sr) {
				next = sr.row
				si++
				break
			}
		}
		switch {
		case next >= 0:
			res.add(rows[next])
		case len(hits) > 0:
			res.add(rows[hits[0]])
			hits = hits[1:]
		default:
			return n
		}
		n++
	}
	return n
}

func (ix *lookupIndex) scanMatch(c *evalCtx, sr *scanRow) bool {
	sc := &c.lookup
	start := 0
	for i := range sr.cells {
		v := sc.key[start:sc.ends[i]]
		start = sc.ends[i] + 1
		if !sr.cells[i].match(c, v) {
			return false
		}
	}
	return true
}

// checkLookup refuses a lookup stage whose fields are not its table's.
func checkLookup(st rule.Lookup) error {
	if st.Table == nil || len(st.Inputs) == 0 || len(st.Outputs) == 0 {
		return fmt.Errorf("a lookup needs a table, input fields and output fields")
	}
	for _, f := range slices.Concat(st.Inputs, st.Outputs) {
		if st.Table.Column(f.Column) < 0 {
			return fmt.Errorf("lookup %s has no field %q", st.Table.Name, f.Column)
		}
	}
	return nil
}
