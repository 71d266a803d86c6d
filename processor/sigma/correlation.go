package sigma

import (
	"bytes"
	"fmt"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"time"

	"gopkg.in/yaml.v3"

	"github.com/auditdetect/auditdetect/processor/internal/eventrisk"
	"github.com/auditdetect/auditdetect/processor/internal/yamlfile"
	"github.com/auditdetect/auditdetect/processor/rule"
)

// Correlation is a Sigma correlation rule (correlation specification v2): the events that other Sigma rules match,
// counted per group over a timespan. It becomes a rule of the model once the rules it names are known (Compile):
//
//	event_count  count of the events, per group-by group
//	value_count  count of distinct values of condition.field
//	temporal     count of distinct rules among those named that matched (all of them by default)
//
// Each is a windowed stats over the rule's timespan: a group fires once per window, when its count first meets the
// condition. temporal_ordered (every named rule, in the order named, within the timespan) is a rule.Sequence.
// Correlations of correlations are refused.
type Correlation struct {
	// Rule holds what the correlation says of itself: id, title, name (Ref), status, level, tags, origin.
	Rule     *rule.Rule
	Type     string
	Rules    []string // the rules it names, by name or id
	GroupBy  []string
	Timespan time.Duration
	// Field is value_count's field.
	Field string
	// Conditions are ANDed: `gte: 10`, or a range `gt: 100, lte: 200`.
	Conditions []Threshold
	// Generate keeps the rules it names running on their own as well (by default they only feed the correlation).
	Generate bool
	// Aliases names, per alias, the field each named rule's events hold it in.
	Aliases map[string]map[string]string

	score int
	level string
	// lines: of each entry of Rules, of the type, of each alias's rules (by alias, then rule name).
	ruleLines  []int
	typeLine   int
	aliasLines map[string]map[string]int
}

// Threshold is one criterion of a correlation's condition.
type Threshold struct {
	Op rule.Op
	N  string
}

// ParseFile reads every document of a Sigma file: detection rules, and correlation rules that Compile makes rules of
// once every file is read (they may name rules of other files). Errors are *rule.Error with the fault's position.
func ParseFile(file string, data []byte) ([]*rule.Rule, []*Correlation, error) {
	docs, err := yamlfile.Documents(file, data)
	if err != nil {
		return nil, nil, err
	}
	var rules []*rule.Rule
	var corrs []*Correlation
	for _, root := range docs {
		if value(root, "correlation") != nil {
			c, err := parseCorrelation(file, root)
			if err != nil {
				return nil, nil, err
			}
			corrs = append(corrs, c)
			continue
		}
		r, err := parseRoot(file, root)
		if err != nil {
			return nil, nil, err
		}
		rules = append(rules, r)
	}
	return rules, corrs, nil
}

var timespanRE = regexp.MustCompile(`^(\d+)([smhd])$`)

// Bounds of a correlation, so that no file can make loading, or each event, cost without limit: real correlations
// name a few rules and group by a few fields.
const (
	maxCorrelatedRules = 100
	maxGroupBy         = 20
	maxAliasEntries    = 1000 // across all aliases
)

var thresholdOps = map[string]rule.Op{"gt": rule.OpGt, "gte": rule.OpGe, "lt": rule.OpLt, "lte": rule.OpLe, "eq": rule.OpEq}

func parseCorrelation(file string, root *yaml.Node) (*Correlation, error) {
	p, err := newParser(file, root)
	if err != nil {
		return nil, err
	}
	r, level, score, err := p.header(root)
	if err != nil {
		return nil, err
	}
	c := &Correlation{Rule: r, level: level, score: score, aliasLines: map[string]map[string]int{}}
	sec := value(root, "correlation")
	r.Origin.Line = key(root, "correlation").Line
	if sec.Kind != yaml.MappingNode {
		return nil, p.errorAt(sec, "`correlation` must be a mapping")
	}

	c.Type = p.str(sec, "type")
	if n := value(sec, "type"); n != nil {
		c.typeLine = n.Line
	}
	switch c.Type {
	case "event_count", "value_count", "temporal", "temporal_ordered":
	case "":
		return nil, p.errorAt(sec, "missing correlation `type` (event_count, value_count, temporal or temporal_ordered)")
	default:
		return nil, p.errorAt(value(sec, "type"), fmt.Sprintf("unknown correlation type %q (event_count, value_count, temporal or temporal_ordered)", c.Type))
	}

	if c.Rules, c.ruleLines, err = p.strings(sec, "rules"); err != nil {
		return nil, err
	}
	switch {
	case len(c.Rules) == 0:
		return nil, p.errorAt(sec, "missing correlation `rules`: the Sigma rules whose events it counts, by name or id")
	case len(c.Rules) > maxCorrelatedRules:
		return nil, p.errorAt(value(sec, "rules"), fmt.Sprintf("a correlation names at most %d rules, not %d", maxCorrelatedRules, len(c.Rules)))
	}
	if c.Type == "temporal_ordered" && len(c.Rules) < 2 {
		return nil, p.errorAt(value(sec, "rules"), "a temporal_ordered correlation names at least two rules: the events it orders")
	}
	if i := firstRepeat(c.Rules); i >= 0 {
		return nil, &rule.Error{File: file, Line: c.ruleLines[i], Rule: r.Name, Reason: fmt.Sprintf("%s is named twice", c.Rules[i])}
	}
	var groupLines []int
	if c.GroupBy, groupLines, err = p.strings(sec, "group-by"); err != nil {
		return nil, err
	}
	switch {
	case len(c.GroupBy) == 0:
		return nil, p.errorAt(sec, "missing `group-by`: auditdetect counts per group (a user, a source address...)")
	case len(c.GroupBy) > maxGroupBy:
		return nil, p.errorAt(value(sec, "group-by"), fmt.Sprintf("a correlation groups by at most %d fields, not %d", maxGroupBy, len(c.GroupBy)))
	}
	if i := firstRepeat(c.GroupBy); i >= 0 {
		return nil, &rule.Error{File: file, Line: groupLines[i], Rule: r.Name, Reason: fmt.Sprintf("group-by names %s twice", c.GroupBy[i])}
	}
	for i, g := range c.GroupBy {
		if slices.Contains(reservedColumns, g) {
			return nil, &rule.Error{File: file, Line: groupLines[i], Rule: r.Name,
				Reason: fmt.Sprintf("%s names a column of the correlation's own rows: group by another name", g)}
		}
	}

	ts := value(sec, "timespan")
	if ts == nil {
		return nil, p.errorAt(sec, "missing `timespan` (a number and s, m, h or d: 5m)")
	}
	m := timespanRE.FindStringSubmatch(strings.TrimSpace(ts.Value))
	n, _ := strconv.Atoi(safeIndex(m, 1))
	if ts.Kind != yaml.ScalarNode || m == nil || n <= 0 || n > 10000 {
		return nil, p.errorAt(ts, fmt.Sprintf("timespan %q is not a number of seconds, minutes, hours or days up to 10000 (5m, 1h, 1d)", ts.Value))
	}
	c.Timespan = time.Duration(n) * map[string]time.Duration{"s": time.Second, "m": time.Minute, "h": time.Hour, "d": 24 * time.Hour}[m[2]]

	if g := value(sec, "generate"); g != nil {
		if g.Kind != yaml.ScalarNode || (g.Value != "true" && g.Value != "false") {
			return nil, p.errorAt(g, "`generate` is true or false")
		}
		c.Generate = g.Value == "true"
	}
	if err := p.conditions(sec, c); err != nil {
		return nil, err
	}
	if err := p.aliases(sec, c); err != nil {
		return nil, err
	}
	return c, nil
}

// firstRepeat is the index of the first entry of list that an earlier one repeats, or -1.
func firstRepeat(list []string) int {
	for i, s := range list {
		if slices.Contains(list[:i], s) {
			return i
		}
	}
	return -1
}

func safeIndex(s []string, i int) string {
	if i < len(s) {
		return s[i]
	}
	return ""
}

// strings reads a list of scalars (or one scalar) at k, with each one's line.
func (p *parser) strings(m *yaml.Node, k string) ([]string, []int, error) {
	n := value(m, k)
	if n == nil || isNull(n) {
		return nil, nil, nil
	}
	items := []*yaml.Node{n}
	if n.Kind == yaml.SequenceNode {
		items = n.Content
	}
	var out []string
	var lines []int
	for _, it := range items {
		it = deref(it)
		if it.Kind != yaml.ScalarNode || strings.TrimSpace(it.Value) == "" {
			return nil, nil, p.errorAt(it, fmt.Sprintf("`%s` lists names", k))
		}
		out, lines = append(out, strings.TrimSpace(it.Value)), append(lines, it.Line)
	}
	return out, lines, nil
}

func (p *parser) conditions(sec *yaml.Node, c *Correlation) error {
	cond := value(sec, "condition")
	if c.Type == "temporal_ordered" {
		// Every named rule, in the order named: a condition asking for fewer would leave open which of them.
		if cond != nil {
			want := strconv.Itoa(len(c.Rules))
			if cond.Kind != yaml.MappingNode || len(cond.Content) != 2 || cond.Content[0].Value != "gte" || deref(cond.Content[1]).Value != want {
				return p.errorAt(cond, fmt.Sprintf("a temporal_ordered correlation matches when all its rules matched in order: its condition, if any, is gte: %s", want))
			}
		}
		return nil
	}
	if cond == nil {
		if c.Type == "temporal" {
			// Every named rule must have matched.
			c.Conditions = []Threshold{{Op: rule.OpGe, N: strconv.Itoa(len(c.Rules))}}
			return nil
		}
		return p.errorAt(sec, "missing `condition` (gte: 10, say)")
	}
	if cond.Kind != yaml.MappingNode {
		return p.errorAt(cond, "`condition` is a mapping: gte: 10")
	}
	for i := 0; i+1 < len(cond.Content); i += 2 {
		k, v := cond.Content[i], deref(cond.Content[i+1])
		if k.Value == "field" {
			if c.Type != "value_count" {
				return p.errorAt(k, "condition `field` is value_count's")
			}
			c.Field = strings.TrimSpace(v.Value)
			continue
		}
		op, ok := thresholdOps[k.Value]
		if !ok {
			return p.errorAt(k, fmt.Sprintf("unknown condition %q (gt, gte, lt, lte, eq)", k.Value))
		}
		if _, err := strconv.ParseUint(v.Value, 10, 31); v.Kind != yaml.ScalarNode || err != nil {
			return p.errorAt(v, fmt.Sprintf("condition %s takes a whole number, not %q", k.Value, v.Value))
		}
		c.Conditions = append(c.Conditions, Threshold{Op: op, N: v.Value})
	}
	if c.Type == "value_count" && c.Field == "" {
		return p.errorAt(cond, "a value_count condition names its `field`")
	}
	if len(c.Conditions) == 0 {
		return p.errorAt(cond, "the condition has no criterion (gte: 10, say)")
	}
	return nil
}

func (p *parser) aliases(sec *yaml.Node, c *Correlation) error {
	al := value(sec, "aliases")
	if al == nil || isNull(al) {
		return nil
	}
	if al.Kind != yaml.MappingNode {
		return p.errorAt(al, "`aliases` maps each alias to the field of each rule's events")
	}
	c.Aliases = map[string]map[string]string{}
	entries := 0
	for i := 0; i+1 < len(al.Content); i += 2 {
		name, fields := al.Content[i].Value, deref(al.Content[i+1])
		if fields.Kind != yaml.MappingNode {
			return p.errorAt(fields, fmt.Sprintf("alias %s maps rule names to fields", name))
		}
		c.Aliases[name], c.aliasLines[name] = map[string]string{}, map[string]int{}
		if entries += len(fields.Content) / 2; entries > maxAliasEntries {
			return p.errorAt(fields, fmt.Sprintf("aliases name at most %d fields between them", maxAliasEntries))
		}
		for j := 0; j+1 < len(fields.Content); j += 2 {
			ref, f := fields.Content[j], deref(fields.Content[j+1])
			if f.Kind != yaml.ScalarNode || strings.TrimSpace(f.Value) == "" {
				return p.errorAt(f, fmt.Sprintf("alias %s: rule %s names a field", name, ref.Value))
			}
			c.Aliases[name][ref.Value], c.aliasLines[name][ref.Value] = strings.TrimSpace(f.Value), ref.Line
		}
	}
	return nil
}

// Column names the correlation's rows hold for what it counts.
const (
	ruleColumn       = "sigma.rule" // temporal: which named rule an event matched
	eventCountColumn = "event_count"
	valueCountColumn = "value_count"
	ruleCountColumn  = "rule_count"
)

// reservedColumns are the columns a correlation writes itself, which a group-by field or alias may not be named.
var reservedColumns = []string{ruleColumn, eventCountColumn, valueCountColumn, ruleCountColumn, eventrisk.SeverityField, eventrisk.SourceField}

// Compile makes the correlation a rule of the model. rules holds the Sigma detection rules by id and by name (nil for
// a name more than one rule has);
// correlations the ids and names of correlation rules (which a correlation may not name: chains are not supported).
// It returns the rules it names, as far as it found them, with the rule or the error.
func (c *Correlation) Compile(rules map[string]*rule.Rule, correlations map[string]bool) (*rule.Rule, []*rule.Rule, error) {
	fail := func(line int, reason string) error {
		return &rule.Error{File: c.Rule.Origin.File, Line: line, Rule: c.Rule.Name, Reason: reason}
	}
	var bases []*rule.Rule
	for i, ref := range c.Rules {
		b, ok := rules[ref]
		if ok && b == nil {
			return nil, bases, fail(c.ruleLines[i], fmt.Sprintf("%s names more than one loaded Sigma rule: give them distinct names and ids", ref))
		}
		if ok && slices.Contains(bases, b) {
			return nil, bases, fail(c.ruleLines[i], fmt.Sprintf("%s names %s again", ref, b.Name))
		}
		switch {
		case !ok && correlations[ref]:
			return nil, bases, fail(c.ruleLines[i], fmt.Sprintf("%s is a correlation rule: correlations of correlations are not supported", ref))
		case !ok:
			return nil, bases, fail(c.ruleLines[i], fmt.Sprintf("no loaded Sigma rule has the name or id %q", ref))
		}
		bases = append(bases, b)
	}
	// The rule each alias reads, by the name the alias gives it.
	named := func(alias, ref string) (*rule.Rule, error) {
		for i, b := range bases {
			if c.Rules[i] == ref || b.Ref == ref || b.ID == ref {
				return b, nil
			}
		}
		return nil, fail(c.aliasLines[alias][ref], fmt.Sprintf("alias %s names %s, which is not among the correlation's rules", alias, ref))
	}

	r := *c.Rule
	r.Window = c.Timespan
	filters := make([]rule.Expr, len(bases))
	for i, b := range bases {
		filters[i] = b.Filter
		if filters[i] == nil {
			filters[i] = rule.True{}
		}
		for _, t := range b.MitreTechniques {
			r.MitreTechniques = appendNew(r.MitreTechniques, t)
		}
		for _, t := range b.MitreTactics {
			r.MitreTactics = appendNew(r.MitreTactics, t)
		}
	}
	r.Filter = rule.AnyOf(filters...)

	// Each group-by field (or alias), and the field value_count counts, is copied into a column of its own name:
	// Sigma reads arrays transparently, and the counts group its values.
	var pipeline []rule.Stage
	copied := map[string]bool{}
	copyField := func(name string) {
		if !copied[name] {
			copied[name] = true
			pipeline = append(pipeline, rule.Eval{To: name, Value: rule.FieldValue{Field: rule.Field{Name: name, AnyArray: true}}})
		}
	}
	sources := map[string]string{}
	for _, g := range c.GroupBy {
		fields, isAlias := c.Aliases[g]
		if !isAlias {
			copyField(g)
			sources[g] = g
			continue
		}
		// One case per named rule, in the order the correlation names them (a map has none); two entries for one
		// rule (by its name and its id) would leave the choice to the map's order.
		field, by := map[*rule.Rule]string{}, map[*rule.Rule]string{}
		for _, ref := range sortedKeys(fields) {
			b, err := named(g, ref)
			if err != nil {
				return nil, bases, err
			}
			if other, twice := by[b]; twice {
				return nil, bases, fail(c.aliasLines[g][ref], fmt.Sprintf("alias %s names the rule %s twice (as %s and %s)", g, b.Name, other, ref))
			}
			field[b], by[b] = fields[ref], ref
		}
		var whens []rule.When
		for i, b := range bases {
			if f, ok := field[b]; ok {
				whens = append(whens, rule.When{Cond: filters[i], Then: rule.FieldValue{Field: rule.Field{Name: f, AnyArray: true}}})
			}
		}
		pipeline = append(pipeline, rule.Eval{To: g, Value: rule.Case{Whens: whens}})
		copied[g] = true
	}
	if c.Type == "temporal_ordered" {
		r.Pipeline = []rule.Stage{c.sequence(bases, filters)}
		eventrisk.ApplyGroups(&r, c.GroupBy, c.GroupBy, sources, c.score, c.level)
		r.Risk.Message += " (sequence of audit events $" + rule.SequenceIDsField + "$)"
		return &r, bases, nil
	}
	var agg rule.Aggregate
	switch c.Type {
	case "event_count":
		agg = rule.Aggregate{Func: "count", As: eventCountColumn}
	case "value_count":
		copyField(c.Field)
		agg = rule.Aggregate{Func: "dc", Field: c.Field, As: valueCountColumn}
	case "temporal":
		// An event counts for every named rule it matches (one rule's events may be a subset of another's).
		whens := make([]rule.When, len(bases))
		for i, b := range bases {
			whens[i] = rule.When{Cond: filters[i], Then: rule.Constant{Text: b.ID}}
		}
		pipeline = append(pipeline, rule.Eval{To: ruleColumn, Value: rule.Case{Whens: whens, All: true}})
		agg = rule.Aggregate{Func: "dc", Field: ruleColumn, As: ruleCountColumn}
	}
	pipeline = append(pipeline, rule.Stats{Aggs: []rule.Aggregate{agg}, By: c.GroupBy, Windowed: true})
	terms := make([]rule.Expr, len(c.Conditions))
	for i, t := range c.Conditions {
		terms[i] = rule.Compare{Field: rule.Field{Name: agg.As}, Op: t.Op, Value: rule.Literal(t.N, true)}
	}
	pipeline = append(pipeline, rule.Where{Cond: rule.AllOf(terms...)})
	r.Pipeline = pipeline
	eventrisk.ApplyGroups(&r, c.GroupBy, c.GroupBy, sources, c.score, c.level)
	return &r, bases, nil
}

// sequence is a temporal_ordered correlation's stage: one step per named rule, in order, each keyed on the group-by
// fields as that rule's events hold them (an alias names a field per rule), the key written back under the group-by
// names.
func (c *Correlation) sequence(bases []*rule.Rule, filters []rule.Expr) rule.Sequence {
	seq := rule.Sequence{MaxSpan: c.Timespan, Columns: c.GroupBy}
	for i, b := range bases {
		step := rule.SequenceStep{Cond: filters[i]}
		for _, g := range c.GroupBy {
			field := g
			for ref, f := range c.Aliases[g] {
				if c.Rules[i] == ref || b.Ref == ref || b.ID == ref {
					field = f
				}
			}
			step.By = append(step.By, rule.Field{Name: field, AnyArray: true})
		}
		seq.Steps = append(seq.Steps, step)
	}
	return seq
}

func sortedKeys(m map[string]string) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	return keys
}

// CorrelationRefs returns, as far as the file can be read, the rules its correlation documents name: the loader
// holds them back when the file fails to load, since they were not meant to alert alone.
func CorrelationRefs(data []byte) []string {
	var refs []string
	dec := yaml.NewDecoder(bytes.NewReader(data))
	for range maxDocuments {
		var doc yaml.Node
		if err := dec.Decode(&doc); err != nil {
			break
		}
		if len(doc.Content) == 0 {
			continue
		}
		rules := value(value(doc.Content[0], "correlation"), "rules")
		if rules == nil {
			continue
		}
		items := []*yaml.Node{rules}
		if rules.Kind == yaml.SequenceNode {
			items = rules.Content
		}
		for _, it := range items[:min(len(items), maxCorrelatedRules)] {
			if it = deref(it); it.Kind == yaml.ScalarNode {
				refs = append(refs, strings.TrimSpace(it.Value))
			}
		}
	}
	return refs
}

// maxDocuments bounds the documents CorrelationRefs reads of a file that failed to load.
const maxDocuments = 1000
