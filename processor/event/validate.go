package event

import (
	"bytes"
	"encoding/json"
	"errors"
	"io"
	"sync"
)

// stacks holds validate's scratch space for Valid.
var stacks = sync.Pool{New: func() any { return new([]byte) }}

// Valid checks that b holds exactly one JSON value, as Parser.Parse does (fastjson's grammar, at most MaxDepth
// levels deep). It allocates nothing once warm.
func Valid(b []byte) error {
	s := stacks.Get().(*[]byte)
	var err error
	*s, err = validate(b, *s)
	stacks.Put(s)
	return err
}

// validate checks that b holds exactly one JSON value, under fastjson's grammar and MaxDepth. stack is scratch
// space for the open containers; validate returns it (grown) for reuse. It is a loop over an explicit stack: a
// hostile nesting costs no goroutine stack.
func validate(b []byte, stack []byte) ([]byte, error) {
	stack = stack[:0]
	i := skipWS(b, 0)
	if i == len(b) {
		return stack, syntaxErr(i, errUnexpectedEnd)
	}
	// Each turn of the loop reads one value at b[i], then what may follow it in its container.
	for {
		if len(stack)+1 > MaxDepth {
			return stack, syntaxErr(i, errTooDeep)
		}
		switch b[i] {
		case '{':
			i = skipWS(b, i+1)
			if i < len(b) && b[i] == '}' {
				i++
				break
			}
			stack = append(stack, '}')
			var err error
			if i, err = objectKey(b, i); err != nil {
				return stack, err
			}
			continue
		case '[':
			i = skipWS(b, i+1)
			if i < len(b) && b[i] == ']' {
				i++
				break
			}
			stack = append(stack, ']')
			if i == len(b) {
				return stack, syntaxErr(i, errUnexpectedEnd)
			}
			continue
		default:
			end := scalarEnd(b, i)
			if end < 0 {
				return stack, syntaxErr(i, errNoValue)
			}
			i = end
		}
		// After a value: close containers, or move on to the next member or element.
		for {
			i = skipWS(b, i)
			if len(stack) == 0 {
				if i != len(b) {
					return stack, syntaxErr(i, errTail)
				}
				return stack, nil
			}
			if i == len(b) {
				return stack, syntaxErr(i, errUnexpectedEnd)
			}
			closer := stack[len(stack)-1]
			if b[i] == closer {
				stack = stack[:len(stack)-1]
				i++
				continue
			}
			if b[i] != ',' {
				return stack, syntaxErr(i, errNoComma)
			}
			i = skipWS(b, i+1)
			if closer == '}' {
				var err error
				if i, err = objectKey(b, i); err != nil {
					return stack, err
				}
			} else if i == len(b) {
				return stack, syntaxErr(i, errUnexpectedEnd)
			}
			break
		}
	}
}

// objectKey reads `"key" :` at b[i] and returns the offset of the member's value.
func objectKey(b []byte, i int) (int, error) {
	if i >= len(b) || b[i] != '"' {
		return 0, syntaxErr(i, errNoKey)
	}
	end := stringEnd(b, i)
	if end < 0 {
		return 0, syntaxErr(i, errUnexpectedEnd)
	}
	i = skipWS(b, end)
	if i >= len(b) || b[i] != ':' {
		return 0, syntaxErr(i, errNoColon)
	}
	i = skipWS(b, i+1)
	if i == len(b) {
		return 0, syntaxErr(i, errUnexpectedEnd)
	}
	return i, nil
}

// Truncated reports whether b is a JSON value cut short: not valid, but a prefix of a valid one (its end falls inside
// a string, object or array). Azure cuts the audit event of an AKS diagnostic record so, at 16 KiB. It is for
// counting what could not be read, not on the hot path.
func Truncated(b []byte) bool {
	if Valid(b) == nil || len(bytes.TrimSpace(b)) == 0 {
		return false
	}
	d := json.NewDecoder(bytes.NewReader(b))
	for {
		_, err := d.Token()
		switch {
		case err == nil:
		case errors.Is(err, io.EOF), errors.Is(err, io.ErrUnexpectedEOF):
			return true // the input ended with every token so far in its place
		default:
			return false
		}
	}
}
