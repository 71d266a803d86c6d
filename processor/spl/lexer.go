package spl

import (
	"strconv"
	"strings"
	"unicode/utf8"

	"github.com/auditdetect/auditdetect/processor/rule"
)

type kind int

const (
	kEOF      kind = iota
	kWord          // a bare word: field name, keyword, value or number
	kString        // a "double-quoted" string
	kQField        // a 'single-quoted' field name (where expressions only)
	kMacro         // a `macro` reference
	kLParen        // (
	kRParen        // )
	kComma         // ,
	kPipe          // |
	kLBracket      // [ (a subsearch)
	kRBracket      // ]
	kDot           // . (concatenation, in eval expressions only)
	kPlus          // + (eval expressions only, as are - * / %)
	kMinus         // -
	kStar          // *
	kSlash         // /
	kPercent       // %
	kEq            // =
	kEqEq          // ==
	kNe            // !=
	kLt            // <
	kLe            // <=
	kGt            // >
	kGe            // >=
)

func (k kind) String() string {
	return [...]string{"end of search", "word", "string", "field", "macro", "'('", "')'", "','", "'|'", "'['", "']'",
		"'.'", "'+'", "'-'", "'*'", "'/'", "'%'", "'='", "'=='", "'!='", "'<'", "'<='", "'>'", "'>='"}[k]
}

func (k kind) isCompare() bool { return k >= kEq }

// token is one lexical element with its byte offset in the text it was read from.
type token struct {
	kind kind
	pos  int
	// text is a word or string with its escapes resolved, or the body of a macro reference.
	text string
	// glob is the same word or string as a rule.Glob pattern: SPL's `*` stays a wildcard, every other character
	// (notably `?`, which SPL does not treat as a wildcard) is literal.
	glob string
}

// describe names the token for error messages.
func (t token) describe() string {
	switch t.kind {
	case kWord, kString:
		return strconv.Quote(t.text)
	case kQField:
		return `'` + t.text + `'`
	case kMacro:
		return "macro `" + t.text + "`"
	}
	return t.kind.String()
}

// lexer reads tokens on demand. The parser picks the mode: next for ordinary tokens, value right after a comparison
// operator, where SPL lets a bare value contain `=`, `<`, `>` and `!`.
type lexer struct {
	src string
	pos int
	// eval switches on eval syntax (`where`, `eval`): 'single-quoted' field names, `.` the concatenation operator
	// (except between digits: a number's point), and + - * / % operators.
	eval bool
}

func isSpace(c byte) bool {
	return c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\f' || c == '\v'
}

// skipSpace skips whitespace and ```comments```.
func (l *lexer) skipSpace() *posError {
	for l.pos < len(l.src) {
		switch {
		case isSpace(l.src[l.pos]):
			l.pos++
		case strings.HasPrefix(l.src[l.pos:], "```"):
			end := strings.Index(l.src[l.pos+3:], "```")
			if end < 0 {
				return errAt(l.pos, "unterminated ``` comment")
			}
			l.pos += 3 + end + 3
		default:
			return nil
		}
	}
	return nil
}

func (l *lexer) next() (token, *posError) {
	if err := l.skipSpace(); err != nil {
		return token{}, err
	}
	start := l.pos
	if start >= len(l.src) {
		return token{kind: kEOF, pos: start}, nil
	}
	one := func(k kind, n int) (token, *posError) {
		l.pos += n
		return token{kind: k, pos: start}, nil
	}
	c := l.src[start]
	var next byte
	if start+1 < len(l.src) {
		next = l.src[start+1]
	}
	switch c {
	case '(':
		return one(kLParen, 1)
	case ')':
		return one(kRParen, 1)
	case ',':
		return one(kComma, 1)
	case '|':
		return one(kPipe, 1)
	case '[':
		return one(kLBracket, 1)
	case ']':
		return one(kRBracket, 1)
	case '=':
		if next == '=' {
			return one(kEqEq, 2)
		}
		return one(kEq, 1)
	case '!':
		if next == '=' {
			return one(kNe, 2)
		}
	case '<':
		if next == '=' {
			return one(kLe, 2)
		}
		return one(kLt, 1)
	case '>':
		if next == '=' {
			return one(kGe, 2)
		}
		return one(kGt, 1)
	case '"':
		return l.quoted(start, '"', kString)
	case '\'':
		if l.eval {
			return l.quoted(start, '\'', kQField)
		}
	case '`':
		return l.macro(start)
	case '.':
		if l.eval {
			if err := l.bareNumberPoint(start); err != nil {
				return token{}, err
			}
			return one(kDot, 1)
		}
	case '+', '-', '*', '/', '%':
		if l.eval {
			return one(map[byte]kind{'+': kPlus, '-': kMinus, '*': kStar, '/': kSlash, '%': kPercent}[c], 1)
		}
	}
	return l.word(start, false, false)
}

// value reads the right-hand side of a comparison: a quoted string or a bare run up to whitespace, `)`, `|` (and
// `,` inside an IN list). Anything else falls back to an ordinary token, which the parser then rejects.
func (l *lexer) value(inList bool) (token, *posError) {
	if err := l.skipSpace(); err != nil {
		return token{}, err
	}
	if l.pos >= len(l.src) || l.stopsValue(l.pos, inList) {
		return l.next()
	}
	// CASE(v) and TERM(v) would otherwise read as the value "CASE(v" and a ')' that closes a group or is unexpected.
	for fn, why := range termFuncs {
		if len(l.src)-l.pos > len(fn) && strings.EqualFold(l.src[l.pos:l.pos+len(fn)], fn) && l.src[l.pos+len(fn)] == '(' {
			return token{}, errAt(l.pos, "%s() is not supported: %s", fn, why)
		}
	}
	return l.word(l.pos, true, inList)
}

// termFuncs are the search command's value functions, with why they are not supported.
var termFuncs = map[string]string{
	"CASE": `search values match case-insensitively here; compare case-sensitively with where (| where field="Value")`,
	"TERM": "it matches Splunk's indexed terms, which a stream of parsed events does not have; write the value without it",
}

func (l *lexer) stopsValue(i int, inList bool) bool {
	switch c := l.src[i]; c {
	case ')', '|', '[', ']', '`', '"':
		return true
	case ',':
		return inList
	default:
		return isSpace(c)
	}
}

func (l *lexer) stopsWord(i int) bool {
	switch c := l.src[i]; c {
	case '(', ')', ',', '|', '[', ']', '"', '`', '=', '<', '>':
		return true
	case '!':
		return i+1 < len(l.src) && l.src[i+1] == '='
	case '\'':
		return l.eval
	case '.':
		return l.eval && !(i > 0 && isDigit(l.src[i-1]) && i+1 < len(l.src) && isDigit(l.src[i+1]))
	case '*', '/', '%':
		return l.eval
	case '+', '-':
		return l.eval && !l.exponentSign(i)
	default:
		return isSpace(c)
	}
}

// exponentSign reports whether the + or - at i is the sign of a number's exponent (1e-3, 2.5E+10): the word before
// it is digits with an optional fraction and an e, and a digit follows.
func (l *lexer) exponentSign(i int) bool {
	if i+1 >= len(l.src) || !isDigit(l.src[i+1]) || i < 2 || l.src[i-1]|0x20 != 'e' {
		return false
	}
	j := i - 1
	digits := 0
	for j > 0 && (isDigit(l.src[j-1]) || l.src[j-1] == '.') {
		j--
		digits++
	}
	return digits > 0 && (j == 0 || !isIdentByte(l.src[j-1]) && l.src[j-1] != '.')
}

func isDigit(c byte) bool { return '0' <= c && c <= '9' }

// bareNumberPoint refuses the `.` at i when it is the point of a number without digits on one side (`.5`, `5.`,
// `-.5`): Splunk's Search Reference does not say whether eval reads those as numbers or `.` as the concatenation
// operator beside a number, so neither reading is guessed (`5. + 1` would otherwise be the text "51"). Values of
// fields are another matter: a value ".5" or "5." is a number (rule.IsDecimal), as a comparison reads it.
func (l *lexer) bareNumberPoint(i int) *posError {
	j := i
	for j > 0 && isIdentByte(l.src[j-1]) {
		j--
	}
	numberBefore := j < i && isDigit(l.src[j]) // a name cannot start with a digit in eval syntax
	digitAfter := i+1 < len(l.src) && isDigit(l.src[i+1])
	switch {
	case numberBefore && !digitAfter:
		return errAt(j, "write %s as %s: Splunk does not document a number without a digit after its point "+
			"(to join with ., put spaces around it)", l.src[j:i+1], l.src[j:i])
	case j == i && digitAfter: // after a name, the parser says to quote the field (user.5)
		k := i + 1
		for k < len(l.src) && isDigit(l.src[k]) {
			k++
		}
		return errAt(i, "write %s as 0%s: Splunk does not document a number without a digit before its point "+
			"(to join with ., put spaces around it)", l.src[i:k], l.src[i:k])
	}
	return nil
}

// word reads a bare word, resolving backslash escapes: `\x` is a literal x, except that SPL never lets a backslash
// escape the `*` wildcard.
func (l *lexer) word(start int, value, inList bool) (token, *posError) {
	var text, glob strings.Builder
	for l.pos < len(l.src) {
		if value {
			if l.stopsValue(l.pos, inList) {
				if l.src[l.pos] == '"' {
					return token{}, errAt(l.pos, `unexpected quote inside an unquoted value (escape it as \")`)
				}
				break
			}
			if l.src[l.pos] == '(' {
				// Splunk wants values with parentheses quoted: a bare `x=a(b)` would end at `)`, which then closes
				// a group the value was not meant to.
				return token{}, errAt(l.pos, `'(' inside an unquoted value: quote a value that holds parentheses (x="a(b)")`)
			}
		} else if l.stopsWord(l.pos) {
			break
		}
		if err := l.char(&text, &glob); err != nil {
			return token{}, err
		}
	}
	return token{kind: kWord, pos: start, text: text.String(), glob: glob.String()}, nil
}

// char consumes one (possibly escaped) character into the literal text and the glob form.
func (l *lexer) char(text, glob *strings.Builder) *posError {
	c := l.src[l.pos]
	switch {
	case c == '*':
		l.pos++
		text.WriteByte('*')
		glob.WriteByte('*')
		return nil
	case c == '\\' && l.pos+1 < len(l.src):
		switch next := l.src[l.pos+1]; {
		case next == '*' && !l.eval:
			return errAt(l.pos, `a backslash cannot escape "*" in SPL: "*" is always a wildcard`)
		case next == '\\' || next == '"' || next == '|' || next == '\'' && l.eval:
			// \' only in where syntax, where it can end a 'quoted field name'.
			l.pos++
		default:
			// Splunk leaves a backslash sequence it does not know as written (`\d` reaches match() as `\d`):
			// the backslash is a character of the value.
			l.pos++
			text.WriteByte('\\')
			glob.WriteString(rule.EscapeGlob(`\`))
			return nil
		}
	}
	r, n := utf8.DecodeRuneInString(l.src[l.pos:])
	s := l.src[l.pos : l.pos+n]
	if r == utf8.RuneError && n == 1 {
		s = string(c) // keep invalid UTF-8 bytes as they are
	}
	l.pos += n
	text.WriteString(s)
	glob.WriteString(rule.EscapeGlob(s))
	return nil
}

// quoted reads a string delimited by q. Backslash escapes work as in bare words.
func (l *lexer) quoted(start int, q byte, k kind) (token, *posError) {
	l.pos++ // opening quote
	var text, glob strings.Builder
	for l.pos < len(l.src) {
		if l.src[l.pos] == q {
			l.pos++
			return token{kind: k, pos: start, text: text.String(), glob: glob.String()}, nil
		}
		if err := l.char(&text, &glob); err != nil {
			return token{}, err
		}
	}
	return token{}, errAt(start, "unterminated quoted string")
}

func (l *lexer) macro(start int) (token, *posError) {
	end := strings.IndexByte(l.src[start+1:], '`')
	if end < 0 {
		return token{}, errAt(start, "unterminated macro reference (missing closing backtick)")
	}
	body := strings.TrimSpace(l.src[start+1 : start+1+end])
	if body == "" {
		return token{}, errAt(start, "empty macro reference")
	}
	l.pos = start + 1 + end + 1
	return token{kind: kMacro, pos: start, text: body}, nil
}
