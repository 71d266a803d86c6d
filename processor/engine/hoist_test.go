package engine

import (
	"strings"
	"testing"

	"github.com/auditdetect/auditdetect/processor/builtin"
	"github.com/auditdetect/auditdetect/processor/loader"
	"github.com/auditdetect/auditdetect/processor/rule"
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
