package escu

import (
	"fmt"
	"math"
	"slices"
	"strconv"
	"strings"

	"gopkg.in/yaml.v3"

	"github.com/auditdetect/auditdetect/internal/suggest"
	"github.com/auditdetect/auditdetect/processor/internal/yamlfile"
	"github.com/auditdetect/auditdetect/processor/rule"
)

// parseRBA reads a v5 `rba:` block: message, risk_objects [{field, type, score}], threat_objects [{field, type}].
// Types and scores are checked as contentctl checks them, so a bad block fails at load, not in the risk index. Keys
// are checked too (contentctl's models forbid extra fields): a misspelt `mesage:` or `risk_object:` would otherwise
// leave a detection that loads but writes no message or no risk.
func parseRBA(file, name string, n *yaml.Node) (rule.Risk, error) {
	var risk rule.Risk
	if n = deref(n); n == nil || n.Kind != yaml.MappingNode {
		return risk, errorAt(file, n, name, "`rba` must be a mapping")
	}
	if err := checkKeys(file, name, n, "`rba`", rbaKeys); err != nil {
		return risk, err
	}
	if m := value(n, "message"); m != nil {
		if err := m.Decode(&risk.Message); err != nil {
			return risk, yamlfile.Error(file, name, err)
		}
	}
	if objs := deref(value(n, "risk_objects")); objs != nil {
		if objs.Kind != yaml.SequenceNode {
			return risk, errorAt(file, objs, name, "`rba.risk_objects` must be a list")
		}
		for _, item := range objs.Content {
			if err := checkKeys(file, name, item, "a risk object", riskObjectKeys); err != nil {
				return risk, err
			}
			if err := wholeNumber(file, name, value(deref(item), "score"), "risk score"); err != nil {
				return risk, err
			}
			var o struct {
				Field string `yaml:"field"`
				Type  string `yaml:"type"`
				Score int    `yaml:"score"`
			}
			if err := item.Decode(&o); err != nil {
				return risk, yamlfile.Error(file, name, err)
			}
			switch {
			case o.Field == "":
				return risk, errorAt(file, item, name, "risk object without `field`")
			case o.Type != "user" && o.Type != "system" && o.Type != "other":
				return risk, errorAt(file, item, name, fmt.Sprintf("risk object type %q is not user, system or other", o.Type))
			case o.Score < 1 || o.Score > 100:
				return risk, errorAt(file, item, name, fmt.Sprintf("risk score %d is outside 1-100", o.Score))
			}
			risk.Objects = append(risk.Objects, rule.RiskObject{Field: o.Field, Type: o.Type, Score: o.Score})
		}
	}
	if threats := deref(value(n, "threat_objects")); threats != nil {
		if threats.Kind != yaml.SequenceNode {
			return risk, errorAt(file, threats, name, "`rba.threat_objects` must be a list")
		}
		for _, item := range threats.Content {
			if err := checkKeys(file, name, item, "a threat object", threatObjectKeys); err != nil {
				return risk, err
			}
			var o struct {
				Field string `yaml:"field"`
				Type  string `yaml:"type"`
			}
			if err := item.Decode(&o); err != nil {
				return risk, yamlfile.Error(file, name, err)
			}
			if o.Field == "" || o.Type == "" {
				return risk, errorAt(file, item, name, "threat object needs `field` and `type`")
			}
			risk.Threats = append(risk.Threats, rule.ThreatObject{Field: o.Field, Type: o.Type})
		}
	}
	return risk, nil
}

// The keys of contentctl's v5 models (contentctl/objects/rba.py): rba, RiskObject, ThreatObject.
var (
	rbaKeys          = []string{"message", "risk_objects", "threat_objects"}
	riskObjectKeys   = []string{"field", "type", "score"}
	threatObjectKeys = []string{"field", "type"}
)

// checkKeys fails at the first key of mapping n (what names it in the error) that is not in keys, with the key it is
// nearest to when it looks like a misspelling of one. A node that is not a mapping is left to the decoder to refuse.
func checkKeys(file, name string, n *yaml.Node, what string, keys []string) error {
	return checkKeysDepth(file, name, n, what, keys, 0)
}

func checkKeysDepth(file, name string, n *yaml.Node, what string, keys []string, depth int) error {
	if n = deref(n); n == nil || n.Kind != yaml.MappingNode || depth > 8 {
		return nil
	}
	for i := 0; i+1 < len(n.Content); i += 2 {
		key := n.Content[i]
		if slices.Contains(keys, key.Value) {
			continue
		}
		if key.Value == "<<" {
			// A merge key (`<<: *common`, or a list of them) brings in the keys of the mappings it names: those are
			// checked (to a bounded depth: a mapping may merge one that merges it).
			merged := []*yaml.Node{n.Content[i+1]}
			if m := deref(n.Content[i+1]); m != nil && m.Kind == yaml.SequenceNode {
				merged = m.Content
			}
			for _, m := range merged {
				if err := checkKeysDepth(file, name, m, what, keys, depth+1); err != nil {
					return err
				}
			}
			continue
		}
		reason := fmt.Sprintf("unknown key %q in %s", key.Value, what)
		if best := suggest.Closest(key.Value, keys); best != "" {
			reason += fmt.Sprintf(" (did you mean %q?)", best)
		} else {
			reason += fmt.Sprintf(" (it takes %s)", strings.Join(keys, ", "))
		}
		return errorAt(file, key, name, reason)
	}
	return nil
}

// deref follows an alias (`*anchor`) to the node it names, as the decoder does: the checks must see what is decoded.
func deref(n *yaml.Node) *yaml.Node {
	for i := 0; n != nil && n.Kind == yaml.AliasNode && i < 100; i++ {
		n = n.Alias
	}
	return n
}

// wholeNumber fails for a number with a fractional part (`score: 20.5`), which yaml.v3 would truncate into an int:
// contentctl requires an integer, and a score that loads as another number than the one written is worse than an
// error.
func wholeNumber(file, name string, n *yaml.Node, what string) error {
	if n = deref(n); n == nil || n.Kind != yaml.ScalarNode || n.ShortTag() != "!!float" {
		return nil // an int, or a value of another type that the decoder refuses in its own words
	}
	if f, err := strconv.ParseFloat(n.Value, 64); err == nil && f == math.Trunc(f) && !math.IsInf(f, 0) {
		return nil // 20.0 is the integer contentctl (pydantic) accepts
	}
	return errorAt(file, n, name, fmt.Sprintf("%s %s is not a whole number (contentctl requires an integer)", what, n.Value))
}

// Observable types contentctl 4.x recognised, lower-cased.
var (
	userTypes   = map[string]bool{"user": true, "username": true, "email address": true}
	systemTypes = map[string]bool{"device": true, "endpoint": true, "hostname": true, "ip address": true}
	threatTypes = map[string]string{
		"process": "process", "process name": "process",
		"file": "file_name", "file name": "file_name", "file hash": "file_name",
		"ip address": "ip_address",
		"url":        "url", "url string": "url",
	}
)

// parseTags maps a v4 detection's tags.observable to risk and threat objects, as contentctl 4.x did:
//   - Victim with a user type (User, Username, Email Address) is a user risk object, with a system type (Device,
//     Endpoint, Hostname, IP Address) a system risk object;
//   - otherwise Attacker is a threat object, its type mapped to the threat vocabulary (IP Address → ip_address,
//     URL String → url, Process → process, File, File Name and File Hash → file_name, anything else the type
//     lower-cased, as contentctl's entity.type.lower());
//   - anything else is an `other` risk object.
//
// Every risk object scores tags.risk_score (or, without it, contentctl's round(impact × confidence / 100)).
func parseTags(file, name string, root *yaml.Node, d *detection) (rule.Risk, error) {
	risk := rule.Risk{Message: d.Tags.Message}
	for _, k := range []string{"risk_score", "impact", "confidence"} {
		if err := wholeNumber(file, name, value(value(root, "tags"), k), "tags."+k); err != nil {
			return risk, err
		}
	}
	score := 0
	switch t := d.Tags; {
	case t.RiskScore != nil:
		score = *t.RiskScore
	case t.Impact != nil && t.Confidence != nil:
		for _, p := range []struct {
			key string
			v   int
		}{{"impact", *t.Impact}, {"confidence", *t.Confidence}} {
			// Percentages: out of range, the product could overflow into a score that looks valid.
			if p.v < 0 || p.v > 100 {
				return risk, errorAt(file, value(value(root, "tags"), p.key), name, fmt.Sprintf("tags.%s %d is outside 0-100", p.key, p.v))
			}
		}
		score = roundHalfEven(*t.Impact * *t.Confidence)
	}
	for _, o := range d.Tags.Observable {
		if o.Name == "" {
			return risk, errorAt(file, value(value(root, "tags"), "observable"), name, "observable without `name`")
		}
		typ := strings.ToLower(strings.TrimSpace(o.Type))
		victim, attacker := hasRole(o.Role, "Victim"), hasRole(o.Role, "Attacker")
		switch {
		case victim && userTypes[typ]:
			risk.Objects = append(risk.Objects, rule.RiskObject{Field: o.Name, Type: "user", Score: score})
		case victim && systemTypes[typ]:
			risk.Objects = append(risk.Objects, rule.RiskObject{Field: o.Name, Type: "system", Score: score})
		case attacker:
			tt, ok := threatTypes[typ]
			if !ok {
				tt = typ // contentctl: entity.type.lower()
			}
			risk.Threats = append(risk.Threats, rule.ThreatObject{Field: o.Name, Type: tt})
		default:
			risk.Objects = append(risk.Objects, rule.RiskObject{Field: o.Name, Type: "other", Score: score})
		}
	}
	if len(risk.Objects) > 0 && (score < 1 || score > 100) {
		tags := value(root, "tags")
		n := value(tags, "risk_score")
		if n == nil && d.Tags.Impact != nil && d.Tags.Confidence != nil {
			return risk, errorAt(file, value(tags, "impact"), name, fmt.Sprintf(
				"the risk score, impact × confidence / 100 (tags.impact %d, tags.confidence %d), is %d: outside 1-100",
				*d.Tags.Impact, *d.Tags.Confidence, score))
		}
		if n == nil {
			n = tags
		}
		return risk, errorAt(file, n, name, fmt.Sprintf("tags.risk_score %d is outside 1-100 (or missing)", score))
	}
	return risk, nil
}

// roundHalfEven returns p / 100 rounded as contentctl rounds confidence × impact / 100: Python's round, which takes a
// half to the even neighbour (49.5 → 50, 52.5 → 52). p is at most 100 × 100.
func roundHalfEven(p int) int {
	q, r := p/100, p%100
	if r > 50 || r == 50 && q%2 == 1 {
		q++
	}
	return q
}

func hasRole(roles []string, want string) bool {
	for _, r := range roles {
		if strings.EqualFold(strings.TrimSpace(r), want) {
			return true
		}
	}
	return false
}
