package event

import (
	"strings"
	"testing"

	"github.com/auditdetect/auditdetect/processor/event/eventtest"
)

func TestPresent(t *testing.T) {
	const ev = `{"verb":"create","gone":null,"empty":"","objectRef":{"resource":"pods"},
		"requestObject":{"spec":{"volumes":[{"name":"root","hostPath":{"path":"/"}},{"name":"tmp","emptyDir":{}}],
		  "containers":[{"image":"nginx","securityContext":null},{"image":"redis","args":[]}],
		  "nodeSelector":{},"tolerations":[],"nulls":[null,null],"deep":[[{"k":{}}]]}},
		"a":{"b.c":null}}`
	tests := []struct {
		name      string
		path      string
		anyArray  bool
		present   bool
		nonNull   bool
		hasValues bool // Each yields a value (Has): the old meaning of exists
	}{
		{"string", "verb", true, true, true, true},
		{"empty string", "empty", true, true, true, true},
		{"null", "gone", true, true, false, false},
		{"object", "objectRef", true, true, true, false},
		{"missing", "objectRef.name", true, false, false, false},
		{"missing top-level", "nosuch", true, false, false, false},
		{"object in an array of objects", "requestObject.spec.volumes.hostPath", true, true, true, false},
		{"empty object in an array of objects", "requestObject.spec.volumes.emptyDir", true, true, true, false},
		{"below a member", "requestObject.spec.volumes.hostPath.path", true, true, true, true},
		{"null in one element, nothing in the other", "requestObject.spec.containers.securityContext", true, true, false, false},
		{"empty array in one element", "requestObject.spec.containers.args", true, true, true, false},
		{"empty object", "requestObject.spec.nodeSelector", true, true, true, false},
		{"empty array", "requestObject.spec.tolerations", true, true, true, false},
		{"array of nulls", "requestObject.spec.nulls", true, true, true, false},
		{"through nested arrays", "requestObject.spec.deep.k", true, true, true, false},
		{"below a scalar", "verb.x", true, false, false, false},
		{"below null", "gone.x", true, false, false, false},
		{"dotted key holding null", "a.b.c", true, true, false, false},
		// Splunk spelling: arrays only through {}, and `x{}` names the elements.
		{"Splunk: array without {}", "requestObject.spec.volumes.hostPath", false, false, false, false},
		{"Splunk: array with {}", "requestObject.spec.volumes{}.hostPath", false, true, true, false},
		{"Splunk: x{} of an empty array", "requestObject.spec.tolerations{}", false, false, false, false},
		{"Splunk: x{} of nulls", "requestObject.spec.nulls{}", false, true, false, false},
		{"Splunk: x{} of a scalar", "verb{}", false, false, false, false},
		{"Splunk: x{} of an object", "objectRef{}", false, false, false, false},
		{"Splunk: the array itself", "requestObject.spec.tolerations", false, true, true, false},
	}
	// PresentUnder: a value at the path or at any depth under it (null, {} and [] are none).
	under := map[string]bool{"string": true, "empty string": true, "object": true, "object in an array of objects": true,
		"below a member": true, "Splunk: array with {}": true}
	var p Parser
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			path := CompilePath(tt.path, tt.anyArray)
			for _, open := range []bool{false, true} {
				var v *View
				var err error
				if open {
					v, err = p.Open([]byte(ev))
				} else {
					v, err = p.Parse([]byte(ev))
				}
				if err != nil {
					t.Fatal(err)
				}
				if got := v.Present(path); got != tt.present {
					t.Errorf("open %v: Present = %v, want %v", open, got, tt.present)
				}
				if got := v.PresentNonNull(path); got != tt.nonNull {
					t.Errorf("open %v: PresentNonNull = %v, want %v", open, got, tt.nonNull)
				}
				if got := v.PresentUnder(path); got != under[tt.name] {
					t.Errorf("open %v: PresentUnder = %v, want %v", open, got, under[tt.name])
				}
				if got := v.Has(path); got != tt.hasValues {
					t.Errorf("open %v: Has = %v, want %v", open, got, tt.hasValues)
				}
				if v.Err() != nil {
					t.Errorf("open %v: %v", open, v.Err())
				}
			}
		})
	}
}

// TestPresentAgreesWithEach: on the differential bodies and their variants, every path (and every prefix of one) that
// reaches a value is present, and not only as null; a path no event has is not present.
func TestPresentAgreesWithEach(t *testing.T) {
	var p Parser
	checked := 0
	for bodyName, body := range differentialBodies(t) {
		tree := mustDecode(t, body)
		variants := map[string][]byte{
			"as written": body,
			"reordered":  eventtest.Encode(tree, eventtest.Encoder{Reverse: true, Indent: true}),
			"escaped":    eventtest.Encode(tree, eventtest.Encoder{Escape: func(i int) bool { return i%3 == 0 }}),
			"dotted":     eventtest.Encode(eventtest.WithDottedKeys(tree), eventtest.Encoder{}),
		}
		for _, leaf := range eventtest.LeafPaths(tree) {
			var paths []string
			for parts := strings.Split(leaf, "."); len(parts) > 0; parts = parts[:len(parts)-1] {
				paths = append(paths, strings.Join(parts, "."))
			}
			for vname, vb := range variants {
				for _, name := range paths {
					for _, anyArray := range []bool{false, true} {
						path := CompilePath(name, anyArray)
						v, err := p.Open(vb)
						if err != nil {
							t.Fatal(err)
						}
						has := v.Has(path)
						present, nonNull, under := v.Present(path), v.PresentNonNull(path), v.PresentUnder(path)
						if has && (!present || !nonNull || !under) || nonNull && !present || under && !nonNull {
							t.Fatalf("%s, %s, %s (anyArray %v): Has %v, Present %v, PresentNonNull %v, PresentUnder %v",
								bodyName, vname, name, anyArray, has, present, nonNull, under)
						}
						if v.Err() != nil {
							t.Fatalf("%s, %s: %v", bodyName, vname, v.Err())
						}
						checked++
					}
				}
			}
		}
		v, _ := p.Open(body)
		if v.Present(CompilePath("requestObject.no.such.path", true)) || v.Present(CompilePath("nosuchfield", true)) ||
			v.PresentUnder(CompilePath("nosuchfield", true)) {
			t.Errorf("%s: a path the event lacks is present", bodyName)
		}
	}
	if checked == 0 {
		t.Fatal("nothing checked")
	}
}

// TestPresentUnderDepth: a value deep under an object is found, nested empty arrays hold none, and nesting as deep
// as the reader allows costs one pass over the bytes (with member tables, each level would skip the levels under it).
func TestPresentUnderDepth(t *testing.T) {
	var p Parser
	path := CompilePath("requestObject", true)
	for _, tt := range []struct {
		name   string
		object string
		want   bool
	}{
		{"value 250 objects deep", strings.Repeat(`{"a":`, 250) + `1` + strings.Repeat(`}`, 250), true},
		{"null 250 objects deep", strings.Repeat(`{"a":`, 250) + `null` + strings.Repeat(`}`, 250), false},
		{"250 nested empty arrays", strings.Repeat(`[`, 250) + strings.Repeat(`]`, 250), false},
		{"arrays of arrays beside a value", `[[[],[[]]],[[[]]],["x"]]`, true},
		{"keys only, MaxDepth deep", strings.Repeat(`{"a":`, MaxDepth-2) + `{}` + strings.Repeat(`}`, MaxDepth-2), false},
		{"escaped quotes in keys", `{"a\":\"":{"b\"":null}}`, false},
		{"escaped quote in a value", `{"a":"x\":"}`, true},
	} {
		t.Run(tt.name, func(t *testing.T) {
			v, err := p.Open([]byte(`{"kind":"Event","requestObject":` + tt.object + `}`))
			if err != nil {
				t.Fatal(err)
			}
			if got := v.PresentUnder(path); got != tt.want {
				t.Errorf("PresentUnder = %v, want %v", got, tt.want)
			}
			if v.Err() != nil {
				t.Errorf("Err = %v", v.Err())
			}
		})
	}
}
