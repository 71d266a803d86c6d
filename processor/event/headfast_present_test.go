package event

import (
	"fmt"
	"strings"
	"testing"

	"github.com/auditdetect/auditdetect/processor/auditgen"
)

// readPresences asks the three presences of every path in order, then Each of every path, on one View of body, the
// fast head on or off: unlike readMix, every path is asked for presence, and first on a fresh View when it leads.
func readPresences(body []byte, paths []*Path, order []int, fast bool) string {
	v, msg := openFastOrSlow(body, fast)
	if v == nil {
		return msg
	}
	var out strings.Builder
	for _, i := range order {
		fmt.Fprintf(&out, "%s:%v%v%v ", paths[i].Name(), v.PresentUnder(paths[i]), v.PresentNonNull(paths[i]), v.Present(paths[i]))
	}
	for _, i := range order {
		v.Each(paths[i], func(b []byte) bool { fmt.Fprintf(&out, "%q", b); return true })
	}
	return out.String() + fmt.Sprint(v.Err())
}

// presenceHeads are heads whose head fields and slotted members hold what Each cannot tell from absence (null, {},
// [], nested arrays, objects without a value), with late, dotted and invalid members after them.
func presenceHeads() []string {
	pre := `{"kind":"Event","apiVersion":"audit.k8s.io/v1","level":"Metadata","auditID":"a","stage":"ResponseComplete","requestURI":"/x",`
	wh := `{"level":"Metadata","auditID":"a","stage":"ResponseComplete","requestURI":"/x",`
	var bodies []string
	for _, head := range []string{pre, wh} {
		for _, verb := range []string{`"get"`, `null`, `{}`, `[]`, `[[]]`, `[null]`, `["get"]`, `{"a":null}`, `[[null],[]]`, `[{}]`} {
			for _, user := range []string{`{}`, `{"username":null}`, `{"username":{}}`, `{"username":[]}`, `{"username":[[]]}`,
				`{"groups":[]}`, `{"groups":[null]}`, `{"groups":[[]]}`, `{"groups":[[],["x"]]}`, `{"groups":null,"uid":{}}`,
				`{"username":"u","groups":{"a":[]}}`, `{"extra":{"x":[]},"username":{"a":{"b":null}}}`} {
				bodies = append(bodies, head+`"verb":`+verb+`,"user":`+user+`}`)
			}
			for _, tail := range []string{
				`"sourceIPs":[],"objectRef":{"resource":null},"responseStatus":{}}`,
				`"sourceIPs":null,"objectRef":{},"responseStatus":{"code":null}}`,
				`"sourceIPs":[[]],"objectRef":{"name":[],"resource":{}},"responseStatus":{"code":[]}}`,
				`"sourceIPs":[null,[null]],"userAgent":{},"objectRef":{"namespace":{"a":[null]}}}`,
				`"impersonatedUser":{"username":null,"groups":[]},"requestObject":{},"sourceIPs":["late"]}`,
				`"requestObject":{},"sourceIPs":null,"objectRef":{},"responseStatus":{"code":1}}`,
				`"requestObject":{},"objectRef.resource":null,"user.username":"dot"}`,
				`"objectRef":{"resource":null},"objectRef.resource":"dot"}`,
				`"sourceIPs":[],"requestObject":{},"kind":null,"apiVersion":{}}`,
				`"sourceIPs":[],"stageTimestamp":null,"kind":[]}`,
				`"userAgent":null,"requestObject":{"a" 1}}`,
				`"userAgent":null,"requestObject":{"a":1},"sourceIPs":[}`,
				`"objectRef":{"resource":[1,}]}}`,
				`"objectRef":{"resource":[]},"responseStatus":{"code":[[]]},"annotations":{}}`,
			} {
				bodies = append(bodies, head+`"verb":`+verb+`,"user":{"username":null,"groups":[[]]},`+tail)
			}
		}
	}
	return bodies
}

// TestFastHeadPresenceAgrees reads presenceHeads with the three presences alone, each path first on a fresh View and
// all of them in both orders, the fast head on and off.
func TestFastHeadPresenceAgrees(t *testing.T) {
	var names []string
	for _, n := range []string{"kind", "apiVersion", "verb", "user", "user.username", "user.uid", "user.groups",
		"impersonatedUser", "impersonatedUser.username", "impersonatedUser.groups", "sourceIPs", "userAgent",
		"objectRef", "objectRef.resource", "objectRef.name", "objectRef.namespace", "responseStatus", "responseStatus.code"} {
		names = append(names, n, n+"{}")
	}
	names = append(names, "stageTimestamp", "requestObject.a", "user{}.username")
	for _, body := range presenceHeads() {
		for _, anyArray := range []bool{false, true} {
			var paths []*Path
			for _, n := range names {
				paths = append(paths, CompilePath(n, anyArray))
			}
			paths = append(paths, CompileLeavesPath("user", anyArray), CompileLeavesPath("user.username", anyArray))
			for i := range paths {
				one := []int{i}
				if f, s := readPresences([]byte(body), paths, one, true), readPresences([]byte(body), paths, one, false); f != s {
					t.Errorf("differ on %s alone\nfast: %s\nslow: %s", body, f, s)
				}
			}
			order := make([]int, len(paths))
			for i := range order {
				order[i] = i
			}
			for _, rev := range []bool{false, true} {
				if rev {
					for i, j := 0, len(order)-1; i < j; i, j = i+1, j-1 {
						order[i], order[j] = order[j], order[i]
					}
				}
				if f, s := readPresences([]byte(body), paths, order, true), readPresences([]byte(body), paths, order, false); f != s {
					t.Errorf("differ on %s\nfast: %s\nslow: %s", body, f, s)
				}
			}
		}
	}
}

// TestFastHeadPresenceAgreesOnTheMix asks every fast-head path's presences (not one path in three, as readMix
// does) on the generated events and their altered heads.
func TestFastHeadPresenceAgreesOnTheMix(t *testing.T) {
	paths := fastHeadPaths()
	order := make([]int, len(paths))
	for i := range order {
		order[i] = len(paths) - 1 - i
	}
	for _, ev := range auditgen.Generate(2, 200) {
		for _, body := range fastHeadVariants(ev.Body) {
			if f, s := readPresences(body, paths, order, true), readPresences(body, paths, order, false); f != s {
				t.Fatalf("differ on\n%.600s\nfast: %s\nslow: %s", body, f, s)
			}
		}
	}
}
