package rule

import (
	"strings"
	"unicode"
	"unicode/utf8"
)

// Full-text values (Phrase and Token patterns) are compared as Elasticsearch's standard analyzer indexes a `text`
// field: the value is lower-cased and split into words by the word-boundary rules of Unicode UAX #29, which Lucene's
// StandardTokenizer implements. For the ASCII values of audit events that means:
//
//   - letters, digits and `_` make words (`system_masters`, `v1`, `x86_64`);
//   - `.` and `'` join two letters or two digits (`docker.io`, `don't`, `1.27.3`), `:` joins two letters
//     (`system:masters`), `,` and `;` join two digits (`1,000`); anywhere else they split;
//   - every other character splits and is dropped (`/`, `-`, `@`, spaces, quotes...).
//
// So `docker.io/library/nginx:1.27` is [docker.io library nginx 1.27] and `system:serviceaccount:kube-system:foo`
// is [system:serviceaccount:kube system:foo]. Outside ASCII, letters and digits of any script make words, Han and
// Hiragana characters are words of their own, and combining marks stay with the character before them; Lucene's
// emoji and South-East Asian tokens are not reproduced. A word longer than MaxTokenRunes characters is split.

// MaxTokenRunes is the longest token (in characters) before a word is split, the standard tokenizer's default.
const MaxTokenRunes = 255

type wordClass uint8

const (
	wbOther wordClass = iota
	wbLetter
	wbNumeric
	wbExtendNumLet // joins letters and digits: `_`
	wbMidLetter    // between two letters: `:`
	wbMidNumLet    // between two letters or two digits: `.` `'`
	wbMidNum       // between two digits: `,` `;`
	wbExtend       // combining marks and format characters: stay with the character before
	wbIdeographic  // a word of its own: Han, Hiragana
)

var asciiClass = func() (t [utf8.RuneSelf]wordClass) {
	for c := 'a'; c <= 'z'; c++ {
		t[c], t[c-'a'+'A'] = wbLetter, wbLetter
	}
	for c := '0'; c <= '9'; c++ {
		t[c] = wbNumeric
	}
	t['_'] = wbExtendNumLet
	t[':'] = wbMidLetter
	t['.'], t['\''] = wbMidNumLet, wbMidNumLet
	t[','], t[';'] = wbMidNum, wbMidNum
	return t
}()

func classOf(r rune) wordClass {
	if r < utf8.RuneSelf {
		return asciiClass[r]
	}
	switch r {
	case '\u00b7', '\u0387', '\u05f4', '\u2027', '\ufe13', '\ufe55', '\uff1a':
		return wbMidLetter
	case '\u2018', '\u2019', '\u2024', '\ufe52', '\uff07', '\uff0e':
		return wbMidNumLet
	case '\u037e', '\u0589', '\u060c', '\u060d', '\u066c', '\u07f8', '\u2044', '\ufe10', '\ufe14', '\ufe50', '\ufe54',
		'\uff0c', '\uff1b':
		return wbMidNum
	case '\u203f', '\u2040', '\u2054', '\ufe33', '\ufe34', '\ufe4d', '\ufe4e', '\ufe4f', '\uff3f':
		return wbExtendNumLet
	case '\u200b':
		// The zero-width space is the one format character UAX #29's Word_Break leaves in Other: it splits words
		// (the joiners are Extend/ZWJ and the other Cf characters Format, which a word carries on through).
		// Elasticsearch splits "xmrig<U+200B>miner" into two words; so must this.
		return wbOther
	}
	switch {
	case unicode.In(r, unicode.Han, unicode.Hiragana):
		return wbIdeographic
	case unicode.IsLetter(r):
		return wbLetter
	case unicode.IsDigit(r):
		return wbNumeric
	case unicode.In(r, unicode.Mn, unicode.Me, unicode.Mc, unicode.Cf):
		return wbExtend
	}
	return wbOther
}

func runeAt(b []byte, i int) (rune, int) {
	if c := b[i]; c < utf8.RuneSelf {
		return rune(c), 1
	}
	return utf8.DecodeRune(b[i:])
}

// joins reports whether a character of class next continues a word whose last character is of class prev.
func joins(prev, next wordClass) bool {
	switch next {
	case wbLetter, wbNumeric:
		return prev == wbLetter || prev == wbNumeric || prev == wbExtendNumLet
	case wbExtendNumLet:
		return prev == wbLetter || prev == wbNumeric || prev == wbExtendNumLet
	}
	return false
}

// bridges reports whether mid, between a character of class prev and one of class next, keeps them in one word.
func bridges(prev, mid, next wordClass) bool {
	switch {
	case prev == wbLetter && next == wbLetter:
		return mid == wbMidLetter || mid == wbMidNumLet
	case prev == wbNumeric && next == wbNumeric:
		return mid == wbMidNum || mid == wbMidNumLet
	}
	return false
}

// NextToken finds the first token of b at or after byte offset i, which must be 0 or the end of an earlier token:
// b[start:end] is the token as written (the analyzer lower-cases it; callers pass lower-cased bytes). ok is false
// when b has no further token.
func NextToken(b []byte, i int) (start, end int, ok bool) {
	for i < len(b) {
		r, n := runeAt(b, i)
		cls := classOf(r)
		switch cls {
		case wbIdeographic:
			return i, i + n, true
		case wbLetter, wbNumeric, wbExtendNumLet:
		default:
			i += n
			continue
		}
		start, prev, word, runes := i, cls, cls != wbExtendNumLet, 1
		j := i + n
	scan:
		for j < len(b) && runes < MaxTokenRunes {
			r, n := runeAt(b, j)
			next := classOf(r)
			switch {
			case next == wbExtend:
				j += n
				runes++
			case joins(prev, next):
				j += n
				runes++
				prev, word = next, word || next != wbExtendNumLet
			case next == wbMidLetter || next == wbMidNumLet || next == wbMidNum:
				if j+n >= len(b) || runes+2 > MaxTokenRunes {
					break scan
				}
				r2, n2 := runeAt(b, j+n)
				after := classOf(r2)
				if !bridges(prev, next, after) {
					break scan
				}
				j += n + n2
				runes += 2
				prev = after
			default:
				break scan
			}
		}
		if word {
			return start, j, true
		}
		i = j // underscores alone make no token
	}
	return len(b), len(b), false
}

// Tokens returns the lower-cased tokens of s, as the standard analyzer indexes a text field.
func Tokens(s string) []string {
	b := []byte(strings.ToLower(s))
	var out []string
	for i := 0; ; {
		start, end, ok := NextToken(b, i)
		if !ok {
			return out
		}
		out = append(out, string(b[start:end]))
		i = end
	}
}
