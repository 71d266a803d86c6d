package loader

import (
	"errors"
	"fmt"
	"slices"
	"sort"

	"github.com/auditdetect/auditdetect/processor/rule"
)

// Override replaces the risk objects and/or the threat objects of one rule (the processor's rule_overrides). It
// serves every format, but exists for Sigma and Elastic rules, whose default objects (the user and the first source
// IP) are auditdetect's choice rather than the rule author's. An empty list leaves the rule's own objects.
type Override struct {
	RiskObjects   []rule.RiskObject
	ThreatObjects []rule.ThreatObject
}

// applyOverrides applies each override to the rules whose id or name is its key. A risk object without a score takes
// the rule's own score (its highest). A key that names no loaded rule changes nothing here: the processor reports
// such keys once for every kind of rule_overrides setting.
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
			if r.ID == k || r.Name == k {
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
		if t.Field == "" || t.Type == "" {
			return errors.New("a threat object needs a field and a type")
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
