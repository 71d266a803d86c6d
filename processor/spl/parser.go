package spl

import (
	"slices"
	"strings"

	"github.com/auditdetect/auditdetect/processor/rule"
)

// maxNesting bounds parentheses and NOT chains, so hostile input cannot exhaust the stack.
const maxNesting = 100

// parser builds the syntax tree of one text: the search, or the definition of a macro being expanded.
type parser struct {
	lex    lexer
	tok    token // the peeked token, when peeked
	peeked bool
	macros Macros
	stack  []string // the macros being expanded around this text, outermost first
	depth  int
	// expanded is what the whole search has expanded so far, shared with the parsers of its macros' text.
	expanded *expansionBudget
	// inEval says an eval expression is eval's (else where's), for messages.
	inEval bool
	// defined are the fields earlier commands of the pipeline make (rename, stats, iplocation, fillnull): a name
	// such as host is then a field of the results, not Splunk metadata.
	defined map[string]bool

	// lookups are the lookup tables `| lookup` can name (nil: none).
	lookups Lookups
	// zone names the time zone of the search's time functions and day bins (Env.TimeZone), "" for UTC.
	zone string
}

func newParser(src string, macros Macros, stack []string) *parser {
	return &parser{lex: lexer{src: src}, macros: macros, stack: stack, expanded: &expansionBudget{}}
}

// sub is a parser of the text of a macro this one expands, key: the same lookups and time zone.
func (p *parser) sub(text, key string) *parser {
	sub := newParser(text, p.macros, append(slices.Clip(p.stack), key))
	sub.lookups, sub.zone, sub.expanded = p.lookups, p.zone, p.expanded
	return sub
}

// zoned appends the search's time zone to the arguments of a time function (rule.CallFuncs: format_time,
// parse_time, bin_floor of days), when it is not UTC: a rule compiled in UTC reads as it did before there was a
// zone, and keeps its state across an upgrade.
func (p *parser) zoned(args ...rule.Value) []rule.Value {
	if p.zone == "" {
		return args
	}
	return append(args, rule.Constant{Text: p.zone})
}

func (p *parser) peek() (token, *posError) {
	if !p.peeked {
		t, err := p.lex.next()
		if err != nil {
			return token{}, err
		}
		p.tok, p.peeked = t, true
	}
	return p.tok, nil
}

func (p *parser) next() (token, *posError) {
	t, err := p.peek()
	p.peeked = false
	return t, err
}

// value reads the value after a comparison operator (see lexer.value). It must not follow a peek.
func (p *parser) value(inList bool) (token, *posError) {
	if p.peeked {
		return p.next()
	}
	return p.lex.value(inList)
}

// peekWord reports whether the next token is the bare word w (compared case-insensitively unless exact).
func (p *parser) peekWord(w string, exact bool) (bool, *posError) {
	t, err := p.peek()
	if err != nil {
		return false, err
	}
	if t.kind != kWord {
		return false, nil
	}
	if exact {
		return t.text == w, nil
	}
	return strings.EqualFold(t.text, w), nil
}

func (p *parser) nest(pos int) *posError {
	p.depth++
	if p.depth > maxNesting {
		return errAt(pos, "expression nested too deeply (more than %d levels)", maxNesting)
	}
	return nil
}

// group parses what follows the '(' open with inner, then the matching ')'. Searches and where expressions share it.
func group[T any](p *parser, open token, inner func() (T, *posError)) (T, *posError) {
	var zero T
	if err := p.nest(open.pos); err != nil {
		return zero, err
	}
	x, err := inner()
	if err != nil {
		return zero, err
	}
	p.depth--
	rp, err := p.next()
	if err != nil {
		return zero, err
	}
	if rp.kind != kRParen {
		return zero, errAt(open.pos, "missing ')' for this '('")
	}
	return x, nil
}

// parseQuery parses a whole search: a base search, then `| command` segments.
func (p *parser) parseQuery() (*query, *posError) {
	t, err := p.peek()
	if err != nil {
		return nil, err
	}
	switch t.kind {
	case kEOF:
		return nil, errAt(t.pos, "empty search")
	case kPipe:
		p.next()
		name, err := p.next()
		if err != nil {
			return nil, err
		}
		if name.kind == kWord {
			return nil, errAt(name.pos, "unsupported command %q: a search must start with a base search, not a generating command", name.text)
		}
		return nil, errAt(t.pos, "a search must start with a base search, not '|'")
	}
	search, err := p.parseAnd()
	if err != nil {
		return nil, err
	}
	if err := checkMetadata(search, true); err != nil {
		return nil, err
	}
	if err := checkBaseTime(search); err != nil {
		return nil, err
	}
	cmds, err := p.parseCommands()
	if err != nil {
		return nil, err
	}
	return &query{search: search, cmds: cmds}, nil
}

// parseCommands parses `| command` segments up to the end of the text.
func (p *parser) parseCommands() ([]command, *posError) {
	var cmds []command
	stats := false
	for {
		t, err := p.next()
		if err != nil {
			return nil, err
		}
		switch t.kind {
		case kEOF:
			return cmds, nil
		case kPipe:
		case kLBracket:
			return nil, errAt(t.pos, "subsearches ([...]) are not supported")
		default:
			return nil, errAt(t.pos, "unexpected %s", t.describe())
		}
		c, err := p.parseCommand()
		if err != nil {
			return nil, err
		}
		for _, x := range c {
			p.define(x)
			if _, ok := x.(statsCmd); ok {
				if stats {
					// Run per event, the second stats would count rows of one event (count is always 1), and
					// `| where count > 5` after it could never hold; only the first stats of a search is windowed.
					return nil, errAt(t.pos, "a second stats (stats over the results of stats) is not supported: "+
						"only one stats per search is counted over time")
				}
				stats = true
			}
		}
		cmds = append(cmds, c...)
	}
}

// parseCommand parses one command, after its pipe. A macro in command position may stand for several commands.
func (p *parser) parseCommand() ([]command, *posError) {
	t, err := p.next()
	if err != nil {
		return nil, err
	}
	switch t.kind {
	case kWord:
	case kMacro:
		return p.expandCommands(t)
	case kLBracket:
		return nil, errAt(t.pos, "subsearches ([...]) are not supported")
	case kEOF, kPipe:
		return nil, errAt(t.pos, "missing command before %s", t.describe())
	default:
		return nil, errAt(t.pos, "expected a command name, found %s", t.describe())
	}
	var c command
	switch strings.ToLower(t.text) {
	case "search":
		var x node
		if x, err = p.parseAnd(); err == nil {
			if err = checkMetadata(x, false); err == nil {
				c = searchCmd{x: x}
			}
		}
	case "where":
		c, err = p.parseWhereCmd()
	case "fillnull":
		c, err = p.parseFillnull()
	case "rename":
		c, err = p.parseRename()
	case "stats":
		c, err = p.parseStats(t.pos)
	case "iplocation":
		c, err = p.parseIPLocation(t.pos)
	case "eval":
		c, err = p.parseEval()
	case "rex":
		c, err = p.parseRex(t.pos)
	case "convert":
		c, err = p.parseConvert(t.pos)
	case "table", "fields":
		c, err = p.parseProject(t)
	case "bin", "bucket":
		c, err = p.parseBin(t)
	case "lookup":
		c, err = p.parseLookup(t)
	default:
		return nil, errAt(t.pos, "unsupported command %q", t.text)
	}
	if err != nil {
		return nil, err
	}
	return []command{c}, nil
}

// Search expressions. Precedence, loosest first: AND (explicit or implied by whitespace), OR, NOT. So
// `a=1 b=2 OR b=3` is `a=1 AND (b=2 OR b=3)`, as Splunk's search command reads it.

func isTerminator(k kind) bool { return k == kEOF || k == kPipe || k == kRParen }

func (p *parser) parseAnd() (node, *posError) {
	var terms andNode
	needTerm := false // after an explicit AND
	for {
		t, err := p.peek()
		if err != nil {
			return nil, err
		}
		if isTerminator(t.kind) {
			if len(terms) == 0 || needTerm {
				return nil, errAt(t.pos, "missing search term before %s", t.describe())
			}
			break
		}
		if t.kind == kWord && t.text == "AND" {
			if len(terms) == 0 || needTerm {
				return nil, errAt(t.pos, "AND must stand between two search terms")
			}
			p.next()
			needTerm = true
			continue
		}
		x, err := p.parseOr()
		if err != nil {
			return nil, err
		}
		terms = append(terms, x)
		needTerm = false
	}
	if len(terms) == 1 {
		return terms[0], nil
	}
	return terms, nil
}

func (p *parser) parseOr() (node, *posError) {
	x, err := p.parseUnary()
	if err != nil {
		return nil, err
	}
	terms := orNode{x}
	for {
		ok, err := p.peekWord("OR", true)
		if err != nil {
			return nil, err
		}
		if !ok {
			break
		}
		p.next()
		y, err := p.parseUnary()
		if err != nil {
			return nil, err
		}
		terms = append(terms, y)
	}
	if len(terms) == 1 {
		return x, nil
	}
	return terms, nil
}

func (p *parser) parseUnary() (node, *posError) {
	t, err := p.peek()
	if err != nil {
		return nil, err
	}
	if t.kind == kWord && t.text == "NOT" {
		p.next()
		if err := p.nest(t.pos); err != nil {
			return nil, err
		}
		x, err := p.parseUnary()
		p.depth--
		if err != nil {
			return nil, err
		}
		return notNode{x: x}, nil
	}
	return p.parsePrimary()
}

func (p *parser) parsePrimary() (node, *posError) {
	t, err := p.next()
	if err != nil {
		return nil, err
	}
	switch t.kind {
	case kLParen:
		return group(p, t, p.parseAnd)
	case kMacro:
		return p.expandExpr(t)
	case kWord, kString:
		if t.kind == kWord && (t.text == "AND" || t.text == "OR") {
			return nil, errAt(t.pos, "%s must stand between two search terms", t.text)
		}
		return p.parseTerm(t)
	case kLBracket:
		return nil, errAt(t.pos, "subsearches ([...]) are not supported")
	case kEOF, kPipe, kRParen:
		return nil, errAt(t.pos, "missing search term before %s", t.describe())
	}
	return nil, errAt(t.pos, "unexpected %s", t.describe())
}

// parseTerm parses what follows a word or string at term position: `field op value`, `field IN (...)`, or `*`.
func (p *parser) parseTerm(t token) (node, *posError) {
	next, err := p.peek()
	if err != nil {
		return nil, err
	}
	switch {
	case next.kind.isCompare():
		if err := checkFieldName(t); err != nil {
			return nil, err
		}
		p.next()
		op, ok := searchOps[next.kind]
		if !ok {
			return nil, errAt(next.pos, "%s is not a search operator (use = or !=)", next.describe())
		}
		v, err := p.value(false)
		if err != nil {
			return nil, err
		}
		val, err := valueOf(v, next)
		if err != nil {
			return nil, err
		}
		return cmpNode{pos: t.pos, field: t.text, op: op, val: val}, nil
	case next.kind == kWord && next.text == "IN":
		if err := checkFieldName(t); err != nil {
			return nil, err
		}
		p.next()
		return p.parseIn(t, next)
	case t.kind == kWord && t.text == "*":
		return allNode{}, nil
	case t.kind == kWord && next.kind == kLParen && termFuncs[strings.ToUpper(t.text)] != "":
		return nil, errAt(t.pos, "%s() is not supported: %s", strings.ToUpper(t.text), termFuncs[strings.ToUpper(t.text)])
	}
	return nil, errAt(t.pos, "free-text term %s is not supported: this streaming engine matches field=value terms only", t.describe())
}

var searchOps = map[kind]rule.Op{kEq: rule.OpEq, kNe: rule.OpNe, kLt: rule.OpLt, kLe: rule.OpLe, kGt: rule.OpGt, kGe: rule.OpGe}

func checkFieldName(t token) *posError {
	switch {
	case t.text == "":
		return errAt(t.pos, "empty field name")
	case strings.Contains(t.text, "*"):
		return errAt(t.pos, "wildcard field names (%s) are not supported", t.describe())
	}
	return nil
}

// valueOf checks that v is a value for the operator op.
func valueOf(v, op token) (value, *posError) {
	switch v.kind {
	case kWord, kString:
		return value{text: v.text, glob: v.glob}, nil
	case kMacro:
		return value{}, errAt(v.pos, "a macro cannot stand for a value")
	case kLBracket:
		return value{}, errAt(v.pos, "subsearches ([...]) are not supported")
	}
	return value{}, errAt(op.pos, "missing value after %s", op.describe())
}

func (p *parser) parseIn(field, in token) (node, *posError) {
	lp, err := p.next()
	if err != nil {
		return nil, err
	}
	if lp.kind != kLParen {
		return nil, errAt(lp.pos, "expected '(' after IN")
	}
	var vals []value
	for {
		v, err := p.value(true)
		if err != nil {
			return nil, err
		}
		if v.kind == kRParen && len(vals) == 0 {
			return nil, errAt(v.pos, "empty IN list")
		}
		val, err := valueOf(v, in)
		if err != nil {
			return nil, errAt(v.pos, "expected a value in the IN list, found %s", v.describe())
		}
		vals = append(vals, val)
		sep, err := p.value(true)
		if err != nil {
			return nil, err
		}
		switch sep.kind {
		case kComma:
			continue
		case kRParen:
			return inNode{pos: field.pos, field: field.text, vals: vals}, nil
		case kEOF, kPipe:
			return nil, errAt(lp.pos, "missing ')' for this IN list")
		}
		return nil, errAt(sep.pos, "expected ',' or ')' in the IN list, found %s", sep.describe())
	}
}

// Pipeline commands.

// fieldArg reads a field name argument (bare or quoted, no wildcards).
func (p *parser) fieldArg(what string) (string, *posError) {
	t, err := p.next()
	if err != nil {
		return "", err
	}
	if t.kind != kWord && t.kind != kString {
		return "", errAt(t.pos, "expected %s, found %s", what, t.describe())
	}
	if err := checkFieldName(t); err != nil {
		return "", err
	}
	return t.text, nil
}

// optionValue reads `= value` after an option name.
func (p *parser) optionValue(name token) (string, *posError) {
	eq, err := p.next()
	if err != nil {
		return "", err
	}
	v, err := p.value(false)
	if err != nil {
		return "", err
	}
	val, err := valueOf(v, eq)
	if err != nil {
		return "", err
	}
	if strings.Contains(val.text, "*") {
		return "", errAt(v.pos, "wildcards are not allowed in %s=", name.text)
	}
	return val.text, nil
}

// atEnd reports whether the command's arguments are over.
func (p *parser) atEnd() (bool, *posError) {
	t, err := p.peek()
	if err != nil {
		return false, err
	}
	return t.kind == kEOF || t.kind == kPipe, nil
}

// eachListItem calls item for each item of a command's list, up to the command's end (a pipe or the search's end),
// skipping the commas between items: Splunk's lists are space- or comma-delimited. t is the item's first token,
// peeked: item reads the item.
func (p *parser) eachListItem(item func(t token) *posError) *posError {
	for {
		end, err := p.atEnd()
		if err != nil || end {
			return err
		}
		t, _ := p.peek()
		if t.kind == kComma {
			p.next()
			continue
		}
		if err := item(t); err != nil {
			return err
		}
	}
}

func (p *parser) parseFillnull() (command, *posError) {
	c := fillCmd{value: "0"} // Splunk's default
	err := p.eachListItem(func(t token) *posError {
		p.next()
		if t.kind == kWord && len(c.fields) == 0 && strings.EqualFold(t.text, "value") {
			if eq, err := p.peek(); err != nil {
				return err
			} else if eq.kind == kEq {
				c.value, err = p.optionValue(t)
				return err
			}
		}
		if t.kind != kWord && t.kind != kString {
			return errAt(t.pos, "expected a field name, found %s", t.describe())
		}
		if err := checkFieldName(t); err != nil {
			return err
		}
		c.fields = append(c.fields, t.text)
		return nil
	})
	if err != nil {
		return nil, err
	}
	return c, nil
}

func (p *parser) parseRename() (command, *posError) {
	var c renameCmd
	for {
		from, err := p.fieldArg("a field name")
		if err != nil {
			return nil, err
		}
		if ok, err := p.peekWord("as", false); err != nil {
			return nil, err
		} else if !ok {
			t, _ := p.peek()
			return nil, errAt(t.pos, "expected AS after %q, found %s", from, t.describe())
		}
		p.next()
		to, err := p.fieldArg("a new field name")
		if err != nil {
			return nil, err
		}
		c.pairs = append(c.pairs, rule.RenamePair{From: from, To: to})
		t, err := p.peek()
		if err != nil {
			return nil, err
		}
		switch t.kind {
		case kEOF, kPipe:
			return c, nil
		case kComma:
			p.next()
		}
	}
}

// statsFuncs maps the accepted spellings of stats functions to the rule model's names.
var statsFuncs = map[string]string{
	"count": "count", "c": "count",
	"values": "values",
	"dc":     "dc", "distinct_count": "dc",
	"min": "min", "max": "max",
	"earliest": "earliest", "latest": "latest",
	"sum": "sum",
}

func (p *parser) parseStats(pos int) (command, *posError) {
	var c statsCmd
	for {
		t, err := p.peek()
		if err != nil {
			return nil, err
		}
		if t.kind == kEOF || t.kind == kPipe || t.kind == kWord && strings.EqualFold(t.text, "by") {
			break
		}
		p.next()
		if t.kind == kComma {
			continue
		}
		agg, err := p.parseAggregate(t)
		if err != nil {
			return nil, err
		}
		c.aggs = append(c.aggs, agg)
	}
	if len(c.aggs) == 0 {
		return nil, errAt(pos, "stats needs at least one aggregate such as count")
	}
	if ok, err := p.peekWord("by", false); err != nil || !ok {
		return c, err
	}
	byTok, _ := p.next()
	err := p.eachListItem(func(t token) *posError {
		f, err := p.fieldArg("a by-field")
		if err != nil {
			return err
		}
		if err := p.notMetadata(token{pos: t.pos, text: f}, "stats by"); err != nil {
			return err
		}
		c.by = append(c.by, f)
		return nil
	})
	if err != nil {
		return nil, err
	}
	if len(c.by) == 0 {
		return nil, errAt(byTok.pos, "missing fields after BY")
	}
	return c, nil
}

// parseAggregate parses `func`, `func(field)`, either optionally followed by `as name`; t is the function word.
func (p *parser) parseAggregate(t token) (rule.Aggregate, *posError) {
	var agg rule.Aggregate
	if t.kind != kWord {
		return agg, errAt(t.pos, "expected a stats function, found %s", t.describe())
	}
	next, err := p.peek()
	if err != nil {
		return agg, err
	}
	if next.kind == kEq {
		return agg, errAt(t.pos, "unsupported stats option %q", t.text)
	}
	fn, ok := statsFuncs[strings.ToLower(t.text)]
	if !ok {
		return agg, errAt(t.pos, "unsupported stats function %q", t.text)
	}
	agg.Func = fn
	if next.kind == kLParen {
		p.next()
		if agg.Field, err = p.fieldArg("a field name"); err != nil {
			return agg, err
		}
		rp, err := p.next()
		if err != nil {
			return agg, err
		}
		switch rp.kind {
		case kRParen:
		case kLParen:
			return agg, errAt(rp.pos, "expressions inside stats functions (such as eval(...)) are not supported")
		default:
			return agg, errAt(rp.pos, "expected ')' after %s(%s, found %s", t.text, agg.Field, rp.describe())
		}
	} else if fn != "count" {
		return agg, errAt(t.pos, "%s needs a field: %s(field)", t.text, t.text)
	}
	if ok, err := p.peekWord("as", false); err != nil {
		return agg, err
	} else if ok {
		p.next()
		if agg.As, err = p.fieldArg("an output name after AS"); err != nil {
			return agg, err
		}
	} else if t.text != fn {
		// Splunk names the output after the spelling used (`c(x)`), not the canonical function.
		agg.As = t.text
		if agg.Field != "" {
			agg.As += "(" + agg.Field + ")"
		}
	}
	return agg, nil
}

// commandArgs reads a command's arguments up to the next pipe: each `name=value` option goes to option, every
// other token to arg.
func (p *parser) commandArgs(option func(name token, value string) *posError, arg func(t token) *posError) *posError {
	for {
		end, err := p.atEnd()
		if err != nil || end {
			return err
		}
		t, _ := p.next()
		next, err := p.peek()
		if err != nil {
			return err
		}
		if t.kind == kWord && next.kind == kEq {
			val, err := p.optionValue(t)
			if err == nil {
				err = option(t, val)
			}
			if err != nil {
				return err
			}
			continue
		}
		if err := arg(t); err != nil {
			return err
		}
	}
}

func (p *parser) parseIPLocation(pos int) (command, *posError) {
	var c iplocCmd
	err := p.commandArgs(func(name token, value string) *posError {
		if !strings.EqualFold(name.text, "prefix") {
			return errAt(name.pos, "unsupported iplocation option %q", name.text)
		}
		c.prefix = value
		return nil
	}, func(t token) *posError {
		if t.kind != kWord && t.kind != kString {
			return errAt(t.pos, "expected an IP field name, found %s", t.describe())
		}
		if c.field != "" {
			return errAt(t.pos, "iplocation takes one field, found a second: %s", t.describe())
		}
		if err := checkFieldName(t); err != nil {
			return err
		}
		c.field = t.text
		return nil
	})
	if err != nil {
		return nil, err
	}
	if c.field == "" {
		return nil, errAt(pos, "iplocation needs an IP field")
	}
	return c, nil
}

// internalFields are Splunk's internal fields (`_time`, `_raw`...), which `fields` keeps unless it names them.
const internalFields = "_*"

// parseProject parses `table <wc-field-list>` and `fields [+|-] <wc-field-list>`: field names, bare or quoted, with
// `*` wildcards, separated by spaces and/or commas (Splunk's Search Reference: "The list can be space-delimited or
// comma-delimited").
func (p *parser) parseProject(cmd token) (command, *posError) {
	c := projectCmd{ordered: strings.EqualFold(cmd.text, "table")}
	c.internal = !c.ordered
	first := true
	for {
		end, err := p.atEnd()
		if err != nil {
			return nil, err
		}
		if end {
			break
		}
		t, _ := p.next()
		if t.kind == kComma {
			first = false
			continue
		}
		if t.kind == kWord && (t.text == "+" || t.text == "-") {
			switch {
			case c.ordered:
				return nil, errAt(t.pos, "table takes no %q: it keeps the fields it lists (remove fields with fields - <field> ...)", t.text)
			case !first:
				return nil, errAt(t.pos, "%q comes before the field list: fields [+|-] <field> ...", t.text)
			}
			c.remove = t.text == "-"
			c.internal = !c.remove
			first = false
			continue
		}
		first = false
		if t.kind != kWord && t.kind != kString {
			return nil, errAt(t.pos, "expected a field name, found %s", t.describe())
		}
		switch {
		case t.text == "":
			return nil, errAt(t.pos, "empty field name")
		case t.kind == kWord && (t.text[0] == '-' || t.text[0] == '+'):
			return nil, errAt(t.pos, "field name %s starts with %q: write %s %c %s, with a space, to keep or remove fields",
				t.describe(), t.text[0], strings.ToLower(cmd.text), t.text[0], t.text[1:])
		}
		c.names = append(c.names, t.text)
	}
	if len(c.names) == 0 {
		return nil, errAt(cmd.pos, "%s needs at least one field name", strings.ToLower(cmd.text))
	}
	return c, nil
}

// define records the fields a command makes.
func (p *parser) define(c command) {
	if p.defined == nil {
		p.defined = map[string]bool{}
	}
	switch c := c.(type) {
	case renameCmd:
		for _, pr := range c.pairs {
			p.defined[pr.To] = true
		}
	case statsCmd:
		for _, a := range c.aggs {
			p.defined[a.OutputName()] = true
		}
		for _, f := range c.by {
			p.defined[f] = true
		}
	case iplocCmd:
		for _, f := range (rule.IPLocation{Prefix: c.prefix}).Outputs() {
			p.defined[f] = true
		}
	case fillCmd:
		for _, f := range c.fields {
			p.defined[f] = true
		}
	case evalCmd:
		for _, e := range c.evals {
			p.defined[e.To] = true
		}
	case lookupCmd:
		for _, f := range c.l.OutputNames() {
			p.defined[f] = true
		}
	}
}
