// Package event gives the engine read access to one audit event: it parses the record body once and resolves
// Splunk-style flattened field paths (`objectRef.resource`, `sourceIPs{}`, `spec.containers{}.image`, keys that
// themselves contain dots) against it. It knows no rule language and no pdata.
package event

import (
	"errors"
	"strings"

	"github.com/valyala/fastjson"
)

// ErrNotObject is returned for a body that is valid JSON but not a JSON object.
var ErrNotObject = errors.New("audit event is not a JSON object")

// Parser parses bodies into Views. A Parser is not safe for concurrent use, and a View is valid only until the next
// call to Parse on the same Parser: keep one Parser per goroutine (the engine pools them).
type Parser struct {
	p    fastjson.Parser
	view View
}

// Parse parses body. It never panics; JSON nested deeper than fastjson.MaxDepth (300) is an error.
func (p *Parser) Parse(body []byte) (*View, error) {
	v, err := p.p.ParseBytes(body)
	if err != nil {
		return nil, err
	}
	obj, err := v.Object()
	if err != nil {
		return nil, ErrNotObject
	}
	p.view.root = obj
	return &p.view, nil
}

// View is one parsed audit event.
type View struct {
	root *fastjson.Object
	// num holds the text of the number being passed to a callback, so numbers cost no allocation.
	num []byte
}

var (
	valTrue  = []byte("true")
	valFalse = []byte("false")
)

// Each calls fn with each value the path reaches, in document order, until fn returns false. Values are strings
// (unescaped), numbers (as written) and booleans ("true"/"false"); null, objects and arrays at the end of the path
// are not values, as in Splunk's JSON field extraction. The bytes are valid only during the call to fn: copy them to
// keep them. Each reports whether it ran to the end (false when fn stopped it).
func (v *View) Each(p *Path, fn func(val []byte) bool) bool {
	if v == nil || v.root == nil {
		return true
	}
	return v.walkObject(p, v.root, 0, fn)
}

// First returns the first value the path reaches.
func (v *View) First(p *Path) (val []byte, ok bool) {
	v.Each(p, func(b []byte) bool {
		val, ok = b, true
		return false
	})
	return val, ok
}

// Has reports whether the path reaches at least one value.
func (v *View) Has(p *Path) bool {
	_, ok := v.First(p)
	return ok
}

// Path is a compiled field path. It is immutable and safe for concurrent use.
type Path struct {
	name     string
	anyArray bool
	segs     []segment
	// keys[i][j-i] is the object key made of segments i..j joined by dots, precomputed so that resolving a key that
	// contains dots allocates nothing.
	keys [][]string
}

type segment struct {
	key   string
	array bool // written with {} after it
}

// CompilePath parses a flattened field name. With anyArray, arrays anywhere on the path are traversed whether or not
// the name marks them with `{}` (Sigma and ECS flattening); without it, only `{}` traverses an array (Splunk).
func CompilePath(name string, anyArray bool) *Path {
	p := &Path{name: name, anyArray: anyArray}
	for _, part := range strings.Split(name, ".") {
		s := segment{key: part}
		if strings.HasSuffix(part, "{}") {
			s.key, s.array = strings.TrimSuffix(part, "{}"), true
		}
		p.segs = append(p.segs, s)
	}
	p.keys = make([][]string, len(p.segs))
	for i := range p.segs {
		key := p.segs[i].key
		p.keys[i] = append(p.keys[i], key)
		// A key can only span segments up to the first one marked as an array.
		for j := i + 1; j < len(p.segs) && !p.segs[j-1].array; j++ {
			key += "." + p.segs[j].key
			p.keys[i] = append(p.keys[i], key)
		}
	}
	return p
}

// Name returns the field name the path was compiled from.
func (p *Path) Name() string { return p.name }

// walkObject resolves segments i.. against obj. Every way of grouping the remaining segments into keys that obj
// really has is followed, so `a.b.c` finds {"a":{"b.c":1}} and {"a.b":{"c":1}} alike.
func (v *View) walkObject(p *Path, obj *fastjson.Object, i int, fn func([]byte) bool) bool {
	for n, key := range p.keys[i] {
		child := obj.Get(key)
		if child == nil {
			continue
		}
		last := i + n
		if !v.walkValue(p, child, last+1, p.segs[last].array, fn) {
			return false
		}
	}
	return true
}

// walkValue continues at segment i with val, the value of the previous key; arrayMarked says that key carried {}.
func (v *View) walkValue(p *Path, val *fastjson.Value, i int, arrayMarked bool, fn func([]byte) bool) bool {
	if val.Type() == fastjson.TypeArray {
		if !arrayMarked && !p.anyArray {
			return true
		}
		arr, _ := val.Array()
		for _, el := range arr {
			// Arrays of arrays are flattened only in anyArray mode; Splunk would need `{}{}`.
			if !v.walkValue(p, el, i, p.anyArray, fn) {
				return false
			}
		}
		return true
	}
	if arrayMarked && !p.anyArray {
		// `x{}` names the elements of an array; a scalar x has none.
		return true
	}
	if i == len(p.segs) {
		return v.emitLeaf(val, fn)
	}
	if val.Type() != fastjson.TypeObject {
		return true
	}
	obj, _ := val.Object()
	return v.walkObject(p, obj, i, fn)
}

func (v *View) emitLeaf(val *fastjson.Value, fn func([]byte) bool) bool {
	switch val.Type() {
	case fastjson.TypeString:
		b, _ := val.StringBytes()
		return fn(b)
	case fastjson.TypeNumber:
		v.num = val.MarshalTo(v.num[:0])
		return fn(v.num)
	case fastjson.TypeTrue:
		return fn(valTrue)
	case fastjson.TypeFalse:
		return fn(valFalse)
	}
	return true
}
