// Package eventrisk is the RBA block of the rule languages that carry none (Sigma, Elastic): their rules match one
// audit event, and the risk record names the user who made the request and the address it came from. Both
// languages call Apply, so a Sigma and an Elastic rule of the same severity write the same shape of risk record.
package eventrisk

import (
	"strings"

	"github.com/auditdetect/auditdetect/processor/rule"
)

// Row fields of the default risk block.
const (
	// UserField is the risk object (type user): the requesting user.
	UserField = "user.username"
	// SourceField is the threat object (type ip_address): the first address of sourceIPs{} (the client, as
	// X-Forwarded-For names it) and, when there are several, the last (the address the API server saw, which the
	// client cannot set).
	SourceField = "src_ip"
	// SeverityField carries the rule's own severity word (Sigma level, Elastic severity) onto the risk record.
	SeverityField = "severity"
)

// Apply gives r the default risk block: risk object user.username (type user) scoring score, threat object src_ip
// (type ip_address) set from the first and the last source IP, a message naming the request, and the severity as a row field.
// Per-rule overrides (the processor's rule_overrides) replace the objects later, at load time.
func Apply(r *rule.Rule, score int, severity string) {
	r.Risk = rule.Risk{
		Message: r.Name + ": $verb$ $requestURI$ by $user.username$ from $src_ip$",
		Objects: []rule.RiskObject{{Field: UserField, Type: "user", Score: score}},
		Threats: []rule.ThreatObject{{Field: SourceField, Type: "ip_address"}},
	}
	r.Pipeline = append(r.Pipeline, rule.Copy{From: "sourceIPs{}", To: SourceField, Ends: true})
	if severity != "" {
		// A constant field: audit events have no top-level `severity` for the fill to lose to.
		r.Pipeline = append(r.Pipeline, rule.FillNull{Value: severity, Fields: []string{SeverityField}})
	}
}

// ApplyGroups gives a rule whose rows are groups (an aggregating ES|QL query, a Sigma correlation) its risk block. Its
// rows hold only group columns and aggregates, so the risk object is the first of columns that holds the requesting
// user (type user), or the first group (type other) when none does; the threat object the first that holds the
// source addresses, if any. sources maps each candidate column to the audit path it was read from; columns are in
// order of preference (groups first). The message names each group.
func ApplyGroups(r *rule.Rule, groups, columns []string, sources map[string]string, score int, severity string) {
	find := func(path string) string {
		for _, c := range columns {
			if sources[c] == path {
				return c
			}
		}
		return ""
	}
	obj := rule.RiskObject{Field: find(UserField), Type: "user", Score: score}
	if obj.Field == "" {
		obj = rule.RiskObject{Field: groups[0], Type: "other", Score: score}
	}
	r.Risk = rule.Risk{Objects: []rule.RiskObject{obj}}
	if ip := find("sourceIPs"); ip != "" {
		r.Risk.Threats = []rule.ThreatObject{{Field: ip, Type: "ip_address"}}
	}
	named := make([]string, len(groups))
	for i, g := range groups {
		named[i] = g + "=$" + g + "$"
	}
	r.Risk.Message = r.Name + ": " + strings.Join(named, " ")
	if severity != "" {
		r.Pipeline = append(r.Pipeline, rule.FillNull{Value: severity, Fields: []string{SeverityField}})
	}
}
