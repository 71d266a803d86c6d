package engine

import (
	"bytes"
	"fmt"
	"reflect"
	"strings"
	"testing"

	"github.com/auditdetect/auditdetect/processor/auditgen"
	"github.com/auditdetect/auditdetect/processor/builtin"
	"github.com/auditdetect/auditdetect/processor/loader"
	"github.com/auditdetect/auditdetect/processor/rule"
	"github.com/auditdetect/auditdetect/processor/spl"
)

// A leading `| search` of a rule without state is tested with the filter's cheap terms, before the prefilter and
// the request body: an event it turns away has its body neither searched nor read. What shows it: a malformed body
// that only that read would find is not reported for such an event (and still is for the others, and for a rule
// with state, whose search stays where it is).
func TestLeadingSearchDecidesBeforeTheBody(t *testing.T) {
	body := func(user, hostNetwork string) []byte {
		return []byte(`{"kind":"Event","auditID":"a-1","stage":"ResponseComplete","verb":"create","user":{"username":"` + user +
			`"},"sourceIPs":["10.1.1.1"],"objectRef":{"resource":"pods","namespace":"default","name":"web"},` +
			`"responseStatus":{"code":201},"requestObject":{"metadata":{"labels":{"a":"true"}},"spec":{"hostNetwork":` +
			hostNetwork + `}},"stageTimestamp":"2026-01-02T03:04:05.000000Z"}`)
	}
	filter := rule.And{eq("verb", "create"), eq("requestObject.spec.hostNetwork", "true")}
	notNode := rule.Search{Cond: rule.Not{X: eq("user.username", "system:node:*")}}
	stateless := &rule.Rule{ID: "a", Name: "a", Filter: filter, Pipeline: []rule.Stage{notNode}}
	windowed := &rule.Rule{ID: "b", Name: "b", Filter: filter, Pipeline: []rule.Stage{notNode,
		rule.Stats{Aggs: []rule.Aggregate{{Func: "count"}}, By: []string{"user.username"}},
		rule.Where{Cond: cmp("count", rule.OpGt, "5")}}}
	if len(hoisted(stateless)) != 1 || hoisted(windowed) != nil {
		t.Fatalf("hoisted: %v for the stateless rule (want its one term), %v for the windowed one (want none)",
			hoisted(stateless), hoisted(windowed))
	}
	for _, tc := range []struct {
		r                 *rule.Rule
		user, hostNetwork string
		match, fails      bool
	}{
		{stateless, "alice", "true", true, false},
		{stateless, "system:node:n1", "true", false, false},
		{stateless, "alice", "tru", false, true},
		{stateless, "system:node:n1", "tru", false, false}, // turned away before the body is read
		{windowed, "system:node:n1", "tru", false, true},   // a stateful rule's search is not hoisted
	} {
		e, err := Compile([]*rule.Rule{tc.r}, Options{})
		if err != nil {
			t.Fatal(err)
		}
		res, err := e.Evaluate(body(tc.user, tc.hostNetwork))
		if (err != nil) != tc.fails || (len(res.Matches) > 0) != tc.match {
			t.Errorf("rule %s, user %s, hostNetwork %s: %d matches, error %v; want match %v, error %v",
				tc.r.Name, tc.user, tc.hostNetwork, len(res.Matches), err, tc.match, tc.fails)
		}
	}
}

// The built-in workload rules turn the controllers' writes (kube_workload_controllers) away before they search or
// read the request body: about half the writes those rules are candidates for on the generated mix.
func TestWorkloadRulesHoistTheirAllowList(t *testing.T) {
	res, err := loader.Load(loader.Options{Paths: []string{loader.Builtin}, Builtin: builtin.FS})
	if err != nil {
		t.Fatal(err)
	}
	n := 0
	for _, r := range res.Rules {
		if strings.HasPrefix(r.Name, "Kubernetes Workload ") {
			n++
			if len(hoisted(r)) == 0 {
				t.Errorf("%s: its search NOT `kube_workload_controllers` is not tested before the request body", r.Name)
			}
		}
	}
	if n != 4 {
		t.Fatalf("%d workload rules, want 4", n)
	}
}

// The terms of a filter on the head test its scalars before a field that walks an array: responseStatus.code=403
// rules out most events, user.groups{}="system:authenticated" almost none (Permission Probing).
func TestHeadArraysAfterHeadScalars(t *testing.T) {
	n, err := compileExpr(rule.And{eq("user.groups{}", "system:authenticated"), eq("responseStatus.code", "403"),
		eq("annotations.authorization.k8s.io/decision", "forbid")}, nil)
	if err != nil {
		t.Fatal(err)
	}
	var order []string
	for _, t := range n.(andNode) {
		order = append(order, t.(matchNode).f.name)
	}
	want := "responseStatus.code user.groups{} annotations.authorization.k8s.io/decision"
	if got := strings.Join(order, " "); got != want {
		t.Errorf("order %s, want %s", got, want)
	}
}

// Hoisting changes no answer: each rule whose leading search is hoisted gives the same matches and rows as the same
// rule behind a no-op first stage (search true), which hoists nothing, on the generated mix and on events whose head
// repeats, dots or escapes its keys (read from the event in the filter, from the row in the stage).
func TestHoistingChangesNoAnswer(t *testing.T) {
	res, err := loader.Load(loader.Options{Paths: []string{loader.Builtin}, Builtin: builtin.FS})
	if err != nil {
		t.Fatal(err)
	}
	rules := res.Rules
	for i, q := range []string{
		`verb IN (create, update, patch) requestObject.metadata.name=* | search NOT user.groups{}="system:masters"`,
		`verb IN (create, update, patch) requestObject.metadata.name=* | search user.username!="system:node:*" sourceIPs{}>"10.5"`,
		`verb IN (create, update, patch) requestObject.metadata.name=* | search impersonatedUser.username=* OR NOT user.uid=*`,
		`verb IN (create, update, patch) requestObject.metadata.name=* | search NOT annotations.authorization.k8s.io/decision=allow responseStatus.code<300`,
		`verb IN (create, update, patch) requestObject.metadata.name=* | search objectRef.name=*Web* | eval x=1 | where x=1`,
	} {
		filter, pipeline, err := spl.Compile(q, spl.DefaultMacros())
		if err != nil {
			t.Fatalf("%s: %v", q, err)
		}
		rules = append(rules, &rule.Rule{ID: fmt.Sprintf("probe-%d", i), Name: q, Filter: filter, Pipeline: pipeline})
	}
	var hoisting, plain []*rule.Rule
	for _, r := range rules {
		if len(hoisted(r)) == 0 {
			continue
		}
		p := *r
		p.Pipeline = append([]rule.Stage{rule.Search{Cond: rule.True{}}}, r.Pipeline...)
		hoisting, plain = append(hoisting, r), append(plain, &p)
	}
	if len(hoisting) < 9 {
		t.Fatalf("%d rules hoist their leading search, want the 4 workload rules and the 5 probes", len(hoisting))
	}
	a, err := Compile(hoisting, Options{})
	if err != nil {
		t.Fatal(err)
	}
	b, err := Compile(plain, Options{})
	if err != nil {
		t.Fatal(err)
	}
	var bodies [][]byte
	for _, ev := range auditgen.Generate(11, 3000) {
		bodies = append(bodies, ev.Body)
		if bytes.Contains(ev.Body, []byte(`"requestObject":`)) {
			// The same event with a second user (the first decides), a dotted user.username before the nested
			// one (it decides), and the user key spelt with an escape.
			bodies = append(bodies,
				bytes.Replace(ev.Body, []byte(`"user":{`), []byte(`"user":{"username":"system:node:x","groups":["system:masters"]},"user":{`), 1),
				bytes.Replace(ev.Body, []byte(`"user":{`), []byte(`"user.username":"system:node:x","user.groups":["system:masters"],"user":{`), 1),
				bytes.Replace(ev.Body, []byte(`"user":{`), []byte(`"us\u0065r":{`), 1))
		}
	}
	matched := 0
	for _, body := range bodies {
		ra, errA := a.Evaluate(body)
		rb, errB := b.Evaluate(body)
		if (errA != nil) != (errB != nil) {
			t.Fatalf("%s: error %v with hoisting, %v without", body, errA, errB)
		}
		if len(ra.Matches) != len(rb.Matches) {
			t.Fatalf("%s: %d matches with hoisting, %d without", body, len(ra.Matches), len(rb.Matches))
		}
		for i := range ra.Matches {
			if ra.Matches[i].Rule.ID != rb.Matches[i].Rule.ID || !reflect.DeepEqual(ra.Matches[i].Rows, rb.Matches[i].Rows) {
				t.Fatalf("%s: rule %s gives %v with hoisting, rule %s %v without", body, ra.Matches[i].Rule.ID,
					ra.Matches[i].Rows, rb.Matches[i].Rule.ID, rb.Matches[i].Rows)
			}
		}
		matched += len(ra.Matches)
	}
	if matched == 0 {
		t.Fatal("no match: the comparison shows nothing")
	}
	t.Logf("%d events, %d matches", len(bodies), matched)
}
