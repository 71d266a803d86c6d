package event

import (
	"bytes"
	"reflect"
	"strings"
	"testing"
)

// FuzzOpen feeds arbitrary bodies and paths to the lazy reader. Nothing may panic; on a body Parse accepts, the
// lazy View yields exactly what the checked one does; on any other body it yields values or an error, never both
// an error and a claim that the body is valid.
func FuzzOpen(f *testing.F) {
	f.Add([]byte(`{"verb":"get","objectRef":{"resource":"pods"},"requestObject":{"a":[1,{"b":"c"}]},"annotations":{"x.y":"z"}}`), "annotations.x.y", false)
	f.Add([]byte(`{"verb":"get","verb":"create","a.b":1,"a":{"b":2}}`), "a.b", true)
	f.Add([]byte(`{"stageTimestamp":"t1","x":{"y":"\"}"},"stageTimestamp":"t2"}`), "stageTimestamp", false)
	// An event as the API server writes it, which the teaching below makes every key of predicted: mutations of it
	// exercise the predicted paths (whitespace, cuts, changed keys).
	f.Add(teachEvent, "user.groups{}", false)
	// The objects below the top level get key orders only once their member's name is registered: these paths make
	// the teaching below teach user, objectRef, responseStatus and annotations too (tableIn's predicted loop).
	var teachPaths []*Path
	for _, name := range []string{"user.username", "objectRef.resource", "responseStatus.code", "annotations.x.y"} {
		teachPaths = append(teachPaths, CompilePath(name, false))
	}
	f.Fuzz(func(t *testing.T, body []byte, path string, anyArray bool) {
		if len(path) > 48 || strings.Count(path, ".") > 6 {
			// Paths are rule field names, short; a fuzzed path of thousands of dots only slows the fuzzer
			// (TestLongPathsCompileInBoundedKeys covers long ones).
			return
		}
		cp := CompilePath(path, anyArray)
		collect := func(v *View) [][]byte {
			var out [][]byte
			v.Each(cp, func(b []byte) bool { out = append(out, bytes.Clone(b)); return true })
			return out
		}
		var lazy, checked Parser
		// Teach the lazy parser key orders first (an API server's event, then the body itself), so that the read
		// compared below runs on predictions: what a parser has learnt must never change what it reads.
		for _, teach := range [][]byte{teachEvent, body} {
			if tv, err := lazy.Open(teach); err == nil {
				collect(tv)
				for _, tp := range teachPaths {
					tv.Each(tp, func([]byte) bool { return true })
				}
			}
		}
		v, err := lazy.Open(body)
		if err != nil {
			return
		}
		got := collect(v)
		if c, err := checked.Parse(body); err == nil {
			if v.Err() != nil {
				t.Fatalf("lazy read error %v on a body Parse accepts", v.Err())
			}
			if want := collect(c); !reflect.DeepEqual(got, want) {
				t.Fatalf("lazy %q, checked %q", got, want)
			}
			if err := v.Validate(); err != nil {
				t.Fatalf("Validate: %v on a body Parse accepts", err)
			}
		} else if v.Validate() == nil {
			t.Fatalf("Validate accepts a body Parse rejects (%v)", err)
		}
	})
}

var teachEvent = []byte(`{"kind":"Event","apiVersion":"audit.k8s.io/v1","level":"Request","verb":"get",` +
	`"user":{"username":"u","groups":["g"]},"objectRef":{"resource":"pods","name":"p"},` +
	`"responseStatus":{"code":200},"requestObject":{"a":1},"requestReceivedTimestamp":"t","stageTimestamp":"t",` +
	`"annotations":{"x.y":"z"}}`)
