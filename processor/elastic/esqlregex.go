package elastic

import (
	"fmt"
	"regexp"
	"strings"
	"unicode/utf8"

	"github.com/auditdetect/auditdetect/processor/rule"
)

// ES|QL's RLIKE takes Lucene's regular expression syntax with every optional operator on (RegExp.ALL:
// x-pack/plugin/esql-core RLikePattern), matched against the whole value. luceneRegex translates it to RE2:
//
//	unionexp  = interexp { "|" interexp }
//	interexp  = concatexp { "&" concatexp }          intersection
//	concatexp = repeatexp { repeatexp }              up to ")", "|" or "&"
//	repeatexp = complexp { "?" | "*" | "+" | "{n}" | "{n,}" | "{n,m}" }
//	complexp  = "~" complexp | charclassexp          complement
//	simpleexp = "." | "#" (empty language) | "@" (any string) | "\"" literal "\"" | "(" [unionexp] ")"
//	          | "[" ["^"] class "]" | "<" ... ">" | char
//
// `^` and `$` are ordinary characters; `.` matches any character, a newline too; `\d \D \s \S \w \W` are
// [0-9], [ \t\n\r] and [a-zA-Z_0-9] and their complements; a backslash before any other letter is an error and
// before anything else makes it literal. Complement and numeric intervals (`<1-10>`) have no RE2 form and are
// refused. An intersection is translated when one side is a plain string: it is that string when every other side
// matches it whole, else nothing (rule authors write `>&` meaning the characters, which Lucene reads as an
// intersection that matches nothing).

// luceneRegex returns the RE2 form of a Lucene regular expression, anchored to the whole value.
func luceneRegex(src string) (string, error) {
	if !utf8.ValidString(src) {
		return "", fmt.Errorf("the pattern is not valid UTF-8")
	}
	p := &luceneParser{src: src}
	n, err := p.union()
	if err != nil {
		return "", err
	}
	if p.pos < len(p.src) {
		return "", fmt.Errorf("unexpected %q at offset %d", p.src[p.pos:p.pos+1], p.pos)
	}
	re := `^(?s:` + n.re + `)$`
	if n.contains != "" {
		// `.*X.*` over the whole value is "X somewhere": searched unanchored, RE2 need not run `.*` over every byte
		// before each candidate start (rules write their RLIKE so: `.*(/dev/tcp/|mkfifo|...).*`).
		re = `(?s:` + n.contains + `)`
	}
	if err := rule.CheckRegex(re); err != nil {
		return "", err
	}
	return re, nil
}

// lnode is a translated sub-expression: its RE2 text and, when it is a plain string, that string; for `.*X.*`, the
// RE2 text of X alone (contains), which an unanchored search finds at the same cost as a literal prefix allows.
type lnode struct {
	re       string
	literal  *string
	contains string
}

func literalNode(s string) lnode { return lnode{re: regexp.QuoteMeta(s), literal: &s} }

// anyString is the translation of `.*`.
const anyString = "(?:.)*"

// nothing matches no string at all (Lucene's `#`, or an empty intersection).
var nothing = lnode{re: `[^\x00-\x{10FFFF}]`}

type luceneParser struct {
	src   string
	pos   int
	depth int // of parentheses, bounded by maxDepth
}

func (p *luceneParser) more() bool { return p.pos < len(p.src) }

func (p *luceneParser) peekIs(chars string) bool {
	return p.more() && strings.IndexByte(chars, p.src[p.pos]) >= 0
}

func (p *luceneParser) match(c byte) bool {
	if p.more() && p.src[p.pos] == c {
		p.pos++
		return true
	}
	return false
}

func (p *luceneParser) union() (lnode, error) {
	var alts []lnode
	for {
		n, err := p.inter()
		if err != nil {
			return lnode{}, err
		}
		alts = append(alts, n)
		if !p.match('|') {
			break
		}
	}
	if len(alts) == 1 {
		return alts[0], nil
	}
	res := make([]string, len(alts))
	for i, a := range alts {
		res[i] = a.re
	}
	return lnode{re: "(?:" + strings.Join(res, "|") + ")"}, nil
}

func (p *luceneParser) inter() (lnode, error) {
	at := p.pos
	sides := []lnode{}
	for {
		n, err := p.concat()
		if err != nil {
			return lnode{}, err
		}
		sides = append(sides, n)
		if !p.match('&') {
			break
		}
	}
	if len(sides) == 1 {
		return sides[0], nil
	}
	// Only an intersection with a plain string has an RE2 form: the string, if every side matches all of it.
	var lit *string
	for _, s := range sides {
		if s.literal != nil {
			lit = s.literal
			break
		}
	}
	if lit == nil {
		return lnode{}, fmt.Errorf("the intersection (&) at offset %d has no RE2 form (write \\& for the character &)", at)
	}
	for _, s := range sides {
		if err := rule.CheckRegexLength(s.re); err != nil {
			return lnode{}, err
		}
		re, err := regexp.Compile(`^(?s:` + s.re + `)$`)
		if err != nil {
			return lnode{}, err
		}
		if !re.MatchString(*lit) {
			return nothing, nil
		}
	}
	return literalNode(*lit), nil
}

func (p *luceneParser) concat() (lnode, error) {
	var parts []lnode
	for {
		n, err := p.repeat()
		if err != nil {
			return lnode{}, err
		}
		parts = append(parts, n)
		if !p.more() || p.peekIs(")|&") {
			break
		}
	}
	if len(parts) == 1 {
		return parts[0], nil
	}
	var b strings.Builder
	lit, plain := "", true
	for _, n := range parts {
		b.WriteString(n.re)
		if n.literal == nil {
			plain = false
		} else {
			lit += *n.literal
		}
	}
	if plain {
		return literalNode(lit), nil
	}
	out := lnode{re: b.String()}
	if len(parts) >= 3 && parts[0].re == anyString && parts[len(parts)-1].re == anyString {
		var mid strings.Builder
		for _, n := range parts[1 : len(parts)-1] {
			mid.WriteString(n.re)
		}
		out.contains = mid.String()
	}
	return out, nil
}

func (p *luceneParser) repeat() (lnode, error) {
	n, err := p.compl()
	if err != nil {
		return lnode{}, err
	}
	for p.peekIs("?*+{") {
		c := p.src[p.pos]
		p.pos++
		if c != '{' {
			n = lnode{re: "(?:" + n.re + ")" + string(c)}
			continue
		}
		end := strings.IndexByte(p.src[p.pos:], '}')
		if end < 0 {
			return lnode{}, fmt.Errorf("unterminated repetition {n,m} at offset %d", p.pos-1)
		}
		body := p.src[p.pos : p.pos+end]
		if !regexp.MustCompile(`^\d+(,\d*)?$`).MatchString(body) {
			return lnode{}, fmt.Errorf("invalid repetition {%s} at offset %d", body, p.pos-1)
		}
		p.pos += end + 1
		n = lnode{re: "(?:" + n.re + "){" + body + "}"}
	}
	return n, nil
}

func (p *luceneParser) compl() (lnode, error) {
	if p.peekIs("~") {
		return lnode{}, fmt.Errorf("the complement (~) at offset %d has no RE2 form (write \\~ for the character ~)", p.pos)
	}
	return p.simple()
}

func (p *luceneParser) simple() (lnode, error) {
	at := p.pos
	switch {
	case !p.more():
		return lnode{}, fmt.Errorf("the expression ends where an operand is expected (write \\| or \\& for the character)")
	case p.match('.'):
		return lnode{re: "."}, nil
	case p.match('#'):
		return nothing, nil
	case p.match('@'):
		return lnode{re: ".*"}, nil
	case p.match('"'):
		end := strings.IndexByte(p.src[p.pos:], '"')
		if end < 0 {
			return lnode{}, fmt.Errorf("unterminated quoted string at offset %d", at)
		}
		s := p.src[p.pos : p.pos+end]
		p.pos += end + 1
		return literalNode(s), nil
	case p.match('('):
		if p.match(')') {
			return literalNode(""), nil
		}
		if p.depth++; p.depth > maxDepth {
			return lnode{}, fmt.Errorf("parentheses nested too deeply at offset %d", at)
		}
		defer func() { p.depth-- }()
		n, err := p.union()
		if err != nil {
			return lnode{}, err
		}
		if !p.match(')') {
			return lnode{}, fmt.Errorf("missing ) for the ( at offset %d", at)
		}
		return lnode{re: "(?:" + n.re + ")", literal: n.literal}, nil
	case p.match('['):
		return p.class(at)
	case p.peekIs("<"):
		return lnode{}, fmt.Errorf("the interval or automaton (<...>) at offset %d has no RE2 form (write \\< for the character <)", at)
	}
	return p.char()
}

// char is one character, escaped or not; the shorthand classes are not plain strings.
func (p *luceneParser) char() (lnode, error) {
	at := p.pos
	if p.match('\\') {
		if !p.more() {
			return lnode{}, fmt.Errorf("a backslash at the end of the expression")
		}
		if class, ok := shorthandClasses[p.src[p.pos]]; ok {
			p.pos++
			return lnode{re: class}, nil
		}
		if c := p.src[p.pos]; 'a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' {
			return lnode{}, fmt.Errorf("\\%c at offset %d is not a Lucene escape (\\d \\D \\s \\S \\w \\W are; \\ before another letter is an error in Elasticsearch too)", c, at)
		}
	}
	r, size := utf8.DecodeRuneInString(p.src[p.pos:])
	p.pos += size
	return literalNode(string(r)), nil
}

var shorthandClasses = map[byte]string{
	'd': `[0-9]`, 'D': `[^0-9]`,
	's': `[ \t\n\r]`, 'S': `[^ \t\n\r]`,
	'w': `[a-zA-Z_0-9]`, 'W': `[^a-zA-Z_0-9]`,
}

// class is a bracket expression after its `[`: characters and ranges, escaped with a backslash, `^` first negates.
func (p *luceneParser) class(at int) (lnode, error) {
	var b strings.Builder
	b.WriteByte('[')
	if p.match('^') {
		b.WriteByte('^')
	}
	first := true
	for {
		if !p.more() {
			return lnode{}, fmt.Errorf("missing ] for the [ at offset %d", at)
		}
		if p.src[p.pos] == ']' && !first {
			p.pos++
			break
		}
		first = false
		lo, err := p.classChar()
		if err != nil {
			return lnode{}, err
		}
		b.WriteString(lo)
		if p.more() && p.src[p.pos] == '-' && p.pos+1 < len(p.src) && p.src[p.pos+1] != ']' {
			p.pos++
			hi, err := p.classChar()
			if err != nil {
				return lnode{}, err
			}
			b.WriteString("-" + hi)
		}
	}
	b.WriteByte(']')
	return lnode{re: b.String()}, nil
}

// classChar is one character of a bracket expression, in RE2's escaped form.
func (p *luceneParser) classChar() (string, error) {
	if p.match('\\') {
		if !p.more() {
			return "", fmt.Errorf("a backslash at the end of the expression")
		}
		if class, ok := shorthandClasses[p.src[p.pos]]; ok && !strings.HasPrefix(class, "[^") {
			p.pos++
			return class[1 : len(class)-1], nil
		}
		if c := p.src[p.pos]; 'a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' {
			return "", fmt.Errorf("\\%c at offset %d is not supported in a character class", c, p.pos-1)
		}
	}
	r, size := utf8.DecodeRuneInString(p.src[p.pos:])
	p.pos += size
	return regexp.QuoteMeta(string(r)), nil
}

// javaRegex checks a Java regular expression (ES|QL REPLACE) for RE2 and returns it; constructs RE2 lacks
// (lookaround, backreferences, possessive quantifiers) fail to compile and are refused.
func javaRegex(src string) (string, error) {
	if err := rule.CheckRegexLength(src); err != nil {
		return "", err
	}
	if _, err := regexp.Compile(src); err != nil {
		return "", fmt.Errorf("%v (the regular expression is Java's; RE2 has no lookaround, backreferences or possessive quantifiers)", err)
	}
	return src, rule.CheckRegex(src)
}

// javaReplacement turns a Java replacement string ($1, ${name}, \ escapes) into a regexp.Expand template.
func javaReplacement(s string) (string, error) {
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		switch c := s[i]; c {
		case '\\':
			if i+1 >= len(s) {
				return "", fmt.Errorf("the replacement ends in a backslash")
			}
			i++
			if s[i] == '$' {
				b.WriteString("$$")
			} else {
				b.WriteByte(s[i])
			}
		case '$':
			j := i + 1
			switch {
			case j < len(s) && s[j] == '{':
				end := strings.IndexByte(s[j:], '}')
				if end < 0 {
					return "", fmt.Errorf("unterminated ${ in the replacement")
				}
				b.WriteString(s[i : j+end+1])
				i = j + end
			case j < len(s) && '0' <= s[j] && s[j] <= '9':
				k := j
				for k < len(s) && '0' <= s[k] && s[k] <= '9' {
					k++
				}
				b.WriteString("${" + s[j:k] + "}")
				i = k - 1
			default:
				return "", fmt.Errorf("a $ in the replacement must name a group ($1, ${name}); write \\$ for the character")
			}
		default:
			b.WriteByte(c)
		}
	}
	return b.String(), nil
}

// grokPatterns are the grok patterns ES|QL's GROK expands (the ECS pattern bank, libs/grok) that RE2 can run.
var grokPatterns = map[string]string{
	"DATA": `.*?`, "GREEDYDATA": `.*`, "WORD": `\b\w+\b`, "NOTSPACE": `\S+`, "SPACE": `\s*`,
	"INT": `(?:[+-]?(?:[0-9]+))`, "USERNAME": `[a-zA-Z0-9._-]+`, "USER": `[a-zA-Z0-9._-]+`,
}

var grokRef = regexp.MustCompile(`%\{(\w+)(?::([^:}]+))?(?::(\w+))?\}`)

// grokRegex expands a grok pattern to RE2, each named capture as group g<i>, and returns the columns in group order.
func grokRegex(pattern string) (re string, columns []string, err error) {
	var b strings.Builder
	last := 0
	for _, m := range grokRef.FindAllStringSubmatchIndex(pattern, -1) {
		b.WriteString(pattern[last:m[0]])
		last = m[1]
		name := pattern[m[2]:m[3]]
		body, ok := grokPatterns[name]
		if !ok {
			return "", nil, fmt.Errorf("grok pattern %%{%s} is not supported (DATA, GREEDYDATA, WORD, NOTSPACE, SPACE, INT, USERNAME, USER are)", name)
		}
		if m[4] < 0 {
			b.WriteString("(?:" + body + ")")
			continue
		}
		if m[6] >= 0 {
			return "", nil, fmt.Errorf("grok type conversion %%{%s:%s:%s} is not supported", name, pattern[m[4]:m[5]], pattern[m[6]:m[7]])
		}
		columns = append(columns, pattern[m[4]:m[5]])
		fmt.Fprintf(&b, "(?P<g%d>%s)", len(columns), body)
	}
	b.WriteString(pattern[last:])
	re = b.String()
	if err := rule.CheckRegex(re); err != nil {
		return "", nil, fmt.Errorf("grok pattern: %v", err)
	}
	if len(columns) == 0 {
		return "", nil, fmt.Errorf("grok pattern names no column (%%{PATTERN:column})")
	}
	return re, columns, nil
}
