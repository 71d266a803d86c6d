// Package sigma reads Sigma rules for Kubernetes audit logs (`logsource: {product: kubernetes, service: audit}`)
// into auditdetect's rule model. LANGUAGE.md says what is supported and how it differs from other Sigma backends.
//
// The front end is written here rather than taken from bradleyjkemp/sigma-go: that parser reduces every value to a
// string (a YAML null becomes the text "null"), keeps no positions for error messages, and panics on some malformed
// conditions; its evaluator flattens events rather than reading nested JSON. Parsing is three steps: YAML nodes
// (with positions) → search identifiers compiled to rule expressions → the condition combining them.
package sigma

import (
	"fmt"
	"regexp"
	"slices"
	"strings"

	"gopkg.in/yaml.v3"

	"github.com/auditdetect/auditdetect/processor/internal/eventrisk"
	"github.com/auditdetect/auditdetect/processor/internal/yamlfile"
	"github.com/auditdetect/auditdetect/processor/rule"
)

// LevelScores is the risk score of each Sigma level. low, medium, high and critical take the scores Elastic's rules
// give their severities (21, 47, 73, 99), so that rules of one severity weigh the same whichever format they come in.
var LevelScores = map[string]int{
	"informational": 5,
	"low":           21,
	"medium":        47,
	"high":          73,
	"critical":      99,
}

// DefaultLevel is assumed for a rule without `level:`.
const DefaultLevel = "medium"

// tacticIDs maps Sigma's ATT&CK tactic tags to tactic ids, as Elastic rules name them. Tags are looked up
// lower-cased and with `_` read as `-`, so that Sigma 1 spellings (`attack.privilege_escalation`) count too.
var tacticIDs = map[string]string{
	"reconnaissance":       "TA0043",
	"resource-development": "TA0042",
	"initial-access":       "TA0001",
	"execution":            "TA0002",
	"persistence":          "TA0003",
	"privilege-escalation": "TA0004",
	"defense-evasion":      "TA0005",
	"credential-access":    "TA0006",
	"discovery":            "TA0007",
	"lateral-movement":     "TA0008",
	"collection":           "TA0009",
	"exfiltration":         "TA0010",
	"command-and-control":  "TA0011",
	"impact":               "TA0040",
}

var techniqueTag = regexp.MustCompile(`(?i)^attack\.(t\d{4}(?:\.\d{3})?)$`)

// IsRule reports whether data holds Sigma documents: YAML mappings each with a top-level `detection:`, or a titled
// correlation or filter rule (ParseFile rejects a filter rule, saying why). A file of several documents is Sigma when
// every one is (a rule and the correlation over it, as the specification's examples write them).
func IsRule(data []byte) bool {
	docs, err := yamlfile.Documents("", data)
	if err != nil {
		return false
	}
	for _, root := range docs {
		if !isSigmaDocument(root) {
			return false
		}
	}
	return true
}

func isSigmaDocument(root *yaml.Node) bool {
	return value(root, "detection") != nil ||
		value(root, "title") != nil && (value(root, "correlation") != nil || value(root, "filter") != nil)
}

// ForeignDocument finds, in a file of several documents of which some are Sigma rules, the first that is not, and
// says why: the file is meant as Sigma rules and correlations, and that document is the fault.
func ForeignDocument(data []byte) (line int, reason string, ok bool) {
	docs, err := yamlfile.Documents("", data)
	if err != nil || len(docs) < 2 || !slices.ContainsFunc(docs, isSigmaDocument) {
		return 0, "", false
	}
	for _, root := range docs {
		switch {
		case isSigmaDocument(root):
		case value(root, "action") != nil:
			return root.Line, "several YAML documents in one file (a Sigma rule collection?) with `action:` are not " +
				"supported: put each rule in its own file", true
		default:
			return root.Line, "this document is not a Sigma rule (no `detection:`) nor a correlation (`title:` and " +
				"`correlation:`): a file of several documents holds Sigma rules and correlations", true
		}
	}
	return 0, "", false
}

// Parse reads one Sigma rule, a file of one document. Errors are *rule.Error with the file, line and column of the
// fault. A correlation rule is read with the rules it names: ParseFile and Correlation.Compile.
func Parse(file string, data []byte) (*rule.Rule, error) {
	root, err := topLevel(file, data)
	if err != nil {
		return nil, err
	}
	return parseRoot(file, root)
}

// parseRoot reads the Sigma rule of one document.
func parseRoot(file string, root *yaml.Node) (*rule.Rule, error) {
	p, err := newParser(file, root)
	switch {
	case err != nil:
		return nil, err
	case value(root, "correlation") != nil:
		return nil, p.errorAt(key(root, "correlation").Node, "a Sigma correlation rule is read with the rules it names: load the files together")
	case value(root, "detection") == nil && value(root, "filter") != nil:
		return nil, p.errorAt(key(root, "filter").Node, "Sigma filter rules are not supported: write the exclusion into the rule's own condition")
	}
	if err := p.checkLogsource(root); err != nil {
		return nil, err
	}
	r, level, score, err := p.header(root)
	if err != nil {
		return nil, err
	}
	det := key(root, "detection")
	if det == nil {
		return nil, p.errorAt(root, "missing `detection`")
	}
	r.Origin.Line = det.Line
	if r.Filter, err = p.detection(deref(det.next)); err != nil {
		return nil, err
	}
	eventrisk.Apply(r, score, level)
	return r, nil
}

// newParser starts reading a document: its title (the rule's name in errors), and no key twice in a mapping.
func newParser(file string, root *yaml.Node) (*parser, error) {
	p := &parser{file: file}
	p.rule = strings.TrimSpace(p.str(root, "title"))
	if dup := p.duplicateKey(root); dup != nil && p.err == nil {
		p.err = dup
	}
	switch {
	case p.err != nil:
		return nil, p.err
	case p.rule == "":
		return nil, p.errorAt(root, "missing `title`")
	}
	return p, nil
}

// header reads what a rule or a correlation says of itself: ids, name, status, level (and its score), tags.
func (p *parser) header(root *yaml.Node) (r *rule.Rule, level string, score int, err error) {
	r = &rule.Rule{
		ID:          strings.TrimSpace(p.str(root, "id")),
		Name:        p.rule,
		Ref:         strings.TrimSpace(p.str(root, "name")),
		Description: strings.TrimSpace(p.str(root, "description")),
		Status:      statusOf(value(root, "status")),
		Origin:      rule.Origin{File: p.file, Format: "sigma"},
	}
	if r.ID == "" {
		r.ID = r.Name
	}
	level = strings.ToLower(strings.TrimSpace(p.str(root, "level")))
	if level == "" {
		level = DefaultLevel
	}
	score, ok := LevelScores[level]
	if !ok && p.err == nil {
		return nil, "", 0, p.errorAt(value(root, "level"), fmt.Sprintf("unknown level %q (informational, low, medium, high or critical)", level))
	}
	r.MitreTechniques, r.MitreTactics = p.tags(root)
	if p.err != nil {
		return nil, "", 0, p.err
	}
	return r, level, score, nil
}

// parser carries the file and rule name into error messages, and the first error of the helpers that read scalars.
type parser struct {
	file, rule string
	err        error
	// terms counts the comparisons the detection has expanded into so far (maxTerms).
	terms int
}

func (p *parser) errorAt(n *yaml.Node, reason string) *rule.Error {
	e := &rule.Error{File: p.file, Rule: p.rule, Reason: reason}
	if n != nil {
		e.Line, e.Column = n.Line, n.Column
	}
	return e
}

// str returns the scalar at key in m ("" when absent); a non-scalar is an error.
func (p *parser) str(m *yaml.Node, k string) string {
	n := value(m, k)
	if n == nil || isNull(n) {
		return ""
	}
	if n.Kind != yaml.ScalarNode {
		if p.err == nil {
			p.err = p.errorAt(n, fmt.Sprintf("`%s` must be a single value", k))
		}
		return ""
	}
	return n.Value
}

// statusOf reads the rule's status, lower-cased. It is information only: a value of another shape is ignored, never
// an error (a rule that loaded before the status was read must still load).
func statusOf(n *yaml.Node) string {
	if n == nil || n.Kind != yaml.ScalarNode || isNull(n) {
		return ""
	}
	return strings.ToLower(strings.TrimSpace(n.Value))
}

func (p *parser) checkLogsource(root *yaml.Node) error {
	ls := value(root, "logsource")
	if ls == nil {
		return p.errorAt(root, "missing `logsource` (auditdetect runs rules with logsource product: kubernetes, service: audit)")
	}
	if ls.Kind != yaml.MappingNode {
		return p.errorAt(ls, "`logsource` must be a mapping")
	}
	product := strings.ToLower(strings.TrimSpace(p.str(ls, "product")))
	service := strings.ToLower(strings.TrimSpace(p.str(ls, "service")))
	if p.err != nil {
		return p.err
	}
	if product != "kubernetes" || service != "audit" {
		return p.errorAt(ls, fmt.Sprintf("logsource product %q, service %q is not Kubernetes audit: auditdetect runs only Sigma rules with logsource product: kubernetes, service: audit", product, service))
	}
	return nil
}

// tags maps `attack.tNNNN[.NNN]` tags to technique ids and ATT&CK tactic tags to tactic ids; other tags are ignored.
func (p *parser) tags(root *yaml.Node) (techniques, tactics []string) {
	n := value(root, "tags")
	if n == nil || isNull(n) {
		return nil, nil
	}
	if n.Kind != yaml.SequenceNode {
		p.err = p.errorAt(n, "`tags` must be a list")
		return nil, nil
	}
	for _, t := range n.Content {
		t = deref(t)
		if t.Kind != yaml.ScalarNode {
			p.err = p.errorAt(t, "a tag must be a single value")
			return nil, nil
		}
		tag := strings.TrimSpace(t.Value)
		if m := techniqueTag.FindStringSubmatch(tag); m != nil {
			techniques = appendNew(techniques, strings.ToUpper(m[1]))
		} else if id, ok := tacticIDs[tacticKey(tag)]; ok && strings.HasPrefix(tag, "attack.") {
			tactics = appendNew(tactics, id)
		}
	}
	return techniques, tactics
}

// tacticKey is the tacticIDs key a tag would have: `attack.` cut off, lower-cased, `_` read as `-`.
func tacticKey(tag string) string {
	return strings.ReplaceAll(strings.ToLower(strings.TrimPrefix(tag, "attack.")), "_", "-")
}

func appendNew(list []string, s string) []string {
	for _, x := range list {
		if x == s {
			return list
		}
	}
	return append(list, s)
}

// topLevel parses a single YAML document and returns its top-level mapping.
func topLevel(file string, data []byte) (*yaml.Node, error) {
	return yamlfile.TopLevel(file, data, "several YAML documents in one file (a Sigma rule collection) are not supported: put each rule in its own file")
}

// value returns the value node of key k in mapping m, or nil.
func value(m *yaml.Node, k string) *yaml.Node {
	if kn := key(m, k); kn != nil {
		return deref(kn.next)
	}
	return nil
}

// keyNode is a mapping key with its value.
type keyNode struct {
	*yaml.Node
	next *yaml.Node
}

// key returns the key node k of mapping m (its position is the key's), or nil.
func key(m *yaml.Node, k string) *keyNode {
	m = deref(m)
	if m == nil || m.Kind != yaml.MappingNode {
		return nil
	}
	for i := 0; i+1 < len(m.Content); i += 2 {
		if m.Content[i].Value == k {
			return &keyNode{Node: m.Content[i], next: m.Content[i+1]}
		}
	}
	return nil
}

// duplicateKey returns an error at the first key, in document order, that repeats an earlier key of its mapping
// anywhere under n, or nil. yaml.v3 keeps both in its nodes, and this package would read one of them (key) or AND
// them (the fields of a search identifier) where YAML says a mapping's keys are unique: such a rule is refused
// rather than read one way of several. Aliases are not followed: the node they name is checked where it is.
func (p *parser) duplicateKey(n *yaml.Node) *rule.Error {
	if n.Kind != yaml.MappingNode {
		for _, c := range n.Content {
			if e := p.duplicateKey(c); e != nil {
				return e
			}
		}
		return nil
	}
	seen := make(map[string]*yaml.Node, len(n.Content)/2)
	for i, c := range n.Content {
		if i%2 == 0 && c.Kind == yaml.ScalarNode {
			if first, ok := seen[c.Value]; ok {
				return p.errorAt(c, fmt.Sprintf("duplicate key %q (first at line %d, column %d): the keys of a YAML mapping must be unique", c.Value, first.Line, first.Column))
			}
			seen[c.Value] = c
		}
		if e := p.duplicateKey(c); e != nil {
			return e
		}
	}
	return nil
}

func deref(n *yaml.Node) *yaml.Node {
	for depth := 0; n != nil && n.Kind == yaml.AliasNode && depth < 100; depth++ {
		n = n.Alias
	}
	return n
}

func isNull(n *yaml.Node) bool {
	return n.Kind == yaml.ScalarNode && n.Tag == "!!null"
}
