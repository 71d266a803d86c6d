package loader

import (
	"errors"
	"fmt"
	"slices"
	"sort"
	"strings"

	"go.uber.org/zap"

	"github.com/auditdetect/auditdetect/processor/rule"
)

// Override replaces the risk objects and/or the threat objects of one rule (the processor's rule_overrides). It
// serves every format, but exists for Sigma and Elastic rules, whose default objects (the user and the first source
// IPs) are auditdetect's choice rather than the rule author's. An empty list leaves the rule's own objects.
type Override struct {
	RiskObjects   []rule.RiskObject
	ThreatObjects []rule.ThreatObject
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
// fields are known: OutputFields) fails: such a risk object writes no risk record, such a threat object nothing.
func applyOverrides(rules []*rule.Rule, overrides map[string]Override) error {
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
				}
			}
		}
	}
	return errors.Join(errs...)
}

func checkOverride(o Override) error {
	if len(o.RiskObjects) == 0 && len(o.ThreatObjects) == 0 {
		return errors.New("needs risk_objects or threat_objects")
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
// ends in stats, its rows are the stats' by-fields and aggregates, renamed by a later rename and completed by later
// stages that add fields (fillnull, iplocation). ok is false when the rows are whole events (no stats: any field of
// the event can be read) or a later stage is one this function does not know.
func OutputFields(r *rule.Rule) (fields []string, ok bool) {
	last := -1
	for i, st := range r.Pipeline {
		if _, isStats := st.(rule.Stats); isStats {
			last = i
		}
	}
	if last < 0 {
		return nil, false
	}
	stats := r.Pipeline[last].(rule.Stats)
	add := func(name string) {
		if !slices.Contains(fields, name) {
			fields = append(fields, name)
		}
	}
	for _, b := range stats.By {
		add(b)
	}
	for _, a := range stats.Aggs {
		add(a.OutputName())
	}
	later := r.Pipeline[last+1:]
	for i, st := range later {
		switch st := st.(type) {
		case rule.Rename:
			// As the engine renames (engine/row.go): in place, replacing a field of the new name; a field the row
			// does not have is not renamed.
			for _, p := range st.Pairs {
				at := slices.Index(fields, p.From)
				if at < 0 || p.From == p.To {
					continue
				}
				fields[at] = p.To
				for j := range fields {
					if j != at && fields[j] == p.To {
						fields = slices.Delete(fields, j, j+1)
						break
					}
				}
			}
		case rule.FillNull:
			names := st.Fields
			if len(names) == 0 {
				// Without a list the engine fills what the following stages read.
				names = rule.FillTargets(later[i+1:])
			}
			for _, n := range names {
				add(n)
			}
		case rule.IPLocation:
			for _, f := range st.Outputs() {
				add(f)
			}
		case rule.Copy:
			if slices.Contains(fields, st.From) {
				add(st.To)
			}
		case rule.Eval:
			add(st.To)
		case rule.Search, rule.Where, rule.NewTerms:
		default:
			return nil, false
		}
	}
	return fields, true
}

// CheckFields fails when r's output fields are known (OutputFields) and one of names is not among them, naming the
// rule, the setting (what), the field and the fields the rule's rows have. Rules whose rows are whole events pass.
func CheckFields(r *rule.Rule, what string, names []string) error {
	if missing, have := missingField(r, names); missing != "" {
		return fmt.Errorf("%s %q: rule %q has no such result field (its results have: %s)", what, missing, r.Name, strings.Join(have, ", "))
	}
	return nil
}

// missingField returns the first of names that r's known output fields lack, with those fields; "" when every name
// is there or the output fields are not known.
func missingField(r *rule.Rule, names []string) (missing string, have []string) {
	have, ok := OutputFields(r)
	if !ok {
		return "", nil
	}
	for _, n := range names {
		if !slices.Contains(have, n) {
			return n, have
		}
	}
	return "", nil
}

// checkOwnObjects drops, with a warning, the risk and threat objects of an ESCU detection that its results can never
// hold (a stats that does not keep the field, a rename that gives it another name), which Splunk ES would leave out
// the same way (no risk event for an empty field). A detection left with no risk object it can fill would match and
// never write a risk record: that one fails to load, with its file and line. The parts an override replaces are not
// checked (the override is, against the same fields), so a broken upstream detection can be mended with
// rule_overrides.
func checkOwnObjects(r *rule.Rule, overrides map[string]Override, log *zap.Logger) error {
	var risk, threat bool // replaced by an override
	for k, o := range overrides {
		if r.NamedBy(k) {
			risk = risk || len(o.RiskObjects) > 0
			threat = threat || len(o.ThreatObjects) > 0
		}
	}
	if !risk && len(r.Risk.Objects) == 0 {
		// Kept, as a rule to see matches with (enrich mode), but said: Splunk ES writes no risk event without a risk
		// object, and the Risk data model does not count a record without one.
		log.Warn("Rule names no risk object: its risk records carry no risk_object or risk_score (give it one with "+
			"rule_overrides.risk_objects)", zap.String("rule", r.Name), zap.String("file", r.Origin.String()))
	}
	if strings.TrimSpace(r.Risk.Message) == "" {
		// ESCU requires one; without it the risk records say the search name and the risk object (package rba).
		log.Warn("Rule has no risk message (rba.message, or tags.message before v5): its risk records say only its "+
			"search name and risk object", zap.String("rule", r.Name), zap.String("file", r.Origin.String()))
	}
	have, known := OutputFields(r)
	if !known {
		return nil
	}
	// missing reports, with a warning, a field no result holds.
	missing := func(what, field string) bool {
		if slices.Contains(have, field) {
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
