// Package eventtest is a plain, slow reference for the lazy JSON reader of package event, for tests: encoding/json
// decodes a whole body into a tree that keeps every member in order (duplicates included), and Resolve applies the
// path rules of package event recursively. It also writes variants of a body (reordered, indented, escaped, with
// duplicate or dotted keys) that must read the same, by those rules, as the tree they come from.
package eventtest

import (
	"bytes"
	"encoding/json"
	"fmt"
	"sort"
	"strings"
	"unicode/utf8"
)

// Value is a decoded JSON value.
type Value struct {
	kind  byte // '{', '[', '"', 'n' (number), 't', 'f', '0' (null)
	text  string
	keys  []string
	vals  []*Value
	elems []*Value
}

// Decode decodes body with encoding/json, keeping every member of every object in order.
func Decode(body []byte) (*Value, error) {
	d := json.NewDecoder(bytes.NewReader(body))
	d.UseNumber()
	return decodeValue(d)
}

func decodeValue(d *json.Decoder) (*Value, error) {
	tok, err := d.Token()
	if err != nil {
		return nil, err
	}
	switch tok := tok.(type) {
	case json.Delim:
		if tok == '{' {
			o := &Value{kind: '{'}
			for d.More() {
				k, err := d.Token()
				if err != nil {
					return nil, err
				}
				v, err := decodeValue(d)
				if err != nil {
					return nil, err
				}
				o.keys, o.vals = append(o.keys, k.(string)), append(o.vals, v)
			}
			_, err := d.Token()
			return o, err
		}
		a := &Value{kind: '['}
		for d.More() {
			v, err := decodeValue(d)
			if err != nil {
				return nil, err
			}
			a.elems = append(a.elems, v)
		}
		_, err := d.Token()
		return a, err
	case string:
		return &Value{kind: '"', text: tok}, nil
	case json.Number:
		return &Value{kind: 'n', text: string(tok)}, nil
	case bool:
		if tok {
			return &Value{kind: 't'}, nil
		}
		return &Value{kind: 'f'}, nil
	}
	return &Value{kind: '0'}, nil
}

// tail is the package's rule for which top-level fields are read from the end, restated independently.
var tail = map[string]bool{"responseObject": true, "requestReceivedTimestamp": true, "stageTimestamp": true, "annotations": true}

type path struct {
	segs     []string
	arr      []bool
	anyArray bool
}

func parseRefPath(name string, anyArray bool) path {
	p := path{anyArray: anyArray}
	for _, s := range strings.Split(name, ".") {
		p.segs = append(p.segs, strings.TrimSuffix(s, "{}"))
		p.arr = append(p.arr, strings.HasSuffix(s, "{}"))
	}
	return p
}

// spelled returns, for each way the key k spells segments i.. of p, the index of the last segment it spans.
func (p path) spelled(i int, k string) int {
	key := p.segs[i]
	for j := i; ; j++ {
		if k == key {
			return j
		}
		if j+1 == len(p.segs) || p.arr[j] {
			return -1
		}
		key += "." + p.segs[j+1]
	}
}

// Resolve returns the values the field name reaches in root, by the rules of package event, restated plainly.
func Resolve(root *Value, name string, anyArray bool) []string {
	p := parseRefPath(name, anyArray)
	var out []string
	if root.kind != '{' {
		return nil
	}
	order := make([]int, len(root.keys))
	for i := range order {
		order[i] = i
		if tail[p.segs[0]] {
			order[i] = len(root.keys) - 1 - i
		}
	}
	for _, m := range order {
		if last := p.spelled(0, root.keys[m]); last >= 0 {
			walk(p, root.vals[m], last+1, p.arr[last], &out)
			break
		}
	}
	return out
}

func walk(p path, v *Value, i int, marked bool, out *[]string) {
	if v.kind == '[' {
		if !marked && !p.anyArray {
			return
		}
		for _, e := range v.elems {
			walk(p, e, i, p.anyArray, out)
		}
		return
	}
	if marked && !p.anyArray {
		return
	}
	if i == len(p.segs) {
		switch v.kind {
		case '"', 'n':
			*out = append(*out, v.text)
		case 't':
			*out = append(*out, "true")
		case 'f':
			*out = append(*out, "false")
		}
		return
	}
	if v.kind != '{' {
		return
	}
	for m, k := range v.keys {
		if last := p.spelled(i, k); last >= 0 {
			walk(p, v.vals[m], last+1, p.arr[last], out)
		}
	}
}

// LeafPaths lists the Splunk spelling of every path to a scalar in v, and the same paths without {}.
func LeafPaths(v *Value) []string {
	seen := map[string]bool{}
	var walk func(v *Value, prefix string)
	walk = func(v *Value, prefix string) {
		switch v.kind {
		case '{':
			for m, k := range v.keys {
				name := k
				if prefix != "" {
					name = prefix + "." + k
				}
				walk(v.vals[m], name)
			}
		case '[':
			for _, e := range v.elems {
				walk(e, prefix+"{}")
			}
		default:
			seen[prefix] = true
			seen[strings.ReplaceAll(prefix, "{}", "")] = true
		}
	}
	walk(v, "")
	out := make([]string, 0, len(seen))
	for p := range seen {
		if p != "" {
			out = append(out, p)
		}
	}
	sort.Strings(out)
	return out
}

// ExtraPaths are paths the rules read, and ones no event has.
var ExtraPaths = []string{
	"verb", "objectRef.resource", "objectRef.subresource", "user.username", "user.groups{}", "sourceIPs{}",
	"responseStatus.code", "requestObject.spec.containers{}.image", "requestObject.spec.containers.image",
	"requestObject.metadata.annotations.kubectl.kubernetes.io/last-applied-configuration",
	"annotations.authorization.k8s.io/decision", "stageTimestamp", "responseObject.metadata.name",
	"missing", "objectRef.missing", "user", "sourceIPs", "verb{}", "a.b", "a.b.c", "x{}.y",
}

// ---- variants ------------------------------------------------------------------------------------------------

// Encoder writes a Value as JSON, in variants that change its bytes but not its meaning.
type Encoder struct {
	// Indent writes newlines and spaces between tokens.
	Indent bool
	// Escape escapes the i-th character written inside strings (\uXXXX, or \/ for a slash) when it returns true.
	Escape func(i int) bool
	// Reverse writes object members in reverse order.
	Reverse bool
	n       int
}

func (e *Encoder) str(b *bytes.Buffer, s string) {
	b.WriteByte('"')
	for _, r := range s {
		e.n++
		switch {
		case r == '"' || r == '\\':
			b.WriteByte('\\')
			b.WriteRune(r)
		case r < 0x20:
			fmt.Fprintf(b, `\u%04x`, r)
		case r == '/' && e.Escape != nil && e.Escape(e.n):
			b.WriteString(`\/`)
		case e.Escape != nil && e.Escape(e.n) && r < utf8.RuneSelf:
			fmt.Fprintf(b, `\u%04X`, r)
		default:
			b.WriteRune(r)
		}
	}
	b.WriteByte('"')
}

func (e *Encoder) value(b *bytes.Buffer, v *Value, depth int) {
	nl := func(d int) {
		if e.Indent {
			b.WriteString("\n" + strings.Repeat("  ", d))
		}
	}
	switch v.kind {
	case '{':
		b.WriteByte('{')
		for i := range v.keys {
			m := i
			if e.Reverse {
				m = len(v.keys) - 1 - i
			}
			if i > 0 {
				b.WriteByte(',')
			}
			nl(depth + 1)
			e.str(b, v.keys[m])
			b.WriteString(map[bool]string{true: " : ", false: ":"}[e.Indent])
			e.value(b, v.vals[m], depth+1)
		}
		if len(v.keys) > 0 {
			nl(depth)
		}
		b.WriteByte('}')
	case '[':
		b.WriteByte('[')
		for i, el := range v.elems {
			if i > 0 {
				b.WriteString(", ")
			}
			e.value(b, el, depth+1)
		}
		b.WriteByte(']')
	case '"':
		e.str(b, v.text)
	case 'n':
		b.WriteString(v.text)
	case 't':
		b.WriteString("true")
	case 'f':
		b.WriteString("false")
	default:
		b.WriteString("null")
	}
}

// Encode writes v as JSON.
func Encode(v *Value, e Encoder) []byte {
	var b bytes.Buffer
	e.value(&b, v, 0)
	return b.Bytes()
}

// WithDuplicates repeats members: the first member of every object below the top level with another value, and
// the top level's first and last members.
func WithDuplicates(v *Value) *Value { return withDuplicates(v, 0) }

func withDuplicates(v *Value, depth int) *Value {
	switch v.kind {
	case '{':
		o := &Value{kind: '{'}
		for m := range v.keys {
			o.keys, o.vals = append(o.keys, v.keys[m]), append(o.vals, withDuplicates(v.vals[m], depth+1))
		}
		if len(v.keys) > 0 {
			o.keys, o.vals = append(o.keys, v.keys[0]), append(o.vals, &Value{kind: '"', text: "duplicate"})
			if depth == 0 {
				last := len(v.keys) - 1
				o.keys, o.vals = append([]string{v.keys[last]}, o.keys...), append([]*Value{{kind: '"', text: "early"}}, o.vals...)
			}
		}
		return o
	case '[':
		a := &Value{kind: '['}
		for _, el := range v.elems {
			a.elems = append(a.elems, withDuplicates(el, depth+1))
		}
		return a
	}
	return v
}

// WithDottedKeys flattens one level of every object member whose value is an object into dotted keys
// ({"a":{"b":1}} becomes {"a.b":1}), and adds a dotted spelling beside the nested one for the first member.
func WithDottedKeys(v *Value) *Value {
	if v.kind == '[' {
		a := &Value{kind: '['}
		for _, el := range v.elems {
			a.elems = append(a.elems, WithDottedKeys(el))
		}
		return a
	}
	if v.kind != '{' {
		return v
	}
	o := &Value{kind: '{'}
	for m, k := range v.keys {
		child := WithDottedKeys(v.vals[m])
		if child.kind == '{' && m%2 == 1 {
			for c, ck := range child.keys {
				o.keys, o.vals = append(o.keys, k+"."+ck), append(o.vals, child.vals[c])
			}
			continue
		}
		o.keys, o.vals = append(o.keys, k), append(o.vals, child)
		if child.kind == '{' && len(child.keys) > 0 {
			o.keys, o.vals = append(o.keys, k+"."+child.keys[0]), append(o.vals, &Value{kind: '"', text: "dotted"})
		}
	}
	return o
}
