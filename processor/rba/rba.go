// Package rba is the one place that writes Splunk risk-based-alerting output: it turns engine matches into risk
// records (fork mode) or RBA attributes on the matching record (enrich mode), in the shape Splunk Enterprise
// Security writes to its risk index.
package rba

import (
	"sort"
	"strconv"
	"strings"
	"time"

	"go.opentelemetry.io/collector/pdata/pcommon"
	"go.opentelemetry.io/collector/pdata/plog"

	"github.com/auditdetect/auditdetect/processor/engine"
	"github.com/auditdetect/auditdetect/processor/rule"
)

// Attribute names of the output contract (README "Output").
const (
	AttrSearchName       = "search_name"
	AttrRuleID           = "rule_id"
	AttrRiskObject       = "risk_object"
	AttrRiskObjectType   = "risk_object_type"
	AttrRiskScore        = "risk_score"
	AttrRiskMessage      = "risk_message"
	AttrThreatObject     = "threat_object"
	AttrThreatObjectType = "threat_object_type"
	AttrAnalyticStories  = "analyticstories"
	AttrMitreTechniques  = "annotations.mitre_attack.mitre_technique_id"
	AttrMitreTactics     = "annotations.mitre_attack.mitre_tactic"
	AttrAuditID          = "auditID"

	// HEC metadata the splunk_hec exporter reads from record attributes.
	AttrIndex      = "com.splunk.index"
	AttrSourcetype = "com.splunk.sourcetype"
	AttrSource     = "com.splunk.source"
	attrHost       = "host.name"
)

// reserved are the attributes a result row may never set: the contract's own and the HEC routing metadata.
var reserved = map[string]bool{
	AttrSearchName: true, AttrRuleID: true, AttrRiskObject: true, AttrRiskObjectType: true, AttrRiskScore: true,
	AttrRiskMessage: true, AttrThreatObject: true, AttrThreatObjectType: true, AttrAnalyticStories: true,
	AttrMitreTechniques: true, AttrMitreTactics: true, AttrAuditID: true,
	AttrIndex: true, AttrSourcetype: true, AttrSource: true, attrHost: true,
}

// Config is the HEC metadata risk records carry.
type Config struct {
	Index      string // default "risk"
	Sourcetype string // default "stash"
}

// Writer writes RBA output. It is stateless and safe for concurrent use.
type Writer struct {
	cfg Config
}

// NewWriter returns a Writer; empty config fields take Splunk ES's defaults.
func NewWriter(cfg Config) *Writer {
	if cfg.Index == "" {
		cfg.Index = "risk"
	}
	if cfg.Sourcetype == "" {
		cfg.Sourcetype = "stash"
	}
	return &Writer{cfg: cfg}
}

// AppendRiskRecords adds to dst one risk record per risk object per value for every row of every match, as Splunk
// ES writes them, and returns how many it added. src is the audit record that matched; its timestamp is kept.
func (w *Writer) AppendRiskRecords(dst plog.LogRecordSlice, src plog.LogRecord, res engine.Result) int {
	ts := src.Timestamp()
	if ts == 0 && !res.Time.IsZero() {
		ts = pcommon.NewTimestampFromTime(res.Time)
	}
	observed := pcommon.NewTimestampFromTime(time.Now())
	n := 0
	for _, m := range res.Matches {
		for _, row := range m.Rows {
			for _, ro := range riskTargets(m.Rule, row) {
				rec := dst.AppendEmpty()
				rec.SetTimestamp(ts)
				rec.SetObservedTimestamp(observed)
				rec.SetSeverityNumber(plog.SeverityNumberInfo)
				rec.SetSeverityText("INFO")
				// The body is the risk message: a readable one-line summary in Splunk and in the debug exporter.
				rec.Body().SetStr(w.fill(rec.Attributes(), m.Rule, row, ro, res.AuditID))
				n++
			}
		}
	}
	return n
}

// riskTarget is one risk object value of a row; obj is nil for a rule that names no risk object.
type riskTarget struct {
	obj   *rule.RiskObject
	value string
}

func riskTargets(r *rule.Rule, row engine.Row) []riskTarget {
	if len(r.Risk.Objects) == 0 {
		return []riskTarget{{}}
	}
	var out []riskTarget
	for i := range r.Risk.Objects {
		o := &r.Risk.Objects[i]
		// A row without a value for the risk field yields no risk event for it, as in Splunk ES.
		for _, v := range distinct(row.Values(o.Field)) {
			out = append(out, riskTarget{obj: o, value: v})
		}
	}
	return out
}

// fill writes one risk record's attributes and returns its risk message.
func (w *Writer) fill(attrs pcommon.Map, r *rule.Rule, row engine.Row, t riskTarget, auditID string) string {
	attrs.EnsureCapacity(16 + len(row.Fields))
	// Row fields first, so the contract's attributes below always win over a row field of the same name.
	for _, f := range row.Fields {
		if reserved[f.Name] || len(f.Values) == 0 {
			continue
		}
		putValues(attrs, f.Name, f.Values, f.Numeric)
	}
	attrs.PutStr(AttrSearchName, r.Name)
	attrs.PutStr(AttrRuleID, r.ID)
	if t.obj != nil {
		attrs.PutStr(AttrRiskObject, t.value)
		attrs.PutStr(AttrRiskObjectType, t.obj.Type)
		attrs.PutInt(AttrRiskScore, int64(t.obj.Score))
	}
	msg := Message(r.Risk.Message, row)
	attrs.PutStr(AttrRiskMessage, msg)
	var threats, threatTypes []string
	for _, th := range r.Risk.Threats {
		for _, v := range distinct(row.Values(th.Field)) {
			threats = append(threats, v)
			threatTypes = append(threatTypes, th.Type)
		}
	}
	if len(threats) > 0 {
		putValues(attrs, AttrThreatObject, threats, false)
		putValues(attrs, AttrThreatObjectType, threatTypes, false)
	}
	if len(r.Stories) > 0 {
		putSlice(attrs, AttrAnalyticStories, r.Stories)
	}
	if len(r.MitreTechniques) > 0 {
		putSlice(attrs, AttrMitreTechniques, r.MitreTechniques)
	}
	if len(r.MitreTactics) > 0 {
		putSlice(attrs, AttrMitreTactics, r.MitreTactics)
	}
	if auditID != "" {
		attrs.PutStr(AttrAuditID, auditID)
	}
	attrs.PutStr(AttrIndex, w.cfg.Index)
	attrs.PutStr(AttrSourcetype, w.cfg.Sourcetype)
	attrs.PutStr(AttrSource, r.Name)
	return msg
}

// Message replaces each $field$ token of an RBA message with the row's value(s); a token the row cannot fill stays
// visible, so a broken message is noticed rather than silently shortened.
func Message(msg string, row engine.Row) string {
	if !strings.Contains(msg, "$") {
		return msg
	}
	var b strings.Builder
	for {
		i := strings.IndexByte(msg, '$')
		if i < 0 {
			break
		}
		j := strings.IndexByte(msg[i+1:], '$')
		if j < 0 {
			break
		}
		name := msg[i+1 : i+1+j]
		vals := row.Values(name)
		if len(vals) == 0 || strings.ContainsAny(name, " \t") {
			b.WriteString(msg[:i+1])
			msg = msg[i+1:]
			continue
		}
		b.WriteString(msg[:i])
		b.WriteString(strings.Join(vals, ", "))
		msg = msg[i+2+j:]
	}
	b.WriteString(msg)
	return b.String()
}

// Enrich adds RBA attributes to a matching record: every matching rule's id and name, the highest score and the
// union of MITRE technique ids. It does nothing when there is no match.
func (w *Writer) Enrich(rec plog.LogRecord, res engine.Result) {
	if len(res.Matches) == 0 {
		return
	}
	var ids, names, techniques []string
	score := 0
	for _, m := range res.Matches {
		ids = append(ids, m.Rule.ID)
		names = append(names, m.Rule.Name)
		techniques = append(techniques, m.Rule.MitreTechniques...)
		for _, o := range m.Rule.Risk.Objects {
			score = max(score, o.Score)
		}
	}
	attrs := rec.Attributes()
	putSlice(attrs, AttrRuleID, ids)
	putSlice(attrs, AttrSearchName, names)
	attrs.PutInt(AttrRiskScore, int64(score))
	if techniques = distinct(techniques); len(techniques) > 0 {
		sort.Strings(techniques)
		putSlice(attrs, AttrMitreTechniques, techniques)
	}
}

func putValues(attrs pcommon.Map, key string, vals []string, numeric bool) {
	if len(vals) == 1 {
		if numeric {
			if n, err := strconv.ParseInt(vals[0], 10, 64); err == nil {
				attrs.PutInt(key, n)
				return
			}
		}
		attrs.PutStr(key, vals[0])
		return
	}
	putSlice(attrs, key, vals)
}

func putSlice(attrs pcommon.Map, key string, vals []string) {
	s := attrs.PutEmptySlice(key)
	s.EnsureCapacity(len(vals))
	for _, v := range vals {
		s.AppendEmpty().SetStr(v)
	}
}

func distinct(vals []string) []string {
	if len(vals) < 2 {
		return vals
	}
	seen := make(map[string]bool, len(vals))
	out := make([]string, 0, len(vals))
	for _, v := range vals {
		if !seen[v] {
			seen[v] = true
			out = append(out, v)
		}
	}
	return out
}
