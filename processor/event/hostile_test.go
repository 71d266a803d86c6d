package event

import (
	"reflect"
	"slices"
	"strconv"
	"strings"
	"testing"
)

// TestHostileBodies pins what the parser does with bodies an attacker shapes: the limits it keeps and how it reads
// duplicate keys.
func TestHostileBodies(t *testing.T) {
	for _, tc := range []struct {
		name, body, path string
		wantErr          bool
		want             []string
	}{
		// Below the top level (request and response bodies, whose content the requester writes) every occurrence
		// counts; the Event's own top-level fields are written once by the API server, so the first spelling decides
		// there, which lets the engine decide an event before reading its large objects.
		{name: "duplicate key yields every value in document order", body: `{"requestObject":{"verb":"get","verb":"create"}}`, path: "requestObject.verb", want: []string{"get", "create"}},
		{name: "duplicate nested key", body: `{"requestObject":{"spec":{"hostNetwork":false},"spec":{"hostNetwork":true}}}`, path: "requestObject.spec.hostNetwork", want: []string{"false", "true"}},
		{name: "duplicate dotted and nested spellings both count", body: `{"requestObject":{"a.b":1,"a":{"b":2},"a.b":3}}`, path: "requestObject.a.b", want: []string{"1", "2", "3"}},
		{name: "escaped duplicate key is the same key", body: `{"requestObject":{"verb":"get","v\u0065rb":"create"}}`, path: "requestObject.verb", want: []string{"get", "create"}},
		{name: "escaped duplicates in every spelling", body: `{"requestObject":{"\u0073\u0070\u0065\u0063":{"x":1},"spec":{"x":2},"sp\u0065c":{"\u0078":3},"\u0073pe":{"x":4}}}`, path: "requestObject.spec.x", want: []string{"1", "2", "3"}},
		{name: "escaped quote and backslash in keys", body: `{"requestObject":{"a\"b":1,"a\\b":2,"a\u0022b":3,"a\u005cb":4,"a\\\"b":5}}`, path: `requestObject.a"b`, want: []string{"1", "3"}},
		{name: "escaped backslash key", body: `{"requestObject":{"a\"b":1,"a\\b":2,"a\u005Cb":4,"a\\u0062":6}}`, path: `requestObject.a\b`, want: []string{"2", "4"}},
		{name: "escaped dot spells a dotted key", body: `{"requestObject":{"a\u002eb":1,"a":{"b":2}}}`, path: "requestObject.a.b", want: []string{"1", "2"}},
		{name: "escaped slash in an annotation key", body: `{"requestObject":{"k8s.io\/decision":"allow"}}`, path: "requestObject.k8s.io/decision", want: []string{"allow"}},
		{name: "surrogate pair key, lone surrogate kept as written", body: `{"requestObject":{"\ud83d\ude00":1,"\ud83d":2,"\ud83dx":3}}`, path: "requestObject.\U0001F600", want: []string{"1"}},
		{name: "lone surrogate key is kept as written", body: `{"requestObject":{"\ud83d\ude00":1,"\ud83d":2,"\\ud83d":3,"\ud83dx":4}}`, path: `requestObject.\ud83d`, want: []string{"2", "3"}},
		{name: "top-level duplicate: the first occurrence decides", body: `{"verb":"get","verb":"create"}`, path: "verb", want: []string{"get"}},
		{name: "top-level dotted key after the nested spelling is ignored", body: `{"a":{"b":2},"a.b":3}`, path: "a.b", want: []string{"2"}},
		{name: "top-level dotted key before the nested spelling decides", body: `{"a.b":1,"a":{"b":2}}`, path: "a.b", want: []string{"1"}},
		{name: "top-level escaped key is the same key", body: `{"v\u0065rb":"create","verb":"get"}`, path: "verb", want: []string{"create"}},
		{name: "nesting at the limit parses", body: strings.Repeat(`{"a":`, MaxDepth-1) + "1" + strings.Repeat("}", MaxDepth-1), path: strings.Repeat("a.", MaxDepth-2) + "a", want: []string{"1"}},
		{name: "nesting past the limit is an error", body: strings.Repeat(`{"a":`, MaxDepth) + "1" + strings.Repeat("}", MaxDepth), path: "a", wantErr: true},
		// A patch's requestObject is the client's raw patch, which the API server takes up to 10,000 levels deep: a
		// junk value nested past fastjson's 300 must not hide the rest of the event.
		{name: "a junk value deeper than 300 beside the fields read", body: `{"verb":"patch","requestObject":{"x":` + strings.Repeat("[", 5000) + strings.Repeat("]", 5000) + `,"spec":{"type":"NodePort"}}}`, path: "requestObject.spec.type", want: []string{"NodePort"}},
		{name: "10,000-deep nesting is an error", body: strings.Repeat(`{"a":`, 10000) + "1" + strings.Repeat("}", 10000), path: "a", wantErr: true},
		{name: "invalid UTF-8 is kept as bytes", body: "{\"u\":\"a\xffb\"}", path: "u", want: []string{"a\xffb"}},
		{name: "escaped control characters are unescaped", body: `{"u":"a\nb\u0000"}`, path: "u", want: []string{"a\nb\x00"}},
		{name: "number where a string is expected", body: `{"user":{"username":1e400}}`, path: "user.username", want: []string{"1e400"}},
		{name: "array where a scalar is expected is not read without {}", body: `{"verb":["create"]}`, path: "verb"},
		{name: "object leaf is not a value", body: `{"verb":{"x":"create"}}`, path: "verb"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var p Parser
			v, err := p.Parse([]byte(tc.body))
			if (err != nil) != tc.wantErr {
				t.Fatalf("err = %v, want error %v", err, tc.wantErr)
			}
			if err != nil {
				return
			}
			var got []string
			v.Each(CompilePath(tc.path, false), func(b []byte) bool { got = append(got, string(b)); return true })
			if !reflect.DeepEqual(got, tc.want) {
				t.Errorf("values = %q, want %q", got, tc.want)
			}
		})
	}
}

// TestDeepArraysStopTheWalk: an any-array path (Sigma, ECS) walks nested arrays level by level before the body is
// ever validated. Past MaxDepth the View stops with an error (a million levels used to take hours).
func TestDeepArraysStopTheWalk(t *testing.T) {
	for _, tc := range []struct {
		name    string
		depth   int
		wantErr bool
	}{
		{"at the limit", MaxDepth - 3, false},
		// The walk counts the arrays it is inside, a lower bound of the nesting: it stops past MaxDepth of them.
		{"past the limit", MaxDepth + 1, true},
		// Without the stop, 60,000 levels (120 KB) took seconds; a million, hours.
		{"60,000 levels", 60000, true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			body := `{"r":{"x":` + strings.Repeat("[", tc.depth) + "1" + strings.Repeat("]", tc.depth) + `}}`
			var p Parser
			v, err := p.Open([]byte(body))
			if err != nil {
				t.Fatal(err)
			}
			var got []string
			v.Each(CompilePath("r.x", true), func(b []byte) bool { got = append(got, string(b)); return true })
			if (v.Err() != nil) != tc.wantErr {
				t.Fatalf("Err() = %v, want an error: %v", v.Err(), tc.wantErr)
			}
			if !tc.wantErr && !reflect.DeepEqual(got, []string{"1"}) {
				t.Errorf("values = %q, want [1]", got)
			}
			if tc.wantErr && v.Validate() == nil {
				t.Errorf("Validate accepts what the walk refused")
			}
		})
	}
}

// TestDeepArraysCostTheirSize: within MaxDepth, walking nested arrays under an any-array path reads each byte a
// bounded number of times, whatever the nesting. Each level used to skip its element again after walking it: 290
// levels around a 1 MB object skipped 290 MB (about 2.3 s for 4 MB). The bytes skipValue skips are counted, not
// timed.
func TestDeepArraysCostTheirSize(t *testing.T) {
	payload := `{"a":"` + strings.Repeat("x", 1<<20) + `","b":[1,2,{"c":3}]}`
	for _, depth := range []int{1, 10, 290} {
		body := `{"r":{"x":` + strings.Repeat("[", depth) + payload + strings.Repeat("]", depth) + `}}`
		var p Parser
		v, err := p.Open([]byte(body))
		if err != nil {
			t.Fatal(err)
		}
		n := 0
		skipped = &n
		var got []string
		for _, path := range []string{"r.x.a", "r.x.b.c", "r.x.nothing"} {
			v.Each(CompilePath(path, true), func(b []byte) bool { got = append(got, string(b[:1])); return true })
		}
		skipped = nil
		if v.Err() != nil || !reflect.DeepEqual(got, []string{"x", "3"}) {
			t.Fatalf("depth %d: values %q, error %v", depth, got, v.Err())
		}
		if n > 2*len(body) {
			t.Errorf("depth %d: skipped %d bytes of a %d-byte body", depth, n, len(body))
		}
	}
}

// In an event whose head the API server wrote (its eight required fields first, in its order), a head field whose
// place has passed is absent: the rest is not read. Any other order is read in full, as before.
func TestHeadFieldPlaceDecidesAbsence(t *testing.T) {
	const head = `"kind":"Event","apiVersion":"audit.k8s.io/v1","level":"Request","auditID":"a","stage":"ResponseComplete",` +
		`"requestURI":"/api/v1/pods","verb":"create","user":{"username":"alice"},"sourceIPs":["10.0.0.1"],` +
		`"objectRef":{"resource":"pods"},"responseStatus":{"code":201}`
	broken := `"requestObject":{"x":tru}` // read, it would stop the View with a syntax error
	tests := []struct {
		name, body, path string
		want             []string
		wantErr          bool
	}{
		{"absent in an API-server event: decided at its place", `{` + head + `,` + broken + `}`,
			"impersonatedUser.username", nil, false},
		{"present at its place", `{` + strings.Replace(head, `,"sourceIPs"`, `,"impersonatedUser":{"username":"admin"},"sourceIPs"`, 1) + `,` + broken + `}`,
			"impersonatedUser.username", []string{"admin"}, false},
		{"objectRef absent (a non-resource request)", `{` + strings.Replace(head, `"objectRef":{"resource":"pods"},`, ``, 1) + `,` + broken + `}`,
			"objectRef.resource", nil, false},
		{"webhook events start at level", `{` + strings.Replace(head, `"kind":"Event","apiVersion":"audit.k8s.io/v1",`, ``, 1) + `,` + broken + `}`,
			"impersonatedUser.username", nil, false},
		{"requestObject passes every head field left", `{` + strings.Replace(head, `,"responseStatus":{"code":201}`, ``, 1) + `,"requestObject":{},"x":{"y":tru}}`,
			"responseStatus.code", nil, false},
		// Another order is read in full: the field is found wherever it is, and the broken object is met.
		{"another order: read in full", `{"verb":"create","user":{"username":"alice"},` + broken + `,"impersonatedUser":{"username":"admin"}}`,
			"impersonatedUser.username", nil, true},
		{"another order: found late", `{"verb":"create","user":{"username":"alice"},"requestObject":{},"impersonatedUser":{"username":"admin"}}`,
			"impersonatedUser.username", []string{"admin"}, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var p Parser
			v, err := p.Open([]byte(tt.body))
			if err != nil {
				t.Fatal(err)
			}
			var got []string
			v.Each(CompilePath(tt.path, false), func(b []byte) bool { got = append(got, string(b)); return true })
			if !slices.Equal(got, tt.want) || (v.Err() != nil) != tt.wantErr {
				t.Errorf("values %q, error %v; want %q, error %v", got, v.Err(), tt.want, tt.wantErr)
			}
		})
	}
}

// Whether a head field counts depends on where it is, not on which fields were read before it: a member after the
// place its field passed is ignored however the View came to read it.
func TestHeadFieldPlaceIsPositional(t *testing.T) {
	body := []byte(`{"kind":"Event","apiVersion":"audit.k8s.io/v1","level":"Request","auditID":"a","stage":"ResponseComplete",` +
		`"requestURI":"/api/v1/pods","verb":"create","user":{"username":"alice"},"sourceIPs":["1"],` +
		`"impersonatedUser":{"username":"system:admin"},"objectRef":{"resource":"pods"}}`)
	imp, ref := CompilePath("impersonatedUser.username", false), CompilePath("objectRef.resource", false)
	read := func(first ...*Path) []string {
		var p Parser
		v, err := p.Open(body)
		if err != nil {
			t.Fatal(err)
		}
		for _, f := range first {
			v.Each(f, func([]byte) bool { return true })
		}
		var got []string
		v.Each(imp, func(b []byte) bool { got = append(got, string(b)); return true })
		return got
	}
	if a, b := read(), read(ref); !slices.Equal(a, b) || a != nil {
		t.Errorf("impersonatedUser read first: %q; after objectRef: %q; want nothing both times (its place passed at sourceIPs)", a, b)
	}
}

// The same when the late member is reached from the end (a tail field read first): the two ends met, and the members
// read from the end are put through the same order check.
func TestHeadFieldPlaceFromTheEnd(t *testing.T) {
	const h = `{"kind":"Event","apiVersion":"audit.k8s.io/v1","level":"Request","auditID":"a","stage":"ResponseComplete",` +
		`"requestURI":"/api/v1/pods","verb":"create","user":{"username":"alice"},`
	imp := CompilePath("impersonatedUser.username", false)
	for _, body := range []string{
		h + `"sourceIPs":["10.0.0.1"],"impersonatedUser":{"username":"admin"}}`,
		h + `"annotations":{"a.b":"c"},"impersonatedUser":{"username":"admin"}}`,
	} {
		for _, first := range []string{"", "annotations.a.b", "stageTimestamp"} {
			var p Parser
			v, err := p.Open([]byte(body))
			if err != nil {
				t.Fatal(err)
			}
			if first != "" {
				v.Each(CompilePath(first, false), func([]byte) bool { return true })
			}
			var got []string
			v.Each(imp, func(b []byte) bool { got = append(got, string(b)); return true })
			if got != nil || v.Present(imp) {
				t.Errorf("%s, %q read first: impersonatedUser %q (present %v), want absent", body[len(h):], first, got, v.Present(imp))
			}
		}
	}
}

// TestManyTopMembersAndObjects: every object a path walks into asks whether it is the value of a top-level member
// (whose key order it would use). That was a scan of the members read: 50,000 top-level members before a
// requestObject of 50,000 small objects cost 2.5e9 comparisons (2.4 s for 690 KB). The members compared are counted,
// not timed.
func TestManyTopMembersAndObjects(t *testing.T) {
	const n = 20000
	var b strings.Builder
	b.WriteString(`{"kind":"Event","verb":"create",`)
	for i := range n {
		b.WriteString(`"j` + strconv.Itoa(i) + `":0,`)
	}
	b.WriteString(`"requestObject":{"spec":{"containers":[` + strings.Repeat(`{"image":"x"},`, n) + `{"image":"last"}]}}}`)
	var p Parser
	v, err := p.Open([]byte(b.String()))
	if err != nil {
		t.Fatal(err)
	}
	looks := 0
	orderLooks = &looks
	defer func() { orderLooks = nil }()
	got := 0
	v.Each(CompilePath("requestObject.spec.containers{}.image", false), func([]byte) bool { got++; return true })
	if v.Err() != nil || got != n+1 {
		t.Fatalf("%d values, error %v; want %d", got, v.Err(), n+1)
	}
	if looks > 64*(n+3) {
		t.Errorf("%d members compared for %d objects: more than a search by halves makes", looks, n+3)
	}
}

// TestObjectsPlacedToCollide: the objects a path walks into are found by their offsets in a hash table, and a sender
// places them where it likes (whitespace moves them). Placed where the fixed hash used before put them into one
// quarter of the table, 100,000 empty objects made one cluster probed by every insertion (15.7 s for 923 KB); the
// hash is keyed at start-up now, so no placement made without the key collides more than chance. The slots looked at
// are counted, not timed.
func TestObjectsPlacedToCollide(t *testing.T) {
	const n = 20000
	size := 16
	for size < 2*(n+4) {
		size *= 2
	}
	fixed := func(at int) uint32 { return uint32(at) * 0x9E3779B1 >> 7 }
	b := []byte(`{"kind":"Event","verb":"create","requestObject":{"spec":{"containers":[`)
	for i := range n {
		if i > 0 {
			b = append(b, ',')
		}
		for fixed(len(b))&uint32(size-1) >= uint32(size/4) {
			b = append(b, ' ')
		}
		b = append(b, `{}`...)
	}
	b = append(b, `]}}}`...)
	var p Parser
	v, err := p.Open(b)
	if err != nil {
		t.Fatal(err)
	}
	probes := 0
	tableProbes = &probes
	defer func() { tableProbes = nil }()
	v.Each(CompilePath("requestObject.spec.containers{}.image", false), func([]byte) bool { return true })
	if v.Err() != nil {
		t.Fatal(v.Err())
	}
	if probes > 20*n {
		t.Errorf("%d slots looked at for %d objects", probes, n)
	}
}

// TestEscapedKeysUnescapedOnce: every path that walks an object compares its segments to each of the object's keys.
// An escaped key was unescaped again for each comparison, so 100,000 keys written with escapes cost their size once
// per path the rules read through the object (0.5 s for 3.4 MB with the built-in pack). Each is unescaped once now,
// when its object is read, however many paths compare it. The keys unescaped are counted, not timed.
func TestEscapedKeysUnescapedOnce(t *testing.T) {
	const n = 3000
	paths := []string{"requestObject.kind", "requestObject.spec.hostNetwork", "requestObject.spec.hostPID",
		"requestObject.spec.containers{}.image", "requestObject.metadata.name", "requestObject.metadata.namespace",
		"requestObject.status.phase", "requestObject.rules{}.verbs{}", "requestObject.roleRef.name",
		"requestObject.spec.template.spec.containers{}.securityContext.privileged", "requestObject.subjects{}.name"}
	// Keys that are "spec" (with an escaped key inside), keys longer than any segment once unescaped, and keys of a
	// segment's length.
	var members []string
	escaped := 0
	for i := range n {
		switch i % 3 {
		case 0:
			members = append(members, `"\u0073pec":{"h\u006fstNetwork":true}`)
			escaped += 2
		case 1:
			members = append(members, `"\u0073\u0070\u0065\u0063`+strings.Repeat(`\u0061`, 60)+`":1`)
			escaped++
		default:
			members = append(members, `"\u007e`+strings.Repeat(`y\u0079`, 3)+`":1`)
			escaped++
		}
	}
	body := `{"kind":"Event","verb":"create","requestObject":{` + strings.Join(members, ",") + `}}`
	var p Parser
	v, err := p.Open([]byte(body))
	if err != nil {
		t.Fatal(err)
	}
	decodes := 0
	keyDecodes = &decodes
	defer func() { keyDecodes = nil }()
	for round := range 2 {
		hostNetwork := 0
		for _, name := range paths {
			v.Each(CompilePath(name, false), func(b []byte) bool {
				if name == "requestObject.spec.hostNetwork" && string(b) == "true" {
					hostNetwork++
				}
				return true
			})
		}
		if v.Err() != nil {
			t.Fatal(v.Err())
		}
		if hostNetwork != n/3 {
			t.Fatalf("round %d: %d hostNetwork values, want %d", round, hostNetwork, n/3)
		}
	}
	if decodes == 0 || decodes > escaped {
		t.Errorf("%d keys unescaped for %d escaped keys and %d paths read twice", decodes, escaped, len(paths))
	}
}
