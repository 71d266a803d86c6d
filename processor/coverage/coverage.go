// Package coverage builds the coverage catalog of a compiled rule set: for every audit operation (objectRef.resource
// × verb, with the "any" buckets of the engine's operation index), the rules keyed on it, and for every rule the
// operations it needs. Operations of the Kubernetes built-in resources that no rule keys on are listed too. The
// catalog prints as Markdown (people) or JSON (tools), and as one summary line (the collector's start-up log).
package coverage

import (
	"encoding/json"
	"fmt"
	"io"
	"slices"
	"sort"
	"strings"

	"github.com/auditdetect/auditdetect/processor/engine"
	"github.com/auditdetect/auditdetect/processor/lint"
	"github.com/auditdetect/auditdetect/processor/rule"
)

// Any is how the catalog writes the engine's "every resource" / "every verb".
const Any = "any"

// Catalog is the coverage of one rule set.
type Catalog struct {
	Summary    Summary     `json:"summary"`
	Rules      []Rule      `json:"rules"`
	Operations []Operation `json:"operations"`
}

// Rule is one rule and the operations it needs.
type Rule struct {
	// Number is the rule's 1-based position, used by the Markdown matrix.
	Number int    `json:"number"`
	ID     string `json:"id"`
	Name   string `json:"name"`
	File   string `json:"file"`
	// Status is the rule's upstream status (rule.Rule.Status), when the file has one.
	Status string `json:"status,omitempty"`
	// Operations are verb-resource names as the event catalog writes them (create-services, any-services,
	// create-any); a rule with only "any-any" runs on every audit event.
	Operations []string `json:"operations"`
	// NeverTrue describes the terms of the rule's filter that no API server event satisfies (package lint).
	// NeverMatches says the rule needs some of them, the terms of NeverMatchesBecause: it can never match.
	// NeverExcludes are those under NOT: exclusions that never apply, so that the rule matches more than written.
	NeverTrue           []string `json:"never_true,omitempty"`
	NeverMatches        bool     `json:"never_matches,omitempty"`
	NeverMatchesBecause []string `json:"never_matches_because,omitempty"`
	NeverExcludes       []string `json:"never_excludes,omitempty"`
}

// Operation is one resource × verb. Verb or Resource is "any" for the index's buckets.
type Operation struct {
	Name     string `json:"name"`
	Resource string `json:"resource"`
	Verb     string `json:"verb"`
	// Group is the API group of a built-in resource ("core" for the core group); empty for others.
	Group string `json:"group,omitempty"`
	// Builtin says the operation is one of the Kubernetes built-in resources' own.
	Builtin bool `json:"builtin"`
	// Rules are the IDs of the rules keyed on exactly this operation.
	Rules []string `json:"rules"`
	// EvaluatedBy are the IDs of every rule the engine runs on an event of this operation: those keyed on it and
	// those of its "any" buckets.
	EvaluatedBy []string `json:"evaluated_by"`
}

// Summary counts what the catalog shows.
type Summary struct {
	Rules int `json:"rules"`
	// RulesOnEveryOperation run on every audit event: their filter names no resource and no verb.
	RulesOnEveryOperation int `json:"rules_on_every_operation"`
	// RulesOnEveryResource name verbs but no resource.
	RulesOnEveryResource int `json:"rules_on_every_resource"`
	// KeyedOperations counts the distinct resource × verb operations (any-verb buckets included) rules key on.
	KeyedOperations int `json:"keyed_operations"`
	// KeyedResources counts the distinct resources rules name.
	KeyedResources int `json:"keyed_resources"`
	// BuiltinOperations counts the operations of the built-in resources; BuiltinCovered those a rule keys on by
	// their resource (the exact operation or the resource's any-verb bucket).
	BuiltinOperations int `json:"builtin_operations"`
	BuiltinCovered    int `json:"builtin_covered"`
	// RulesNeverMatching counts the rules that can never match (Rule.NeverMatches).
	RulesNeverMatching int `json:"rules_never_matching"`
}

// Build makes the catalog of a compiled engine's rules.
func Build(e *engine.Engine) *Catalog {
	rules, ops := e.Rules(), e.Operations()
	c := &Catalog{}
	keyed := map[engine.Operation][]string{} // operation -> rule IDs keyed on it, in rule order
	var order []engine.Operation
	for i, r := range rules {
		cr := Rule{Number: i + 1, ID: r.ID, Name: r.Name, File: r.Origin.File, Status: r.Status}
		l := lint.Check(r)
		for _, f := range l.Findings {
			cr.NeverTrue = append(cr.NeverTrue, f.String())
		}
		if cr.NeverMatches = l.NeverMatches; l.NeverMatches {
			c.Summary.RulesNeverMatching++
			for _, f := range l.Because {
				cr.NeverMatchesBecause = append(cr.NeverMatchesBecause, f.Term)
			}
		} else {
			for _, f := range l.NeverExcludes {
				cr.NeverExcludes = append(cr.NeverExcludes, f.Term)
			}
		}
		anyResource, anyOp := false, false
		for _, o := range ops[i] {
			cr.Operations = append(cr.Operations, o.String())
			if _, seen := keyed[o]; !seen {
				order = append(order, o)
			}
			keyed[o] = append(keyed[o], r.ID)
			anyResource = anyResource || o.Resource == engine.Any
			anyOp = anyOp || o == engine.Operation{Resource: engine.Any, Verb: engine.Any}
		}
		switch {
		case anyOp:
			c.Summary.RulesOnEveryOperation++
		case anyResource:
			c.Summary.RulesOnEveryResource++
		}
		c.Rules = append(c.Rules, cr)
	}
	c.Summary.Rules = len(rules)

	builtin := map[string]Resource{}
	for _, r := range BuiltinResources {
		builtin[r.Name] = r
	}
	// Every built-in operation, every any-verb bucket of a built-in resource, then whatever else rules name.
	all := map[engine.Operation]bool{}
	var list []engine.Operation
	add := func(o engine.Operation) {
		if !all[o] {
			all[o] = true
			list = append(list, o)
		}
	}
	for _, r := range BuiltinResources {
		for _, v := range r.Verbs {
			add(engine.Operation{Resource: r.Name, Verb: v})
		}
		add(engine.Operation{Resource: r.Name, Verb: engine.Any})
	}
	for _, o := range order {
		add(o)
	}
	resources := map[string]bool{}
	for o := range keyed {
		if o.Resource != engine.Any {
			resources[o.Resource] = true
			c.Summary.KeyedOperations++
		}
	}
	c.Summary.KeyedResources = len(resources)
	sort.SliceStable(list, func(i, j int) bool { return opLess(list[i], list[j]) })

	for _, o := range list {
		br, isBuiltin := builtin[o.Resource]
		op := Operation{
			Name:     o.String(),
			Resource: anyName(o.Resource),
			Verb:     anyName(o.Verb),
			Group:    br.Group,
			Builtin:  isBuiltin && (o.Verb == engine.Any || slices.Contains(br.Verbs, o.Verb)),
			Rules:    nonNil(keyed[o]),
		}
		op.EvaluatedBy = evaluatedBy(o, rules, ops)
		if op.Builtin && o.Verb != engine.Any {
			c.Summary.BuiltinOperations++
			if len(op.Rules) > 0 || len(keyed[engine.Operation{Resource: o.Resource, Verb: engine.Any}]) > 0 {
				c.Summary.BuiltinCovered++
			}
		}
		c.Operations = append(c.Operations, op)
	}
	return c
}

// evaluatedBy lists, in rule order, the rules the index would hand an event of operation o.
func evaluatedBy(o engine.Operation, rules []*rule.Rule, ops [][]engine.Operation) []string {
	out := []string{}
	for i, rops := range ops {
		for _, ro := range rops {
			if covers(ro.Resource, o.Resource) && covers(ro.Verb, o.Verb) {
				out = append(out, rules[i].ID)
				break
			}
		}
	}
	return out
}

// covers says whether a rule keyed on part k runs on events whose part is v. An event's "any" stands for a value
// no rule names, which only the rule's own "any" reaches.
func covers(k, v string) bool {
	return k == engine.Any || k == v
}

func opLess(a, b engine.Operation) bool {
	// "any" sorts after every resource and after every verb.
	if a.Resource != b.Resource {
		return rank(a.Resource) < rank(b.Resource) || (rank(a.Resource) == rank(b.Resource) && a.Resource < b.Resource)
	}
	return verbRank(a.Verb) < verbRank(b.Verb) || (verbRank(a.Verb) == verbRank(b.Verb) && a.Verb < b.Verb)
}

func rank(s string) int {
	if s == engine.Any {
		return 1
	}
	return 0
}

// verbRank orders verbs as kubectl's RBAC docs do; other verbs come next, alphabetically, then "any".
func verbRank(v string) int {
	if i := slices.Index(allVerbs, v); i >= 0 {
		return i
	}
	if v == engine.Any {
		return len(allVerbs) + 1
	}
	return len(allVerbs)
}

func anyName(s string) string {
	if s == engine.Any {
		return Any
	}
	return s
}

func nonNil(s []string) []string {
	if s == nil {
		return []string{}
	}
	return s
}

// Line is the one-line summary the collector logs at start-up.
func (c *Catalog) Line() string {
	s := c.Summary
	return fmt.Sprintf("%d rules keyed on %d operations of %d resources, %d on every resource, %d on every operation; "+
		"%d of %d Kubernetes built-in operations have a rule keyed on their resource",
		s.Rules-s.RulesOnEveryOperation-s.RulesOnEveryResource, s.KeyedOperations, s.KeyedResources,
		s.RulesOnEveryResource, s.RulesOnEveryOperation, s.BuiltinCovered, s.BuiltinOperations)
}

// WriteJSON writes the catalog as indented JSON.
func (c *Catalog) WriteJSON(w io.Writer) error {
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	return enc.Encode(c)
}

// WriteMarkdown writes the catalog as Markdown: the summary, the rules and their operations, and a resource × verb
// matrix in which each cell names the rules (by number) keyed on that operation.
func (c *Catalog) WriteMarkdown(w io.Writer) error {
	var b strings.Builder
	fmt.Fprintf(&b, "# Coverage catalog\n\n%s.\n\n", c.Line())
	b.WriteString("## Rules\n\n| # | rule | id | file | operations |\n| ---: | --- | --- | --- | --- |\n")
	for _, r := range c.Rules {
		name := r.Name
		if r.Status == "deprecated" || r.Status == "unsupported" {
			name += " (" + r.Status + " upstream)"
		}
		fmt.Fprintf(&b, "| %d | %s | %s | %s | %s |\n", r.Number, Cell(name), Cell(r.ID), Cell(r.File),
			Cell(strings.Join(r.Operations, ", ")))
	}

	var never strings.Builder
	for _, r := range c.Rules {
		if len(r.NeverTrue) == 0 {
			continue
		}
		code := func(terms []string) string {
			out := make([]string, len(terms))
			for i, t := range terms {
				out[i] = "`" + t + "`"
			}
			return strings.Join(out, ", ")
		}
		effect := "an alternative of the rule is dead; the rest runs"
		switch {
		case r.NeverMatches:
			effect = "**the rule can never match**, because of " + code(r.NeverMatchesBecause)
		case len(r.NeverExcludes) > 0:
			effect = "**an exclusion never applies** (NOT " + code(r.NeverExcludes) + "): the rule matches more than written"
		}
		fmt.Fprintf(&never, "| %d | %s | %s | %s |\n", r.Number, Cell(r.Name), Cell(strings.Join(r.NeverTrue, "; ")), Cell(effect))
	}
	if never.Len() > 0 {
		b.WriteString("\n## Terms that are never true\n\nTerms of a rule's filter that no event an API server writes satisfies " +
			"(a field the event does not have, a value outside a field's closed set, a verb the API server never writes " +
			"for a resource, a word compared with a status code). " +
			"The rule loads and runs; the term is just never true.\n\n| # | rule | terms | effect |\n| ---: | --- | --- | --- |\n")
		b.WriteString(never.String())
	}

	number := map[string]int{}
	for _, r := range c.Rules {
		number[r.ID] = r.Number
	}
	verbs := slices.Clone(allVerbs)
	for _, o := range c.Operations {
		if o.Verb != Any && !slices.Contains(verbs, o.Verb) {
			verbs = append(verbs, o.Verb)
		}
	}
	verbs = append(verbs, Any)
	type rowKey struct{ resource, group string }
	var rows []rowKey
	cells := map[rowKey]map[string]string{}
	for _, o := range c.Operations {
		k := rowKey{o.Resource, o.Group}
		if cells[k] == nil {
			rows = append(rows, k)
			cells[k] = map[string]string{}
		}
		nums := make([]string, len(o.Rules))
		for i, id := range o.Rules {
			nums[i] = fmt.Sprint(number[id])
		}
		if len(nums) == 0 {
			nums = []string{"·"}
		}
		cells[k][o.Verb] = strings.Join(nums, " ")
	}
	b.WriteString("\n## Operations\n\nA cell lists the rules (by #) keyed on that resource × verb; `any` is the index's bucket for " +
		"rules that name no verb (column) or no resource (row). `·`: an operation of the resource that no rule keys on; " +
		"empty: the resource has no such verb. The engine also runs the `any` rules of the row and column on every operation.\n\n")
	b.WriteString("| resource | group | " + strings.Join(verbs, " | ") + " |\n| --- | --- |" + strings.Repeat(" --- |", len(verbs)) + "\n")
	for _, k := range rows {
		fmt.Fprintf(&b, "| %s | %s |", k.resource, k.group)
		for _, v := range verbs {
			fmt.Fprintf(&b, " %s |", cells[k][v])
		}
		b.WriteString("\n")
	}
	_, err := io.WriteString(w, b.String())
	return err
}

// Cell escapes text for a Markdown table cell (also for the tool's other Markdown reports).
func Cell(s string) string {
	return strings.NewReplacer("|", `\|`, "\n", " ").Replace(s)
}
