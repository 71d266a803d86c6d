package spl

import (
	"regexp"
	"slices"
	"strings"

	"github.com/auditdetect/auditdetect/processor/rule"
)

// `eval` and `rex` compute row fields (rule.Eval). eval's values are eval expressions (expr.go): fields, "strings",
// numbers, arithmetic, `.` concatenation and the functions of funcs.go; its conditions (in if and case) are where's.

func (p *parser) parseEval() (command, *posError) {
	p.lex.eval, p.inEval = true, true
	defer func() { p.lex.eval, p.inEval = false, false }()
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
		if next, err := p.peek(); err != nil {
			return nil, err
		} else if next.kind == kEOF || next.kind == kPipe || next.kind == kComma {
			return nil, errAt(next.pos, "missing value before %s", next.describe())
		}
		it, err := p.exprOr()
		if err != nil {
			return nil, err
		}
		if it.cond != nil {
			return nil, errAt(it.pos, "eval cannot assign a condition's true/false to a field (Splunk refuses it too): "+
				"write if(condition, \"yes\", \"no\")")
		}
		c.evals = append(c.evals, rule.Eval{To: t.text, Value: it.val})
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
		}
		return nil, errAt(sep.pos, "unexpected %s after an eval value (assignments are separated by ',')", sep.describe())
	}
}

func isIdentByte(c byte) bool {
	return c == '_' || 'a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || isDigit(c)
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
