// Package escu reads Splunk ESCU (security_content) detection and macro YAML files into auditdetect's rule model, and
// its lookup files with their CSV tables (lookup.go).
//
// Both generations of the format load unchanged: v5 detections carry an `rba:` block; v4 detections carry
// `tags.message`, `tags.risk_score` and `tags.observable`, which are mapped to risk and threat objects the way
// contentctl 4.x built savedsearches.conf from them. The `search:` is compiled by package spl, and its errors are
// reported at their line and column in the YAML file.
package escu

import (
	"fmt"
	"strings"
	"time"

	"gopkg.in/yaml.v3"

	"github.com/auditdetect/auditdetect/processor/internal/yamlfile"
	"github.com/auditdetect/auditdetect/processor/rule"
	"github.com/auditdetect/auditdetect/processor/spl"
)

// IsDetection reports whether data is a YAML mapping with a top-level `search:`, the mark of an ESCU detection.
func IsDetection(data []byte) bool {
	root, err := topLevel("", data)
	return err == nil && value(root, "search") != nil
}

// IsMacro reports whether data is a YAML mapping with a top-level `definition:` and no `search:`, the mark of a
// security_content macro.
func IsMacro(data []byte) bool {
	root, err := topLevel("", data)
	return err == nil && value(root, "definition") != nil && value(root, "search") == nil
}

// Macro is a macro and where it is defined: read from a security_content macro file by ParseMacro, or set in the
// configuration (no File).
type Macro struct {
	// Key is the macro's key in spl.Macros: its name, or `name(a,b)` for a macro with `arguments: [a, b]`, which
	// spl.Macros resolves for references with two arguments.
	Key        string
	Definition string
	// File is the macro file; "" for a macro set in the configuration (the processor's `macros:`).
	File string
	// Line and Column locate the macro's `name:` value in File.
	Line, Column int

	def  *yaml.Node // the `definition:` scalar
	data []byte     // File's content
}

// where says where a fault at line and column of the definition is, for spl.MacroFault.Describe: the file's line
// and column, or the position in the definition of a configured macro.
func (m *Macro) where(line, col int) string {
	switch {
	case m.File == "":
		return fmt.Sprintf("configured, definition %d:%d", line, col)
	case m.def == nil: // not read by ParseMacro
		return fmt.Sprintf("defined in %s, definition %d:%d", m.File, line, col)
	}
	line, col = scalarPosition(m.data, m.def, line, col)
	if col == 0 {
		return fmt.Sprintf("defined at %s:%d", m.File, line)
	}
	return fmt.Sprintf("defined at %s:%d:%d", m.File, line, col)
}

// ParseMacro reads a security_content macro file.
func ParseMacro(file string, data []byte) (*Macro, error) {
	root, err := topLevel(file, data)
	if err != nil {
		return nil, err
	}
	var m struct {
		Name       string     `yaml:"name"`
		Definition string     `yaml:"definition"`
		Arguments  stringList `yaml:"arguments"`
	}
	if err := root.Decode(&m); err != nil {
		return nil, yamlfile.Error(file, "", err)
	}
	name := strings.TrimSpace(m.Name)
	def := value(root, "definition")
	switch {
	case name == "":
		return nil, errorAt(file, root, "", "missing `name`")
	case strings.ContainsAny(name, "`() \t\n"):
		return nil, errorAt(file, value(root, "name"), "", fmt.Sprintf("invalid macro name %q", m.Name))
	case def == nil:
		return nil, errorAt(file, root, name, "missing `definition`")
	}
	if len(m.Arguments) > 0 {
		name += "(" + strings.Join(m.Arguments, ",") + ")"
	}
	n := value(root, "name")
	return &Macro{Key: name, Definition: m.Definition, File: file, Line: n.Line, Column: n.Column, def: def, data: data}, nil
}

// Parse reads an ESCU detection and compiles its search against macros. Errors are *rule.Error with the file, line
// and column. A fault inside a macro's definition is reported at the macro's reference in the search, and says where
// the macro whose definition holds it is defined: origins maps macro keys to their Macro (nil, or a key missing,
// and the fault is said by its place in the definition alone, as for the default macros).
func Parse(file string, data []byte, macros spl.Macros, origins map[string]*Macro) (*rule.Rule, error) {
	return ParseIn(file, data, Scope{Macros: macros, Origins: origins})
}

// Scope is what a detection's search is compiled against: what it can name, macros (and where each is defined, for
// Parse's messages) and lookups, and the time zone its time functions work in (nil: UTC; spl.Env).
type Scope struct {
	Macros   spl.Macros
	Origins  map[string]*Macro
	Lookups  spl.Lookups
	TimeZone *time.Location
}

// ParseIn is Parse for a search that may also name lookups (`| lookup`): an undefined one, or one whose table does
// not read, fails the detection at the lookup's name.
func ParseIn(file string, data []byte, scope Scope) (*rule.Rule, error) {
	macros, origins := scope.Macros, scope.Origins
	root, err := topLevel(file, data)
	if err != nil {
		return nil, err
	}
	var d detection
	if err := root.Decode(&d); err != nil {
		return nil, yamlfile.Error(file, "", err)
	}
	name := strings.TrimSpace(d.Name)
	if name == "" {
		return nil, errorAt(file, root, "", "missing `name`")
	}
	search := value(root, "search")
	if search == nil {
		return nil, errorAt(file, root, name, "missing `search`")
	}
	if search.Kind != yaml.ScalarNode {
		return nil, errorAt(file, search, name, "`search` must be a string of SPL")
	}

	r := &rule.Rule{
		ID:              strings.TrimSpace(d.ID),
		Name:            name,
		Version:         d.Version,
		Description:     strings.TrimSpace(d.Description),
		Status:          strings.ToLower(strings.TrimSpace(string(d.Status))),
		Origin:          rule.Origin{File: file, Line: searchStartLine(search), Format: "escu"},
		MitreTechniques: d.Tags.MitreAttackID,
		Stories:         d.Tags.AnalyticStory,
	}
	if r.ID == "" {
		r.ID = name // the engine and the loader key rules by ID
	}

	if rba := value(root, "rba"); rba != nil {
		r.Risk, err = parseRBA(file, name, rba)
	} else {
		r.Risk, err = parseTags(file, name, root, &d)
	}
	if err != nil {
		return nil, err
	}

	if r.Tests, err = parseTests(file, name, root); err != nil {
		return nil, err
	}

	r.Filter, r.Pipeline, err = spl.CompileIn(search.Value, macros, spl.Env{Lookups: scope.Lookups, TimeZone: scope.TimeZone})
	if err != nil {
		e, ok := err.(*spl.Error)
		if !ok {
			return nil, &rule.Error{File: file, Line: search.Line, Rule: name, Reason: err.Error()}
		}
		line, col := scalarPosition(data, search, e.Line, e.Column)
		reason := e.Reason
		if f := e.Macro; f != nil && origins[f.Key] != nil {
			reason = f.Describe(origins[f.Key].where(f.Line, f.Column))
		}
		return nil, &rule.Error{File: file, Line: line, Column: col, Rule: name, Reason: reason}
	}
	return r, nil
}

// detection holds the fields of an ESCU detection that auditdetect uses; ESCU has many more, which are ignored.
type detection struct {
	Name        string        `yaml:"name"`
	ID          string        `yaml:"id"`
	Version     int           `yaml:"version"`
	Description string        `yaml:"description"`
	Status      lenientString `yaml:"status"`
	Tags        struct {
		Message       string       `yaml:"message"`
		RiskScore     *int         `yaml:"risk_score"`
		Confidence    *int         `yaml:"confidence"`
		Impact        *int         `yaml:"impact"`
		Observable    []observable `yaml:"observable"`
		MitreAttackID stringList   `yaml:"mitre_attack_id"`
		AnalyticStory stringList   `yaml:"analytic_story"`
	} `yaml:"tags"`
}

type observable struct {
	Name string     `yaml:"name"`
	Type string     `yaml:"type"`
	Role stringList `yaml:"role"`
}

// lenientString is a string that is information only: a value of another shape reads as empty, never as an error
// (the detection loaded before the field was read, and must still load).
type lenientString string

func (l *lenientString) UnmarshalYAML(n *yaml.Node) error {
	if n.Kind == yaml.ScalarNode && n.Tag != "!!null" {
		*l = lenientString(n.Value)
	}
	return nil
}

// stringList accepts a YAML sequence of strings or a single string.
type stringList []string

func (l *stringList) UnmarshalYAML(n *yaml.Node) error {
	if n.Kind == yaml.ScalarNode {
		if n.Tag != "!!null" {
			*l = stringList{n.Value}
		}
		return nil
	}
	var s []string
	if err := n.Decode(&s); err != nil {
		return err
	}
	*l = s
	return nil
}

// topLevel parses data, one YAML document, and returns its top-level mapping.
func topLevel(file string, data []byte) (*yaml.Node, error) {
	return yamlfile.TopLevel(file, data, "several YAML documents in one file are not supported: put each detection or macro in its own file")
}

// value returns the value node of key in mapping m, or nil.
func value(m *yaml.Node, key string) *yaml.Node {
	return valueDepth(m, key, 0)
}

// valueDepth is value through aliases and merge keys, as the decoder reads them: a key the mapping sets itself
// first, then one a merge (`<<: *anchor`, or a list of them) brings in; to a bounded depth (a mapping may merge one
// that merges it).
func valueDepth(m *yaml.Node, key string, depth int) *yaml.Node {
	if m = deref(m); m == nil || m.Kind != yaml.MappingNode || depth > 8 {
		return nil
	}
	for i := 0; i+1 < len(m.Content); i += 2 {
		if m.Content[i].Value == key {
			return m.Content[i+1]
		}
	}
	for i := 0; i+1 < len(m.Content); i += 2 {
		if m.Content[i].Value != "<<" {
			continue
		}
		merged := []*yaml.Node{m.Content[i+1]}
		if s := deref(m.Content[i+1]); s != nil && s.Kind == yaml.SequenceNode {
			merged = s.Content
		}
		for _, mm := range merged {
			if v := valueDepth(mm, key, depth+1); v != nil {
				return v
			}
		}
	}
	return nil
}

func errorAt(file string, n *yaml.Node, ruleName, reason string) *rule.Error {
	e := &rule.Error{File: file, Rule: ruleName, Reason: reason}
	if n != nil {
		e.Line, e.Column = n.Line, n.Column
	}
	return e
}
