package engine

import (
	"encoding/binary"
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

// fold returns v folded, reusing c.lower, or v itself when folding changes nothing (most values: the verb and the
// resource the operation index folds for every event were 4% of the built-in pack's time). c.lower is stored only
// when it grew: a store costs a write barrier while the garbage collector marks.
func (c *evalCtx) fold(v []byte) []byte {
	if foldsToItself(v) {
		return v
	}
	out := appendFold(c.lower[:0], v)
	if cap(out) > cap(c.lower) {
		c.lower = out
	}
	return out
}

// foldsToItself reports whether v is ASCII without upper-case letters, which appendFold leaves as it is; eight bytes
// at a time.
func foldsToItself(v []byte) bool {
	i := 0
	for ; i+8 <= len(v); i += 8 {
		x := binary.LittleEndian.Uint64(v[i:])
		// With no byte at or above 0x80, adding 0x3f sets the high bit of each byte from 'A' up and adding 0x25 that
		// of each byte above 'Z', and no carry crosses into the next byte.
		if x&swarHighs != 0 || (x+0x3f*swarOnes)&^(x+0x25*swarOnes)&swarHighs != 0 {
			return false
		}
	}
	for ; i < len(v); i++ {
		if c := v[i]; c >= utf8.RuneSelf || 'A' <= c && c <= 'Z' {
			return false
		}
	}
	return true
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
