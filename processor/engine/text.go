package engine

import (
	"bytes"
	"fmt"
	"strings"

	"github.com/auditdetect/auditdetect/processor/rule"
)

// Full-text patterns (rule.Phrase, rule.Token) read a value as Elasticsearch reads a `text` field: lower-cased and
// split into tokens (rule.NextToken). The prefilter and the operation index know nothing of them: a Phrase or Token
// comparison contributes only its field's key to the prefilter and any operation to the index, which keeps both
// conservative.

func compileText(p rule.Pattern) (matcher, error) {
	if p.Kind == rule.Token {
		if p.Text == "" {
			return nil, fmt.Errorf("empty token pattern")
		}
		// Lower-cased as the value is, then compared as written: folding (a case-insensitive glob) spells é as É and
		// σ as Σ, which no lower-cased value holds.
		text := (&evalCtx{}).lowerASCII([]byte(p.Text))
		return tokenMatcher{toks: parseGlob(string(text), true)}, nil
	}
	words := strings.Fields(p.Text)
	if len(words) == 0 {
		return nil, fmt.Errorf("empty phrase")
	}
	m := phraseMatcher{toks: make([][]byte, len(words))}
	for i, w := range words {
		m.toks[i] = bytes.ToLower([]byte(w))
	}
	return m, nil
}

// phraseMatcher is rule.Phrase: the value's tokens hold toks one after the other.
type phraseMatcher struct{ toks [][]byte }

func (m phraseMatcher) match(c *evalCtx, v []byte) bool {
	v = c.lowerASCII(v)
	return anyToken(v, func(start, end int) bool { return bytes.Equal(v[start:end], m.toks[0]) && m.follows(v, end) })
}

// follows reports whether the tokens of v from offset i on begin with toks[1:].
func (m phraseMatcher) follows(v []byte, i int) bool {
	for _, t := range m.toks[1:] {
		start, end, ok := rule.NextToken(v, i)
		if !ok || !bytes.Equal(v[start:end], t) {
			return false
		}
		i = end
	}
	return true
}

// tokenMatcher is rule.Token: some token of the value matches the glob.
type tokenMatcher struct{ toks []globTok }

func (m tokenMatcher) match(c *evalCtx, v []byte) bool {
	v = c.lowerASCII(v)
	return anyToken(v, func(start, end int) bool { return globMatch(m.toks, v[start:end]) })
}

// anyToken reports whether fn holds for the bounds of some token of v.
func anyToken(v []byte, fn func(start, end int) bool) bool {
	for i := 0; ; {
		start, end, ok := rule.NextToken(v, i)
		if !ok {
			return false
		}
		if fn(start, end) {
			return true
		}
		i = end
	}
}
