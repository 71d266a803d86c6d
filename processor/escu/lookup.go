package escu

import (
	"bytes"
	"encoding/csv"
	"errors"
	"fmt"
	"io"
	"path"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"

	"gopkg.in/yaml.v3"

	"github.com/auditdetect/auditdetect/processor/internal/yamlfile"
	"github.com/auditdetect/auditdetect/processor/rule"
)

// security_content ships each lookup as lookups/<name>.yml, its definition (what contentctl writes to
// transforms.conf), beside the CSV file that holds its table. Two generations of the definition are deployed:
//   - contentctl 4 (`filename: <name>.csv`, `match_type: WILDCARD(field)` as a string, `collection:` and
//     `fields_list:` for a KV store lookup);
//   - contentctl 5 (`lookup_type: csv | kvstore | mlmodel`, no filename: the CSV is the YAML file's own name with
//     .csv, `match_type:` a list, `max_matches:`).
//
// Both read the same here. Settings a file leaves out take Splunk's transforms.conf defaults (contentctl writes only
// the ones the YAML sets): exact, case-sensitive matching, min_matches 0, max_matches 100, default_match empty.

// IsLookup reports whether data is a security_content lookup definition: a YAML mapping with `lookup_type:`,
// `filename:` or `collection:`, and none of a detection's `search:`, a macro's `definition:` or a Sigma rule's
// `detection:`.
func IsLookup(data []byte) bool {
	_, ok := lookupRoot(data)
	return ok
}

// lookupRoot returns the top-level mapping of data when data is a lookup definition (IsLookup).
func lookupRoot(data []byte) (*yaml.Node, bool) {
	// Most rule files are not lookups: a look at the bytes spares them a second YAML parse (the reload digest asks
	// of every rule file).
	if !bytes.Contains(data, []byte("lookup_type")) && !bytes.Contains(data, []byte("filename")) &&
		!bytes.Contains(data, []byte("collection")) {
		return nil, false
	}
	root, err := topLevel("", data)
	if err != nil || value(root, "search") != nil || value(root, "definition") != nil || value(root, "detection") != nil {
		return nil, false
	}
	return root, value(root, "lookup_type") != nil || value(root, "filename") != nil || value(root, "collection") != nil
}

// LookupOf is ParseLookup of data when IsLookup(data), in one YAML parse (the reload check asks it of every rule
// file); ok is false for data that is no lookup definition.
func LookupOf(file string, data []byte) (d *LookupDef, ok bool, err error) {
	root, ok := lookupRoot(data)
	if !ok {
		return nil, false, nil
	}
	d, err = parseLookup(file, root)
	return d, true, err
}

// LookupDef is a lookup read from a security_content lookup file, or set in the configuration (ConfiguredLookup),
// without its table: the loader reads the CSV when a search first names the lookup (ReadLookupTable).
type LookupDef struct {
	Name string
	// File is the lookup's YAML file ("" for a configured lookup); Line and Column locate its `name:`.
	File         string
	Line, Column int
	// Kind is csv, kvstore or mlmodel; only a csv lookup has a table here.
	Kind string
	// CSV is the table's file: `filename:` (its base name: Splunk takes no path there; a .csv.gz one is
	// gzip-compressed) or, without one, the YAML file's own name with .csv, beside the YAML file.
	CSV string
	// Unusable says why a search cannot use the lookup ("" when it can): a KV store or a model, a filter.
	Unusable string
	// filter is the lookup's `filter:`, which no table given for it (WithCSV) makes usable.
	filter bool

	matches                []matchSpec
	caseSensitive          bool
	minMatches, maxMatches int
	defaultMatch           string
}

// matchSpec is one `WILDCARD(field)` or `CIDR(field)` of match_type, with its place in the file.
type matchSpec struct {
	field     string
	match     rule.LookupMatch
	line, col int
}

var matchTypeRE = regexp.MustCompile(`^(?i)(WILDCARD|CIDR|EXACT)\(\s*([^()]+?)\s*\)$`)

// ParseLookup reads a security_content lookup file. The CSV file it names is resolved beside file (with '/' for a
// file of an embedded pack, whose names are slash-separated).
func ParseLookup(file string, data []byte) (*LookupDef, error) {
	root, err := topLevel(file, data)
	if err != nil {
		return nil, err
	}
	return parseLookup(file, root)
}

func parseLookup(file string, root *yaml.Node) (*LookupDef, error) {
	var y struct {
		Name       string `yaml:"name"`
		LookupType string `yaml:"lookup_type"`
		Filename   string `yaml:"filename"`
		Collection string `yaml:"collection"`
		Filter     string `yaml:"filter"`
	}
	if err := root.Decode(&y); err != nil {
		return nil, yamlfile.Error(file, "", err)
	}
	d := &LookupDef{Name: strings.TrimSpace(y.Name), File: file, caseSensitive: true, maxMatches: rule.DefaultMaxMatches}
	if d.Name == "" {
		return nil, errorAt(file, root, "", "lookup file without `name`")
	}
	if n := value(root, "name"); n != nil {
		d.Line, d.Column = n.Line, n.Column
		if !validLookupName(d.Name) {
			return nil, errorAt(file, n, "", fmt.Sprintf("invalid lookup name %q (letters, digits, and _ - . : only)", y.Name))
		}
	}
	switch kind := strings.ToLower(strings.TrimSpace(y.LookupType)); {
	case kind == "csv", kind == "" && y.Filename != "" && !strings.HasSuffix(y.Filename, ".mlmodel"):
		d.Kind = "csv"
	case kind == "kvstore", kind == "" && y.Collection != "":
		d.Kind, d.Unusable = "kvstore", "a KV store lookup, which lives in Splunk (its collection): give an export of its table (CSV) in the lookups setting"
	case kind == "mlmodel", kind == "" && strings.HasSuffix(y.Filename, ".mlmodel"):
		d.Kind, d.Unusable = "mlmodel", "a machine-learning model (MLTK), not a table"
	case kind == "":
		return nil, errorAt(file, root, d.Name, "lookup file without `lookup_type` (csv, kvstore or mlmodel), `filename` or `collection`")
	default:
		return nil, errorAt(file, value(root, "lookup_type"), "", fmt.Sprintf("lookup_type %q is not csv, kvstore or mlmodel", y.LookupType))
	}
	if d.Kind == "csv" {
		if y.Filename != "" {
			// Splunk strips a path from filename ("Only file names are supported"); so does this.
			csv := path.Base(strings.ReplaceAll(y.Filename, `\`, "/"))
			if name, ok := strings.CutPrefix(file, "builtin:"); ok {
				d.CSV = "builtin:" + path.Join(path.Dir(name), csv) // an embedded pack's names are slash-separated
			} else {
				d.CSV = filepath.Join(filepath.Dir(file), csv)
			}
		} else {
			d.CSV = strings.TrimSuffix(file, filepath.Ext(file)) + ".csv"
		}
	}
	if d.filter = strings.TrimSpace(y.Filter) != ""; d.filter && d.Unusable == "" {
		d.Unusable = filterUnsupported
	}
	if err := d.parseSettings(file, root); err != nil {
		return nil, err
	}
	return d, nil
}

// ConfiguredLookup is a lookup the configuration defines by its CSV file alone: Splunk's defaults for the rest.
func ConfiguredLookup(name, csvFile string) *LookupDef {
	return &LookupDef{Name: name, Kind: "csv", CSV: csvFile, caseSensitive: true, maxMatches: rule.DefaultMaxMatches}
}

const filterUnsupported = "its filter (a search over the table's rows) is not supported"

// WithCSV returns a copy of d that reads its table from csvFile: the configuration's file for a lookup whose
// definition security_content ships (a user's own allow-list, matched as the lookup file says). A KV store lookup
// (security_content's Kubernetes baselines are) becomes a CSV lookup of the same settings: the file is an export of
// its collection. A model stays a model.
func (d *LookupDef) WithCSV(csvFile string) *LookupDef {
	c := *d
	c.CSV = csvFile
	if c.Kind == "kvstore" {
		c.Kind, c.Unusable = "csv", ""
		if c.filter {
			c.Unusable = filterUnsupported
		}
	}
	return &c
}

// validLookupName: names that a search can write as a bare word.
func validLookupName(s string) bool {
	for _, r := range s {
		if !(r == '_' || r == '-' || r == '.' || r == ':' || '0' <= r && r <= '9' || 'a' <= r && r <= 'z' || 'A' <= r && r <= 'Z') {
			return false
		}
	}
	return s != ""
}

// ValidLookupName reports whether s can name a lookup: what a search can write as a bare word.
func ValidLookupName(s string) bool { return validLookupName(s) }

// parseSettings reads match_type, case_sensitive_match, min_matches, max_matches and default_match.
func (d *LookupDef) parseSettings(file string, root *yaml.Node) error {
	if n := deref(value(root, "match_type")); n != nil && n.Tag != "!!null" {
		var items []*yaml.Node
		switch n.Kind {
		case yaml.SequenceNode:
			items = n.Content
		case yaml.ScalarNode:
			items = []*yaml.Node{n}
		default:
			return errorAt(file, n, "", "`match_type` must be a list of WILDCARD(field) and CIDR(field), or a string of them")
		}
		for _, item := range items {
			item = deref(item)
			if item == nil || item.Kind != yaml.ScalarNode {
				return errorAt(file, item, "", "`match_type` entries are WILDCARD(field) or CIDR(field)")
			}
			// transforms.conf writes them "comma and space-delimited" in one string.
			for _, spec := range splitMatchTypes(item.Value) {
				m := matchTypeRE.FindStringSubmatch(spec)
				if m == nil {
					return errorAt(file, item, "", fmt.Sprintf("match_type %q is not WILDCARD(field), CIDR(field) or EXACT(field)", spec))
				}
				ms := matchSpec{field: m[2], line: item.Line, col: item.Column}
				switch strings.ToUpper(m[1]) {
				case "WILDCARD":
					ms.match = rule.MatchWildcard
				case "CIDR":
					ms.match = rule.MatchCIDR
				}
				if i := slices.IndexFunc(d.matches, func(o matchSpec) bool { return o.field == ms.field }); i >= 0 && d.matches[i].match != ms.match {
					return errorAt(file, item, "", fmt.Sprintf("match_type gives field %q two types (%s and %s)", ms.field, d.matches[i].match, ms.match))
				}
				d.matches = append(d.matches, ms)
			}
		}
	}
	if n := deref(value(root, "case_sensitive_match")); n != nil && n.Tag != "!!null" {
		b, err := boolValue(n)
		if err != nil {
			return errorAt(file, n, "", "`case_sensitive_match` "+err.Error())
		}
		d.caseSensitive = b
	}
	for _, s := range []struct {
		key      string
		to       *int
		min, max int
	}{{"min_matches", &d.minMatches, 0, rule.MaxMaxMatches}, {"max_matches", &d.maxMatches, 1, rule.MaxMaxMatches}} {
		n := deref(value(root, s.key))
		if n == nil || n.Tag == "!!null" {
			continue
		}
		v, err := strconv.Atoi(strings.TrimSpace(n.Value))
		if n.Kind != yaml.ScalarNode || err != nil || v < s.min || v > s.max {
			return errorAt(file, n, "", fmt.Sprintf("`%s` must be a whole number from %d to %d", s.key, s.min, s.max))
		}
		*s.to = v
	}
	if n := deref(value(root, "default_match")); n != nil && n.Tag != "!!null" {
		if n.Kind != yaml.ScalarNode {
			return errorAt(file, n, "", "`default_match` must be a string")
		}
		// contentctl writes a YAML boolean lower-cased (default_match: false is the text "false").
		d.defaultMatch = n.Value
		if n.Tag == "!!bool" {
			d.defaultMatch = strings.ToLower(n.Value)
		}
	}
	return nil
}

func splitMatchTypes(s string) []string {
	var out []string
	for _, f := range strings.FieldsFunc(s, func(r rune) bool { return r == ',' }) {
		if f = strings.TrimSpace(f); f != "" {
			out = append(out, f)
		}
	}
	return out
}

// boolValue reads a YAML boolean, or the text true/false that older lookup files quote ('false').
func boolValue(n *yaml.Node) (bool, error) {
	if n.Kind == yaml.ScalarNode {
		switch strings.ToLower(strings.TrimSpace(n.Value)) {
		case "true", "t", "yes", "1":
			return true, nil
		case "false", "f", "no", "0":
			return false, nil
		}
	}
	return false, errors.New("must be true or false")
}

// Bounds on one lookup table: it is held in memory, indexed, for as long as the rules run. Kubernetes allow-lists are
// a few rows; security_content's largest tables are a few MiB. The bytes alone do not bound the memory: every cell
// costs a string header (16 bytes) however short, so 32 MiB of commas would be 33 million empty cells, over 500 MiB;
// MaxLookupCells (rows × fields) keeps a table within about twice its bytes.
const (
	MaxLookupBytes   = 32 << 20
	MaxLookupRows    = 500000
	MaxLookupColumns = 1000
	MaxLookupCells   = 2000000
)

// ReadLookupTable reads the CSV data of d's table, read from csvFile, into a table: the first record is the header
// (field names), every other record a row of as many fields. RFC 4180 quoting (a field in double quotes may hold
// commas, line breaks and "" for a quote), CRLF or LF line ends, and a UTF-8 byte-order mark are read as Splunk
// reads them. Errors are *rule.Error in csvFile at the record's line and column (for a match_type field the header
// lacks, in d's YAML file).
func ReadLookupTable(d *LookupDef, csvFile string, data []byte) (*rule.LookupTable, error) {
	fail := func(line, col int, format string, args ...any) error {
		return &rule.Error{File: csvFile, Line: line, Column: col, Reason: fmt.Sprintf(format, args...)}
	}
	if len(data) > MaxLookupBytes {
		return nil, fail(0, 0, "lookup file is larger than %d bytes, the limit for one lookup table", MaxLookupBytes)
	}
	data = bytes.TrimPrefix(data, []byte("\ufeff"))
	r := csv.NewReader(bytes.NewReader(data))
	r.ReuseRecord = false
	header, err := r.Read()
	switch {
	case err == io.EOF:
		return nil, fail(1, 0, "empty lookup file: the first line must name the fields (a CSV header)")
	case err != nil:
		return nil, csvError(csvFile, err)
	case len(header) > MaxLookupColumns:
		return nil, fail(1, 0, "%d fields, over the limit of %d for one lookup table", len(header), MaxLookupColumns)
	}
	for i, h := range header {
		switch line, col := r.FieldPos(i); {
		case h == "":
			return nil, fail(line, col, "field %d of the header has no name", i+1)
		case slices.Index(header, h) < i:
			return nil, fail(line, col, "field %q is named twice in the header", h)
		}
	}
	t := rule.LookupTable{Name: d.Name, Source: csvFile, Columns: header, CaseSensitive: d.caseSensitive,
		MinMatches: d.minMatches, MaxMatches: d.maxMatches, DefaultMatch: d.defaultMatch}
	t.Match = make([]rule.LookupMatch, len(header))
	for _, m := range d.matches {
		i := slices.Index(header, m.field)
		if i < 0 {
			return nil, &rule.Error{File: d.File, Line: m.line, Column: m.col, Reason: fmt.Sprintf(
				"match_type names field %q, which the lookup's table (%s) does not have (its fields: %s)", m.field, csvFile, strings.Join(header, ", "))}
		}
		t.Match[i] = m.match
	}
	cells := 0
	for {
		rec, err := r.Read()
		if err == io.EOF {
			break
		}
		if errors.Is(err, csv.ErrFieldCount) {
			line, col := r.FieldPos(0)
			if len(rec) > len(header) {
				line, col = r.FieldPos(len(header)) // the first field past the header's
			} else {
				col = 0 // the line lacks fields: no place of its own to point at
			}
			return nil, fail(line, col, "%d fields, where the header has %d (a field that holds a comma must be in double quotes)",
				len(rec), len(header))
		}
		if err != nil {
			return nil, csvError(csvFile, err)
		}
		line, _ := r.FieldPos(0)
		if len(t.Rows) == MaxLookupRows {
			return nil, fail(line, 0, "more than %d rows, the limit for one lookup table", MaxLookupRows)
		}
		if cells += len(rec); cells > MaxLookupCells {
			return nil, fail(line, 0, "more than %d fields in all (rows × fields), the limit for one lookup table", MaxLookupCells)
		}
		for i, cell := range rec {
			if t.Match[i] != rule.MatchCIDR || cell == "" {
				continue
			}
			if _, err := rule.LookupNetwork(cell); err != nil {
				l, c := r.FieldPos(i)
				return nil, fail(l, c, "%q in field %s (CIDR) %v", cell, header[i], err)
			}
		}
		t.Rows = append(t.Rows, rec)
	}
	table, err := rule.NewLookupTable(t)
	if err != nil {
		return nil, fail(0, 0, "%v", err)
	}
	return table, nil
}

// csvError says an encoding/csv error at its line and column.
func csvError(file string, err error) error {
	var pe *csv.ParseError
	if !errors.As(err, &pe) {
		return &rule.Error{File: file, Reason: err.Error()}
	}
	return &rule.Error{File: file, Line: pe.Line, Column: pe.Column, Reason: pe.Err.Error()}
}

// SameSettings reports whether d and o match alike (kind and settings), whatever their CSV files.
func (d *LookupDef) SameSettings(o *LookupDef) bool {
	same := func(a, b matchSpec) bool { return a.field == b.field && a.match == b.match }
	return d.Kind == o.Kind && d.Unusable == o.Unusable && slices.EqualFunc(d.matches, o.matches, same) &&
		d.caseSensitive == o.caseSensitive && d.minMatches == o.minMatches && d.maxMatches == o.maxMatches &&
		d.defaultMatch == o.defaultMatch
}
