package spl

import (
	"regexp"
	"slices"
	"strings"

	"github.com/auditdetect/auditdetect/processor/rule"
)

// `eval` and `rex` compute row fields (rule.Eval). eval's values are the part of eval syntax that yields text:
// fields, "strings", numbers, `.` concatenation and the functions below; its conditions (in if and case) are `where`
// conditions. Arithmetic and the many other functions of eval are rejected where they are written.

// evalFuncs are the value functions eval accepts, with their usage for errors.
var evalFuncs = map[string]string{
	"if":        `if(condition, then, else)`,
	"case":      `case(condition, value, ...)`,
	"coalesce":  `coalesce(field, ..., "default")`,
	"lower":     `lower(value)`,
	"upper":     `upper(value)`,
	"trim":      `trim(value) or trim(value, "characters")`,
	"ltrim":     `ltrim(value) or ltrim(value, "characters")`,
	"rtrim":     `rtrim(value) or rtrim(value, "characters")`,
	"replace":   `replace(value, "regex", "replacement")`,
	"urldecode": `urldecode(value)`,
	"null":      `null()`,
	"strftime":  `strftime(time, "format")`,
	"strptime":  `strptime(text, "format")`,
}

func (p *parser) parseEval() (command, *posError) {
	p.lex.eval = true
	defer func() { p.lex.eval = false }()
	var c evalCmd
	for {
		t, err := p.next()
		if err != nil {
			return nil, err
		}
		if t.kind != kWord && t.kind != kQField {
			return nil, errAt(t.pos, "expected a field name to assign (eval name=value), found %s", t.describe())
		}
		if err := checkFieldName(t); err != nil {
			return nil, err
		}
		eq, err := p.next()
		if err != nil {
			return nil, err
		}
		if eq.kind != kEq {
			return nil, errAt(eq.pos, "expected '=' after %s in eval, found %s", t.describe(), eq.describe())
		}
		v, err := p.evalValue()
		if err != nil {
			return nil, err
		}
		c.evals = append(c.evals, rule.Eval{To: t.text, Value: v})
		// Later assignments of the same eval read the fields earlier ones set, as in Splunk.
		p.define(evalCmd{evals: []rule.Eval{{To: t.text}}})
		sep, err := p.peek()
		if err != nil {
			return nil, err
		}
		switch sep.kind {
		case kComma:
			p.next()
			continue
		case kEOF, kPipe:
			return c, nil
		case kEq, kEqEq, kNe, kLt, kLe, kGt, kGe:
			return nil, errAt(sep.pos, "eval cannot assign a condition's true/false to a field (Splunk refuses it too): "+
				"write if(condition, \"yes\", \"no\")")
		}
		if sep.kind == kWord && (strings.EqualFold(sep.text, "AND") || strings.EqualFold(sep.text, "OR")) {
			return nil, errAt(sep.pos, "eval cannot assign a condition's true/false to a field: write if(condition, \"yes\", \"no\")")
		}
		return nil, errAt(sep.pos, "unexpected %s after an eval value (assignments are separated by ',')", sep.describe())
	}
}

// evalValue parses a value: operands joined by `.`.
func (p *parser) evalValue() (rule.Value, *posError) {
	dot := p.lex.dot
	p.lex.dot = true
	defer func() { p.lex.dot = dot }()
	first, err := p.evalOperand()
	if err != nil {
		return nil, err
	}
	parts := []rule.Value{first}
	for {
		t, err := p.peek()
		if err != nil {
			return nil, err
		}
		if t.kind != kDot {
			break
		}
		p.next()
		x, err := p.evalOperand()
		if err != nil {
			return nil, err
		}
		parts = append(parts, x)
	}
	if len(parts) == 1 {
		return first, nil
	}
	// Splunk's `.` gives null when an operand is null, as concat does.
	return rule.Call{Func: "concat", Args: parts}, nil
}

func (p *parser) evalOperand() (rule.Value, *posError) {
	t, err := p.next()
	if err != nil {
		return nil, err
	}
	switch t.kind {
	case kString:
		return rule.Constant{Text: t.text}, nil
	case kQField:
		if t.text == "" {
			return nil, errAt(t.pos, "empty field name")
		}
		if err := p.notMetadata(t, "eval"); err != nil {
			return nil, err
		}
		return rule.FieldValue{Field: rule.Field{Name: t.text}}, nil
	case kLParen:
		if err := p.nest(t.pos); err != nil {
			return nil, err
		}
		x, err := p.evalValue()
		p.depth--
		if err != nil {
			return nil, err
		}
		rp, err := p.next()
		if err != nil {
			return nil, err
		}
		if rp.kind != kRParen {
			return nil, errAt(rp.pos, "expected ')' in eval value, found %s", rp.describe())
		}
		return x, nil
	case kWord:
		next, err := p.peek()
		if err != nil {
			return nil, err
		}
		if next.kind == kLParen {
			return p.evalCall(t)
		}
		if rule.IsDecimal(t.text) {
			return rule.Constant{Text: t.text}, nil
		}
		if !isIdent(t.text) {
			if strings.ContainsAny(t.text, "+-*/%") {
				return nil, errAt(t.pos, "arithmetic in eval is not supported (%s)", t.describe())
			}
			return nil, errAt(t.pos, "%s is not a field name, number or string: field names with characters other "+
				"than letters, digits and _ must be in single quotes", t.describe())
		}
		if next.kind == kDot && next.pos == t.pos+len(t.text) && next.pos+1 < len(p.lex.src) && isIdentByte(p.lex.src[next.pos+1]) {
			// Splunk would read user.username as the concatenation of two fields, user and username.
			end := next.pos
			for end < len(p.lex.src) && (isIdentByte(p.lex.src[end]) || strings.IndexByte(".{}", p.lex.src[end]) >= 0) {
				end++
			}
			name := p.lex.src[t.pos:end]
			return nil, errAt(t.pos, "write the field %s in single quotes ('%s'): in eval, . joins two values", name, name)
		}
		if err := p.notMetadata(t, "eval"); err != nil {
			return nil, err
		}
		return rule.FieldValue{Field: rule.Field{Name: t.text}}, nil
	case kEOF, kPipe, kRParen, kComma:
		return nil, errAt(t.pos, "missing value before %s", t.describe())
	}
	return nil, errAt(t.pos, "unexpected %s in eval value", t.describe())
}

func isIdentByte(c byte) bool {
	return c == '_' || 'a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || isDigit(c)
}

// evalCall parses a value function; name is the function word and the next token is '('.
func (p *parser) evalCall(name token) (rule.Value, *posError) {
	fn := strings.ToLower(name.text)
	usage, ok := evalFuncs[fn]
	if !ok {
		return nil, errAt(name.pos, "unsupported eval function %s() (supported: if, case, coalesce, lower, upper, "+
			"trim, ltrim, rtrim, replace, urldecode, strftime, strptime, null)", name.text)
	}
	if err := p.nest(name.pos); err != nil {
		return nil, err
	}
	defer func() { p.depth-- }()
	p.next() // (
	// The arguments up to ')': conditions (by position: if's first, case's odd ones) and values.
	var conds []rule.Expr
	var vals []rule.Value
	cond := func(i int) bool {
		switch fn {
		case "if":
			return i == 0
		case "case":
			return i%2 == 0
		}
		return false
	}
	// A condition is where syntax, in which . belongs to a name (an error there, saying to quote it): the lexer's
	// mode is set before the argument's first token is read, even to peek at it.
	dot := p.lex.dot
	defer func() { p.lex.dot = dot }()
	p.lex.dot = !cond(0)
	if t, err := p.peek(); err != nil {
		return nil, err
	} else if t.kind == kRParen {
		p.next()
	} else {
		for i := 0; ; i++ {
			p.lex.dot = !cond(i)
			if cond(i) {
				x, err := p.whereOr()
				if err != nil {
					return nil, err
				}
				conds = append(conds, compileWhere(x, false))
				vals = append(vals, nil)
			} else {
				v, err := p.evalValue()
				if err != nil {
					return nil, err
				}
				vals = append(vals, v)
			}
			sep, err := p.next()
			if err != nil {
				return nil, err
			}
			if sep.kind == kRParen {
				break
			}
			if sep.kind != kComma {
				return nil, errAt(sep.pos, "expected ',' or ')' in %s(...), found %s", fn, sep.describe())
			}
			p.lex.dot = !cond(i + 1)
		}
	}
	shape := func() *posError { return errAt(name.pos, "%s takes %s", fn, usage) }
	n := len(vals)
	switch fn {
	case "if":
		if n != 3 {
			return nil, shape()
		}
		return rule.Case{Whens: []rule.When{{Cond: conds[0], Then: vals[1]}}, Else: vals[2]}, nil
	case "case":
		if n == 0 || n%2 != 0 {
			return nil, shape()
		}
		var c rule.Case // no condition holds: null, as in Splunk
		for i := 0; i < n; i += 2 {
			c.Whens = append(c.Whens, rule.When{Cond: conds[i/2], Then: vals[i+1]})
		}
		return c, nil
	case "coalesce":
		if n == 0 {
			return nil, shape()
		}
		var c rule.Case
		for _, v := range vals {
			switch v := v.(type) {
			case rule.FieldValue:
				c.Whens = append(c.Whens, rule.When{Cond: rule.Exists{Field: v.Field}, Then: v})
			case rule.Constant:
				c.Whens = append(c.Whens, rule.When{Cond: rule.True{}, Then: v})
			default:
				return nil, errAt(name.pos, "coalesce takes fields and constants (%s)", usage)
			}
		}
		return c, nil
	case "lower", "upper", "urldecode":
		if n != 1 {
			return nil, shape()
		}
		model := map[string]string{"lower": "to_lower", "upper": "to_upper", "urldecode": "url_decode_lenient"}[fn]
		return rule.Call{Func: model, Args: vals}, nil
	case "trim", "ltrim", "rtrim":
		// "If not specified, spaces and tabs are removed": not the other white space (a newline stays).
		chars := rule.Value(rule.Constant{Text: " \t"})
		switch {
		case n == 2:
			c, ok := vals[1].(rule.Constant)
			if !ok || c.Null {
				return nil, errAt(name.pos, "%s: the characters to remove must be a \"string\"", fn)
			}
			chars = c
		case n != 1:
			return nil, shape()
		}
		return rule.Call{Func: fn + "_chars", Args: []rule.Value{vals[0], chars}}, nil
	case "replace":
		if n != 3 {
			return nil, shape()
		}
		re, ok1 := vals[1].(rule.Constant)
		repl, ok2 := vals[2].(rule.Constant)
		if !ok1 || !ok2 || re.Null || repl.Null {
			return nil, errAt(name.pos, "replace: the regular expression and the replacement must be \"strings\"")
		}
		if err := rule.CheckRegex(re.Text); err != nil {
			return nil, errAt(name.pos, "replace: the regular expression is not RE2 syntax or is too large: %v", err)
		}
		return rule.Call{Func: "replace", Args: []rule.Value{vals[0], re, rule.Constant{Text: expandTemplate(repl.Text)}}}, nil
	case "strftime", "strptime":
		if n != 2 {
			return nil, shape()
		}
		format, ok := vals[1].(rule.Constant)
		if !ok || format.Null {
			return nil, errAt(name.pos, "%s: the format must be a \"string\"", fn)
		}
		model := map[string]string{"strftime": "format_time", "strptime": "parse_time"}[fn]
		return rule.Call{Func: model, Args: []rule.Value{vals[0], format}}, nil
	case "null":
		if n != 0 {
			return nil, shape()
		}
		return rule.Constant{Null: true}, nil
	}
	return nil, shape()
}

// expandTemplate turns a replace() replacement, where \1 names a group (PCRE, as Splunk writes it), into a Go
// regexp template (${1}), with a literal $ kept literal.
func expandTemplate(s string) string {
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		switch c := s[i]; {
		case c == '$':
			b.WriteString("$$")
		case c == '\\' && i+1 < len(s) && isDigit(s[i+1]):
			j := i + 1
			for j < len(s) && isDigit(s[j]) {
				j++
			}
			b.WriteString("${" + s[i+1:j] + "}")
			i = j - 1
		case c == '\\' && i+1 < len(s) && s[i+1] == '\\':
			b.WriteByte('\\')
			i++
		default:
			b.WriteByte(c)
		}
	}
	return b.String()
}

// maxRexGroups bounds the named groups of one rex: each is an extraction of its own, running the regex again.
const maxRexGroups = 16

// parseRex parses `rex field=<field> "<regex with (?<name>...) groups>"`: each named group sets the field of its
// name to what it captures in the field's value.
func (p *parser) parseRex(pos int) (command, *posError) {
	var field string
	var re *token
	err := p.commandArgs(func(name token, value string) *posError {
		switch strings.ToLower(name.text) {
		case "field":
			// field='user.username', as eval names it, is the field user.username here too.
			if len(value) >= 2 && value[0] == '\'' && value[len(value)-1] == '\'' {
				value = value[1 : len(value)-1]
			}
			switch {
			case value == "_raw":
				return errAt(name.pos, "rex field=_raw reads the raw text Splunk indexed, which a stream of parsed "+
					"audit events does not have: name the field to read")
			case value == "" || strings.ContainsAny(value, "'\"*"):
				return errAt(name.pos, "rex field=%q is not a field name", value)
			}
			if err := p.notMetadata(token{kind: kWord, pos: name.pos, text: value}, "rex"); err != nil {
				return err
			}
			field = value
		case "max_match":
			if value != "1" {
				return errAt(name.pos, "rex max_match=%s is not supported (only the first match, max_match=1)", value)
			}
		default:
			return errAt(name.pos, "unsupported rex option %q (field= and max_match=1 are supported)", name.text)
		}
		return nil
	}, func(t token) *posError {
		if t.kind != kString {
			return errAt(t.pos, "expected the rex regular expression in double quotes, found %s", t.describe())
		}
		if re != nil {
			return errAt(t.pos, "rex takes one regular expression, found a second")
		}
		re = &t
		return nil
	})
	if err != nil {
		return nil, err
	}
	if re == nil {
		return nil, errAt(pos, `rex needs a regular expression: rex field=<field> "(?<name>...)"`)
	}
	if field == "" {
		return nil, errAt(pos, "rex needs field=<field>: without it rex reads _raw, the raw text Splunk indexed, which a "+
			"stream of parsed audit events does not have")
	}
	if err := rule.CheckRegex(re.text); err != nil {
		return nil, errAt(re.pos, "rex: the regular expression is not RE2 syntax or is too large: %v", err)
	}
	var c evalCmd
	seen := map[string]bool{}
	for _, g := range regexp.MustCompile(re.text).SubexpNames() {
		switch {
		case g == "":
			continue
		case seen[g]:
			// PCRE, Splunk's regex library, refuses a name used twice (without (?J)).
			return nil, errAt(re.pos, "rex: the group name %q is used twice", g)
		case len(c.evals) == maxRexGroups:
			return nil, errAt(re.pos, "rex: more than %d named groups", maxRexGroups)
		}
		seen[g] = true
		// A group that captures nothing leaves the field as it was, as Splunk's rex does.
		c.evals = append(c.evals, rule.Eval{To: g, Value: rule.Extract{
			From: rule.FieldValue{Field: rule.Field{Name: field}}, Regex: re.text, Group: g,
			Else: rule.FieldValue{Field: rule.Field{Name: g}},
		}})
	}
	if len(c.evals) == 0 {
		return nil, errAt(re.pos, "rex extracts nothing without a named group: (?<name>...)")
	}
	// Each group is an extraction of its own, reading the field when it runs: a group named as the field it reads
	// (rex field=user "(?<user>[^@]+)@(?<domain>.+)") goes last, so that the others read the value before it.
	slices.SortStableFunc(c.evals, func(a, b rule.Eval) int {
		switch {
		case a.To == field && b.To != field:
			return 1
		case b.To == field && a.To != field:
			return -1
		}
		return 0
	})
	return c, nil
}
