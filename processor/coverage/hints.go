package coverage

import (
	"fmt"
	"strings"

	"github.com/auditdetect/auditdetect/processor/lint"
	"github.com/auditdetect/auditdetect/processor/rule"
)

// ResourceHint is an objectRef.resource term that names no built-in resource where the value, written as the audit
// event writes resources (plural, lower case), would: `objectRef.resource=Secret` for secrets. The term matches no
// built-in resource as written (a custom resource of that name would match, which is why this is a hint, not a
// finding of package lint).
type ResourceHint struct {
	Term string
	// Meant is the built-in resource the value names in another spelling.
	Meant string
}

func (h ResourceHint) String() string {
	return fmt.Sprintf("`%s` names no built-in resource: audit events name resources in the plural, lower case (%s?)", h.Term, h.Meant)
}

// ResourceHints returns the equality and inequality terms on objectRef.resource of r's conditions on the event
// (lint.Conditions) whose value names no built-in resource but would in the plural, lower case; each term once.
func ResourceHints(r *rule.Rule) []ResourceHint {
	var out []ResourceHint
	seen := map[string]bool{}
	rule.EachTerm(lint.Conditions(r), func(t rule.Expr) {
		c, ok := t.(rule.Compare)
		if !ok || c.Field.Name != "objectRef.resource" || c.Op != rule.OpEq && c.Op != rule.OpNe ||
			c.Value.Kind != rule.Glob || strings.ContainsAny(c.Value.Text, `*?\`) ||
			isBuiltin(c.Value.Text, c.Value.CaseSensitive) {
			return
		}
		term := "objectRef.resource" + c.Op.String() + c.Value.Text
		if meant, ok := plural(c.Value.Text); ok && !seen[term] {
			seen[term] = true
			out = append(out, ResourceHint{Term: term, Meant: meant})
		}
	})
	return out
}

func isBuiltin(v string, caseSensitive bool) bool {
	for _, r := range BuiltinResources {
		if r.Name == v || !caseSensitive && strings.EqualFold(r.Name, v) {
			return true
		}
	}
	return false
}

// plural returns the built-in resource that v names as a kind (Secret, ClusterRoleBinding, NetworkPolicy, Ingress)
// or in another case.
func plural(v string) (string, bool) {
	l := strings.ToLower(v)
	candidates := []string{l, l + "s", l + "es"}
	if strings.HasSuffix(l, "y") {
		candidates = append(candidates, strings.TrimSuffix(l, "y")+"ies")
	}
	for _, c := range candidates {
		for _, r := range BuiltinResources {
			if r.Name == c {
				return c, true
			}
		}
	}
	return "", false
}
