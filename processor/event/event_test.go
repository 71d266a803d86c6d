package event

import (
	"strings"
	"testing"
)

func values(t *testing.T, body, path string, anyArray bool) []string {
	t.Helper()
	var p Parser
	v, err := p.Parse([]byte(body))
	if err != nil {
		t.Fatalf("parse: %v", err)
	}
	var out []string
	v.Each(CompilePath(path, anyArray), func(b []byte) bool {
		out = append(out, string(b))
		return true
	})
	return out
}

func TestEach(t *testing.T) {
	const ev = `{"verb":"create","objectRef":{"resource":"pods","namespace":"default"},
		"sourceIPs":["10.0.0.1","10.0.0.2"],"responseStatus":{"code":403},"ok":true,"gone":null,
		"user":{"username":"bob","groups":["dev","system:authenticated"]},
		"requestObject":{"metadata":{"annotations":{"kubectl.kubernetes.io/last-applied-configuration":"{\"x\":1}"}},
		  "spec":{"containers":[{"image":"nginx","ports":[{"containerPort":80}]},{"image":"redis"}]}},
		"a":{"b.c":{"d":"dotted-then-nested"}},"a.b":{"c":{"d":"nested-after-dotted"}},
		"x":{"a":{"b.c":{"d":"dotted-then-nested"}},"a.b":{"c":{"d":"nested-after-dotted"}}}}`
	tests := []struct {
		name     string
		path     string
		anyArray bool
		want     []string
	}{
		{"plain", "verb", false, []string{"create"}},
		{"nested", "objectRef.resource", false, []string{"pods"}},
		{"number as written", "responseStatus.code", false, []string{"403"}},
		{"boolean", "ok", false, []string{"true"}},
		{"null is no value", "gone", false, nil},
		{"object is no value", "objectRef", false, nil},
		{"missing", "objectRef.name", false, nil},
		{"array with {}", "sourceIPs{}", false, []string{"10.0.0.1", "10.0.0.2"}},
		{"array without {} is no field in Splunk", "sourceIPs", false, nil},
		{"array without {} in anyArray mode", "sourceIPs", true, []string{"10.0.0.1", "10.0.0.2"}},
		{"{} on a scalar", "verb{}", false, nil},
		{"array of objects", "requestObject.spec.containers{}.image", false, []string{"nginx", "redis"}},
		{"array of objects, Splunk needs {}", "requestObject.spec.containers.image", false, nil},
		{"array of objects, anyArray", "requestObject.spec.containers.image", true, []string{"nginx", "redis"}},
		{"nested arrays", "requestObject.spec.containers{}.ports{}.containerPort", false, []string{"80"}},
		{"key with dots and slash", "requestObject.metadata.annotations.kubectl.kubernetes.io/last-applied-configuration", false, []string{`{"x":1}`}},
		{"every grouping of ambiguous keys", "x.a.b.c.d", false, []string{"dotted-then-nested", "nested-after-dotted"}},
		{"at the top level the first spelling decides", "a.b.c.d", false, []string{"dotted-then-nested"}},
		{"groups", "user.groups{}", false, []string{"dev", "system:authenticated"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := values(t, ev, tt.path, tt.anyArray)
			if strings.Join(got, "|") != strings.Join(tt.want, "|") || len(got) != len(tt.want) {
				t.Errorf("Each(%q) = %q, want %q", tt.path, got, tt.want)
			}
		})
	}
}

func TestEachStops(t *testing.T) {
	var p Parser
	v, _ := p.Parse([]byte(`{"ips":["a","b","c"]}`))
	n := 0
	ran := v.Each(CompilePath("ips{}", false), func([]byte) bool { n++; return n < 2 })
	if ran || n != 2 {
		t.Fatalf("Each ran to end=%v after %d values, want stopped after 2", ran, n)
	}
	if got, ok := v.First(CompilePath("ips{}", false)); !ok || string(got) != "a" {
		t.Fatalf("First = %q, %v", got, ok)
	}
}

// TestFirstFindsEachKindOfValue: First reads the value emit noted (in the body, or unescaped into the View's buffer)
// rather than one its callback kept, so each place a value can come from is checked, and that a path reaching no
// value reports none even after other paths reached values.
func TestFirstFindsEachKindOfValue(t *testing.T) {
	body := []byte(`{"plain":"a","esc":"x\u0041\"y","num":-1.5e3,"yes":true,"nil":null,"list":[null,"\/b","c"],` +
		`"obj":{"k":"v"},"empty":[]}`)
	for _, open := range []bool{false, true} {
		var p Parser
		var v *View
		var err error
		if open {
			v, err = p.Open(body)
		} else {
			v, err = p.Parse(body)
		}
		if err != nil {
			t.Fatal(err)
		}
		for _, tt := range []struct {
			path string
			want string
			ok   bool
		}{
			{"esc", `xA"y`, true},
			{"plain", "a", true},
			{"num", "-1.5e3", true},
			{"nil", "", false},
			{"yes", "true", true},
			{"list{}", "/b", true},
			{"obj", "", false},
			{"obj.k", "v", true},
			{"empty{}", "", false},
			{"missing", "", false},
		} {
			got, ok := v.First(CompilePath(tt.path, false))
			if ok != tt.ok || string(got) != tt.want {
				t.Errorf("open=%v First(%q) = %q, %v; want %q, %v", open, tt.path, got, ok, tt.want, tt.ok)
			}
		}
	}
}

func TestParseErrors(t *testing.T) {
	var p Parser
	for _, body := range []string{``, `{`, `[1,2]`, `"str"`, `42`, `null`, `{"a":}`, strings.Repeat("[", 10000)} {
		if _, err := p.Parse([]byte(body)); err == nil {
			t.Errorf("Parse(%.20q) succeeded, want an error", body)
		}
	}
	if _, err := p.Parse([]byte(`[1]`)); err != ErrNotObject {
		t.Errorf("array body: err = %v, want ErrNotObject", err)
	}
}

func TestNumbersDoNotAllocate(t *testing.T) {
	var p Parser
	v, _ := p.Parse([]byte(`{"code":[403,404,500]}`))
	path := CompilePath("code{}", false)
	allocs := testing.AllocsPerRun(100, func() {
		v.Each(path, func([]byte) bool { return true })
	})
	if allocs != 0 {
		t.Fatalf("Each over numbers allocated %v times per run", allocs)
	}
}

// TestLongPathsCompileInBoundedKeys: a key may spell up to maxKeySegments segments of a path, so a long field name
// (a hostile or broken rule file) compiles to a number of keys linear in its length, not quadratic, and a key of that
// many segments still resolves.
func TestLongPathsCompileInBoundedKeys(t *testing.T) {
	name := strings.Repeat("a.", 300) + "b"
	p := CompilePath(name, false)
	keys := 0
	for _, ks := range p.keys {
		keys += len(ks)
	}
	if keys > maxKeySegments*len(p.segs) {
		t.Errorf("%d keys for %d segments", keys, len(p.segs))
	}
	spelled := strings.Repeat("x.", maxKeySegments-1) + "y" // one key of maxKeySegments segments
	var pr Parser
	v, err := pr.Parse([]byte(`{"o":{"` + spelled + `":"found"}}`))
	if err != nil {
		t.Fatal(err)
	}
	if got, ok := v.First(CompilePath("o."+spelled, false)); !ok || string(got) != "found" {
		t.Errorf("a key of %d segments: %q, %v", maxKeySegments, got, ok)
	}
}

// TestCost: what reading a top-level field costs follows where the API server writes it, head fields from the start
// and the fields after the large objects from the end, and knows no field the Event does not have.
func TestCost(t *testing.T) {
	order := []string{"kind", "apiVersion", "level", "auditID", "stage", "requestURI", "verb", "user",
		"impersonatedUser", "sourceIPs", "userAgent", "objectRef", "responseStatus",
		"annotations", "stageTimestamp", "requestReceivedTimestamp", "requestObject", "responseObject"}
	last := 0
	for _, name := range order {
		c, ok := Cost(name)
		if !ok || c <= last {
			t.Errorf("Cost(%q) = %d, %v: want more than %d (the field before it)", name, c, ok, last)
		}
		last = c
	}
	for _, name := range []string{"spec", "verb.x", "", "Verb"} {
		if c, ok := Cost(name); ok {
			t.Errorf("Cost(%q) = %d for a field the Event does not have", name, c)
		}
	}
}
