package event

import (
	"fmt"
	"math/rand/v2"
	"reflect"
	"strings"
	"testing"

	"github.com/auditdetect/auditdetect/processor/auditgen"
)

// keyPaths are the paths the key-order tests resolve: the head fields, objectRef and user inside, and tail fields.
var keyPaths = []string{"kind", "verb", "objectRef.resource", "objectRef.subresource", "objectRef.name",
	"user.username", "user.groups{}", "responseStatus.code", "stageTimestamp", "annotations.a", "x.y", "k3"}

func resolveAll(v *View) [][]string {
	var out [][]string
	for _, name := range keyPaths {
		var vals []string
		v.Each(CompilePath(name, false), func(b []byte) bool {
			vals = append(vals, string(b))
			return true
		})
		out = append(out, vals)
	}
	return out
}

// TestKeyOrderPredictsTheMix: once a Parser has read some of the generated log, it expects every key of every
// top-level member and of objectRef and user, although events leave out different optional fields.
func TestKeyOrderPredictsTheMix(t *testing.T) {
	var p Parser
	misses, keys := 0, 0
	for i, ev := range auditgen.Generate(3, 1200) {
		v, err := p.Open(ev.Body)
		if err != nil {
			t.Fatal(err)
		}
		resolveAll(v)
		if i < 200 {
			continue // learning
		}
		prev := -1
		for _, m := range v.top {
			keys++
			t := v.order.predict(v.body, int(m.key)-1, prev)
			if t < 0 {
				misses++
				break
			}
			prev = t
		}
		for _, name := range []string{"objectRef", "user"} {
			at := -1
			for _, m := range v.top {
				if string(v.body[m.key:m.keyEnd]) == name {
					at = int(m.val)
				}
			}
			ord, tbl := v.orderFor(at), v.tables.get(at)
			if at < 0 || tbl == nil {
				continue
			}
			prev := -1
			for _, m := range v.members[tbl.lo:tbl.hi] {
				keys++
				t := ord.predict(v.body, int(m.key)-1, prev)
				if t < 0 {
					misses++
					break
				}
				prev = t
			}
		}
	}
	if misses > 0 || keys < 10000 {
		t.Fatalf("%d of %d keys not predicted", misses, keys)
	}
}

// TestKeyOrderDoesNotChangeAnswers: what a Parser has learnt from earlier events changes how fast it reads, never
// what it reads. Events with shuffled keys, keys spelled with escapes, whitespace, duplicate and unknown keys are
// read by one Parser in turn and each by a fresh one; the answers agree. The orders stay within their bounds, and
// once warm a Parser reads such events without allocating.
func TestKeyOrderDoesNotChangeAnswers(t *testing.T) {
	rnd := rand.New(rand.NewPCG(1, 2))
	top := []string{`"kind":"Event"`, `"verb":"get"`, `"user":{"username":"u","groups":["a","b"]}`,
		`"objectRef":{"resource":"pods","name":"p","subresource":"exec"}`, `"responseStatus":{"code":403}`,
		`"stageTimestamp":"2026-01-01T00:00:00Z"`, `"annotations":{"a":"1"}`, `"x":{"y":2}`, `"verb":"list"`,
		`"ver\u0062":"delete"`, `"objectRef" : {"resource":"secrets"}`, `"user":{"username":"v","username":"w"}`}
	var bodies [][]byte
	for i := 0; i < 3000; i++ {
		perm := rnd.Perm(len(top))[:1+rnd.IntN(len(top))]
		b := []byte("{")
		for j, k := range perm {
			if j > 0 {
				b = append(b, ',')
			}
			b = append(b, top[k]...)
		}
		// Unknown keys, so that the orders fill up.
		for j := 0; j < rnd.IntN(3); j++ {
			b = fmt.Appendf(b, `,"k%d":%d`, rnd.IntN(200), j)
		}
		bodies = append(bodies, append(b, '}'))
	}
	var shared Parser
	for _, body := range bodies {
		v, err := shared.Open(body)
		if err != nil {
			t.Fatalf("%s: %v", body, err)
		}
		got := resolveAll(v)
		var fresh Parser
		fv, _ := fresh.Open(body)
		if want := resolveAll(fv); !reflect.DeepEqual(got, want) {
			t.Fatalf("%s: a Parser with history read %q, a fresh one %q", body, got, want)
		}
	}
	orders := []*keyOrder{&shared.view.order}
	for _, s := range shared.view.subs {
		if s.ord != nil {
			orders = append(orders, s.ord)
		}
	}
	for _, o := range orders {
		if o.n > keyOrderMax || o.used > keyOrderBytes {
			t.Fatalf("order holds %d keys in %d bytes", o.n, o.used)
		}
	}
	if shared.view.order.n < keyOrderMax/2 {
		t.Fatalf("the top-level order learnt only %d keys", shared.view.order.n)
	}
	paths := []*Path{CompilePath("verb", false), CompilePath("objectRef.resource", false), CompilePath("k3", false)}
	allocs := testing.AllocsPerRun(100, func() {
		for _, body := range bodies[:50] {
			v, _ := shared.Open(body)
			for _, p := range paths {
				v.Each(p, func([]byte) bool { return true })
			}
		}
	})
	if allocs != 0 {
		t.Fatalf("%v allocations reading 50 events", allocs)
	}
}

// TestKeyOrderReadsInvalidBodiesAsBefore: on a body that is not valid JSON, a Parser that has learnt key orders
// reads what a fresh one reads, and reports the same errors at the same point: a key predicted after a byte that
// is not a quote is no key; an object asked for is read only if the walk needs it (with every member asked for
// when a path was compiled after the View was opened); a closing brace met in the head does not stop the reading
// from the end before readTop would.
var freshNames int

func TestKeyOrderReadsInvalidBodiesAsBefore(t *testing.T) {
	tests := []struct {
		body  string
		paths []string // "+name": compiled after the View was opened
	}{
		{`{"kind":"Event","apiVersion":"audit.k8s.io/v1",Xlevel":"Request","verb":"get"}`, []string{"verb", "level"}},
		{`{"kind":"Event","apiVersion":"audit.k8s.io/v1",{level":"Request","verb":"get"}`, []string{"level"}},
		{`{"kind":"Event","apiVersion":"audit.k8s.io/v1","level":"Request","verb":"get","user":{"username":"u" "groups":[]},"objectRef":{}}`,
			[]string{"user", "kind", "verb"}},
		{`{"kind":"Event","apiVersion":"audit.k8s.io/v1","level":"Request","verb":"get","user":{"username":"u" "groups":[]},"objectRef":{}}`,
			[]string{"+kind.reviewNewName", "verb"}},
		{`{"kind":"Event","apiVersion":"audit.k8s.io/v1","level":"Request","verb":"get"},"stageTimestamp":"t"}`,
			[]string{"verb", "stageTimestamp"}},
	}
	for _, tt := range tests {
		type answer struct {
			vals []string
			err  bool
		}
		read := func(p *Parser) []answer {
			var out []answer
			v, err := p.Open([]byte(tt.body))
			if err != nil {
				t.Fatal(err)
			}
			for _, name := range tt.paths {
				var path *Path
				if n, ok := strings.CutPrefix(name, "+"); ok {
					freshNames++ // a name new to the registry, whichever Parser reads
					path = CompilePath(fmt.Sprintf("%s%d", n, freshNames), false)
				} else {
					path = CompilePath(name, false)
				}
				var a answer
				v.Each(path, func(b []byte) bool { a.vals = append(a.vals, string(b)); return true })
				a.err = v.Err() != nil
				out = append(out, a)
			}
			return out
		}
		var taught, fresh Parser
		for range 2 {
			tv, _ := taught.Open(teachEvent)
			resolveAll(tv)
			tv.Each(CompilePath("level", false), func([]byte) bool { return true })
		}
		if got, want := read(&taught), read(&fresh); !reflect.DeepEqual(got, want) {
			t.Errorf("%s: a Parser with history read %v, a fresh one %v", tt.body, got, want)
		}
	}
}

// TestKeyOrderBodyEndingInsideAPredictedKey: a body that ends (with a brace, so that Open accepts it) inside a key
// the order predicts there, a key longer than the sixteen bytes compared as two words, is read as a fresh Parser
// reads it: a syntax error, not a slice out of range.
func TestKeyOrderBodyEndingInsideAPredictedKey(t *testing.T) {
	teach := []byte(`{"kind":"Event","responseStatus":{"code":200},"requestReceivedTimestamp":"t","stageTimestamp":"t"}`)
	for _, cut := range []string{`"requestReceivedTimesta}`, `"requestReceivedTimestamp}`, `"requestReceivedTimestamp"}`,
		`"requestReceivedT}`, `"requestReceived}`} {
		body := []byte(`{"kind":"Event","responseStatus":{"code":200},` + cut)
		// verb, which the body does not have, reads every member from the start: the cut key is predicted.
		paths := []*Path{CompilePath("verb", false), CompilePath("responseStatus.code", false),
			CompilePath("requestReceivedTimestamp", false)}
		read := func(p *Parser) (out []string) {
			v, err := p.Open(body)
			if err != nil {
				t.Fatal(err)
			}
			for _, path := range paths {
				v.Each(path, func(b []byte) bool { out = append(out, string(b)); return true })
				out = append(out, fmt.Sprint(v.Err() != nil))
			}
			return out
		}
		var taught, fresh Parser
		for range 2 {
			v, err := taught.Open(teach)
			if err != nil {
				t.Fatal(err)
			}
			resolveAll(v)
		}
		if got, want := read(&taught), read(&fresh); !reflect.DeepEqual(got, want) {
			t.Errorf("%s: a Parser with history read %v, a fresh one %v", body, got, want)
		}
	}
}
