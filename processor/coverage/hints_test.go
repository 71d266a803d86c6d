package coverage

import (
	"testing"

	"github.com/stretchr/testify/assert"

	"github.com/auditdetect/auditdetect/processor/rule"
)

func TestResourceHints(t *testing.T) {
	res := func(v string, cs bool) rule.Expr {
		return rule.Compare{Field: rule.Field{Name: "objectRef.resource"}, Op: rule.OpEq, Value: rule.Pattern{Kind: rule.Glob, Text: v, CaseSensitive: cs}}
	}
	// A where stage right after the filter compares the event's field, case-sensitively.
	where := &rule.Rule{Filter: res("pods", false), Pipeline: []rule.Stage{rule.Where{Cond: res("Pods", true)}}}
	if hs := ResourceHints(where); len(hs) != 1 || hs[0].Meant != "pods" {
		t.Errorf("where 'objectRef.resource'=\"Pods\": hints %v", hs)
	}
	for _, tc := range []struct {
		filter rule.Expr
		want   []string
	}{
		{res("Secret", false), []string{"secrets"}},
		{rule.And{rule.Or{res("ClusterRoleBinding", false), res("rolebindings", false)}, rule.Not{X: res("NetworkPolicy", false)}},
			[]string{"clusterrolebindings", "networkpolicies"}},
		{res("ingress", false), []string{"ingresses"}},
		{res("Pods", false), nil},             // SPL compares case-insensitively: it matches pods
		{res("Pods", true), []string{"pods"}}, // a case-sensitive comparison (KQL) does not
		{res("endpoints", false), nil},        // already plural
		{res("widgets", false), nil},          // a custom resource: nothing to say
		{res("pod*", false), nil},             // a wildcard: left alone
		{rule.Compare{Field: rule.Field{Name: "objectRef.subresource"}, Value: rule.Pattern{Text: "Secret"}}, nil},
		{rule.Or{rule.And{res("Secret", false)}, rule.And{res("Secret", false)}}, []string{"secrets"}}, // once
		{rule.Compare{Field: rule.Field{Name: "objectRef.resource"}, Op: rule.OpNe, Value: rule.Pattern{Text: "Node"}}, []string{"nodes"}},
	} {
		var got []string
		for _, h := range ResourceHints(&rule.Rule{Filter: tc.filter}) {
			got = append(got, h.Meant)
			assert.Contains(t, h.String(), "names no built-in resource")
		}
		assert.Equal(t, tc.want, got, "%#v", tc.filter)
	}
}
