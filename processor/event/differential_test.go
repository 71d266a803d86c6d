package event

import (
	"bytes"
	"fmt"
	"os"
	"path/filepath"
	"reflect"
	"testing"

	"github.com/valyala/fastjson"

	"github.com/auditdetect/auditdetect/processor/auditgen"
	"github.com/auditdetect/auditdetect/processor/event/eventtest"
	"github.com/auditdetect/auditdetect/processor/internal/corpus"
)

// The differential tests compare the lazy reader with a straightforward one (package eventtest: encoding/json and a
// plain recursive resolver). Both must give the same values for every path, on the generated mix, on the corpus
// events, and on variants of them that reorder keys, add whitespace, escape characters, repeat keys and spell nested
// keys with dots.

func mustDecode(t testing.TB, body []byte) *eventtest.Value {
	t.Helper()
	v, err := eventtest.Decode(body)
	if err != nil {
		t.Fatalf("reference decoder: %v\n%.300s", err, body)
	}
	return v
}

func corpusEvents(t testing.TB) [][]byte {
	dir := corpus.Optional(t)
	if dir == "" {
		return nil
	}
	var out [][]byte
	files, _ := filepath.Glob(filepath.Join(dir, "events", "*", "*"))
	for _, f := range files {
		data, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		for _, line := range bytes.Split(data, []byte("\n")) {
			if line = bytes.TrimSpace(line); len(line) > 0 && line[0] == '{' {
				out = append(out, line)
			}
		}
	}
	return out
}

func differentialBodies(t testing.TB) map[string][]byte {
	bodies := map[string][]byte{}
	for i, ev := range auditgen.Generate(7, 40) {
		bodies[fmt.Sprintf("mix %d (%s)", i, ev.Scenario)] = ev.Body
	}
	for i, b := range corpusEvents(t) {
		bodies[fmt.Sprintf("corpus %d", i)] = b
	}
	return bodies
}

func TestDifferential(t *testing.T) {
	bodies := differentialBodies(t)
	if len(bodies) < 40 {
		t.Fatalf("only %d bodies", len(bodies))
	}
	var p Parser
	checked := 0
	for name, body := range bodies {
		tree := mustDecode(t, body)
		variants := map[string][]byte{
			"as written": body,
			"reordered":  eventtest.Encode(tree, eventtest.Encoder{Reverse: true}),
			"indented":   eventtest.Encode(tree, eventtest.Encoder{Indent: true}),
			"escaped":    eventtest.Encode(tree, eventtest.Encoder{Escape: func(i int) bool { return i%3 == 0 }}),
			"duplicates": eventtest.Encode(eventtest.WithDuplicates(tree), eventtest.Encoder{}),
			"dotted":     eventtest.Encode(eventtest.WithDottedKeys(tree), eventtest.Encoder{}),
		}
		paths := append(eventtest.LeafPaths(tree), eventtest.ExtraPaths...)
		for vname, vb := range variants {
			vt := mustDecode(t, vb)
			vpaths := append(eventtest.LeafPaths(vt), paths...)
			for _, open := range []string{"Open", "Parse"} {
				var v *View
				var err error
				if open == "Open" {
					v, err = p.Open(vb)
				} else {
					v, err = p.Parse(vb)
				}
				if err != nil {
					t.Fatalf("%s, %s: %s: %v", name, vname, open, err)
				}
				for _, path := range vpaths {
					for _, anyArray := range []bool{false, true} {
						want := eventtest.Resolve(vt, path, anyArray)
						var got []string
						v.Each(CompilePath(path, anyArray), func(b []byte) bool {
							got = append(got, string(b))
							return true
						})
						if !reflect.DeepEqual(got, want) {
							t.Fatalf("%s, %s, %s: %q (anyArray %v) = %q, reference %q\n%.600s", name, vname, open, path, anyArray, got, want, vb)
						}
						checked++
					}
				}
				if err := v.Err(); err != nil {
					t.Fatalf("%s, %s: read error %v", name, vname, err)
				}
			}
		}
	}
	t.Logf("%d bodies, %d path resolutions agree", len(bodies), checked)
}

// TestValidityAgreesWithFastjson: Parse accepts exactly what fastjson accepts, and a View opened lazily reports
// the same through Validate. Bodies are the mix and corpus events, cut and damaged, all shallower than fastjson's
// depth limit of 300 (MaxDepth is the API server's 10,000: hostile_test.go covers the nesting in between).
func TestValidityAgreesWithFastjson(t *testing.T) {
	var p Parser
	var fp fastjson.Parser
	n := 0
	for name, body := range differentialBodies(t) {
		for k := 0; k < 12; k++ {
			cut := len(body) * k / 11
			damaged := map[string][]byte{
				"cut":          body[:cut],
				"byte dropped": append(bytes.Clone(body[:cut]), body[min(cut+1, len(body)):]...),
				"garbage":      append(append(bytes.Clone(body[:cut]), `x"]}`...), body[cut:]...),
				"nan":          append(append(bytes.Clone(body[:cut]), `NaN`...), body[cut:]...),
			}
			for what, b := range damaged {
				_, ferr := fp.ParseBytes(b)
				v, err := p.Parse(b)
				wantObject := ferr == nil && bytes.HasPrefix(bytes.TrimSpace(b), []byte("{"))
				if (err == nil) != wantObject {
					t.Fatalf("%s, %s at %d: Parse err %v, fastjson err %v", name, what, cut, err, ferr)
				}
				if v, err = p.Open(b); err == nil {
					err = v.Validate()
				}
				if (err == nil) != wantObject {
					t.Fatalf("%s, %s at %d: Open+Validate err %v, fastjson err %v", name, what, cut, err, ferr)
				}
				n++
			}
		}
	}
	t.Logf("%d bodies agree", n)
}

func TestNumbersAsWritten(t *testing.T) {
	for _, num := range []string{"0", "-1", "1.5e3", "1E-7", "NaN", "-Inf", "12345678901234567890"} {
		var p Parser
		v, err := p.Parse([]byte(`{"requestObject":{"n":` + num + `},"n":` + num + `}`))
		if err != nil {
			t.Fatalf("%s: %v", num, err)
		}
		for _, path := range []string{"n", "requestObject.n"} {
			if got, _ := v.First(CompilePath(path, false)); string(got) != num {
				t.Errorf("%s = %q, want %q", path, got, num)
			}
		}
	}
}
