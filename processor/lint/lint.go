// Package lint finds the terms of a rule's filter that can never be true on an audit event the API server writes:
// a field the event does not have (`user.name` for user.username, a top-level `hostPath`), a typo in an enumerated
// value (`stage=ResponseCompleted`), a verb the API server never writes (`replace`, which is `update` in an audit
// event), a response code compared with a word. Such a term does not fail a rule (the rule loads and runs; the term
// is simply never true), which is why it goes unnoticed: a rule that can never match looks the same as a rule that
// found nothing.
//
// Only facts of the audit.k8s.io/v1 Event schema that hold for every API server are used: the members of the event,
// of objectRef, user and responseStatus (request and response objects, annotations and user.extra are open), the
// closed sets of stage and level, the verbs the API server derives from a request, and that responseStatus.code is
// an integer.
package lint

import (
	"fmt"
	"slices"
	"strings"

	"github.com/auditdetect/auditdetect/processor/rule"
)

// Finding is one term that can never be true.
type Finding struct {
	// Term is the comparison as the rule model holds it, e.g. `verb=replace`.
	Term string
	// Reason says why no API server event has such a value.
	Reason string
}

// Result is what Check found in one rule.
type Result struct {
	// Findings are every term of the filter that is never true, in the filter's order.
	Findings []Finding
	// NeverMatches says the rule's filter is false on every API server event because of some of these terms (an
	// And that needs one of them, or an Or of nothing else): the rule can never write a risk event. Because holds
	// those terms; the other findings are dead alternatives.
	NeverMatches bool
	Because      []Finding
	// NeverExcludes are the findings under NOT (an odd number of them): an exclusion that never applies, so that the
	// rule matches more than it was written to (all of it, when the NOT stands alone).
	NeverExcludes []Finding
}

// field is what the schema fixes for one audit event field: the values it can have (nil: not a closed set), or
// that it is an integer.
type field struct {
	values  []string
	integer bool
	why     string
}

// schema holds the fields whose values are known.
var schema = map[string]field{
	"stage": {values: []string{"RequestReceived", "ResponseStarted", "ResponseComplete", "Panic"},
		why: "stage is one of RequestReceived, ResponseStarted, ResponseComplete, Panic"},
	// An audit policy's level None means the event is not written.
	"level": {values: []string{"Metadata", "Request", "RequestResponse"},
		why: "level is one of Metadata, Request, RequestResponse (a request at level None is not logged)"},
	"responseStatus.code": {integer: true, why: "responseStatus.code is an HTTP status code, an integer"},
}

// resourceVerb is verb in a resource request (one with an objectRef): the API server derives it from the method and
// path (RequestInfo) as one of these, or the empty string for a method it does not map. A non-resource request's
// verb is its lowercased HTTP method, which can be any token: there verb is not a closed set. Authorization-only
// verbs (impersonate, escalate, bind, use, approve...) and kubectl's words (replace, apply, exec) are never written.
var resourceVerb = field{values: []string{"get", "list", "watch", "create", "update", "patch", "delete",
	"deletecollection", "proxy", ""},
	why: "a request for a resource (this term's And needs objectRef) has verb get, list, watch, create, update, " +
		"patch, delete, deletecollection or proxy (kubectl replace is update; impersonate, escalate and bind are " +
		"authorization verbs)"}

// members lists the keys the schema fixes for the event ("") and for its objects whose keys are fixed; every other
// object (requestObject, responseObject, annotations, user.extra, responseStatus.details...) is open. The values of
// the other members listed are strings, numbers or arrays of strings: nothing below them.
// The event's list includes metadata and timestamp, which audit.k8s.io/v1beta1 events (before Kubernetes 1.24) have.
var members = map[string][]string{
	"": {"kind", "apiVersion", "level", "auditID", "stage", "requestURI", "verb", "user", "impersonatedUser", "sourceIPs",
		"userAgent", "objectRef", "responseStatus", "requestObject", "responseObject", "requestReceivedTimestamp",
		"stageTimestamp", "annotations", "metadata", "timestamp"},
	"objectRef":        {"resource", "namespace", "name", "uid", "apiGroup", "apiVersion", "resourceVersion", "subresource"},
	"user":             {"username", "uid", "groups", "extra"},
	"impersonatedUser": {"username", "uid", "groups", "extra"},
	"responseStatus":   {"kind", "apiVersion", "metadata", "status", "message", "reason", "details", "code"},
}

// open lists the members whose values are objects with keys the schema does not fix.
var open = map[string]bool{"requestObject": true, "responseObject": true, "annotations": true, "metadata": true, "user.extra": true,
	"impersonatedUser.extra": true, "responseStatus.metadata": true, "responseStatus.details": true}

// absent says why no API server event has field f: a member the schema does not have, or a path below a value that
// is a string or number. Keys are case-sensitive, as JSON's and Splunk's field names are.
func absent(f rule.Field) (string, bool) {
	segs := strings.Split(strings.ReplaceAll(f.Name, "{}", ""), ".")
	parent := ""
	for i, s := range segs {
		if !slices.Contains(members[parent], s) {
			if parent == "" {
				return fmt.Sprintf("an audit event has no member %q (its members: %s)", s, strings.Join(members[""], ", ")), true
			}
			return fmt.Sprintf("%s has no member %q (its members: %s)", parent, s, strings.Join(members[parent], ", ")), true
		}
		path := s
		if parent != "" {
			path = parent + "." + s
		}
		if open[path] {
			return "", false
		}
		if members[path] == nil && i < len(segs)-1 {
			return fmt.Sprintf("%s is a string, number or list of strings: nothing is below it", path), true
		}
		parent = path
	}
	return "", false
}

// lists are the members whose values are lists of strings: a Splunk path names their values with `{}` (sourceIPs{}).
var lists = map[string]bool{"sourceIPs": true, "user.groups": true, "impersonatedUser.groups": true}

// NoValue says why no API server event gives the field name a value (a string, number or boolean) as the engine reads
// a Splunk path: a member the schema does not have, a path below a string or number, an object (user, objectRef,
// requestObject...: its members have values, it has none), a list named without `{}` (sourceIPs for sourceIPs{}), or
// `{}` after a member that is no list. ok is false when some event can give it one; any path below an open object
// (requestObject, annotations, user.extra...) can.
func NoValue(name string) (why string, ok bool) {
	segs := strings.Split(name, ".")
	path := ""
	for i, seg := range segs {
		key, list := strings.CutSuffix(seg, "{}")
		parent := path
		if !slices.Contains(members[parent], key) {
			if parent == "" {
				return fmt.Sprintf("an audit event has no member %q (its members: %s)", key, strings.Join(members[""], ", ")), true
			}
			return fmt.Sprintf("%s has no member %q (its members: %s)", parent, key, strings.Join(members[parent], ", ")), true
		}
		if path = key; parent != "" {
			path = parent + "." + key
		}
		last := i == len(segs)-1
		switch {
		case open[path]:
			// Its content is the requester's (a JSON patch body is a list): only the member itself is known to have
			// no value.
			if last && !list {
				return fmt.Sprintf("%s is an object: its members have values, it has none (name one: %s.<key>)", path, path), true
			}
			return "", false
		case members[path] != nil:
			if list {
				return fmt.Sprintf("%s is an object, not a list: name a member (%s.<member>) without {}", path, path), true
			}
			if last {
				return fmt.Sprintf("%s is an object: its members have values, it has none (its members: %s)", path,
					strings.Join(members[path], ", ")), true
			}
		case lists[path]:
			if !list {
				return fmt.Sprintf("%s is a list: Splunk names its values %s{}", path, path), true
			}
			if !last {
				return fmt.Sprintf("%s{} are strings: nothing is below them", path), true
			}
		default:
			if list {
				return fmt.Sprintf("%s is a string or number, not a list: name it without {}", path), true
			}
			if !last {
				return fmt.Sprintf("%s is a string or number: nothing is below it", path), true
			}
		}
	}
	return "", false
}

// Conditions is what r requires of the event itself: its filter and the conditions of the search and where stages
// that come before any stage that changes the fields (rename, stats, fillnull, iplocation...), ANDed; nil when there
// are none. Those stages read the event's own fields, as the filter does.
func Conditions(r *rule.Rule) rule.Expr {
	var and rule.And
	if r.Filter != nil {
		and = append(and, r.Filter)
	}
stages:
	for _, st := range r.Pipeline {
		switch st := st.(type) {
		case rule.Search:
			if st.Cond != nil {
				and = append(and, st.Cond)
			}
		case rule.Where:
			if st.Cond != nil {
				and = append(and, st.Cond)
			}
		default:
			break stages
		}
	}
	switch len(and) {
	case 0:
		return nil
	case 1:
		return and[0]
	}
	return and
}

// DeadAlternatives are the findings of a rule that can still match, other than its exclusions that never apply:
// alternatives that are never true while the rest of the rule runs.
func (r Result) DeadAlternatives() []Finding {
	if r.NeverMatches {
		return nil
	}
	var out []Finding
	for _, f := range r.Findings {
		if !slices.Contains(r.NeverExcludes, f) {
			out = append(out, f)
		}
	}
	return out
}

// Check returns the terms of r's conditions on the event (Conditions) that can never be true, and whether r can
// then never match.
func Check(r *rule.Rule) Result {
	var res Result
	if cond := Conditions(r); cond != nil {
		t, because := eval(cond, false, false, &res)
		// A filter that is false by construction (an empty Or) has no term to blame: not this package's finding.
		if t == never && len(because) > 0 {
			res.NeverMatches, res.Because = true, because
		}
	}
	// A sequence completes only if every step can match some event, and joins only events that have its key.
	if len(r.Pipeline) > 0 {
		if sq, ok := r.Pipeline[0].(rule.Sequence); ok {
			for i, st := range sq.Steps {
				var step Result
				if t, because := eval(st.Cond, false, false, &step); t == never && len(because) > 0 && !res.NeverMatches {
					res.NeverMatches, res.Because = true, because
				}
				for _, b := range st.By {
					if w, no := absent(b); no && !res.NeverMatches {
						f := Finding{Term: fmt.Sprintf("step %d joins on %s", i+1, b.Name), Reason: w}
						res.Findings = append(res.Findings, f)
						res.NeverMatches, res.Because = true, append(res.Because, f)
					}
				}
			}
		}
	}
	// A stats that drops rows without a group field never makes a group of one no event has.
	for i, st := range r.Pipeline {
		s, ok := st.(rule.Stats)
		if !ok || s.NullGroups {
			continue
		}
		for _, b := range s.By {
			paths := copiedFrom(r.Pipeline[:i], b)
			var why []string
			for _, p := range paths {
				if w, no := absent(rule.Field{Name: p}); no {
					why = append(why, w)
				}
			}
			if len(paths) > 0 && len(why) == len(paths) {
				f := Finding{Term: "group by " + b, Reason: strings.Join(why, "; ")}
				res.Findings = append(res.Findings, f)
				res.NeverMatches, res.Because = true, append(res.Because, f)
			}
		}
	}
	return res
}

// copiedFrom is the event paths a column was copied from by the last of stages to set it: one, or one per case of a
// Case of copies (a Sigma alias); none when it was computed otherwise, or a stage after the copy other than an eval
// of another column, a search or a where may set it too (a fillnull, a rename or copy to it, a lookup's output).
func copiedFrom(stages []rule.Stage, column string) []string {
	for i := len(stages) - 1; i >= 0; i-- {
		e, ok := stages[i].(rule.Eval)
		if !ok {
			switch stages[i].(type) {
			case rule.Search, rule.Where:
				continue
			}
			return nil
		}
		if e.To != column {
			continue
		}
		var values []rule.Value
		switch v := e.Value.(type) {
		case rule.FieldValue:
			values = []rule.Value{v}
		case rule.Case:
			if v.Else != nil {
				return nil
			}
			for _, w := range v.Whens {
				values = append(values, w.Then)
			}
		}
		var paths []string
		for _, v := range values {
			fv, ok := v.(rule.FieldValue)
			if !ok || !fv.Field.AnyArray {
				return nil
			}
			paths = append(paths, fv.Field.Name)
		}
		return paths
	}
	return nil
}

type truth int

const (
	unknown truth = iota
	never
	always
)

// eval folds e to never or always where the dead terms decide it, recording every dead term in res.Findings (and
// those under an odd number of NOTs in res.NeverExcludes) and returning the ones that decide e. resource says an
// enclosing And needs the event to have an objectRef (a request for a resource), which closes the set of verbs;
// negated that e is under an odd number of NOTs.
func eval(e rule.Expr, resource, negated bool, res *Result) (truth, []Finding) {
	found := func(f Finding) {
		res.Findings = append(res.Findings, f)
		if negated {
			res.NeverExcludes = append(res.NeverExcludes, f)
		}
	}
	switch e := e.(type) {
	case rule.True:
		return always, nil
	case rule.Exists:
		if why, ok := absent(e.Field); ok {
			f := Finding{Term: e.Field.Name + "=*", Reason: why}
			found(f)
			return never, []Finding{f}
		}
	case rule.Compare:
		if why, ok := absent(e.Field); ok {
			f := Finding{Term: e.Field.Name + e.Op.String() + e.Value.Text, Reason: why}
			found(f)
			return never, []Finding{f}
		}
		if f, ok := dead(e, resource); ok {
			found(f)
			return never, []Finding{f}
		}
	case rule.Not:
		t, because := eval(e.X, resource, !negated, res)
		switch t {
		case never:
			return always, because
		case always:
			return never, because
		}
	case rule.And:
		resource = resource || needsObjectRef(e)
		t, because := always, []Finding(nil)
		var whyAlways []Finding
		for _, x := range e {
			xt, xb := eval(x, resource, negated, res)
			switch xt {
			case never:
				t, because = never, append(because, xb...)
			case unknown:
				if t == always {
					t = unknown
				}
			case always:
				whyAlways = append(whyAlways, xb...)
			}
		}
		if t == always {
			because = whyAlways
		}
		return t, because
	case rule.Or:
		t, because := never, []Finding(nil)
		var whyAlways []Finding
		for _, x := range e {
			xt, xb := eval(x, resource, negated, res)
			switch xt {
			case always:
				t, whyAlways = always, append(whyAlways, xb...)
			case unknown:
				if t == never {
					t = unknown
				}
			case never:
				because = append(because, xb...)
			}
		}
		if t == always {
			because = whyAlways
		}
		return t, because
	}
	return unknown, nil
}

// needsObjectRef says whether an And has a term, not under NOT or OR, that only an event with an objectRef satisfies:
// an equality or existence test of one of its members.
func needsObjectRef(and rule.And) bool {
	for _, x := range and {
		switch x := x.(type) {
		case rule.Compare:
			if x.Op == rule.OpEq && strings.HasPrefix(x.Field.Name, "objectRef.") {
				return true
			}
		case rule.Exists:
			if strings.HasPrefix(x.Field.Name, "objectRef.") {
				return true
			}
		}
	}
	return false
}

// dead reports whether an equality compares a schema field with a value it never has; verb only in a request for a
// resource.
func dead(c rule.Compare, resource bool) (Finding, bool) {
	if c.Op != rule.OpEq || c.Value.Kind != rule.Glob {
		return Finding{}, false
	}
	f, ok := schema[c.Field.Name]
	if c.Field.Name == "verb" && resource {
		f, ok = resourceVerb, true
	}
	if !ok {
		return Finding{}, false
	}
	term := Finding{Term: c.Field.Name + "=" + c.Value.Text, Reason: f.why}
	if f.integer {
		// Every literal character must be a digit for some integer to match.
		for _, ch := range literals(c.Value.Text) {
			if ch < '0' || ch > '9' {
				return term, true
			}
		}
		return Finding{}, false
	}
	glob := c.Value.Text
	if !c.Value.CaseSensitive {
		// The engine folds with Unicode's simple folding: the long s and the Kelvin sign are s and k.
		glob = asciiFold.Replace(glob)
	}
	for _, v := range f.values {
		if globMatch(glob, v, c.Value.CaseSensitive) {
			return Finding{}, false
		}
	}
	return term, true
}

// asciiFold spells the two characters outside ASCII that Unicode's simple case folding takes to an ASCII letter as
// that letter.
var asciiFold = strings.NewReplacer("\u017f", "s", "\u212a", "k")

// literals returns the characters of a glob that must appear as written (its wildcards left out).
func literals(glob string) string {
	var b strings.Builder
	for i := 0; i < len(glob); i++ {
		switch glob[i] {
		case '*', '?':
		case '\\':
			if i+1 < len(glob) {
				i++
				b.WriteByte(glob[i])
			}
		default:
			b.WriteByte(glob[i])
		}
	}
	return b.String()
}

// globMatch matches s against a rule.Glob pattern (`*`, `?`, `\` escapes), ASCII case folded unless caseSensitive:
// the schema's values are ASCII. Backtracking only to the last star keeps it linear in the pattern for each
// start, whatever the stars (rule files are input).
func globMatch(glob, s string, caseSensitive bool) bool {
	eq := func(a, b byte) bool {
		if caseSensitive {
			return a == b
		}
		return lower(a) == lower(b)
	}
	px, sx := 0, 0
	starPx, starSx := -1, -1
	for px < len(glob) || sx < len(s) {
		if px < len(glob) {
			switch c := glob[px]; c {
			case '*':
				starPx, starSx = px, sx+1
				px++
				continue
			case '?':
				if sx < len(s) {
					px, sx = px+1, sx+1
					continue
				}
			default:
				w := 1
				if c == '\\' && px+1 < len(glob) {
					c, w = glob[px+1], 2
				}
				if sx < len(s) && eq(c, s[sx]) {
					px, sx = px+w, sx+1
					continue
				}
			}
		}
		if starSx > 0 && starSx <= len(s) {
			px, sx = starPx, starSx
			continue
		}
		return false
	}
	return true
}

func lower(c byte) byte {
	if 'A' <= c && c <= 'Z' {
		return c + 'a' - 'A'
	}
	return c
}

// String describes a finding for a log line or a report.
func (f Finding) String() string { return fmt.Sprintf("`%s` is never true: %s", f.Term, f.Reason) }
