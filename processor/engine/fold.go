package engine

import (
	"unicode"
	"unicode/utf8"
)

// Case-insensitive values compare as bytes.EqualFold does: two characters are equal when they are in one
// unicode.SimpleFold orbit (K, k and the Kelvin sign; S, s and ſ; Σ, σ and ς). Every pattern shape (exact, prefix,
// suffix, contains, general glob, ordering) and the operation index use that one rule, by comparing folded forms:
// each character replaced by its orbit's representative. A different rule per shape (lower-casing here, EqualFold
// of byte slices there) made `kelvin` match a Kelvin-sign value but `kelvin*` not.

// foldRune returns the representative of r's orbit: the lower-case ASCII letter when the orbit holds an ASCII
// letter, else the orbit's smallest character.
func foldRune(r rune) rune {
	if r < utf8.RuneSelf {
		if 'A' <= r && r <= 'Z' {
			return r + 'a' - 'A'
		}
		return r
	}
	least := r
	for f := unicode.SimpleFold(r); f != r; f = unicode.SimpleFold(f) {
		if f < utf8.RuneSelf {
			return foldRune(f)
		}
		least = min(least, f)
	}
	return least
}

// appendFold appends v folded to dst. Bytes that are not UTF-8 are kept as they are.
func appendFold(dst, v []byte) []byte {
	for i := 0; i < len(v); {
		c := v[i]
		if c < utf8.RuneSelf {
			if 'A' <= c && c <= 'Z' {
				c += 'a' - 'A'
			}
			dst = append(dst, c)
			i++
			continue
		}
		r, n := utf8.DecodeRune(v[i:])
		if r == utf8.RuneError && n == 1 {
			dst = append(dst, c)
		} else {
			dst = utf8.AppendRune(dst, foldRune(r))
		}
		i += n
	}
	return dst
}

// fold returns v folded, reusing c.lower. c.lower is stored only when it grew: a store costs a write barrier while
// the garbage collector marks.
func (c *evalCtx) fold(v []byte) []byte {
	out := appendFold(c.lower[:0], v)
	if cap(out) > cap(c.lower) {
		c.lower = out
	}
	return out
}

// foldString is appendFold for compile time.
func foldString(s string) string { return string(appendFold(nil, []byte(s))) }

func isASCII(v []byte) bool {
	for _, c := range v {
		if c >= utf8.RuneSelf {
			return false
		}
	}
	return true
}
