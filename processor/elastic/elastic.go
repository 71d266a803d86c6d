// Package elastic reads Elastic detection rules (elastic/detection-rules TOML) for Kubernetes audit logs into
// auditdetect's rule model: `query` and `new_terms` rules in KQL, and single-event `eql` rules. Their ECS fields are
// mapped to the raw audit event through a FieldMap whose default follows Elastic's Kubernetes audit_logs ingest
// pipeline. LANGUAGE.md says what is supported and how it differs from running the rule in Elastic Security.
package elastic

import (
	"bytes"
	"errors"
	"fmt"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/pelletier/go-toml/v2"

	"github.com/auditdetect/auditdetect/processor/internal/eventrisk"
	"github.com/auditdetect/auditdetect/processor/rule"
)

// SeverityScores is the risk score of a rule without `risk_score`: Elastic's defaults for each severity.
var SeverityScores = map[string]int{"low": 21, "medium": 47, "high": 73, "critical": 99}

// document is the part of a detection-rules TOML file that auditdetect reads.
type document struct {
	Rule *ruleTable `toml:"rule"`
	// Metadata is read for its maturity, information only: a value of another shape is ignored, not an error.
	Metadata any `toml:"metadata"`
}

type ruleTable struct {
	Name        string    `toml:"name"`
	RuleID      string    `toml:"rule_id"`
	Type        string    `toml:"type"`
	Language    string    `toml:"language"`
	Index       []string  `toml:"index"`
	Query       *string   `toml:"query"`
	From        string    `toml:"from"`
	Severity    string    `toml:"severity"`
	RiskScore   *int      `toml:"risk_score"`
	Description string    `toml:"description"`
	Version     int       `toml:"version"`
	Threat      []threat  `toml:"threat"`
	NewTerms    *newTerms `toml:"new_terms"`
	Filters     []any     `toml:"filters"`
}

type threat struct {
	Framework string `toml:"framework"`
	Tactic    struct {
		ID string `toml:"id"`
	} `toml:"tactic"`
	Technique []struct {
		ID           string `toml:"id"`
		Subtechnique []struct {
			ID string `toml:"id"`
		} `toml:"subtechnique"`
	} `toml:"technique"`
}

type newTerms struct {
	Field              string   `toml:"field"`
	Value              []string `toml:"value"`
	HistoryWindowStart []struct {
		Field string `toml:"field"`
		Value string `toml:"value"`
	} `toml:"history_window_start"`
}

// IsRule reports whether data is a TOML document with a `[rule]` table, the mark of an Elastic detection rule.
func IsRule(data []byte) bool {
	if !bytes.Contains(data, []byte("[rule")) {
		return false // cheap: most files the loader sees are YAML
	}
	var doc struct {
		Rule map[string]any `toml:"rule"`
	}
	return toml.Unmarshal(data, &doc) == nil && doc.Rule != nil
}

// Parse reads one Elastic rule and compiles its query, mapping fields through fm (nil: the default map). Errors are
// *rule.Error with the file and, where known, the line and column.
func Parse(file string, data []byte, fm *FieldMap) (*rule.Rule, error) {
	if fm == nil {
		var err error
		if fm, err = NewFieldMap(nil); err != nil {
			return nil, err
		}
	}
	var doc document
	if err := toml.Unmarshal(data, &doc); err != nil {
		return nil, tomlError(file, err)
	}
	rt := doc.Rule
	if rt == nil {
		return nil, &rule.Error{File: file, Line: 1, Reason: "no [rule] table: not an Elastic detection rule"}
	}
	name := strings.TrimSpace(rt.Name)
	fail := func(reason string) *rule.Error {
		return &rule.Error{File: file, Line: tableLine(data), Rule: name, Reason: reason}
	}
	if name == "" {
		return nil, fail("missing rule.name")
	}
	r := &rule.Rule{
		ID:          strings.TrimSpace(rt.RuleID),
		Name:        name,
		Version:     rt.Version,
		Description: strings.TrimSpace(rt.Description),
		Status:      maturity(doc.Metadata),
		Origin:      rule.Origin{File: file, Format: "elastic"},
	}
	if r.ID == "" {
		r.ID = name
	}
	typ := strings.TrimSpace(rt.Type)
	switch typ {
	case "query", "new_terms", "eql", "esql":
	case "":
		return nil, fail("missing rule.type")
	case "threshold":
		return nil, fail(`rule type "threshold" cannot run per event: it counts events over time`)
	default:
		return nil, fail(fmt.Sprintf("rule type %q is not supported (query, new_terms and eql are)", typ))
	}
	if len(rt.Filters) > 0 {
		return nil, fail("rule.filters (Elasticsearch query DSL) are not supported: put the condition in the query")
	}
	if !holdsAuditLogs(rt.Index) {
		return nil, fail(fmt.Sprintf("rule.index %q cannot hold Kubernetes audit logs (data stream %s<namespace>): the rule is for other data", rt.Index, auditLogsStream))
	}
	if rt.Query == nil {
		return nil, fail("missing rule.query")
	}
	query := *rt.Query
	line, col := queryStart(data)
	r.Origin.Line = line

	lang := strings.TrimSpace(rt.Language)
	var err error
	var esql *esqlQuery
	switch {
	case typ == "eql" && (lang == "eql" || lang == "") && isSequence(query):
		var seq rule.Sequence
		if r.Filter, seq, err = CompileEQLSequence(query, fm); err == nil {
			r.Pipeline = []rule.Stage{seq}
		}
	case typ == "eql" && (lang == "eql" || lang == ""):
		r.Filter, err = CompileEQL(query, fm)
	case typ == "esql" && (lang == "esql" || lang == ""):
		if esql, err = compileESQL(query, fm); err == nil {
			r.Filter, r.Pipeline = esql.filter, esql.pipeline
		}
	case typ != "eql" && typ != "esql" && (lang == "kuery" || lang == ""):
		r.Filter, err = CompileKQL(query, fm)
	default:
		want := map[string]string{"eql": "eql", "esql": "esql"}[typ]
		if want == "" {
			want = "kuery"
		}
		return nil, fail(fmt.Sprintf("language %q is not supported for %s rules (%s is)", lang, typ, want))
	}
	if err != nil && typ == "esql" {
		// What ES|QL does that cannot run per event (or is not supported) leaves the rule to Elastic.
		var qe *Error
		if errors.As(err, &qe) {
			qe.Reason += " (load it in Elastic, or skip it with on_rule_error: skip)"
		}
	}
	if err != nil {
		var qe *Error
		if !errors.As(err, &qe) {
			return nil, fail(err.Error())
		}
		e := &rule.Error{File: file, Line: line + qe.Line - 1, Column: qe.Column, Rule: name, Reason: qe.Reason}
		if qe.Line == 1 {
			e.Column += col - 1
		}
		return nil, e
	}

	score, err := riskScore(rt)
	if err != nil {
		return nil, fail(err.Error())
	}
	r.MitreTechniques, r.MitreTactics = mitre(rt.Threat)
	if typ == "new_terms" {
		st, present, err := newTermsStage(rt.NewTerms, fm)
		if err != nil {
			return nil, fail(err.Error())
		}
		r.Filter = and(r.Filter, present)
		r.Pipeline = append(r.Pipeline, st)
	}
	severity := strings.ToLower(strings.TrimSpace(rt.Severity))
	if esql != nil && esql.stats != nil {
		// An aggregating query's rows are its groups: the risk block names their columns, and the rule's look-back
		// is the window its counts are over.
		if r.Window, err = lookBack(rt.From); err != nil {
			return nil, fail(err.Error())
		}
		statsRisk(r, esql, score, severity)
		return r, nil
	}
	eventrisk.Apply(r, score, severity)
	if typ == "new_terms" {
		r.Risk.Message += " (new terms: $" + rule.NewTermsField + "$)"
	}
	if len(r.Pipeline) > 0 {
		if _, ok := r.Pipeline[0].(rule.Sequence); ok {
			r.Risk.Message += " (sequence of audit events $" + rule.SequenceIDsField + "$)"
			// A sequence without maxspan spans the rule's look-back, the time one run of it searches.
			if r.Window, err = lookBack(rt.From); err != nil {
				return nil, fail(err.Error())
			}
		}
	}
	return r, nil
}

func riskScore(rt *ruleTable) (int, error) {
	sev := strings.ToLower(strings.TrimSpace(rt.Severity))
	if rt.RiskScore != nil {
		if *rt.RiskScore < 0 || *rt.RiskScore > 100 {
			return 0, fmt.Errorf("risk_score %d is outside 0-100", *rt.RiskScore)
		}
		return *rt.RiskScore, nil
	}
	if s, ok := SeverityScores[sev]; ok {
		return s, nil
	}
	return 0, fmt.Errorf("no risk_score, and severity %q is not low, medium, high or critical", rt.Severity)
}

// mitre collects the ATT&CK technique, sub-technique and tactic ids of [[rule.threat]], each once, in file order.
func mitre(threats []threat) (techniques, tactics []string) {
	add := func(list []string, id string) []string {
		id = strings.TrimSpace(id)
		if id == "" {
			return list
		}
		for _, x := range list {
			if x == id {
				return list
			}
		}
		return append(list, id)
	}
	for _, t := range threats {
		if t.Framework != "" && t.Framework != "MITRE ATT&CK" {
			continue
		}
		tactics = add(tactics, t.Tactic.ID)
		for _, tech := range t.Technique {
			techniques = add(techniques, tech.ID)
			for _, sub := range tech.Subtechnique {
				techniques = add(techniques, sub.ID)
			}
		}
	}
	return techniques, tactics
}

var historyRE = regexp.MustCompile(`^now-(\d+)([smhHdw])$`)

// newTermsStage builds the stage of a new_terms rule: its fields mapped to the audit event, and its history window
// (`now-7d`) as a duration. A field mapped to a constant is left out: it cannot make a combination new. present is
// the condition that every field the pipeline may leave unset (ignoreEmptyFields) has a value: an event without one
// has no combination in Elastic, neither new nor recorded in the history.
func newTermsStage(nt *newTerms, fm *FieldMap) (st rule.NewTerms, present rule.Expr, err error) {
	present = rule.True{}
	if nt == nil || len(nt.Value) == 0 {
		return st, nil, errors.New("new_terms rule without rule.new_terms fields")
	}
	if len(nt.Value) > 3 {
		return st, nil, fmt.Errorf("new_terms names %d fields; Elastic allows at most 3", len(nt.Value))
	}
	for _, name := range nt.Value {
		f, err := fm.resolve(strings.TrimSpace(name))
		if err != nil {
			return st, nil, fmt.Errorf("new_terms field: %w", err)
		}
		switch {
		case f.kind == constTarget:
			continue
		case f.kind == absentTarget:
			return st, nil, fmt.Errorf("new_terms field %q is not in the audit event (elastic_field_map maps it to -), so the rule could never match", name)
		case f.text:
			return st, nil, fmt.Errorf("new_terms field %q is a text field in the Kubernetes integration's mapping, which Elastic cannot aggregate", name)
		case f.ignoreEmpty:
			present = and(present, f.exists())
		}
		// Of several spellings of an annotation key, the first (underscores kept in the name part) is read.
		st.Fields = append(st.Fields, rule.Field{Name: f.alts[0], AnyArray: true})
	}
	if len(st.Fields) == 0 {
		return st, nil, errors.New("every new_terms field maps to a constant, so no value could ever be new")
	}
	if len(nt.HistoryWindowStart) == 0 {
		return st, nil, errors.New("new_terms rule without history_window_start")
	}
	m := historyRE.FindStringSubmatch(strings.TrimSpace(nt.HistoryWindowStart[0].Value))
	if m == nil {
		return st, nil, fmt.Errorf("history_window_start %q is not now-<n><unit> with unit s, m, h, d or w", nt.HistoryWindowStart[0].Value)
	}
	n, err := strconv.Atoi(m[1])
	if err != nil || n <= 0 || n > 3650 {
		return st, nil, fmt.Errorf("history_window_start %q is out of range", nt.HistoryWindowStart[0].Value)
	}
	unit := map[string]time.Duration{"s": time.Second, "m": time.Minute, "h": time.Hour, "H": time.Hour, "d": 24 * time.Hour, "w": 7 * 24 * time.Hour}[m[2]]
	st.History = time.Duration(n) * unit
	return st, present, nil
}

// auditLogsStream is the name of the integration's data streams, before their namespace; their backing indices are
// `.ds-` and the data stream's name, then `-<date>-<generation>`.
const auditLogsStream = "logs-kubernetes.audit_logs-"

// holdsAuditLogs reports whether a rule's index patterns can name the integration's data streams or backing indices:
// true when some pattern could match such a name, or when the rule names none (a data view, or no index at all).
// Patterns are Elasticsearch's: `*` is the only wildcard, `cluster:pattern` names a remote cluster, a leading `-`
// excludes (and adds nothing), one element may hold several patterns separated by commas, and a date-math name
// (`<...>`, which may hold `:` in its time zone) is not read.
func holdsAuditLogs(patterns []string) bool {
	named := false
	for _, element := range patterns {
		for _, p := range strings.Split(element, ",") {
			p = strings.TrimSpace(p)
			if p == "" || strings.HasPrefix(p, "-") {
				continue
			}
			named = true
			if strings.Contains(p, "<") {
				return true // date math, possibly after a cluster prefix
			}
			if i := strings.LastIndexByte(p, ':'); i >= 0 {
				p = p[i+1:]
			}
			if globPrefixes(p, auditLogsStream) || globPrefixes(p, ".ds-"+auditLogsStream) {
				return true
			}
		}
	}
	return !named
}

// globPrefixes reports whether the index pattern p (`*` the only wildcard) matches some name that starts with
// prefix and goes on: p can consume all of prefix, and what is left of p can match the rest of such a name.
func globPrefixes(p, prefix string) bool {
	// states are the positions in p reachable after reading a part of prefix; a `*` stays where it is.
	states := map[int]bool{0: true}
	closure := func(s map[int]bool) {
		for i := 0; i <= len(p); i++ {
			if s[i] && i < len(p) && p[i] == '*' {
				s[i+1] = true
			}
		}
	}
	closure(states)
	for k := 0; k < len(prefix) && len(states) > 0; k++ {
		next := map[int]bool{}
		for i := range states {
			switch {
			case i == len(p):
			case p[i] == '*':
				next[i] = true
			case p[i] == prefix[k]:
				next[i+1] = true
			}
		}
		closure(next)
		states = next
	}
	// Any state left matches some name: the rest of p is read as the namespace and what follows it. The state at the
	// end of p matches only the bare prefix, which is no data stream's name.
	for i := range states {
		if i < len(p) {
			return true
		}
	}
	return false
}

var queryLine = regexp.MustCompile(`(?m)^[ \t]*query[ \t]*=[ \t]*('''|"""|'|")?`)

// queryStart returns the line and column at which the query text starts in the file; a multi-line string that
// opens with a newline starts on the next line.
func queryStart(data []byte) (line, col int) {
	loc := queryLine.FindIndex(data)
	if loc == nil {
		return tableLine(data), 0
	}
	line = 1 + bytes.Count(data[:loc[1]], []byte("\n"))
	rest := data[loc[1]:]
	if nl := bytes.IndexByte(rest, '\n'); nl >= 0 && len(bytes.TrimSpace(rest[:nl])) == 0 {
		return line + 1, 1
	}
	start := bytes.LastIndexByte(data[:loc[1]], '\n') + 1
	return line, loc[1] - start + 1
}

// tableLine is the line of the [rule] table header, where faults in its keys are reported.
func tableLine(data []byte) int {
	if i := bytes.Index(data, []byte("\n[rule]")); i >= 0 {
		return 2 + bytes.Count(data[:i], []byte("\n"))
	}
	return 1
}

// tomlTypeRE is go-toml's message for a value of the wrong type, which names Go's types.
var tomlTypeRE = regexp.MustCompile(`^toml: cannot decode TOML (\w+) into (?:struct field \S+ of type )?(\S+)$`)

func tomlError(file string, err error) *rule.Error {
	e := &rule.Error{File: file, Reason: "invalid TOML: " + err.Error()}
	var de *toml.DecodeError
	if errors.As(err, &de) {
		e.Line, e.Column = de.Position()
		e.Reason = "invalid TOML: " + de.Error()
		if m := tomlTypeRE.FindStringSubmatch(de.Error()); m != nil {
			e.Reason = fmt.Sprintf("a TOML %s where %s is expected", m[1], rule.ExpectedKind(m[2], "an array", "a table"))
			if key := de.Key(); len(key) > 0 {
				e.Reason = fmt.Sprintf("`%s`: %s", strings.Join(key, "."), e.Reason)
			}
		}
	}
	return e
}

// maturity is the rule's [metadata] maturity, lower-cased, when metadata is a table and maturity a string.
func maturity(metadata any) string {
	table, _ := metadata.(map[string]any)
	s, _ := table["maturity"].(string)
	return strings.ToLower(strings.TrimSpace(s))
}

// statsRisk gives an aggregating ES|QL rule its risk block: its group columns first, then the columns of its
// VALUES aggregates, are the candidates for the user and the address.
func statsRisk(r *rule.Rule, q *esqlQuery, score int, severity string) {
	columns := append([]string(nil), q.stats.By...)
	for _, a := range q.stats.Aggs {
		if a.Func == "values" {
			columns = append(columns, a.OutputName())
		}
	}
	eventrisk.ApplyGroups(r, q.stats.By, columns, q.sources, score, severity)
	// A group of a null value is a row (ES|QL's), and Elastic alerts on it: its columns say null, so that its risk
	// object is one (a row without writes no risk record) and its message names every group.
	nulls := append([]string(nil), q.stats.By...)
	if obj := r.Risk.Objects[0].Field; !slices.Contains(nulls, obj) {
		nulls = append(nulls, obj)
	}
	r.Pipeline = append(r.Pipeline, rule.FillNull{Value: "null", Fields: nulls})
}
