package event

import (
	"bytes"
	"fmt"
	"math/rand/v2"
	"slices"
	"strings"
	"testing"

	"github.com/auditdetect/auditdetect/processor/auditgen"
)

// fastHeadPaths are paths with slots in the fast head, in both array modes, and paths without, read between them.
func fastHeadPaths() []*Path {
	var ps []*Path
	for _, anyArray := range []bool{false, true} {
		for _, name := range []string{"kind", "apiVersion", "level", "auditID", "stage", "requestURI", "verb",
			"user", "impersonatedUser", "sourceIPs", "sourceIPs{}", "userAgent", "objectRef", "responseStatus",
			"user.username", "user.uid", "user.groups{}", "user.groups", "impersonatedUser.username",
			"impersonatedUser.groups{}", "objectRef.resource", "objectRef.namespace", "objectRef.name",
			"objectRef.apiGroup", "objectRef.apiVersion", "objectRef.subresource", "responseStatus.code",
			"user{}.username", "verb{}", "user.extra.x{}", "annotations.authorization.k8s.io/decision",
			"requestObject.kind", "stageTimestamp", "objectRef.resource.x"} {
			ps = append(ps, CompilePath(name, anyArray))
		}
	}
	ps = append(ps, CompileLeavesPath("user", false), CompileLeavesPath("user.groups", true))
	return ps
}

// readPaths reads every path in order from a fresh View of body, the fast head on or off, and returns what each
// yielded and the View's error.
func readPaths(body []byte, paths []*Path, order []int, fast bool) string {
	v, msg := openFastOrSlow(body, fast)
	if v == nil {
		return msg
	}
	got := make([][]string, len(paths))
	for _, i := range order {
		v.Each(paths[i], func(b []byte) bool { got[i] = append(got[i], string(b)); return true })
	}
	return fmt.Sprintf("%q err=%v", got, v.Err())
}

func checkFastHead(t *testing.T, body []byte, seed uint64) {
	t.Helper()
	paths := fastHeadPaths()
	order := make([]int, len(paths))
	for i := range order {
		order[i] = i
	}
	r := rand.New(rand.NewPCG(seed, 1))
	for round := 0; round < 3; round++ {
		if round > 0 {
			r.Shuffle(len(order), func(i, j int) { order[i], order[j] = order[j], order[i] })
		}
		if fast, slow := readPaths(body, paths, order, true), readPaths(body, paths, order, false); fast != slow {
			t.Fatalf("fast head and general path differ on\n%.600s\nfast: %s\nslow: %s", body, fast, slow)
		}
		if round != 1 {
			continue // First, presence and Has in one shuffled order: each path is asked both ways, and the test stays short
		}
		if fast, slow := readMix(body, paths, order, true), readMix(body, paths, order, false); fast != slow {
			t.Fatalf("fast head and general path differ (First, Present, Has) on\n%.600s\nfast: %s\nslow: %s", body, fast, slow)
		}
	}
}

// fastHeadVariants are bodies the fast head must answer as the general path does, or leave to it.
func fastHeadVariants(body []byte) [][]byte {
	rep := func(old, new string) []byte { return bytes.Replace(body, []byte(old), []byte(new), 1) }
	// A webhook head (from level) that ends at a post-head field, as one without responseStatus does.
	webhook := bytes.Replace(rep(`"kind":"Event","apiVersion":"audit.k8s.io/v1",`, ``), []byte(`"responseStatus":`),
		[]byte(`"requestObject":`), 1)
	return [][]byte{
		body,
		rep(`"groups":[`, `"groups":["x"],"groups":[`),
		rep(`"resource":"`, `"resource":"x","resource":"`),
		rep(`"user":{`, `"user":{"user\u006eame":"esc",`),
		rep(`"verb":`, `"v\u0065rb":`),
		rep(`"verb":`, `"verb": `),
		rep(`,"user":`, `, "user":`),
		rep(`"objectRef":{`, `"objectRef.resource":"dot","objectRef":{`),
		rep(`"responseStatus":`, `"objectRef.resource":"dot","responseStatus":`),
		rep(`"responseStatus":`, `"verb":"late","responseStatus":`),
		rep(`"responseStatus":`, `"unknown":1,"responseStatus":`),
		rep(`"sourceIPs":`, `"impersonatedUser":{"username":"imp","groups":["g"]},"sourceIPs":`),
		rep(`"sourceIPs":[`, `"sourceIPs":[1 2,`),
		rep(`"user":{`, `"user":{"bad" 1,`),
		rep(`"user":{`, `"user":"str","x":{`),
		rep(`"user":{`, `"user":[{`),
		rep(`"kind":"Event",`, ``),
		rep(`"kind":"Event","apiVersion":"audit.k8s.io/v1",`, ``),
		rep(`"auditID"`, `"stage":"x","auditID"`),
		rep(`"requestURI":"`, `"requestURI":"\"`),
		rep(`"code":`, `"code":-`),
		// Long slot strings: stringEndEsc leaves their escapes open, so no end is kept and emit unescapes them.
		rep(`"resource":"`, `"resource":"`+strings.Repeat("r", 70)+`\u0041`),
		rep(`"username":"`, `"username":"`+strings.Repeat("u", 70)),
		rep(`,"responseStatus":{`, `}`),
		append(rep(`"stageTimestamp":`, `"verb":"tail","stageTimestamp":`), ' '),
		rep(`"objectRef":{`, `"objectRef":{}, "x":{`),
		// No place decides kind or apiVersion in a webhook head, so a late one counts, and reading for one reads
		// (and checks) the rest of the body.
		bytes.Replace(webhook, []byte(`"stageTimestamp":`), []byte(`"kind":"Late","apiVersion":"v","stageTimestamp":`), 1),
		bytes.Replace(webhook, []byte(`"stageTimestamp":`), []byte(`"stageTimestamp" `), 1),
	}
}

func TestFastHeadAgreesOnTheMix(t *testing.T) {
	events := auditgen.Generate(1, 600)
	for i, ev := range events {
		for k, body := range fastHeadVariants(ev.Body) {
			checkFastHead(t, body, uint64(i*100+k))
		}
	}
}

func TestFastHeadAnswersTheMix(t *testing.T) {
	// The fast head must not fail on what the API server writes, or it saves nothing.
	paths := []*Path{CompilePath("verb", false), CompilePath("responseStatus.code", false)}
	for _, ev := range auditgen.Generate(1, 400) {
		var p Parser
		v, err := p.Open(ev.Body)
		if err != nil {
			t.Fatal(err)
		}
		for _, path := range paths {
			v.Each(path, func([]byte) bool { return true })
		}
		if v.fast.state != fastOK {
			t.Fatalf("fast head failed on\n%.600s", ev.Body)
		}
	}
}

func FuzzFastHead(f *testing.F) {
	for _, ev := range auditgen.Generate(1, 6) {
		for _, body := range fastHeadVariants(ev.Body) {
			f.Add(body, uint64(len(body)))
		}
	}
	for i, body := range presenceHeads() {
		if i%23 == 0 { // null, {} and [] where the generated heads have values: what only a presence tells apart
			f.Add([]byte(body), uint64(i))
		}
	}
	f.Fuzz(func(t *testing.T, body []byte, seed uint64) {
		if len(body) > 1<<16 || !slices.Contains(body, '"') {
			return
		}
		checkFastHead(t, body, seed)
	})
}

// TestFastHeadAgreesOnCraftedHeads reads hand-written heads (late and dotted head keys, duplicates, webhook heads,
// errors after a good head) in several orders, with Each, First, Has and Present, the fast head on and off.
func TestFastHeadAgreesOnCraftedHeads(t *testing.T) {
	std := `{"kind":"Event","apiVersion":"audit.k8s.io/v1","level":"Metadata","auditID":"a","stage":"ResponseComplete","requestURI":"/x","verb":"get","user":{"username":"u","groups":["a",["b"]]},`
	wh := `{"level":"Metadata","auditID":"a","stage":"ResponseComplete","requestURI":"/x","verb":"get","user":{"username":"u"},`
	bodies := []string{
		std + `"requestObject":{},"impersonatedUser.username":"x","objectRef.resource":"y","responseStatus.code":1}`,
		std + `"requestObject":{},"impersonatedUser":{"username":"x"},"objectRef":{"resource":"y"},"verb":"late"}`,
		std + `"objectRef":{"resource":"a","resource":"b"}}`,
		std + `"objectRef":{"resource":"a"},"objectRef.resource":"dot"}`,
		std + `"objectRef":{"resource":"a"},"responseStatus":{"code":200},"stageTimestamp":"x","kind":"K"}`,
		std + `"objectRef":{"resource":"a"},"responseStatus":{"code":200},"requestObject":{"a" 1}}`,
		std + `"sourceIPs":[["1"],"2"],"requestObject":1}`,
		std + `"objectRef":"str","responseStatus":{"code":200}}`,
		std + `"objectRef":null,"responseStatus":{"code":200}}`,
		std + `"objectRef":{"resource":"\q"},"responseStatus":{"code":200}}`,
		std + `"objectRef":{"resource":"a"},"responseStatus":{"code":2e}}`,
		std + `"objectRef":{"resource":"a"},"responseStatus":{"code":02}}`,
		std + `"objectRef":{"resource":"a","x":{"y":[1,{"z":tru}]}},"responseStatus":{"code":200}}`,
		std + `"objectRef":{"resource":"a"}}}`,
		std + `"objectRef":{"resource":"a"}} `,
		wh + `"objectRef":{"resource":"a"}}`,
		wh + `"objectRef":{"resource":"a"},"kind":"late"}`,
		wh + `"requestObject":{},"kind":"Event"}`,
		wh + `"requestObject":{"a" 1},"x":1}`,
		`{"kind":"Event"}`,
		`{"level":"x"}`,
		`{"level":"x","kind":"y"}`,
		`{}`,
		std[:len(std)-1] + `}`,
		std + `"requestObject" :{}}`,
		std + `"requestObject":}`,
		std + `"userAgent":"a","sourceIPs":["b"]}`,
		std + `"impersonatedUser":{"username":"i"},"impersonatedUser":{"username":"j"}}`,
		// Escaped slot strings: Each unescapes them, where an unescaped one is handed on as the head's scan ended it.
		std + `"userAgent":"a\"b","objectRef":{"resource":"se\u0063rets","namespace":"n\\","name":"x"},"responseStatus":{"code":200}}`,
		// Past 64 bytes stringEndEsc leaves escapes open (no end kept); a string may end just before the closing brace.
		std + `"userAgent":"` + strings.Repeat("u", 70) + `\"b","objectRef":{"resource":"` + strings.Repeat("r", 70) + `\u0041"},"responseStatus":{"code":"c"}}`,
		std + `"userAgent":"` + strings.Repeat("u", 70) + `","objectRef":{"resource":"` + strings.Repeat("r", 70) + `"}}`,
	}
	names := []string{"kind", "apiVersion", "verb", "user.username", "user.groups{}", "user.groups", "impersonatedUser.username",
		"objectRef.resource", "objectRef", "responseStatus.code", "sourceIPs{}", "sourceIPs", "userAgent", "stageTimestamp", "requestObject.a"}
	for _, body := range bodies {
		for _, anyArray := range []bool{false, true} {
			var pre []*Path
			for _, n := range names {
				pre = append(pre, CompilePath(n, anyArray))
			}
			pre = append(pre, CompileLeavesPath("user", anyArray), CompileLeavesPath("objectRef", anyArray))
			for rot := 0; rot < len(pre); rot++ {
				order := make([]int, len(pre))
				for i := range order {
					order[i] = (i + rot) % len(pre)
				}
				for _, rev := range []bool{false, true} {
					if rev {
						for i, j := 0, len(order)-1; i < j; i, j = i+1, j-1 {
							order[i], order[j] = order[j], order[i]
						}
					}
					f, s := readPaths([]byte(body), pre, order, true), readPaths([]byte(body), pre, order, false)
					if f != s {
						t.Errorf("differ on %s order %v\nfast: %s\nslow: %s", body, order, f, s)
					}
					f, s = readMix([]byte(body), pre, order, true), readMix([]byte(body), pre, order, false)
					if f != s {
						t.Errorf("mix differs on %s order %v\nfast: %s\nslow: %s", body, order, f, s)
					}
				}
			}
		}
	}
}

// readMix is readPaths with First, the three kinds of presence, and Has in turn.
func readMix(body []byte, paths []*Path, order []int, fast bool) string {
	v, msg := openFastOrSlow(body, fast)
	if v == nil {
		return msg
	}
	var out strings.Builder
	for k, i := range order {
		if k%3 == 0 {
			val, ok := v.First(paths[i])
			fmt.Fprintf(&out, "%q%v ", val, ok)
		} else if k%3 == 1 {
			fmt.Fprintf(&out, "p%v%v%v ", v.Present(paths[i]), v.PresentNonNull(paths[i]), v.PresentUnder(paths[i]))
		} else {
			fmt.Fprintf(&out, "%v ", v.Has(paths[i]))
		}
	}
	return out.String() + fmt.Sprint(v.Err())
}

// openFastOrSlow opens body lazily, with the fast head on or (marked failed) off; a nil View comes with Open's error.
func openFastOrSlow(body []byte, fast bool) (*View, string) {
	var p Parser
	v, err := p.Open(body)
	if err != nil {
		return nil, "open: " + err.Error()
	}
	if !fast {
		v.fast.state = fastFailed
	}
	return v, ""
}

// TestFastKeyAtMatchesOnlyTheWholeKey: a key is predicted only when it is exactly `"name":`, never one that starts
// like it, is spelled with an escape, or has a space before its colon.
func TestFastKeyAtMatchesOnlyTheWholeKey(t *testing.T) {
	pad := strings.Repeat("x", 40)
	for r, name := range headFields {
		keys := fastKeys[r:]
		if c, j := fastKeyAt([]byte(`"`+name+`":"v",`+pad), 0, keys); c != 0 || j != len(name)+1 {
			t.Errorf("%s: got key %d closing quote %d, want 0 and %d", name, c, j, len(name)+1)
		}
		esc := `\u00` + fmt.Sprintf("%x", name[0]) + name[1:]
		for _, bad := range []string{name + "x", name[:len(name)-1], esc, "x" + name} {
			if c, _ := fastKeyAt([]byte(`"`+bad+`":"v",`+pad), 0, keys); c == 0 {
				t.Errorf("key %q predicted as %q", bad, name)
			}
		}
		for _, bad := range []string{`"` + name + `" :`, `"` + name + `"x`, `"` + name + `",`} {
			if c, _ := fastKeyAt([]byte(bad+pad), 0, keys); c >= 0 {
				t.Errorf("%q predicted as key %d", bad, c)
			}
		}
		// Too near the end of the body to compare whole: left to the scan.
		if c, _ := fastKeyAt([]byte(`"`+name+`":1}`), 0, keys); c >= 0 {
			t.Errorf("%s at the end of a short body predicted", name)
		}
	}
	// Not a later rank than the one asked from on.
	if c, _ := fastKeyAt([]byte(`"verb":"get",`+pad), 0, fastKeys[rankUser:]); c >= 0 {
		t.Errorf("verb predicted after user")
	}
}

// TestFastHeadAgreesOnNearKeys: heads whose keys only start like the expected ones, or are spelled otherwise, read
// as the general path reads them.
func TestFastHeadAgreesOnNearKeys(t *testing.T) {
	body := auditgen.Generate(1, 1)[0].Body
	for k, pair := range [][2]string{
		{`"verb":`, `"verbx":`}, {`"verb":`, `"verb" :`}, {`"verb":`, `"ver":`}, {`"verb":`, `"v\u0065rb":`},
		{`"user":{`, `"userx":{`}, {`"user":{`, `"userAgent":{`}, {`"sourceIPs":`, `"sourceIP":`},
		{`"objectRef":{`, `"objectRef" :{`}, {`"objectRef":{`, `"objectRefs":{`},
		{`"resource":`, `"resources":`}, {`"resource":`, `"resource" :`}, {`"resource":`, `"resourc\u0065":`},
		{`"username":`, `"usernamex":`}, {`"groups":`, `"group":`}, {`"code":`, `"codes":`}, {`"code":`, `"code" :`},
		{`"apiVersion":"audit.k8s.io/v1",`, `"apiVersion":"audit.k8s.io/v1beta1",`},
		{`"kind":"Event",`, `"kind":"Events",`}, {`"kind":"Event",`, `"kind":"Event" ,`},
		{`"apiVersion":"audit.k8s.io/v1",`, `"apiVersion":"audit.k8s.io/v1" ,`},
		{`"apiVersion":"audit.k8s.io/v1",`, `"apiVersion":"audit.k8s.io/v1"}`},
		{`"kind":"Event","apiVersion":"audit.k8s.io/v1",`, `"kind":"Event","apiVersion":"audit.k8s.io/v1", `},
		{`"kind":"Event","apiVersion":"audit.k8s.io/v1",`, `"kind":"Event","apiVersion":"audit.k8s.io/v1","kind":"x",`},
	} {
		if !bytes.Contains(body, []byte(pair[0])) {
			t.Fatalf("the generated event holds no %s", pair[0])
		}
		checkFastHead(t, bytes.Replace(body, []byte(pair[0]), []byte(pair[1]), 1), uint64(k))
	}
}

// TestFastHeadStringEndsOnAReusedParser reads events of different shapes one after the other on one Parser, the
// fast head on, and each on a fresh View with it off: a slot's string end from one event must not answer for the
// next, where the slot holds another kind of value, an escaped or long string, or nothing.
func TestFastHeadStringEndsOnAReusedParser(t *testing.T) {
	head := `{"kind":"Event","apiVersion":"audit.k8s.io/v1","level":"Metadata","auditID":"a","stage":"ResponseComplete","requestURI":"/x",`
	long := strings.Repeat("l", 70)
	bodies := []string{
		head + `"verb":"get","user":{"username":"u","uid":"i","groups":["g"]},"userAgent":"ua","objectRef":{"resource":"secrets","namespace":"ns","name":"n"},"responseStatus":{"code":"200"}}`,
		head + `"verb":1,"user":{"username":2,"uid":null,"groups":"g"},"userAgent":{},"objectRef":{"resource":["r"],"namespace":{"a":"b"},"name":true},"responseStatus":{"code":200}}`,
		head + `"verb":"get","user":{"username":"u"},"userAgent":"ua","objectRef":{"name":"n"},"responseStatus":{"code":"c"}}`,
		head + `"verb":"g\u0065t","user":{"username":"u\\"},"userAgent":"a\"b","objectRef":{"resource":"r\/s","namespace":"n\n"}}`,
		// Past 64 bytes stringEndEsc leaves escapes open: a backslash there must still be unescaped.
		head + `"verb":"` + long + `\u0041","user":{"username":"` + long + `\"q"},"userAgent":"` + long + `","objectRef":{"resource":"` + long + `\\"}}`,
		head + `"verb":"get","user":{},"objectRef":{}}`,
		`{"level":"Metadata","auditID":"a","stage":"s","requestURI":"/x","verb":"v","user":{"username":"w"},"sourceIPs":["1"],"userAgent":"z"}`,
		head + `"verb":"get","user":{"username":"u"},"objectRef":{"resource":"a"},"responseStatus":{"code":"x"},"kind":"late"}`,
		head + `"verb":"get","user":{"username":"u"},"objectRef":{"resource":"a","resource":"b"},"userAgent":"late"}`,
		// Slot strings that end just before the body's last bytes.
		head + `"verb":"get","user":{"username":"u"},"responseStatus":{"code":"c"}}`,
		head + `"verb":"end"}`,
	}
	paths := fastHeadPaths()
	for _, name := range []string{"verb", "userAgent", "user.username", "objectRef.resource", "responseStatus.code"} {
		paths = append(paths, CompileLeavesPath(name, false), CompileLeavesPath(name, true))
	}
	var p Parser
	for rot := range bodies {
		for k := range bodies {
			body := []byte(bodies[(k+rot)%len(bodies)])
			v, err := p.Open(body)
			if err != nil {
				t.Fatalf("open %s: %v", body, err)
			}
			fast := readAll(v, paths)
			slow, msg := openFastOrSlow(body, false)
			if slow == nil {
				t.Fatal(msg)
			}
			want := readAll(slow, paths)
			if fast != want {
				t.Fatalf("after %d events, the reused Parser differs on\n%s\nfast: %s\nslow: %s", k, body, fast, want)
			}
		}
	}
}

// readAll is what Each (and First, for every other path) give for paths on v, and v's error after them.
func readAll(v *View, paths []*Path) string {
	var out strings.Builder
	for i, path := range paths {
		if i%2 == 0 {
			val, ok := v.First(path)
			fmt.Fprintf(&out, "%q%v ", val, ok)
		}
		var got []string
		v.Each(path, func(b []byte) bool { got = append(got, string(b)); return true })
		fmt.Fprintf(&out, "%q ", got)
	}
	fmt.Fprint(&out, v.Err())
	return out.String()
}
