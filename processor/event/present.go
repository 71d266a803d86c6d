package event

// Presence. Each yields the values a path reaches: strings, numbers and booleans. Sigma's `|exists` asks a different
// question, whether the path reaches a member at all, "be it empty or null": a key whose value is an object, an
// array (even an empty one) or null is there although it has no value. Present and PresentNonNull answer it, with
// the path rules of Each (the same top-level member decides, arrays on the way are walked as Each walks them).

// Present reports whether the path reaches a member, whatever its value: a string, number or boolean, null, an
// object or an array (empty or not). A path ending in `{}` without anyArray names the elements of an array, as in
// Each: it is present when the key holds an array with at least one element.
func (v *View) Present(p *Path) bool { return v.present(p, anyMember) }

// PresentNonNull is Present leaving out members whose value is JSON null: it is false when the path reaches nothing
// or only nulls. Its negation is Sigma's `field: null`, "absent or null".
func (v *View) PresentNonNull(p *Path) bool { return v.present(p, nonNullMember) }

// PresentUnder reports whether the path reaches a value, or a member holding an object or array with a value
// somewhere under it: Elasticsearch's exists query on an object field, which asks whether any field under the
// object has a value. Strings, numbers and booleans are values; null, {} and [] are not.
func (v *View) PresentUnder(p *Path) bool { return v.present(p, valueUnder) }

// presence is what a member the path reaches must hold to count.
type presence uint8

const (
	anyMember     presence = iota // anything, null included
	nonNullMember                 // anything but null
	valueUnder                    // a value, itself or at any depth under it
)

func (v *View) present(p *Path, want presence) bool {
	if v == nil || v.body == nil || v.err != nil {
		return false
	}
	val, i, marked, _ := v.start(p)
	if val < 0 {
		return false
	}
	found, _ := v.reachValue(p, val, i, marked, want)
	return found
}

// reachValue is walkValue asking for a member instead of values: it continues at segment i with the value at b[at],
// the value of the previous key (arrayMarked: that key carried {}), and reports whether a member counts. When it
// walked an array to its end without finding one, end is where the array ends (else -1), as walkValue returns it.
func (v *View) reachValue(p *Path, at, i int, arrayMarked bool, want presence) (found bool, end int) {
	if v.err != nil {
		return false, -1
	}
	b := v.body
	if i == len(p.segs) && (p.anyArray || !arrayMarked) {
		// The key that ends the path: it is there, whatever its value.
		switch want {
		case nonNullMember:
			return b[at] != 'n', -1
		case valueUnder:
			return v.holdsValue(at), -1
		}
		return true, -1
	}
	if b[at] == '[' {
		if !arrayMarked && !p.anyArray {
			return false, -1
		}
		return v.reachArray(p, at, i, want)
	}
	if arrayMarked && !p.anyArray {
		// `x{}` names the elements of an array; a scalar or an object x has none.
		return false, -1
	}
	if b[at] != '{' {
		return false, -1
	}
	return v.reachObject(p, at, i, want), -1
}

// reachArray is walkArray for reachValue: each element of the array at b[at] in turn, until one reaches a member.
func (v *View) reachArray(p *Path, at, i int, want presence) (found bool, end int) {
	_, end = v.eachElement(at, func(j int) (bool, int) {
		f, end := v.reachValue(p, j, i, p.anyArray, want)
		found = f
		return !f, end
	})
	if found {
		return true, -1
	}
	return false, end
}

// reachObject is walkObject for reachValue: every member whose key spells the next segments, in document order.
func (v *View) reachObject(p *Path, at, i int, want presence) bool {
	t := v.table(at)
	if t == nil {
		return false
	}
	lo, hi := t.lo, t.hi
	keys := p.keys[i]
	for k := lo; k < hi; k++ {
		m := v.members[k] // by index: walking deeper may grow v.members
		for n, key := range keys {
			if v.keyIs(&m, key) {
				last := i + n
				if found, _ := v.reachValue(p, int(m.val), last+1, p.segs[last].array, want); found {
					return true
				}
				break
			}
		}
	}
	return false
}

// holdsValue reports whether the JSON value at b[at] is a string, number or boolean, or an object or array with one
// at any depth under it. It scans the bytes once, stopping at the first value: a string followed by ':' is a key,
// any other string, number or boolean a value. Walking member tables instead would skip each level's nested text
// again, quadratic in the depth of a hostile body.
func (v *View) holdsValue(at int) bool {
	b := v.body
	if c := b[at]; c != '{' && c != '[' {
		return c != 'n'
	}
	depth := 0
	for i := at; i < len(b); i++ {
		switch c := b[i]; {
		case c == '{' || c == '[':
			depth++
		case c == '}' || c == ']':
			if depth--; depth == 0 {
				return false
			}
		case c == '"':
			end := stringEnd(b, i)
			if end < 0 {
				return false
			}
			if j := skipWS(b, end); j >= len(b) || b[j] != ':' {
				return true
			}
			i = end - 1
		case c == 'n':
			i += len("null") - 1
		case c == ',' || c == ':' || isWSByte(c):
		default:
			return true // a number, true or false
		}
	}
	return false
}
