package loader

import (
	"errors"
	"fmt"
	"slices"
	"sort"
	"strings"
	"unicode"
	"unicode/utf8"

	"go.uber.org/zap"

	"github.com/auditdetect/auditdetect/processor/rule"
)

// Override replaces the risk objects, the threat objects and/or the risk message of one rule (the processor's
// rule_overrides). It serves every format, but exists for Sigma and Elastic rules, whose default objects (the user
// and the first source IPs) and message are auditdetect's choice rather than the rule author's, and to mend an
// upstream detection whose own do not fit its results. An empty list or message leaves the rule's own.
type Override struct {
	RiskObjects   []rule.RiskObject
	ThreatObjects []rule.ThreatObject
	// Message has $field$ tokens, as ESCU's rba.message.
	Message string
}

// ThreatObjectTypes are the threat object types contentctl accepts: the ThreatObjectType enum of splunk/contentctl,
// contentctl/objects/rba.py (the v5 `rba:` model every ESCU detection is validated against).
var ThreatObjectTypes = []string{
	"certificate_common_name", "certificate_organization", "certificate_serial", "certificate_unit", "command",
	"domain", "email_address", "email_subject", "file_hash", "file_name", "file_path", "http_user_agent",
	"ip_address", "process", "process_name", "parent_process", "parent_process_name", "process_hash",
	"registry_path", "registry_value_name", "registry_value_text", "service", "signature", "system", "tls_hash", "url",
}

// applyOverrides applies each override to the rules whose id or name is its key. A risk object without a score takes
// the rule's own score (its highest). A key that names no loaded rule changes nothing here: the processor reports
// such keys once for every kind of rule_overrides setting. A field the rule's result rows can never hold (its output
// fields are known: OutputFields) fails: such a risk object writes no risk record, such a threat object nothing. A
// message token no row can fill is a warning, as an ESCU detection's own (checkMessage): the message still says the
// rest.
func applyOverrides(rules []*rule.Rule, overrides map[string]Override, log *zap.Logger) error {
	keys := make([]string, 0, len(overrides))
	for k := range overrides {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	var errs []error
	for _, k := range keys {
		o := overrides[k]
		if err := checkOverride(o); err != nil {
			errs = append(errs, fmt.Errorf("rule_overrides %q: %w", k, err))
			continue
		}
		for _, r := range rules {
			if r.NamedBy(k) {
				if err := CheckFields(r, "risk_objects[].field", riskFields(o.RiskObjects)); err != nil {
					errs = append(errs, fmt.Errorf("rule_overrides %q: %w", k, err))
					continue
				}
				if err := CheckFields(r, "threat_objects[].field", threatFields(o.ThreatObjects)); err != nil {
					errs = append(errs, fmt.Errorf("rule_overrides %q: %w", k, err))
					continue
				}
				if err := override(r, o); err != nil {
					errs = append(errs, fmt.Errorf("rule_overrides %q: %w", k, err))
					continue
				}
				if o.Message != "" {
					checkMessage(r, log)
				}
			}
		}
	}
	return errors.Join(errs...)
}

func checkOverride(o Override) error {
	if len(o.RiskObjects) == 0 && len(o.ThreatObjects) == 0 && o.Message == "" {
		return errors.New("needs risk_objects, threat_objects or message")
	}
	if o.Message != "" && strings.TrimSpace(o.Message) == "" {
		return errors.New("message is blank: its risk records would say nothing (leave it out to keep the rule's own)")
	}
	if err := checkMessageText(overrideMessage(o)); err != nil {
		return err
	}
	for _, ro := range o.RiskObjects {
		switch {
		case ro.Field == "":
			return errors.New("a risk object needs a field")
		case !slices.Contains([]string{"user", "system", "other"}, ro.Type):
			return fmt.Errorf("risk object type %q is not user, system or other", ro.Type)
		case ro.Score < 0 || ro.Score > 100:
			return fmt.Errorf("risk score %d is outside 1-100 (leave it out to keep the rule's own)", ro.Score)
		}
	}
	for _, t := range o.ThreatObjects {
		switch {
		case t.Field == "" || t.Type == "":
			return errors.New("a threat object needs a field and a type")
		case !slices.Contains(ThreatObjectTypes, t.Type):
			return fmt.Errorf("threat object type %q is not one of ESCU's (contentctl): %s", t.Type, strings.Join(ThreatObjectTypes, ", "))
		}
	}
	return nil
}

// checkMessageText refuses a message the risk records could not show as written: longer than the RBA writer writes
// (rule.MaxMessageBytes; contentctl sets no bound on rba.message, so the writer's cut is the bound there is), not
// UTF-8, or holding a control character other than tab or a line separator (a line break would make one risk message
// read as two lines in Splunk; the writer escapes such characters in the values it fills in, not in the rule's text).
func checkMessageText(msg string) error {
	if len(msg) > rule.MaxMessageBytes {
		return fmt.Errorf("message is %d bytes, over the %d a risk record holds (its end would be cut in every record)",
			len(msg), rule.MaxMessageBytes)
	}
	for i := 0; i < len(msg); {
		r, n := utf8.DecodeRuneInString(msg[i:])
		switch {
		case r == utf8.RuneError && n == 1:
			return fmt.Errorf("message is not valid UTF-8 (byte %d)", i+1)
		case unicode.IsControl(r) && r != '\t', r == '\u2028', r == '\u2029':
			return fmt.Errorf("message holds %U, a control character or line break, at byte %d: a risk message is one "+
				"line of text, in which a tab is the only control character", r, i+1)
		}
		i += n
	}
	return nil
}

// overrideMessage is the override's message without the line breaks at its end: the usual way to write a long
// message in YAML, a block scalar (`message: >`), keeps one there, which is no part of the text.
func overrideMessage(o Override) string {
	return strings.TrimRight(o.Message, "\r\n")
}

func override(r *rule.Rule, o Override) error {
	if len(o.RiskObjects) > 0 {
		score := 0
		for _, ro := range r.Risk.Objects {
			score = max(score, ro.Score)
		}
		objs := slices.Clone(o.RiskObjects)
		for i := range objs {
			if objs[i].Score == 0 {
				if score == 0 {
					return fmt.Errorf("risk object %q needs a score: the rule has none of its own", objs[i].Field)
				}
				objs[i].Score = score
			}
		}
		r.Risk.Objects = objs
	}
	if len(o.ThreatObjects) > 0 {
		r.Risk.Threats = slices.Clone(o.ThreatObjects)
	}
	if o.Message != "" {
		r.Risk.Message = overrideMessage(o)
	}
	return nil
}

func riskFields(objs []rule.RiskObject) []string {
	out := make([]string, 0, len(objs))
	for _, o := range objs {
		out = append(out, o.Field)
	}
	return out
}

func threatFields(objs []rule.ThreatObject) []string {
	out := make([]string, 0, len(objs))
	for _, o := range objs {
		out = append(out, o.Field)
	}
	return out
}

// OutputFields returns the fields every result row of r can hold, when they are known: when the rule's pipeline
// ends in stats, its rows are the stats' by-fields and aggregates, renamed by a later rename, completed by later
// stages that add fields (fillnull, iplocation) and narrowed by a projection (table, fields); when it has no stats,
// a table (or fields) that names its fields one by one makes them the rows' fields. ok is false when the rows are
// whole events (any field of the event can be read; resultFields says which a projection took away) or a stage is
// one this function does not know.
func OutputFields(r *rule.Rule) (fields []string, ok bool) {
	res, known := resultFields(r)
	if !known || res.open {
		return nil, false
	}
	return res.fields, true
}

// results are the fields a rule's result rows can hold.
type results struct {
	// fields are the fields stages made (stats, rename, eval...) or a projection named one by one.
	fields []string
	// open: the rows are the event, whose every field can also be read, except those hidden (renamed) and those a
	// projection of gates did not keep.
	open   bool
	hidden []string
	gates  []rule.Project
	// named are the fields a table or fields names one by one that no stage sets: a row holds one only as its event
	// does (rows that are events), or never (rows a stats made); Splunk's table shows an empty column for a row
	// without it.
	named []string
}

// has reports whether a result row can hold name.
func (res *results) has(name string) bool {
	if slices.Contains(res.fields, name) {
		return true
	}
	return res.open && res.fromEvent(name)
}

// fromEvent reports whether the event's field name is still a field of the rows.
func (res *results) fromEvent(name string) bool {
	if slices.Contains(res.hidden, name) {
		return false
	}
	for _, g := range res.gates {
		if !g.Keeps(name) {
			return false
		}
	}
	return true
}

// describe lists the fields for a message: the known ones, and when the rows are the event, the event's fields
// the projections keep.
func (res *results) describe() []string {
	have := slices.Clone(res.fields)
	if res.open {
		var keep, remove []string
		for _, g := range res.gates {
			if g.Remove {
				remove = append(remove, g.Fields...)
			} else {
				keep = append(keep, strings.Join(g.Fields, " "))
			}
		}
		what := "the event's fields"
		if len(keep) > 0 {
			what += " matching " + strings.Join(keep, " and ")
		}
		if len(remove) > 0 {
			what += " but " + strings.Join(remove, ", ")
		}
		have = append(have, what)
	}
	return have
}

// resultFields works out what r's result rows can hold. known is false when the rows are whole events that no
// projection narrowed (every field of the event can be read), or a stage is one it does not know.
func resultFields(r *rule.Rule) (res results, known bool) {
	res, known = rowFields(r)
	if known && res.open && !slices.ContainsFunc(r.Pipeline, func(st rule.Stage) bool { _, ok := st.(rule.Project); return ok }) {
		return res, false
	}
	return res, known
}

// rowFields works out what r's result rows can hold, whole events included (open: the fields the stages set, and the
// event's). known is false when a stage is one it does not know.
func rowFields(r *rule.Rule) (res results, known bool) {
	first := 0
	res.open = true
	for i, st := range r.Pipeline {
		if _, isStats := st.(rule.Stats); isStats {
			first = i
			res.open = false
		}
	}
	add := func(name string) {
		if !slices.Contains(res.fields, name) {
			res.fields = append(res.fields, name)
		}
	}
	set := func(name string) { // by a stage: a value of its own
		add(name)
		res.named = slices.DeleteFunc(res.named, func(n string) bool { return n == name })
	}
	stages := r.Pipeline[first:]
	for i, st := range stages {
		switch st := st.(type) {
		case rule.Stats:
			for _, b := range st.By {
				set(b)
			}
			for _, a := range st.Aggs {
				set(a.OutputName())
			}
		case rule.Rename:
			// As the engine renames (engine/row.go): in place, replacing a field of the new name; a field the row
			// does not have is not renamed.
			for _, p := range st.Pairs {
				if p.From == p.To {
					continue
				}
				res.named = slices.DeleteFunc(res.named, func(n string) bool { return n == p.To })
				if at := slices.Index(res.named, p.From); at >= 0 {
					res.named[at] = p.To
				}
				at := slices.Index(res.fields, p.From)
				if at < 0 {
					if !res.open || !res.fromEvent(p.From) {
						continue
					}
					// The event's field: hidden under its old name, a field of the row under the new one.
					res.hidden = append(res.hidden, p.From)
					res.fields = slices.DeleteFunc(res.fields, func(f string) bool { return f == p.To })
					res.fields = append(res.fields, p.To)
					continue
				}
				res.fields[at] = p.To
				for j := range res.fields {
					if j != at && res.fields[j] == p.To {
						res.fields = slices.Delete(res.fields, j, j+1)
						break
					}
				}
			}
		case rule.FillNull:
			names := st.Fields
			if len(names) == 0 {
				// Without a list the engine fills what the following stages read.
				names = rule.FillTargets(stages[i+1:])
			}
			for _, n := range names {
				set(n)
			}
		case rule.IPLocation:
			for _, f := range st.Outputs() {
				set(f)
			}
		case rule.Lookup:
			// A field the lookup may leave without a value (no match) is still one the rows can hold.
			for _, f := range st.OutputNames() {
				set(f)
			}
		case rule.Copy:
			if res.has(st.From) {
				set(st.To)
			}
		case rule.Eval:
			set(st.To)
		case rule.Project:
			res.fields = slices.DeleteFunc(res.fields, func(f string) bool { return !st.Keeps(f) })
			res.named = slices.DeleteFunc(res.named, func(f string) bool { return !st.Keeps(f) })
			if !st.Remove {
				for _, n := range st.Names() {
					if !slices.Contains(res.fields, n) && !slices.Contains(res.named, n) {
						res.named = append(res.named, n)
					}
				}
			}
			if names := st.Names(); res.open && !st.Remove && len(names) == len(st.Fields) {
				// A table of names, no wildcard: the rows hold those of them they had, and nothing else.
				for _, n := range names {
					if res.fromEvent(n) {
						add(n)
					}
				}
				res.open, res.hidden, res.gates = false, nil, nil
			} else if res.open {
				res.gates = append(res.gates, st)
			}
			if st.Ordered {
				slices.SortStableFunc(res.fields, func(a, b string) int { return st.Rank(a) - st.Rank(b) })
			}
		case rule.NewTerms:
			set(rule.NewTermsField)
		case rule.Search, rule.Where:
		default:
			return res, false
		}
	}
	return res, true
}

// CheckFields fails when r's output fields are known (OutputFields) and one of names is not among them, naming the
// rule, the setting (what), the field and the fields the rule's rows have. Rules whose rows are whole events pass,
// unless a projection (table, fields) took the field away.
func CheckFields(r *rule.Rule, what string, names []string) error {
	if missing, have := missingField(r, names); missing != "" {
		return fmt.Errorf("%s %q: rule %q has no such result field (its results have: %s)", what, missing, r.Name, strings.Join(have, ", "))
	}
	return nil
}

// missingField returns the first of names that r's result rows can never hold, with the fields they have (described);
// "" when every name can be there, or the output fields are not known.
func missingField(r *rule.Rule, names []string) (missing string, have []string) {
	res, ok := resultFields(r)
	if !ok {
		return "", nil
	}
	for _, n := range names {
		if !res.has(n) {
			return n, res.describe()
		}
	}
	return "", nil
}

// checkOwnObjects drops, with a warning, the risk and threat objects of an ESCU detection that its results can never
// hold (a stats that does not keep the field, a rename that gives it another name), which Splunk ES would leave out
// the same way (no risk event for an empty field). A detection left with no risk object it can fill would match and
// never write a risk record: that one fails to load, with its file and line. Its message's tokens no row can fill are
// said (checkMessage). The parts an override replaces are not checked (the override is, against the same fields), so
// a broken upstream detection can be mended with rule_overrides.
func checkOwnObjects(r *rule.Rule, overrides map[string]Override, log *zap.Logger) error {
	var risk, threat, message bool // replaced by an override
	for k, o := range overrides {
		if r.NamedBy(k) {
			risk = risk || len(o.RiskObjects) > 0
			threat = threat || len(o.ThreatObjects) > 0
			message = message || o.Message != ""
		}
	}
	if !risk && len(r.Risk.Objects) == 0 {
		// Kept, as a rule to see matches with (enrich mode), but said: Splunk ES writes no risk event without a risk
		// object, and the Risk data model does not count a record without one.
		log.Warn("Rule names no risk object: its risk records carry no risk_object or risk_score (give it one with "+
			"rule_overrides.risk_objects)", zap.String("rule", r.Name), zap.String("file", r.Origin.String()))
	}
	switch {
	case message:
		// Replaced: the override's message is checked where it is applied (applyOverrides).
	case strings.TrimSpace(r.Risk.Message) == "":
		// ESCU requires one; without it the risk records say the search name and the risk object (package rba).
		log.Warn("Rule has no risk message (rba.message, or tags.message before v5): its risk records say only its "+
			"search name and risk object", zap.String("rule", r.Name), zap.String("file", r.Origin.String()))
	default:
		checkMessage(r, log)
	}
	res, known := resultFields(r)
	if !known {
		return nil
	}
	have := res.describe()
	// missing reports, with a warning, a field no result holds.
	missing := func(what, field string) bool {
		if res.has(field) {
			return false
		}
		log.Warn("Rule's "+what+" field is not among its results: left out", zap.String("rule", r.Name),
			zap.String("file", r.Origin.String()), zap.String("field", field), zap.Strings("results", have))
		return true
	}
	if !risk && len(r.Risk.Objects) > 0 {
		kept := slices.DeleteFunc(slices.Clone(r.Risk.Objects), func(o rule.RiskObject) bool { return missing("risk object", o.Field) })
		if len(kept) == 0 {
			return &rule.Error{File: r.Origin.File, Line: r.Origin.Line, Rule: r.Name, Reason: fmt.Sprintf(
				"no risk object field (%s) is a field of the search's results (they have: %s): the rule would never "+
					"write a risk record", strings.Join(riskFields(r.Risk.Objects), ", "), strings.Join(have, ", "))}
		}
		r.Risk.Objects = kept
	}
	if !threat {
		r.Risk.Threats = slices.DeleteFunc(r.Risk.Threats, func(t rule.ThreatObject) bool { return missing("threat object", t.Field) })
	}
	return nil
}
