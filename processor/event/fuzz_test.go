package event

import (
	"bytes"
	"testing"
)

// FuzzParse feeds arbitrary bodies and field paths to the parser and the path walker. Nothing may panic, and the
// walker's three entry points must agree: First is the first value Each yields, Has says whether it yields any, and
// Each stopped by its callback reports that it stopped.
func FuzzParse(f *testing.F) {
	f.Add([]byte(`{"verb":"create","objectRef":{"resource":"pods"},"sourceIPs":["10.0.0.1","10.0.0.2"]}`), "sourceIPs{}", false)
	f.Add([]byte(`{"a":{"b.c":[{"d":1},{"d":[2,3]}]},"a.b":{"c":{"d":true}}}`), "a.b.c.d", true)
	f.Add([]byte(`{"k":1,"k":2}`), "k", false)
	f.Fuzz(func(t *testing.T, body []byte, path string, anyArray bool) {
		orig := bytes.Clone(body)
		var p Parser
		v, err := p.Parse(body)
		if err != nil {
			if v != nil {
				t.Fatalf("a View returned with error %v", err)
			}
			return
		}
		cp := CompilePath(path, anyArray)
		if cp.Name() != path {
			t.Fatalf("Name() = %q, want %q", cp.Name(), path)
		}
		var all [][]byte
		if !v.Each(cp, func(b []byte) bool { all = append(all, bytes.Clone(b)); return true }) {
			t.Fatalf("Each reported a stop its callback never asked for")
		}
		first, ok := v.First(cp)
		if ok != (len(all) > 0) || v.Has(cp) != ok {
			t.Fatalf("First ok=%v, Has=%v, but Each yielded %d values", ok, v.Has(cp), len(all))
		}
		if ok && !bytes.Equal(first, all[0]) {
			t.Fatalf("First = %q, Each's first = %q", first, all[0])
		}
		if stopped := !v.Each(cp, func([]byte) bool { return false }); stopped != ok {
			t.Fatalf("Each stopped=%v with %d values", stopped, len(all))
		}
		if !bytes.Equal(body, orig) {
			t.Fatalf("Parse or Each changed the body")
		}
	})
}
