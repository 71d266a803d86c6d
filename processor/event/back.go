package event

import (
	"bytes"
	"encoding/binary"
	"math/bits"
)

// Reading the top-level object from its end. JSON reads backwards as well as forwards: a quote preceded by an even
// number of backslashes is a string's delimiter, so strings, and with them bracket depth, can be followed from
// either side. The API server writes the timestamps and annotations after the large objects; reading them from the
// end costs a few hundred bytes instead of the whole event.

func isWSByte(c byte) bool { return c == ' ' || c == '\n' || c == '\t' || c == '\r' }

func skipWSBack(b []byte, j int) int {
	for j >= 0 && isWSByte(b[j]) {
		j--
	}
	return j
}

// stringStartBack returns the offset of the opening quote of the string whose closing quote is at b[j], or -1.
func stringStartBack(b []byte, j int) int {
	for k := j - 1; ; k-- {
		k = lastIndexQuote(b[:k+1])
		if k < 0 {
			return -1
		}
		n := 0
		for k-n > 0 && b[k-n-1] == '\\' {
			n++
		}
		if n%2 == 0 {
			return k
		}
	}
}

// lastIndexQuote is bytes.LastIndexByte(b, '"') eight bytes at a time: Go's is a byte loop, and the strings read
// from the end (annotation values such as the authorizer's reason, timestamps) run to tens or hundreds of bytes.
func lastIndexQuote(b []byte) int {
	const lo7, quotes = 0x7f7f7f7f7f7f7f7f, 0x2222222222222222
	i := len(b)
	for ; i >= 8; i -= 8 {
		x := binary.LittleEndian.Uint64(b[i-8:]) ^ quotes // a quote is a zero byte
		// The high bit of each byte of z is set exactly where x has a zero byte (no carry crosses a byte, unlike the
		// shorter (x-0x01..)&^x test, which can flag the byte above a zero one).
		if z := ^((x&lo7 + lo7) | x | lo7); z != 0 {
			return i - 8 + (63-bits.LeadingZeros64(z))/8
		}
	}
	for i--; i >= 0; i-- {
		if b[i] == '"' {
			return i
		}
	}
	return -1
}

func isScalarByte(c byte) bool {
	return c >= '0' && c <= '9' || c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c == '.' || c == '+' || c == '-'
}

// valueStartBack returns the offset where the value whose last byte is b[j] starts, or -1. Like skipValue it
// follows strings and depth, not the grammar.
func valueStartBack(b []byte, j int) int {
	switch c := b[j]; {
	case c == '"':
		return stringStartBack(b, j)
	case c == '}' || c == ']':
		depth := 0
		for ; j >= 0; j-- {
			switch b[j] {
			case '"':
				if j = stringStartBack(b, j); j < 0 {
					return -1
				}
			case '}', ']':
				depth++
			case '{', '[':
				depth--
				if depth == 0 {
					return j
				}
			}
		}
		return -1
	case isScalarByte(c):
		for j > 0 && isScalarByte(b[j-1]) {
			j--
		}
		return j
	}
	return -1
}

// readBot reads the member before botEnd, the last one not yet read from the end. It reports false when the end
// has met the members read from the start, at the start of the object, or on an error.
func (v *View) readBot() bool {
	if v.topDone || v.met || v.err != nil {
		return false
	}
	b := v.body
	j := skipWSBack(b, v.botEnd-1)
	if j <= v.topStart {
		// At the opening brace: every member has been read, from one end or the other.
		v.met = true
		return false
	}
	if len(v.bot) > 0 {
		if b[j] != ',' {
			v.fail(syntaxErr(j, errNoComma))
			return false
		}
		j = skipWSBack(b, j-1)
		if j <= v.topStart {
			v.fail(syntaxErr(j+1, errNoKey))
			return false
		}
	}
	var m member
	m.valEnd = int32(j + 1)
	vs := valueStartBack(b, j)
	if vs <= v.topStart {
		v.fail(syntaxErr(j, errNoValue))
		return false
	}
	m.val = int32(vs)
	j = skipWSBack(b, vs-1)
	if j <= v.topStart || b[j] != ':' {
		v.fail(syntaxErr(vs, errNoColon))
		return false
	}
	j = skipWSBack(b, j-1)
	if j <= v.topStart || b[j] != '"' {
		v.fail(syntaxErr(j+1, errNoKey))
		return false
	}
	ks := stringStartBack(b, j)
	if ks <= v.topStart {
		v.fail(syntaxErr(j, errNoKey))
		return false
	}
	m.key, m.keyEnd = int32(ks+1), int32(j)
	m.esc = bytes.IndexByte(b[ks+1:j], '\\') >= 0
	if n := len(v.top); n > 0 && v.top[n-1].key == m.key {
		// This member is the last one read from the start: the two ends have met.
		v.top[n-1].valEnd = m.valEnd
		v.met = true
		return false
	}
	m.name = v.classify(&m)
	v.bot = append(v.bot, m)
	v.botEnd = ks
	return true
}
