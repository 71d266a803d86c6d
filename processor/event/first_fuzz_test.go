package event

import (
	"bytes"
	"strings"
	"testing"
)

// FuzzFirstOnFreshView: First reads the value where emit noted it, in the body or past the end of the unescape
// buffer, so it is checked where FuzzParse does not: as the first read of a fresh View (Parse and the lazy Open),
// with the top level read from either end, repeated in another order, and inside an Each callback on the same View,
// which must leave the callback's own value intact. First must be Each's first value on a separately parsed body.
func FuzzFirstOnFreshView(f *testing.F) {
	f.Add([]byte(`{"verb":"get","a\u0062":{"c":"\u0041\u0042"},"annotations":{"x.y":"\"z\"","x":{"y":"w"}},`+
		`"stageTimestamp":"t\u0031"}`), "annotations.x.y", "ab.c", false)
	f.Add([]byte(`{"l":[{"k\u0031":"\/a"},{"k1":"b"}],"k":"\n","k":"2"}`), "l{}.k1", "k", true)
	f.Add([]byte(`{"o":{"a":["\u00e9",{"b":"\t"}]},"stageTimestamp":"\"t\""}`), "stageTimestamp", "o", false)
	f.Fuzz(func(t *testing.T, body []byte, p1, p2 string, anyArray bool) {
		if len(p1) > 48 || len(p2) > 48 || strings.Count(p1+p2, ".") > 10 {
			return // rule field names are short (TestLongPathsCompileInBoundedKeys covers long ones)
		}
		paths := []*Path{CompilePath(p1, anyArray), CompilePath(p2, anyArray), CompileLeavesPath(p2, anyArray)}
		var ref Parser
		rv, err := ref.Parse(body)
		if err != nil {
			return
		}
		want := make([][]byte, len(paths))
		for i, p := range paths {
			rv.Each(p, func(b []byte) bool { want[i] = bytes.Clone(b); return false })
		}
		check := func(what string, i int, got []byte, ok bool) {
			if ok != (want[i] != nil) || !bytes.Equal(got, want[i]) {
				t.Fatalf("%s First(%q) = %q, %v; Each's first is %q", what, paths[i].Name(), got, ok, want[i])
			}
		}
		for _, open := range []bool{false, true} {
			var pr Parser
			var v *View
			if open {
				v, err = pr.Open(body)
			} else {
				v, err = pr.Parse(body)
			}
			if err != nil {
				t.Fatalf("open=%v: %v on a body Parse accepts", open, err)
			}
			for i := range paths {
				got, ok := v.First(paths[i])
				check("fresh", i, got, ok)
			}
			for i := len(paths) - 1; i >= 0; i-- {
				got, ok := v.First(paths[i])
				check("again", i, got, ok)
			}
			v.Each(paths[0], func(b []byte) bool {
				keep := bytes.Clone(b)
				got, ok := v.First(paths[1])
				check("nested", 1, got, ok)
				if !bytes.Equal(b, keep) {
					t.Fatalf("First inside Each changed the callback's value %q to %q", keep, b)
				}
				return true
			})
		}
	})
}
