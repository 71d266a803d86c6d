package normalize

import "bytes"

// A minimal JSON scanner: it walks the members of an object and the elements of an array by skipping values, so
// that the shape of a record can be told, and the items of an EventList sliced out, without parsing. It checks only
// the structure it walks; the engine's parser validates each event it is given. It never panics and never recurses.

func skipWS(b []byte, i int) int {
	for i < len(b) {
		switch b[i] {
		case ' ', '\t', '\n', '\r':
			i++
		default:
			return i
		}
	}
	return i
}

// stringEnd returns the index just past the closing quote of the string that opens at b[i], or -1.
func stringEnd(b []byte, i int) int {
	start := i + 1
	for j := start; j < len(b); {
		q := bytes.IndexByte(b[j:], '"')
		if q < 0 {
			return -1
		}
		j += q
		// The quote is escaped when an odd number of backslashes precede it.
		k := j
		for k > start && b[k-1] == '\\' {
			k--
		}
		if (j-k)%2 == 0 {
			return j + 1
		}
		j++
	}
	return -1
}

// valueEnd returns the index just past the value that starts at b[i], or -1 when it is cut short. Brackets are
// counted, not matched by kind: a mismatch is left for the parser to report.
func valueEnd(b []byte, i int) int {
	if i >= len(b) {
		return -1
	}
	switch b[i] {
	case '"':
		return stringEnd(b, i)
	case '{', '[':
		depth := 0
		for i < len(b) {
			switch b[i] {
			case '"':
				if i = stringEnd(b, i); i < 0 {
					return -1
				}
				continue
			case '{', '[':
				depth++
			case '}', ']':
				if depth--; depth == 0 {
					return i + 1
				}
			}
			i++
		}
		return -1
	case '}', ']', ',', ':':
		return -1
	}
	// A number or a literal runs to the next delimiter.
	j := i
	for j < len(b) {
		switch b[j] {
		case ',', '}', ']', ' ', '\t', '\n', '\r':
			return j
		}
		j++
	}
	return j
}

// eachMember calls fn with the key (raw, without quotes) and the raw value of each member of the object that opens
// at b[i], until fn returns false. It returns ErrMalformed when the object is cut short or is not an object; a value
// cut short is passed to fn as far as it goes first.
func eachMember(b []byte, i int, fn func(key, val []byte) bool) error {
	if i >= len(b) || b[i] != '{' {
		return ErrMalformed
	}
	i = skipWS(b, i+1)
	if i < len(b) && b[i] == '}' {
		return nil
	}
	for {
		if i >= len(b) || b[i] != '"' {
			return ErrMalformed
		}
		end := stringEnd(b, i)
		if end < 0 {
			return ErrMalformed
		}
		key := b[i+1 : end-1]
		i = skipWS(b, end)
		if i >= len(b) || b[i] != ':' {
			return ErrMalformed
		}
		i = skipWS(b, i+1)
		end = valueEnd(b, i)
		if end < 0 {
			// A record cut short (a shipper's line limit) still shows what it holds up to the cut.
			fn(key, b[i:])
			return ErrMalformed
		}
		if !fn(key, b[i:end]) {
			return nil
		}
		i = skipWS(b, end)
		if i >= len(b) {
			return ErrMalformed
		}
		switch b[i] {
		case '}':
			return nil
		case ',':
			i = skipWS(b, i+1)
		default:
			return ErrMalformed
		}
	}
}

// eachElement calls fn with each element of the array arr (which starts with '['); it stops at the first structural
// error, having passed on the elements before it.
func eachElement(arr []byte, fn func(el []byte)) {
	i := skipWS(arr, 1)
	if i < len(arr) && arr[i] == ']' {
		return
	}
	for i < len(arr) {
		end := valueEnd(arr, i)
		if end < 0 {
			return
		}
		fn(arr[i:end])
		i = skipWS(arr, end)
		if i >= len(arr) || arr[i] != ',' {
			return
		}
		i = skipWS(arr, i+1)
	}
}
