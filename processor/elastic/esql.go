package elastic

import (
	"errors"
	"fmt"
	"net/netip"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/auditdetect/auditdetect/processor/rule"
)

// ES|QL (rules of type "esql"): a query is a source command and processing commands joined by `|`:
//
//	FROM <index patterns> [METADATA ...]
//	WHERE <condition>                          the first ones, before any command that makes columns, are the filter
//	EVAL <column> = <value> {, ...}            rule.Eval
//	GROK <column> "<pattern>"                  rule.Eval of a rule.Extract per named capture
//	RENAME <old> AS <new> {, ...}              rule.Rename
//	STATS <col> = <agg> {, ...} [BY <group> {, ...}]   rule.Stats, windowed when a later WHERE reads an aggregate
//	KEEP, DROP, SORT                           later commands read only the names KEEP and DROP leave ("Unknown
//	                                           column" otherwise, as after RENAME and STATS); nothing else: a risk
//	                                           record shows the fields its risk block names, and rows are not ordered
//
// Conditions: AND, OR, NOT, ==, !=, <, <=, >, >=, IN, LIKE, RLIKE, IS [NOT] NULL, STARTS_WITH, ENDS_WITH,
// CIDR_MATCH, KQL("..."), TO_STRING/TO_LOWER/TO_UPPER of a field. Values: fields, literals, URL_DECODE, REPLACE,
// CONCAT, TO_LOWER, TO_UPPER, TO_STRING, TRIM, CASE, DATE_TRUNC. Aggregates: COUNT(*), COUNT(f), COUNT_DISTINCT,
// VALUES, MIN, MAX, SUM, of a field or of an expression. Anything else is refused with its position. LANGUAGE.md lists the semantics and differences.

// esqlQuery is a compiled ES|QL query.
type esqlQuery struct {
	filter   rule.Expr
	pipeline []rule.Stage
	// stats is the query's last STATS, if any, and sources maps its columns to the audit paths they were read from.
	stats   *rule.Stats
	sources map[string]string
}

// CompileESQL compiles an ES|QL query, mapping its fields through fm. Errors are *Error.
func CompileESQL(query string, fm *FieldMap) (rule.Expr, []rule.Stage, error) {
	q, err := compileESQL(query, fm)
	if err != nil {
		return nil, nil, err
	}
	return q.filter, q.pipeline, nil
}

func compileESQL(query string, fm *FieldMap) (*esqlQuery, error) {
	segs, err := esqlCommands(query)
	if err != nil {
		return nil, err
	}
	c := &esqlCompiler{src: query, fm: fm, cols: map[string]string{}, types: map[string]esqlType{}, sources: map[string]string{}}
	for i, seg := range segs {
		c.end = seg.end
		word, at, rest := seg.word(query)
		cmd := strings.ToLower(word)
		if i == 0 {
			if cmd != "from" {
				return nil, errorAt(query, at, fmt.Sprintf("an ES|QL query for audit events starts with FROM, not %q", word))
			}
			if err := c.from(seg, rest); err != nil {
				return nil, err
			}
			continue
		}
		switch cmd {
		case "where":
			err = c.where(rest)
		case "eval":
			err = c.eval(rest)
		case "grok":
			err = c.grok(rest)
		case "rename":
			err = c.rename(rest)
		case "stats":
			err = c.statsCmd(at, rest)
		case "keep", "drop":
			err = c.project(cmd, rest)
		case "sort":
			err = c.sort(rest)
		case "from":
			err = errorAt(query, at, "FROM can only start the query")
		case "limit":
			err = errorAt(query, at, "LIMIT caps the rows of one run of the query: it has no meaning per event")
		case "":
			err = errorAt(query, seg.start-1, "empty command after this pipe")
		default:
			err = errorAt(query, at, fmt.Sprintf("ES|QL command %s is not supported (WHERE, EVAL, GROK, RENAME, STATS, KEEP, DROP, SORT are)", strings.ToUpper(word)))
		}
		if err != nil {
			return nil, err
		}
	}
	if err := c.reserved(); err != nil {
		return nil, err
	}
	return &esqlQuery{filter: c.filter, pipeline: c.stages, stats: c.stats, sources: c.sources}, nil
}

// esqlSegment is one command's text, [start, end) in the query.
type esqlSegment struct{ start, end int }

// word returns the segment's command word, where it starts and where the rest of the command starts.
func (s esqlSegment) word(src string) (word string, at, rest int) {
	i := skipBlank(src[:s.end], s.start)
	j := i
	for j < s.end && (isWord(src[j])) {
		j++
	}
	return src[i:j], i, j
}

// skipBlank returns the first offset from i that is neither white space nor inside a comment.
func skipBlank(src string, i int) int {
	for i < len(src) {
		switch {
		case isSpace(src[i]):
			i++
		case strings.HasPrefix(src[i:], "//"), strings.HasPrefix(src[i:], "/*"):
			end, err := commentEnd(src, i)
			if err != nil {
				return len(src)
			}
			i = end
		default:
			return i
		}
	}
	return i
}

// esqlCommands splits a query at the pipes outside strings, quoted names and comments.
func esqlCommands(src string) ([]esqlSegment, error) {
	var segs []esqlSegment
	start := 0
	for i := 0; i < len(src); {
		switch c := src[i]; {
		case strings.HasPrefix(src[i:], "//"), strings.HasPrefix(src[i:], "/*"):
			end, err := commentEnd(src, i)
			if err != nil {
				return nil, err
			}
			i = end
		case c == '"':
			_, n, err := esqlString(src, i)
			if err != nil {
				return nil, err
			}
			i += n
		case c == '`':
			_, n, err := lexBackquoted(src, i)
			if err != nil {
				return nil, err
			}
			i += n
		case c == '|':
			segs = append(segs, esqlSegment{start, i})
			i++
			start = i
		default:
			i++
		}
	}
	return append(segs, esqlSegment{start, len(src)}), nil
}

type esqlCompiler struct {
	src string
	fm  *FieldMap
	// filter is the AND of the WHEREs before the first command that makes columns; later WHEREs are stages.
	filter rule.Expr
	stages []rule.Stage
	// cols are the columns commands made, by name: the row field each is (its own name); types, their types.
	cols  map[string]string
	types map[string]esqlType
	// projections are the KEEPs, DROPs and RENAMEs so far, which remove the event's fields they do not keep.
	projections []esqlProjection
	// sources: for a column copied from the event, the audit path it holds.
	sources map[string]string
	// afterStats: only the STATS' columns exist; the event's fields are gone.
	afterStats bool
	stats      *rule.Stats
	// end is where the command being compiled ends.
	end int
	// defined are the columns commands made, each with where it was named (reserved checks them).
	defined []esqlTok
	// eventPaths are the audit paths the query reads from the event after its filter.
	eventPaths map[string]bool
	// readsColumn: the condition being compiled reads a column.
	readsColumn bool
}

func (c *esqlCompiler) from(seg esqlSegment, rest int) error {
	rest = skipBlank(c.src[:seg.end], rest)
	text := c.src[rest:seg.end]
	if i := indexWordFold(text, "metadata"); i >= 0 {
		text = text[:i]
	}
	if !holdsAuditLogs([]string{stripComments(text)}) {
		return errorAt(c.src, rest, fmt.Sprintf("FROM %s cannot hold Kubernetes audit logs (data stream %s<namespace>): the rule is for other data", strings.TrimSpace(text), auditLogsStream))
	}
	return nil
}

// indexWordFold finds word as a whole word in s, ignoring case.
func indexWordFold(s, word string) int {
	lower := strings.ToLower(s)
	for i := 0; ; {
		j := strings.Index(lower[i:], word)
		if j < 0 {
			return -1
		}
		j += i
		end := j + len(word)
		if (j == 0 || !isWord(s[j-1])) && (end == len(s) || !isWord(s[end])) {
			return j
		}
		i = end
	}
}

// stripComments replaces the comments of s with spaces.
func stripComments(s string) string {
	b := []byte(s)
	for i := 0; i < len(b); i++ {
		if strings.HasPrefix(s[i:], "//") || strings.HasPrefix(s[i:], "/*") {
			end, err := commentEnd(s, i)
			if err != nil {
				end = len(s)
			}
			for ; i < end; i++ {
				b[i] = ' '
			}
		}
	}
	return string(b)
}

// parser returns a token parser over the rest of the command being compiled, from from.
func (c *esqlCompiler) parser(from int) (*esqlParser, error) {
	toks, err := esqlLex(c.src, from, c.end)
	if err != nil {
		return nil, err
	}
	return newESQLParser(c.src, toks), nil
}

// rowStage appends a stage; the WHEREs after it are stages too.
func (c *esqlCompiler) rowStage(st rule.Stage) { c.stages = append(c.stages, st) }

func (c *esqlCompiler) where(from int) error {
	p, err := c.parser(from)
	if err != nil {
		return err
	}
	n, err := p.expr(0)
	if err != nil {
		return err
	}
	if err := p.end(); err != nil {
		return err
	}
	c.readsColumn = false
	cond, err := c.cond(n)
	if err != nil {
		return err
	}
	// A WHERE that reads only the event's fields, before STATS, filters the events themselves whatever EVALs came
	// before it (they add columns, never change a field or a row): it joins the filter, where the operation index
	// sees it.
	if !c.afterStats && !c.readsColumn {
		if c.filter == nil {
			c.filter = cond.t
		} else {
			c.filter = and(c.filter, cond.t)
		}
		return nil
	}
	c.rowStage(rule.Where{Cond: cond.t})
	return nil
}

func (c *esqlCompiler) eval(from int) error {
	p, err := c.parser(from)
	if err != nil {
		return err
	}
	for {
		name := p.next()
		if name.kind != eqlIdent && name.kind != eqlField {
			return p.failAt(name, "EVAL sets a column: <name> = <value>")
		}
		if eq := p.next(); eq.text != "=" || eq.kind != eqlOp {
			return p.failAt(eq, "expected = after the column name (an unnamed EVAL is not supported)")
		}
		if err := c.defineExpr(p, name); err != nil {
			return err
		}
		if !p.acceptOp(",") {
			break
		}
	}
	return p.end()
}

// defineExpr reads a value expression and sets the column name to it.
func (c *esqlCompiler) defineExpr(p *esqlParser, name esqlTok) error {
	n, err := p.expr(0)
	if err != nil {
		return err
	}
	v, err := c.value(n)
	if err != nil {
		return err
	}
	c.define(name, v, c.sourceOf(n), c.typeOf(n))
	return nil
}

// define sets the column name to v with a stage of its own; source is the audit path v copies, if it does.
func (c *esqlCompiler) define(name esqlTok, v rule.Value, source string, typ esqlType) {
	c.rowStage(rule.Eval{To: name.text, Value: v})
	c.cols[name.text] = name.text
	c.types[name.text] = typ
	c.defined = append(c.defined, name)
	delete(c.sources, name.text)
	if source != "" {
		c.sources[name.text] = source
	}
}

// sourceOf is the audit path an expression that is an event field reads, or "".
func (c *esqlCompiler) sourceOf(n esqlNode) string {
	if n.kind != nField {
		return ""
	}
	if _, col := c.cols[n.tok.text]; col {
		return c.sources[n.tok.text]
	}
	if f, err := c.fm.resolve(n.tok.text); err == nil && f.kind == pathTarget && len(f.alts) == 1 {
		return f.alts[0]
	}
	return ""
}

func (c *esqlCompiler) grok(from int) error {
	p, err := c.parser(from)
	if err != nil {
		return err
	}
	in := p.next()
	if in.kind != eqlIdent && in.kind != eqlField {
		return p.failAt(in, "GROK reads a column: GROK <column> \"<pattern>\"")
	}
	pat := p.next()
	if pat.kind != eqlString {
		return p.failAt(pat, "GROK needs its pattern as a string")
	}
	if err := p.end(); err != nil {
		return err
	}
	v, err := c.value(esqlNode{kind: nField, tok: in})
	if err != nil {
		return err
	}
	re, columns, err := grokRegex(pat.text)
	if err != nil {
		return p.failAt(pat, err.Error())
	}
	// Each capture is computed from the input column as it was: one named like the input comes last.
	input := c.cols[in.text]
	var last []int
	for i, col := range columns {
		if col == input {
			last = append(last, i)
			continue
		}
		c.define(esqlTok{kind: eqlIdent, text: col, off: pat.off}, rule.Extract{From: v, Regex: re, Group: "g" + strconv.Itoa(i+1)}, "", tKeyword)
	}
	for _, i := range last {
		c.define(esqlTok{kind: eqlIdent, text: columns[i], off: pat.off}, rule.Extract{From: v, Regex: re, Group: "g" + strconv.Itoa(i+1)}, "", tKeyword)
	}
	return nil
}

func (c *esqlCompiler) rename(from int) error {
	p, err := c.parser(from)
	if err != nil {
		return err
	}
	for {
		old := p.next()
		if !p.accept("as") {
			return p.failAt(p.peek(), "RENAME is <old> AS <new>")
		}
		to := p.next()
		if (old.kind != eqlIdent && old.kind != eqlField) || (to.kind != eqlIdent && to.kind != eqlField) {
			return p.failAt(old, "RENAME is <old> AS <new>")
		}
		fromName, err := c.column(old)
		if err != nil {
			return err
		}
		// The renamed column replaces one of the new name, also where it is null (the engine's rename leaves the
		// target as it was when the source has no value): the target is emptied first. Pair by pair, as ES|QL renames.
		if fromName != to.text && (!c.afterStats || c.cols[to.text] != "") {
			c.rowStage(rule.Eval{To: to.text, Value: rule.Constant{Null: true}})
		}
		c.rowStage(rule.Rename{Pairs: []rule.RenamePair{{From: fromName, To: to.text}}})
		c.cols[to.text] = to.text
		c.types[to.text] = c.types[fromName]
		c.defined = append(c.defined, to)
		if src, ok := c.sources[fromName]; ok {
			c.sources[to.text] = src
		}
		if old.text != to.text {
			delete(c.cols, old.text)
			// The old name is gone, the event's field of that name too ("Unknown column" in Elasticsearch).
			gone := old.text
			c.projections = append(c.projections, esqlProjection{why: "RENAME renamed it to " + to.text,
				keeps: func(name string) bool { return name != gone }})
		}
		if !p.acceptOp(",") {
			break
		}
	}
	return p.end()
}

// column is the row field an existing column is in, copying an event field into a column of its ES|QL name first.
func (c *esqlCompiler) column(t esqlTok) (string, error) {
	if name, ok := c.cols[t.text]; ok {
		return name, nil
	}
	if err := c.unknown(t); err != nil {
		return "", err
	}
	n := esqlNode{kind: nField, tok: t}
	v, err := c.value(n)
	if err != nil {
		return "", err
	}
	c.define(t, v, c.sourceOf(n), c.typeOf(n))
	return t.text, nil
}

var esqlAggregates = map[string]string{"count": "count", "count_distinct": "dc", "values": "values", "min": "min", "max": "max",
	"sum": "sum"}

func (c *esqlCompiler) statsCmd(at, from int) error {
	p, err := c.parser(from)
	if err != nil {
		return err
	}
	if c.stats != nil {
		return p.failAt(p.peek(), "a second STATS is not supported")
	}
	var st rule.Stats
	var names []string
	if !p.isKeyword(p.peek(), "by") {
		for {
			out, _ := p.assignment()
			fn := p.next()
			agg, ok := esqlAggregates[strings.ToLower(fn.text)]
			if fn.kind != eqlIdent || !ok || !p.acceptOp("(") {
				return p.failAt(fn, fmt.Sprintf("aggregate %s is not supported (COUNT, COUNT_DISTINCT, VALUES, MIN, MAX, SUM are)", fn.text))
			}
			a := rule.Aggregate{Func: agg}
			switch arg := p.peek(); {
			case agg == "count" && (arg.text == "*" || arg.text == ")"):
				if arg.text == "*" {
					p.pos++
				}
			case (arg.kind == eqlIdent || arg.kind == eqlField) && p.toks[p.pos+1].text == ")":
				p.pos++
				col, err := c.column(arg)
				if err != nil {
					return err
				}
				a.Field = col
				a.EachValue = agg == "count" // ES|QL's COUNT(f) counts values, each of a multi-valued field
			default:
				// An expression (SUM(CASE(...))) is computed into a column of its own before the STATS, as
				// Elasticsearch evaluates it per row.
				n, err := p.expr(0)
				if err != nil {
					return err
				}
				a.EachValue = agg == "count"
				if n.kind == nField {
					if a.Field, err = c.column(n.tok); err != nil {
						return err
					}
					break
				}
				v, err := c.value(n)
				if err != nil {
					return err
				}
				name := esqlTok{kind: eqlIdent, off: arg.off}
				for n := len(st.Aggs); ; n++ { // a name no column of the query has
					if name.text = fmt.Sprintf("_agg%d", n); c.cols[name.text] == "" {
						break
					}
				}
				c.define(name, v, "", c.typeOf(n))
				a.Field = name.text
			}
			if t := p.next(); t.text != ")" {
				return p.failAt(t, fmt.Sprintf("%s takes one argument (a precision or other options are not supported)", strings.ToUpper(fn.text)))
			}
			if out == "" {
				out = c.src[fn.off : p.toks[p.pos-1].off+1]
			}
			a.As = out
			names = append(names, out)
			st.Aggs = append(st.Aggs, a)
			if !p.acceptOp(",") {
				break
			}
		}
	}
	if p.accept("by") {
		for {
			t := p.peek()
			name, assigned := p.assignment()
			if assigned {
				if err := c.defineExpr(p, t); err != nil {
					return err
				}
			} else {
				p.pos++
				if t.kind != eqlIdent && t.kind != eqlField {
					return p.failAt(t, "BY takes columns, or <name> = <value>")
				}
				col, err := c.column(t)
				if err != nil {
					return err
				}
				name = col
			}
			st.By = append(st.By, name)
			if !p.acceptOp(",") {
				break
			}
		}
	}
	if err := p.end(); err != nil {
		return err
	}
	if len(st.By) == 0 {
		return errorAt(c.src, at, "STATS without BY makes one row of the whole run: it has no meaning per event")
	}
	// Kibana runs the query once per look-back and alerts once per group: counted over the rule's window, each group
	// fires once per window (when a WHERE on its aggregates first holds, if there is one).
	st.NullGroups, st.Windowed = true, true
	c.rowStage(st)
	sources, types := map[string]string{}, map[string]esqlType{}
	c.cols = map[string]string{}
	for _, b := range st.By {
		c.cols[b] = b
		types[b] = c.types[b]
		if src, ok := c.sources[b]; ok {
			sources[b] = src
		}
	}
	for i, n := range names {
		c.cols[n] = n
		a := st.Aggs[i]
		switch a.Func {
		case "count", "dc", "sum":
			types[n] = tNumber
		default: // values, min, max: of their field's type
			types[n] = c.types[a.Field]
		}
		if a.Func == "values" {
			if src, ok := c.sources[a.Field]; ok {
				sources[n] = src
			}
		}
	}
	c.types = types
	c.sources = sources
	c.afterStats = true
	c.stats = &st
	return nil
}

// cond3 is a condition in ES|QL's three-valued logic: t holds when it is true, f when it is false (a comparison with
// a missing value is neither, and NOT keeps it so).
type cond3 struct{ t, f rule.Expr }

func (c *esqlCompiler) cond(n esqlNode) (cond3, error) {
	switch n.kind {
	case nAnd, nOr:
		// A chain of one operator is compiled as one n-ary term: nested, each level would copy the ones below.
		var operands []esqlNode
		for x := n; ; x = x.args[0] {
			operands = append(operands, x.args[1])
			if x.args[0].kind != n.kind {
				operands = append(operands, x.args[0])
				break
			}
		}
		ts, fs := make([]rule.Expr, len(operands)), make([]rule.Expr, len(operands))
		for i, x := range operands {
			cx, err := c.cond(x)
			if err != nil {
				return cond3{}, err
			}
			ts[len(operands)-1-i], fs[len(operands)-1-i] = cx.t, cx.f
		}
		if n.kind == nOr {
			return cond3{or(ts...), and(fs...)}, nil
		}
		return cond3{and(ts...), or(fs...)}, nil
	case nNot:
		x, err := c.cond(n.args[0])
		return cond3{x.f, x.t}, err
	case nIsNull:
		r, err := c.ref(n.args[0])
		if err != nil {
			return cond3{}, err
		}
		if n.neg {
			return cond3{r.exists(), not(r.exists())}, nil
		}
		return cond3{not(r.exists()), r.exists()}, nil
	case nCompare, nIn, nLike, nRLike:
		return c.predicate(n)
	case nLiteral:
		switch strings.ToLower(n.tok.text) {
		case "true":
			return cond3{rule.True{}, falseExpr}, nil
		case "false":
			return cond3{falseExpr, rule.True{}}, nil
		}
	case nField:
		r, err := c.ref(n)
		if err != nil {
			return cond3{}, err
		}
		return r.test(rule.Literal("true", true), "true")
	case nCall:
		return c.condCall(n)
	}
	return cond3{}, errorAt(c.src, n.tok.off, fmt.Sprintf("%q is not a condition", n.tok.text))
}

// esqlRef is what a comparison tests: an event field through the field map, or a column.
type esqlRef struct {
	tok   esqlTok
	ev    *field
	col   string
	lower bool // TO_LOWER / TO_UPPER of the field: compared ignoring case
	upper bool
	// str: TO_STRING of the field, a keyword: compared as text, a number's too (TO_STRING(201) is "201", which is
	// not "201.0" and sorts before "3").
	str bool
	// typ is the field's or column's type (of the field's, under TO_STRING).
	typ esqlType
}

func (c *esqlCompiler) ref(n esqlNode) (esqlRef, error) {
	if n.kind == nCall {
		fn := strings.ToLower(n.tok.text)
		if (fn == "to_string" || fn == "to_lower" || fn == "to_upper") && len(n.args) == 1 && n.args[0].kind == nField {
			r, err := c.ref(n.args[0])
			r.lower, r.upper, r.str = fn == "to_lower", fn == "to_upper", fn == "to_string"
			return r, err
		}
		if _, ok := esqlValueFuncs[fn]; ok {
			return esqlRef{}, errorAt(c.src, n.tok.off, fmt.Sprintf("%s(...) cannot be compared here: compute it with EVAL first, then compare the column", strings.ToUpper(n.tok.text)))
		}
		return esqlRef{}, errorAt(c.src, n.tok.off, fmt.Sprintf("function %s is not supported", strings.ToUpper(n.tok.text)))
	}
	if n.kind != nField {
		return esqlRef{}, errorAt(c.src, n.tok.off, fmt.Sprintf("expected a field, found %q", n.tok.text))
	}
	if col, ok := c.cols[n.tok.text]; ok {
		c.readsColumn = true
		return esqlRef{tok: n.tok, col: col, typ: c.types[col]}, nil
	}
	if err := c.unknown(n.tok); err != nil {
		return esqlRef{}, err
	}
	f, err := c.fm.resolve(n.tok.text)
	if err != nil {
		return esqlRef{}, errorAt(c.src, n.tok.off, err.Error())
	}
	// ES|QL reads a text field's whole value (it is not analysed here, as KQL would), so it compares as a keyword.
	f.text = false
	// ES|QL does not support the flattened type (it is not among its field types): the root's leaf values are KQL's
	// and EQL's reading, not ES|QL's, so a flattened root is read as any other object, with no value of its own.
	f.flattened = false
	for _, a := range f.alts {
		c.readsEvent(a)
	}
	return esqlRef{tok: n.tok, ev: &f, typ: fieldType(f)}, nil
}

func (r esqlRef) exists() rule.Expr {
	if r.ev != nil {
		return r.ev.exists()
	}
	return rule.Exists{Field: rule.Field{Name: r.col}}
}

// test is `r matches p` in three values: false needs a value. written is the value or pattern as the query writes
// it: under TO_LOWER a value with capitals never matches (and TO_UPPER, one in lower case); a pattern with such
// letters is refused, since its letters may be escapes (\w) or classes ([a-z]) that ignoring case would change.
func (r esqlRef) test(p rule.Pattern, written string) (cond3, error) {
	var t rule.Expr
	if r.lower || r.upper {
		wrongCase := r.lower && strings.ToLower(written) != written || r.upper && strings.ToUpper(written) != written
		switch {
		case wrongCase && p.Kind != rule.Glob && p.Kind != rule.IP:
			return cond3{}, fmt.Errorf("a pattern with letters of the other case under TO_LOWER or TO_UPPER is not supported: EVAL the converted value into a column and match the column")
		case wrongCase:
			return cond3{falseExpr, r.exists()}, nil // TO_LOWER(x) never equals a value with capitals
		}
		p.CaseSensitive = false
	}
	if r.ev != nil {
		var err error
		if t, err = r.ev.compare(p); err != nil {
			return cond3{}, err
		}
	} else {
		t = rule.Compare{Field: rule.Field{Name: r.col}, Op: rule.OpEq, Value: p}
	}
	return cond3{t, and(r.exists(), not(t))}, nil
}

func (c *esqlCompiler) predicate(n esqlNode) (cond3, error) {
	r, err := c.ref(n.args[0])
	if err != nil {
		return cond3{}, err
	}
	wrap := func(x cond3, err error) (cond3, error) {
		if err != nil {
			var qe *Error
			if errors.As(err, &qe) {
				return cond3{}, err
			}
			return cond3{}, errorAt(c.src, n.tok.off, err.Error())
		}
		if n.neg {
			return cond3{x.f, x.t}, nil
		}
		return x, nil
	}
	lit := func(v esqlNode) (esqlTok, error) {
		if v.kind != nLiteral || v.tok.kind == eqlIdent {
			return esqlTok{}, errorAt(c.src, v.tok.off, fmt.Sprintf("expected a value, found %q (comparing two fields is not supported)", v.tok.text))
		}
		return v.tok, nil
	}
	switch n.kind {
	case nIn:
		var ts, fs []rule.Expr
		withNull := false
		for _, v := range n.args[1:] {
			if v.kind == nLiteral && strings.EqualFold(v.tok.text, "null") && v.tok.kind == eqlIdent {
				withNull = true // never equal, and it makes a value equal to none of the list null, never false
				continue
			}
			tok, err := lit(v)
			if err != nil {
				return cond3{}, err
			}
			if err := c.comparable(r, tok); err != nil {
				return cond3{}, err
			}
			x, err := r.equal(tok)
			if err != nil {
				return wrap(x, err)
			}
			ts, fs = append(ts, x.t), append(fs, x.f)
		}
		if withNull {
			return wrap(cond3{or(ts...), falseExpr}, nil)
		}
		return wrap(cond3{or(ts...), and(append(fs, r.exists())...)}, nil)
	case nLike, nRLike:
		tok, err := lit(n.args[1])
		if err != nil || tok.kind != eqlString {
			return cond3{}, errorAt(c.src, n.args[1].tok.off, "LIKE and RLIKE take a string pattern")
		}
		var p rule.Pattern
		if n.kind == nLike {
			if err := checkLikeEscapes(tok.text); err != nil {
				return cond3{}, errorAt(c.src, tok.off, err.Error())
			}
			p = rule.Pattern{Kind: rule.Glob, Text: tok.text, CaseSensitive: true}
		} else {
			re, err := luceneRegex(tok.text)
			if err != nil {
				return cond3{}, errorAt(c.src, tok.off, "RLIKE pattern: "+err.Error())
			}
			p = rule.Pattern{Kind: rule.Regex, Text: re, CaseSensitive: true}
		}
		return wrap(r.test(p, tok.text))
	}
	// A comparison.
	tok, err := lit(n.args[1])
	if err != nil {
		return cond3{}, err
	}
	if err := c.comparable(r, tok); err != nil {
		return cond3{}, err
	}
	op := esqlCompareOps[n.tok.text]
	switch op {
	case rule.OpEq:
		return wrap(r.equal(tok))
	case rule.OpNe:
		x, err := r.equal(tok)
		return wrap(cond3{x.f, x.t}, err)
	}
	if r.lower || r.upper {
		// The order of the converted value is not the written one's ("Zed" < "m", "zed" > "m"), and folding both
		// sides would convert the bound too.
		return cond3{}, errorAt(c.src, n.tok.off, "an ordered comparison (<, <=, >, >=) of TO_LOWER or TO_UPPER is not supported: EVAL the converted value into a column and compare the column")
	}
	// A keyword (and TO_STRING of anything) is ordered as text, by bytes: "10" < "9".
	text := r.str || r.typ == tKeyword
	var t rule.Expr
	switch {
	case text && r.ev != nil:
		if t, err = r.ev.orderText(op, tok.text); err != nil {
			return wrap(cond3{}, err)
		}
	case text:
		t = rule.Compare{Field: rule.Field{Name: r.col}, Op: op, Value: rule.Pattern{Kind: rule.String, Text: tok.text, CaseSensitive: true}}
	case r.ev != nil:
		if t, err = r.ev.order(op, tok.text); err != nil {
			return wrap(cond3{}, err)
		}
	default:
		// A number column against a number: numerically (the engine's order when both sides are numbers).
		t = rule.Compare{Field: rule.Field{Name: r.col}, Op: op, Value: rule.Literal(tok.text, true)}
	}
	return wrap(cond3{t, and(r.exists(), not(t))}, nil)
}

var esqlCompareOps = map[string]rule.Op{"==": rule.OpEq, "!=": rule.OpNe, "<": rule.OpLt, "<=": rule.OpLe, ">": rule.OpGt, ">=": rule.OpGe}

// literal is the pattern of an exact value compared with r: a number compares numerically (201.0 equals 201), an
// address on an ip field as an address.
func (r esqlRef) literal(t esqlTok) rule.Pattern {
	if t.kind == eqlNumber {
		return rule.Pattern{Kind: rule.Number, Text: t.text, CaseSensitive: true}
	}
	if r.ev != nil {
		f := *r.ev
		f.numeric = f.numeric && !r.str // TO_STRING(201) is the text "201"
		return f.literal(t.text, true)
	}
	return rule.Literal(t.text, true)
}

// checkLikeEscapes refuses what ES|QL refuses in a LIKE pattern: a backslash not before *, ? or a backslash.
func checkLikeEscapes(s string) error {
	for i := 0; i < len(s); i++ {
		if s[i] == '\\' {
			if i+1 >= len(s) || !strings.ContainsRune(`*?\`, rune(s[i+1])) {
				return fmt.Errorf("in a LIKE pattern a backslash must come before *, ? or a backslash")
			}
			i++
		}
	}
	return nil
}

func (c *esqlCompiler) condCall(n esqlNode) (cond3, error) {
	fn := strings.ToLower(n.tok.text)
	switch fn {
	case "kql":
		if len(n.args) != 1 || n.args[0].kind != nLiteral || n.args[0].tok.kind != eqlString {
			return cond3{}, errorAt(c.src, n.tok.off, "KQL takes one string, a KQL query")
		}
		if c.afterStats || len(c.stages) > 0 && c.hasColumnStage() {
			return cond3{}, errorAt(c.src, n.tok.off, "KQL() runs only before commands that make columns (as in Elasticsearch)")
		}
		e, err := CompileKQL(n.args[0].tok.text, c.fm)
		if err != nil {
			var qe *Error
			if errors.As(err, &qe) {
				return cond3{}, errorAt(c.src, n.args[0].tok.off, "in KQL: "+qe.Reason)
			}
			return cond3{}, errorAt(c.src, n.args[0].tok.off, err.Error())
		}
		return cond3{e, not(e)}, nil
	case "starts_with", "ends_with":
		if len(n.args) != 2 || n.args[1].kind != nLiteral || n.args[1].tok.kind != eqlString {
			return cond3{}, errorAt(c.src, n.tok.off, fmt.Sprintf("%s takes a field and a string", strings.ToUpper(fn)))
		}
		r, err := c.ref(n.args[0])
		if err != nil {
			return cond3{}, err
		}
		lit := rule.EscapeGlob(n.args[1].tok.text)
		if fn == "starts_with" {
			return r.test(rule.Pattern{Kind: rule.Glob, Text: lit + "*", CaseSensitive: true}, n.args[1].tok.text)
		}
		return r.test(rule.Pattern{Kind: rule.Glob, Text: "*" + lit, CaseSensitive: true}, n.args[1].tok.text)
	case "cidr_match":
		if len(n.args) < 2 {
			return cond3{}, errorAt(c.src, n.tok.off, "CIDR_MATCH takes a field and one or more networks")
		}
		r, err := c.ref(n.args[0])
		if err != nil {
			return cond3{}, err
		}
		var ts []rule.Expr
		for _, a := range n.args[1:] {
			if a.kind != nLiteral || a.tok.kind != eqlString {
				return cond3{}, errorAt(c.src, a.tok.off, "CIDR_MATCH takes networks as strings")
			}
			x, err := r.test(rule.Pattern{Kind: rule.CIDR, Text: a.tok.text}, a.tok.text)
			if err != nil {
				return cond3{}, errorAt(c.src, a.tok.off, err.Error())
			}
			ts = append(ts, x.t)
		}
		t := or(ts...)
		return cond3{t, and(r.exists(), not(t))}, nil
	}
	return cond3{}, errorAt(c.src, n.tok.off, fmt.Sprintf("function %s is not supported in a condition (STARTS_WITH, ENDS_WITH, CIDR_MATCH, KQL are; compute other values with EVAL)", strings.ToUpper(n.tok.text)))
}

// readsEvent notes an audit path the query reads from the event, which no column may be named (reserved).
func (c *esqlCompiler) readsEvent(path string) {
	if c.eventPaths == nil {
		c.eventPaths = map[string]bool{}
	}
	c.eventPaths[path] = true
}

// auditMembers are the top-level members of an audit event, and rowPaths the audit paths a risk record reads from a
// row that still reads the event (eventrisk, and the engine's summary of the request).
var (
	auditMembers = []string{"kind", "apiVersion", "level", "auditID", "stage", "requestURI", "verb", "user",
		"impersonatedUser", "sourceIPs", "userAgent", "objectRef", "responseStatus", "requestObject", "responseObject",
		"requestReceivedTimestamp", "stageTimestamp", "annotations"}
	rowPaths = []string{"user.username", "sourceIPs{}", "src_ip", "severity", "objectRef.resource",
		"objectRef.subresource", "objectRef.namespace", "objectRef.name", "responseStatus.code", "_time"}
)

// reserved refuses a column named as an audit path the rule reads from the event: rows hold columns and event
// fields under one set of names, so the column would hide the field (ES|QL keeps them apart).
func (c *esqlCompiler) reserved() error {
	for _, t := range c.defined {
		if c.eventPaths[t.text] || slices.Contains(auditMembers, t.text) || slices.Contains(rowPaths, t.text) {
			return errorAt(c.src, t.off, fmt.Sprintf("a column named %s would hide the audit event's own %s here: "+
				"name it otherwise (Esql.%s)", t.text, t.text, t.text))
		}
	}
	return nil
}

// hasColumnStage reports whether a command that makes columns came before.
func (c *esqlCompiler) hasColumnStage() bool {
	for _, st := range c.stages {
		switch st.(type) {
		case rule.Eval, rule.Rename, rule.Stats:
			return true
		}
	}
	return false
}

// value compiles an expression that computes a value (EVAL, a function argument, a BY group).
func (c *esqlCompiler) value(n esqlNode) (rule.Value, error) {
	switch n.kind {
	case nLiteral:
		if n.tok.kind == eqlIdent {
			switch strings.ToLower(n.tok.text) {
			case "null":
				return rule.Constant{Null: true}, nil
			case "true", "false":
				return rule.Constant{Text: strings.ToLower(n.tok.text)}, nil
			}
		}
		return rule.Constant{Text: n.tok.text}, nil
	case nField:
		r, err := c.ref(n)
		if err != nil {
			return nil, err
		}
		if r.ev == nil {
			return rule.FieldValue{Field: rule.Field{Name: r.col}}, nil
		}
		switch f := r.ev; {
		case f.kind == absentTarget:
			return rule.Constant{Null: true}, nil
		case f.kind == constTarget:
			return rule.Constant{Text: f.value}, nil
		case f.values != nil || len(f.alts) != 1:
			return nil, errorAt(c.src, n.tok.off, fmt.Sprintf("%s cannot be read as a value here: the field map translates its values or reads it from several places", f.ecs))
		}
		c.readsEvent(r.ev.alts[0])
		v := rule.FieldValue{Field: r.ev.ruleField(r.ev.alts[0])}
		if r.ev.ignoreEmpty {
			// The ingest pipeline leaves the field unset for an empty value: null, not "".
			return rule.Case{Whens: []rule.When{{Cond: r.ev.nonEmpty(), Then: v}}}, nil
		}
		return v, nil
	case nSpan:
		return rule.Constant{Text: n.span.String()}, nil
	case nCall:
		return c.valueCall(n)
	}
	return nil, errorAt(c.src, n.tok.off, fmt.Sprintf("%q is not a value (conditions as values are not supported; use CASE)", n.tok.text))
}

var esqlValueFuncs = map[string]string{
	"url_decode": "url_decode", "replace": "replace", "concat": "concat", "to_lower": "to_lower",
	"to_upper": "to_upper", "trim": "trim", "date_trunc": "date_trunc",
}

func (c *esqlCompiler) valueCall(n esqlNode) (rule.Value, error) {
	fn := strings.ToLower(n.tok.text)
	switch fn {
	case "to_string":
		if len(n.args) != 1 {
			return nil, errorAt(c.src, n.tok.off, "TO_STRING takes one argument")
		}
		return c.value(n.args[0])
	case "case":
		if len(n.args) < 2 {
			return nil, errorAt(c.src, n.tok.off, "CASE takes conditions and values")
		}
		var v rule.Case
		for i := 0; i+1 < len(n.args); i += 2 {
			cond, err := c.cond(n.args[i])
			if err != nil {
				return nil, err
			}
			then, err := c.value(n.args[i+1])
			if err != nil {
				return nil, err
			}
			v.Whens = append(v.Whens, rule.When{Cond: cond.t, Then: then})
		}
		if len(n.args)%2 == 1 {
			els, err := c.value(n.args[len(n.args)-1])
			if err != nil {
				return nil, err
			}
			v.Else = els
		}
		return v, nil
	}
	name, ok := esqlValueFuncs[fn]
	if !ok {
		return nil, errorAt(c.src, n.tok.off, fmt.Sprintf("function %s is not supported (URL_DECODE, REPLACE, CONCAT, TO_LOWER, TO_UPPER, TO_STRING, TRIM, CASE, DATE_TRUNC are)", strings.ToUpper(n.tok.text)))
	}
	switch want := rule.CallFuncs[name]; {
	case name == "concat" && len(n.args) < 2:
		// Elasticsearch's CONCAT(string1, string2, ...) requires two at least.
		return nil, errorAt(c.src, n.tok.off, "CONCAT takes two or more arguments")
	case want >= 0 && len(n.args) != want:
		return nil, errorAt(c.src, n.tok.off, fmt.Sprintf("%s takes %d arguments", strings.ToUpper(fn), want))
	}
	args := make([]rule.Value, len(n.args))
	for i, a := range n.args {
		v, err := c.value(a)
		if err != nil {
			return nil, err
		}
		args[i] = v
	}
	constant := func(i int) (string, bool) {
		k, ok := args[i].(rule.Constant)
		return k.Text, ok && !k.Null
	}
	switch name {
	case "replace":
		re, ok := constant(1)
		if !ok {
			return nil, errorAt(c.src, n.args[1].tok.off, "REPLACE's regular expression must be a string")
		}
		re, err := javaRegex(re)
		if err != nil {
			return nil, errorAt(c.src, n.args[1].tok.off, "REPLACE: "+err.Error())
		}
		tmpl, ok := constant(2)
		if !ok {
			return nil, errorAt(c.src, n.args[2].tok.off, "REPLACE's replacement must be a string")
		}
		if tmpl, err = javaReplacement(tmpl); err != nil {
			return nil, errorAt(c.src, n.args[2].tok.off, "REPLACE: "+err.Error())
		}
		args[1], args[2] = rule.Constant{Text: re}, rule.Constant{Text: tmpl}
	case "date_trunc":
		if n.args[0].kind != nSpan {
			return nil, errorAt(c.src, n.args[0].tok.off, "DATE_TRUNC's interval must be a time span such as 1 minute (calendar units are not supported)")
		}
	}
	return rule.Call{Func: name, Args: args}, nil
}

// defaultLookBack is Kibana's `from` for a rule that sets none.
const defaultLookBack = 6 * time.Minute

// lookBack returns the look-back of a rule's `from` (now-9m): the window its windowed STATS counts over.
func lookBack(from string) (time.Duration, error) {
	from = strings.TrimSpace(from)
	if from == "" {
		return defaultLookBack, nil
	}
	rest, ok := strings.CutPrefix(from, "now-")
	if !ok || len(rest) < 2 {
		return 0, fmt.Errorf("from %q is not now-<n><s|m|h|d>", from)
	}
	n, err := strconv.Atoi(rest[:len(rest)-1])
	unit := map[byte]time.Duration{'s': time.Second, 'm': time.Minute, 'h': time.Hour, 'd': 24 * time.Hour}[rest[len(rest)-1]]
	if err != nil || n <= 0 || unit == 0 {
		return 0, fmt.Errorf("from %q is not now-<n><s|m|h|d>", from)
	}
	return time.Duration(n) * unit, nil
}

// esqlType is the type of a field or column, as far as comparisons need it: Elasticsearch compares a keyword with a
// string as text (BytesRef order: by UTF-8 bytes, which is code point order, so "10" < "9"), a number with a number
// numerically, and refuses a number compared with a string or a keyword with a number (Verifier's
// validateBinaryComparison: "first argument of [...] is [numeric] so second argument must also be [numeric]").
type esqlType int

const (
	tUnknown esqlType = iota // null, or a CASE of values of several types
	tKeyword                 // keyword and text fields, strings, and what the string functions and GROK make
	tNumber
	tIP
	tDate
	tBool
)

// esqlDateFields are the fields of the integration's mapping of type date that the default field map reaches.
var esqlDateFields = map[string]bool{
	"@timestamp": true, "kubernetes.audit.requestReceivedTimestamp": true, "kubernetes.audit.stageTimestamp": true,
}

// fieldType is the Elasticsearch type of an event field: number and ip fields are so mapped (numericFields,
// ipFields), dates as esqlDateFields says, and every other field the integration maps is a keyword, text or a
// flattened leaf, all of which compare as text.
func fieldType(f field) esqlType {
	switch {
	case f.numeric:
		return tNumber
	case f.ip:
		return tIP
	case esqlDateFields[f.ecs]:
		return tDate
	}
	return tKeyword
}

// typeOf is the type of the value an expression computes.
func (c *esqlCompiler) typeOf(n esqlNode) esqlType {
	switch n.kind {
	case nLiteral:
		switch {
		case n.tok.kind == eqlString:
			return tKeyword
		case n.tok.kind == eqlNumber:
			return tNumber
		case strings.EqualFold(n.tok.text, "true"), strings.EqualFold(n.tok.text, "false"):
			return tBool
		}
	case nField:
		if col, ok := c.cols[n.tok.text]; ok {
			return c.types[col]
		}
		if f, err := c.fm.resolve(n.tok.text); err == nil {
			return fieldType(f)
		}
	case nCall:
		switch strings.ToLower(n.tok.text) {
		case "to_string", "url_decode", "replace", "concat", "to_lower", "to_upper", "trim":
			return tKeyword
		case "date_trunc":
			return tDate
		case "case": // the type of its values, which Elasticsearch requires to be one
			typ := tUnknown
			for i, a := range n.args {
				if i%2 == 0 && i != len(n.args)-1 {
					continue // a condition
				}
				switch t := c.typeOf(a); {
				case t == tUnknown:
				case typ == tUnknown:
					typ = t
				case typ != t:
					return tUnknown
				}
			}
			return typ
		}
	case nAnd, nOr, nNot, nIsNull, nCompare, nIn, nLike, nRLike:
		return tBool
	}
	return tUnknown
}

// comparable refuses a comparison Elasticsearch refuses: a number with a string, a keyword with a number.
func (c *esqlCompiler) comparable(r esqlRef, v esqlTok) error {
	typ := r.typ
	if r.str || r.lower || r.upper {
		typ = tKeyword
	}
	switch {
	case typ == tNumber && v.kind == eqlString:
		return errorAt(c.src, v.off, fmt.Sprintf("%s is a number: Elasticsearch refuses to compare it with the string %q (write the number, or compare TO_STRING(%s))", r.tok.text, v.text, r.tok.text))
	case typ == tKeyword && v.kind == eqlNumber:
		return errorAt(c.src, v.off, fmt.Sprintf("%s is a string: Elasticsearch refuses to compare it with the number %s (write \"%s\")", r.tok.text, v.text, v.text))
	}
	return nil
}

// esqlIPText is Elasticsearch's text of an ip value (TO_STRING; EsqlDataTypeConverter.ipToString is
// DocValueFormat.IP.format): an IPv4 address, and an IPv4-mapped IPv6 one, in dotted decimal; any other IPv6
// address in RFC 5952's form (lower case, the longest run of two or more zero groups as ::), which is Go's.
func esqlIPText(a netip.Addr) string { return a.Unmap().WithZone("").String() }

// equal is `r == v` for a literal v.
func (r esqlRef) equal(v esqlTok) (cond3, error) {
	if r.typ == tIP && v.kind == eqlString {
		addr, err := netip.ParseAddr(v.text)
		switch {
		case r.str && (err != nil || esqlIPText(addr) != v.text):
			// TO_STRING of an ip is its canonical text: never "::ffff:10.0.0.1", "2001:DB8::1" or "10.0.0.0/8".
			return cond3{falseExpr, r.exists()}, nil
		case err == nil:
			// The canonical text of the same address, or (without TO_STRING) a string Elasticsearch casts to an ip.
			return r.test(rule.Pattern{Kind: rule.IP, Text: esqlIPText(addr)}, v.text)
		}
	}
	return r.test(r.literal(v), v.text)
}

// esqlProjection is a KEEP, DROP or RENAME: the names it keeps; why says why a name it does not keep is gone.
type esqlProjection struct {
	why   string
	keeps func(name string) bool
}

// gone says why name is no column at this point of the query ("" when it is one, or may be the event's field).
func (c *esqlCompiler) gone(name string) string {
	if _, ok := c.cols[name]; ok {
		return ""
	}
	for _, p := range c.projections {
		if !p.keeps(name) {
			return p.why
		}
	}
	if c.afterStats {
		return "it is not a column after STATS (only its aggregates and groups are)"
	}
	return ""
}

// unknown refuses to read a name that is no column here, as Elasticsearch refuses it ("Unknown column [b]").
func (c *esqlCompiler) unknown(t esqlTok) error {
	if why := c.gone(t.text); why != "" {
		return errorAt(c.src, t.off, fmt.Sprintf("Unknown column [%s]: %s", t.text, why))
	}
	return nil
}

// project is KEEP or DROP: later commands see only the columns and event fields it keeps. A name without a wildcard
// must be a column here, as Elasticsearch requires; one that is not in the field map is let pass (the index may
// have it: event.original).
func (c *esqlCompiler) project(cmd string, from int) error {
	pats, err := esqlNamePatterns(c.src, from, c.end)
	if err != nil {
		return err
	}
	for _, p := range pats {
		if !strings.Contains(p.text, "*") {
			if err := c.unknown(p); err != nil {
				return err
			}
		}
	}
	keeps := func(name string) bool {
		for _, p := range pats {
			if matchNamePattern(p.text, name) {
				return cmd == "keep"
			}
		}
		return cmd == "drop"
	}
	for name := range c.cols {
		if !keeps(name) {
			delete(c.cols, name)
		}
	}
	c.projections = append(c.projections, esqlProjection{why: strings.ToUpper(cmd) + " removed it", keeps: keeps})
	return nil
}

// sort checks SORT's keys that are names: each must be a column here. Rows have no order, so SORT does nothing else.
func (c *esqlCompiler) sort(from int) error {
	p, err := c.parser(from)
	if err != nil {
		return err
	}
	for p.peek().kind != eqlEOF {
		if t, next := p.peek(), p.toks[p.pos+1]; t.kind == eqlIdent || t.kind == eqlField {
			if next.kind == eqlEOF || next.kind == eqlOp && next.text == "," || p.isKeyword(next, "asc") ||
				p.isKeyword(next, "desc") || p.isKeyword(next, "nulls") {
				if err := c.unknown(t); err != nil {
					return err
				}
			}
		}
		// On to the next key, after a comma outside parentheses.
		for depth := 0; p.peek().kind != eqlEOF; {
			t := p.next()
			if t.kind == eqlOp && t.text == "(" {
				depth++
			} else if t.kind == eqlOp && t.text == ")" {
				depth--
			} else if t.kind == eqlOp && t.text == "," && depth == 0 {
				break
			}
		}
	}
	return nil
}

// esqlNamePatterns reads KEEP's and DROP's list: names and patterns (`Esql.*`, `*`) separated by commas, `quoted`
// parts as they are written.
func esqlNamePatterns(src string, from, end int) ([]esqlTok, error) {
	var out []esqlTok
	var b strings.Builder
	start, spaced, comma := -1, false, end
	flush := func(at int) error {
		if start < 0 {
			return errorAt(src, at, "expected a column name or pattern")
		}
		out = append(out, esqlTok{kind: eqlField, text: b.String(), off: start})
		b.Reset()
		start, spaced = -1, false
		return nil
	}
	for i := from; i < end; {
		c := src[i]
		switch {
		case isSpace(c):
			i++
			spaced = true
			continue
		case strings.HasPrefix(src[i:end], "//"), strings.HasPrefix(src[i:end], "/*"):
			e, err := commentEnd(src[:end], i)
			if err != nil {
				return nil, err
			}
			i = e
			spaced = true
			continue
		case c == ',':
			if err := flush(i); err != nil {
				return nil, err
			}
			comma = i
			i++
			continue
		}
		if start >= 0 && spaced {
			return nil, errorAt(src, i, "expected , between column names")
		}
		if start < 0 {
			start = i
		}
		switch {
		case c == '`':
			name, n, err := lexBackquoted(src[:end], i)
			if err != nil {
				return nil, err
			}
			b.WriteString(name)
			i += n
		case isWord(c) || c == '.' || c == '@' || c == '*' || c >= 0x80:
			b.WriteByte(c)
			i++
		default:
			return nil, errorAt(src, i, fmt.Sprintf("unexpected %q in a list of columns", src[i:i+1]))
		}
		spaced = false
	}
	if err := flush(comma); err != nil { // nothing after the last comma, or nothing at all
		return nil, err
	}
	return out, nil
}

// matchNamePattern reports whether a KEEP or DROP pattern, where * is any run of characters, matches name.
func matchNamePattern(pat, name string) bool {
	parts := strings.Split(pat, "*")
	if len(parts) == 1 {
		return pat == name
	}
	if !strings.HasPrefix(name, parts[0]) {
		return false
	}
	name = name[len(parts[0]):]
	for _, p := range parts[1 : len(parts)-1] {
		i := strings.Index(name, p)
		if i < 0 {
			return false
		}
		name = name[i+len(p):]
	}
	return strings.HasSuffix(name, parts[len(parts)-1])
}
