package lint_test

import (
	"fmt"
	"testing"

	"github.com/auditdetect/auditdetect/processor/auditgen"
	"github.com/auditdetect/auditdetect/processor/engine"
	"github.com/auditdetect/auditdetect/processor/escu"
	"github.com/auditdetect/auditdetect/processor/lint"
	"github.com/auditdetect/auditdetect/processor/rule"
	"github.com/auditdetect/auditdetect/processor/spl"
)

// fuzzEvents are API-server-shaped events: some of the generated mix, and one for every stage, level and resource
// verb, and non-resource requests with odd methods.
var fuzzEvents = func() [][]byte {
	var out [][]byte
	for _, ev := range auditgen.Generate(11, 40) {
		out = append(out, ev.Body)
	}
	for _, stage := range []string{"RequestReceived", "ResponseStarted", "ResponseComplete", "Panic"} {
		for _, level := range []string{"Metadata", "Request", "RequestResponse"} {
			for _, verb := range []string{"get", "list", "watch", "create", "update", "patch", "delete", "deletecollection", "proxy", ""} {
				out = append(out, fmt.Appendf(nil, `{"kind":"Event","apiVersion":"audit.k8s.io/v1","level":%q,"auditID":"a","stage":%q,`+
					`"requestURI":"/api/v1/namespaces/x/pods/p/exec","verb":%q,"user":{"username":"alice","groups":["system:authenticated"],"extra":{"k":["v"]}},`+
					`"sourceIPs":["10.0.0.1"],"userAgent":"kubectl","objectRef":{"resource":"pods","namespace":"x","name":"p","subresource":"exec","apiVersion":"v1"},`+
					`"responseStatus":{"metadata":{},"code":403},"annotations":{"authorization.k8s.io/decision":"forbid"}}`, level, stage, verb))
			}
			out = append(out, fmt.Appendf(nil, `{"kind":"Event","apiVersion":"audit.k8s.io/v1","level":%q,"auditID":"b","stage":%q,`+
				`"requestURI":"/healthz","verb":"trace","user":{"username":"system:anonymous"},"sourceIPs":["10.0.0.2"],"responseStatus":{"metadata":{},"code":200}}`,
				level, stage))
		}
	}
	return out
}()

// FuzzCheck: for any SPL search that compiles, lint's verdict is consistent (a rule that can never match has terms
// that decide it, all among its findings) and sound on API-server-shaped events in the real engine: a search lint
// says can never match matches none, and each term it calls never true (a dead alternative, an exclusion that never
// applies) can be replaced with false without changing a match. Seeds: the finding kinds and verb classes.
func FuzzCheck(f *testing.F) {
	for _, s := range []string{
		"verb=create stage=ResponseCompleted",
		"objectRef.resource=pods verb IN (create, replace)",
		"objectRef.resource=pods NOT user.name=x verb=get",
		"responseStatus.code=ALLOW OR hostPath=*",
		"objectRef.subresource=* verb=li\u017ft",
		"level=None OR (stage=Resp* NOT verb=trace)",
		"objectRef.resource=pods verb=\"\" responseStatus.code=4?3",
		"objectRef.resource=pods verb=proxy",
		"verb=trace",
		"user.extra.k{}=v annotations.authorization.k8s.io/decision=forbid",
		"verb=get | where stage=\"ResponseCompleted\"",
		"objectRef.resource=pods | where verb=\"LIST\" OR verb=\"get\"",
		"verb=get | rename user.username as user.name | where 'user.name'=\"alice\"",
		"verb=create | search NOT user.name=x",
	} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, search string) {
		r, err := escu.Parse("f.yml", fmt.Appendf(nil, "name: f\nid: f\nsearch: %q\n", search), spl.DefaultMacros(), nil)
		if err != nil {
			return
		}
		res := lint.Check(r)
		if res.NeverMatches != (len(res.Because) > 0) {
			t.Fatalf("%q: NeverMatches %v with %d deciding terms", search, res.NeverMatches, len(res.Because))
		}
		for _, set := range [][]lint.Finding{res.Because, res.NeverExcludes} {
			for _, b := range set {
				found := false
				for _, f := range res.Findings {
					found = found || f == b
				}
				if !found {
					t.Fatalf("%q: %v is not among the findings %v", search, b, res.Findings)
				}
			}
		}
		checkFindingsAreFalse(t, r, res, fuzzEvents)
		if !res.NeverMatches {
			return
		}
		e, err := engine.Compile([]*rule.Rule{r}, engine.Options{})
		if err != nil {
			return // a pipeline the engine refuses (iplocation without a database): nothing runs
		}
		for _, body := range fuzzEvents {
			if ms, _ := e.Match(body); len(ms) > 0 {
				t.Fatalf("%q: lint says it can never match (because of %v), the engine matched %s", search, res.Because, body)
			}
		}
	})
}
