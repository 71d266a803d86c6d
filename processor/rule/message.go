package rule

import (
	"slices"
	"strings"
	"unicode"
)

// A risk message's $field$ tokens, read one way by package rba (which fills them), the engine (which keeps the fields
// they name on an event's row) and the loader (which says the ones no row can fill): the text between a `$` and the
// next `$` names a result-row field, unless it is empty (`$$`) or holds white space (`costs $5 or $6`), which is
// text. A token the row cannot fill stays as written, as Splunk ES leaves it (contentctl's integration tests look
// for such `$...$` left in a risk message), and its closing `$` can open the next token: in `$a$b$`, without a, b is
// the token.

// MaxMessageBytes is the longest risk message package rba writes (risk_message, and the record's body): a longer one
// is cut, ending in "…". A message template (rule_overrides) longer than this would lose its end in every record.
const MaxMessageBytes = 4096

// FirstMessageToken finds the first pair of `$` in msg: at is the index of the opening one, name the text up to the
// next one; ok is false when msg has no pair.
func FirstMessageToken(msg string) (at int, name string, ok bool) {
	at = strings.IndexByte(msg, '$')
	if at < 0 {
		return 0, "", false
	}
	end := strings.IndexByte(msg[at+1:], '$')
	if end < 0 {
		return 0, "", false
	}
	return at, msg[at+1 : at+1+end], true
}

// IsTokenName reports whether the text between two `$` names a field: not empty, no white space.
func IsTokenName(name string) bool {
	return name != "" && !strings.ContainsFunc(name, unicode.IsSpace)
}

// MessageTokens returns the field names msg's tokens ask a row for, in order, when the row has a value for exactly
// the names fills accepts.
func MessageTokens(msg string, fills func(name string) bool) []string {
	var out []string
	for {
		at, name, ok := FirstMessageToken(msg)
		if !ok {
			return out
		}
		if !IsTokenName(name) {
			msg = msg[at+1:]
			continue
		}
		out = append(out, name)
		if fills(name) {
			msg = msg[at+2+len(name):]
		} else {
			msg = msg[at+1:] // its closing `$` may open the next token
		}
	}
}

// MessageFields returns every field name a token of msg can ask a row for, whichever the row fills: the names between
// any two consecutive `$`, each once.
func MessageFields(msg string) []string {
	var out []string
	for {
		at, name, ok := FirstMessageToken(msg)
		if !ok {
			return out
		}
		if IsTokenName(name) && !slices.Contains(out, name) {
			out = append(out, name)
		}
		msg = msg[at+1:]
	}
}
