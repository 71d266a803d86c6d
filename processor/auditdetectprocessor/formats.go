package auditdetectprocessor

import (
	"github.com/auditdetect/auditdetect/processor/engine"
	"github.com/auditdetect/auditdetect/processor/loader"
	"github.com/auditdetect/auditdetect/processor/rule"
)

// RiskObjectConfig is one risk object of rule_overrides: a result-row field, its type (user, system, other) and
// score (1-100; left out, the rule's own score).
type RiskObjectConfig struct {
	Field string `mapstructure:"field"`
	Type  string `mapstructure:"type"`
	Score int    `mapstructure:"score"`
}

// ThreatObjectConfig is one threat object of rule_overrides: a result-row field and its type (ip_address, ...).
type ThreatObjectConfig struct {
	Field string `mapstructure:"field"`
	Type  string `mapstructure:"type"`
}

// riskOverrides hands the loader the rule_overrides entries that replace risk or threat objects or the risk message;
// the loader checks them, so a bad one fails config validation with the rule's key.
func (cfg *Config) riskOverrides() map[string]loader.Override {
	var out map[string]loader.Override
	for key, o := range cfg.RuleOverrides {
		if len(o.RiskObjects) == 0 && len(o.ThreatObjects) == 0 && o.Message == "" {
			continue
		}
		lo := loader.Override{Message: o.Message}
		for _, ro := range o.RiskObjects {
			lo.RiskObjects = append(lo.RiskObjects, rule.RiskObject{Field: ro.Field, Type: ro.Type, Score: ro.Score})
		}
		for _, t := range o.ThreatObjects {
			lo.ThreatObjects = append(lo.ThreatObjects, rule.ThreatObject{Field: t.Field, Type: t.Type})
		}
		if out == nil {
			out = map[string]loader.Override{}
		}
		out[key] = lo
	}
	return out
}

// writesNoRisk says whether a match (fork mode) writes no risk record: its rule names risk objects and no result row
// has a value for any of them (as rba writes them: one record per risk object per value). Such matches are counted
// (matches_without_risk_records): a detection that fires and leaves nothing in the risk index.
func writesNoRisk(m engine.Match) bool {
	if len(m.Rule.Risk.Objects) == 0 {
		return false
	}
	for _, row := range m.Rows {
		for _, o := range m.Rule.Risk.Objects {
			if len(row.Values(o.Field)) > 0 {
				return false
			}
		}
	}
	return true
}
