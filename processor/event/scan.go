package event

import (
	"bytes"
	"encoding/binary"
	"errors"
	"math/bits"
	"strconv"
	"unicode/utf16"
	"unicode/utf8"
)

// The scanner reads JSON in place, without building a tree. It accepts what fastjson accepts (the parser auditdetect
// used before): lenient numbers (any run of 0-9 . e E + -, and NaN/Inf), escapes unchecked until a value is read,
// control characters inside strings; but nesting up to MaxDepth levels, where fastjson stops at 300. It never
// recurses and never panics.

// MaxDepth is the deepest nesting a body may have, counting the top-level object as 1: the Kubernetes API server's
// own limit for the JSON it decodes. A patch request's requestObject is the client's raw patch, so a client can nest
// a junk value as deep as the API server takes it; a lower limit here would let it make the event unreadable, and
// every detection blind to it.
const MaxDepth = 10000

var (
	errUnexpectedEnd = errors.New("unexpected end of JSON")
	errTooDeep       = errors.New("JSON nested deeper than 10000 levels")
	errTail          = errors.New("unexpected data after the top-level value")
	errNoValue       = errors.New("invalid JSON value")
	errNoKey         = errors.New(`object key must be a string`)
	errNoColon       = errors.New("missing ':' after object key")
	errNoComma       = errors.New("missing ',' or closing bracket")
	errTooLarge      = errors.New("audit event larger than 2 GiB")
)

// SyntaxError is a body that is not valid JSON, with the offset where reading failed.
type SyntaxError struct {
	Offset int
	err    error
}

func (e *SyntaxError) Error() string { return e.err.Error() + " at offset " + strconv.Itoa(e.Offset) }

func (e *SyntaxError) Unwrap() error { return e.err }

func syntaxErr(off int, err error) error { return &SyntaxError{Offset: off, err: err} }

func skipWS(b []byte, i int) int {
	if i < len(b) && b[i] > ' ' {
		return i // compact JSON: the common case, kept small enough to inline
	}
	return skipWSSlow(b, i)
}

func skipWSSlow(b []byte, i int) int {
	for i < len(b) && (b[i] == ' ' || b[i] == '\n' || b[i] == '\t' || b[i] == '\r') {
		i++
	}
	return i
}

const (
	swarOnes  = 0x0101010101010101
	swarHighs = 0x8080808080808080
	swarQuote = '"' * swarOnes
	swarSlash = '\\' * swarOnes
)

// stringEnd returns the offset just past the closing quote of the string whose opening quote is at b[i], or -1.
// A backslash in the first 64 bytes, or a string longer than that, is settled by stringEndLong.
func stringEnd(b []byte, i int) int {
	j := i + 1
	k, n := -1, len(b)-j // here and in stringEndEsc: a helper taking a slice (not inlined) lost the gain
	if n >= 64 {
		k, n = quoteOrSlash64(&b[j]), 64
	} else {
		k = quoteOrSlashSWAR(b[j:])
	}
	if k < 0 {
		return stringEndLong(b, j+n)
	}
	if j += k; b[j] == '"' {
		return j + 1
	}
	return stringEndLong(b, j)
}

// stringEndEsc is stringEnd that also says whether the string holds a backslash (true also when the string is longer
// than 64 bytes: whether it holds one is then left open). Most strings of an audit event are short: their first 64
// bytes are searched for a quote or a backslash at once (IndexByte's setup costs more than such a string); longer
// ones with IndexByte.
func stringEndEsc(b []byte, i int) (int, bool) {
	j := i + 1
	k, n := -1, len(b)-j
	if n >= 64 {
		k, n = quoteOrSlash64(&b[j]), 64
	} else {
		k = quoteOrSlashSWAR(b[j:])
	}
	if k < 0 {
		return stringEndLong(b, j+n), true
	}
	if j += k; b[j] == '"' {
		return j + 1, false
	}
	return stringEndLong(b, j), true
}

// quoteOrSlashSWAR is the index of the first quote or backslash in w (-1: none), eight bytes at a time.
func quoteOrSlashSWAR(w []byte) int {
	i := 0
	for ; i+8 <= len(w); i += 8 {
		x := binary.LittleEndian.Uint64(w[i:])
		q, s := x^swarQuote, x^swarSlash
		// A zero byte of q or s is a quote or a backslash; the lowest flagged byte is always a true one.
		if m := ((q-swarOnes)&^q | (s-swarOnes)&^s) & swarHighs; m != 0 {
			return i + bits.TrailingZeros64(m)>>3
		}
	}
	for ; i < len(w); i++ {
		if w[i] == '"' || w[i] == '\\' {
			return i
		}
	}
	return -1
}

// stringEndLong continues a string at b[j]: the first quote from there that an even number of backslashes
// precedes ends it.
func stringEndLong(b []byte, j int) int {
	for {
		q := bytes.IndexByte(b[j:], '"')
		if q < 0 {
			return -1
		}
		j += q
		if b[j-1] != '\\' {
			return j + 1
		}
		// The quote is escaped when an odd number of backslashes precede it.
		k := j - 1
		for b[k-1] == '\\' {
			k--
		}
		if (j-k)%2 == 0 {
			return j + 1
		}
		j++
	}
}

func isNumberByte(c byte) bool {
	return c >= '0' && c <= '9' || c == '.' || c == '-' || c == 'e' || c == 'E' || c == '+'
}

// numberEnd returns the end of the number at b[i], with fastjson's leniency: a run of number bytes, or NaN/Inf
// (any case) after an optional sign. -1 when there is none.
func numberEnd(b []byte, i int) int {
	j := i
	for j < len(b) && isNumberByte(b[j]) {
		j++
	}
	switch {
	case j-i >= 2, j-i == 1 && b[i] != '-' && b[i] != '+':
		return j
	case j-i == 1 && j == len(b):
		return j // a lone sign at the end: fastjson reads it, the container around it then fails
	}
	k := j // NaN or Inf after at most one sign
	if k+3 <= len(b) && (bytes.EqualFold(b[k:k+3], []byte("inf")) || bytes.EqualFold(b[k:k+3], []byte("nan"))) {
		return k + 3
	}
	return -1
}

// scalarEnd returns the end of the string, literal or number at b[i], or -1.
func scalarEnd(b []byte, i int) int {
	switch b[i] {
	case '"':
		return stringEnd(b, i)
	case 't':
		if bytes.HasPrefix(b[i:], []byte("true")) {
			return i + 4
		}
		return -1
	case 'f':
		if bytes.HasPrefix(b[i:], []byte("false")) {
			return i + 5
		}
		return -1
	case 'n':
		if bytes.HasPrefix(b[i:], []byte("null")) {
			return i + 4
		}
		if i+3 <= len(b) && bytes.EqualFold(b[i:i+3], []byte("nan")) {
			return i + 3
		}
		return -1
	}
	return numberEnd(b, i)
}

// skipped, when set (by tests), counts the bytes skipValue skips: how a test tells work that grows with the size of
// a body from work that grows with its nesting too, without timing anything.
var skipped *int

// skipValue returns the end of the value at b[i]. Containers are skipped structurally: strings and bracket depth
// are followed, the grammar inside is not checked (validate does that). Depth is a counter, so a hostile nesting
// costs no stack.
func skipValue(b []byte, i int) (int, error) {
	end, err := skipValueAt(b, i)
	if skipped != nil && err == nil {
		*skipped += end - i
	}
	return end, err
}

func skipValueAt(b []byte, i int) (int, error) {
	if i >= len(b) {
		return 0, syntaxErr(i, errUnexpectedEnd)
	}
	if c := b[i]; c != '{' && c != '[' {
		end := scalarEnd(b, i)
		if end < 0 {
			return 0, syntaxErr(i, errNoValue)
		}
		return end, nil
	}
	depth := 0
	for j := i; j < len(b); j++ {
		switch b[j] {
		case '"':
			end := stringEnd(b, j)
			if end < 0 {
				return 0, syntaxErr(j, errUnexpectedEnd)
			}
			j = end - 1
		case '{', '[':
			depth++
		case '}', ']':
			depth--
			if depth == 0 {
				return j + 1, nil
			}
		}
	}
	return 0, syntaxErr(len(b), errUnexpectedEnd)
}

// appendUnescaped appends the string content s (without quotes) to dst, unescaping it as fastjson does: known
// escapes are decoded, UTF-16 surrogate pairs joined, and anything malformed kept as written.
func appendUnescaped(dst, s []byte) []byte {
	for {
		n := bytes.IndexByte(s, '\\')
		if n < 0 {
			return append(dst, s...)
		}
		dst = append(dst, s[:n]...)
		s = s[n+1:]
		if len(s) == 0 {
			return append(dst, '\\')
		}
		ch := s[0]
		s = s[1:]
		switch ch {
		case '"', '\\', '/':
			dst = append(dst, ch)
		case 'b':
			dst = append(dst, '\b')
		case 'f':
			dst = append(dst, '\f')
		case 'n':
			dst = append(dst, '\n')
		case 'r':
			dst = append(dst, '\r')
		case 't':
			dst = append(dst, '\t')
		case 'u':
			x, ok := hex4(s)
			if !ok {
				dst = append(dst, `\u`...)
				continue
			}
			xs := s[:4]
			s = s[4:]
			if !utf16.IsSurrogate(rune(x)) {
				dst = utf8.AppendRune(dst, rune(x))
				continue
			}
			// A surrogate needs its pair; a lone one is kept as written.
			var x1 uint16
			if len(s) >= 6 && s[0] == '\\' && s[1] == 'u' {
				x1, ok = hex4(s[2:])
			} else {
				ok = false
			}
			if !ok {
				dst = append(append(dst, `\u`...), xs...)
				continue
			}
			dst = utf8.AppendRune(dst, utf16.DecodeRune(rune(x), rune(x1)))
			s = s[6:]
		default:
			dst = append(dst, '\\', ch)
		}
	}
}

func hex4(s []byte) (uint16, bool) {
	if len(s) < 4 {
		return 0, false
	}
	var x uint16
	for _, c := range s[:4] {
		switch {
		case c >= '0' && c <= '9':
			c -= '0'
		case c >= 'a' && c <= 'f':
			c -= 'a' - 10
		case c >= 'A' && c <= 'F':
			c -= 'A' - 10
		default:
			return 0, false
		}
		x = x<<4 | uint16(c)
	}
	return x, true
}
