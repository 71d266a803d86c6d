// Package rba is the one place that writes Splunk risk-based-alerting output: it turns engine matches into risk
// records (fork mode) or RBA attributes on the matching record (enrich mode), in the shape Splunk Enterprise
// Security writes to its risk index.
package rba

import (
	"fmt"
	"slices"
	"sort"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"

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
	// AttrMitreAttack is the annotation Splunk ES writes from a correlation search's annotations
	// (`action.correlationsearch.annotations`): the ATT&CK ids as the detection lists them. AttrMitreTechniques is
	// the same ids under the name of ES's enriched field, which the Risk data model and the incident rules read.
	AttrMitreAttack     = "annotations.mitre_attack"
	AttrMitreTechniques = "annotations.mitre_attack.mitre_technique_id"
	AttrMitreTactics    = "annotations.mitre_attack.mitre_tactic_id"
	AttrAuditID         = "auditID"
	// AttrRiskEventsTruncated and AttrRiskEventsDropped mark the risk records of an audit record that would have
	// produced more than Config.MaxRiskEvents: the kept ones say that, and how many were dropped.
	AttrRiskEventsTruncated = "risk_events_truncated"
	AttrRiskEventsDropped   = "risk_events_dropped"

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
	AttrMitreAttack: true, AttrMitreTechniques: true, AttrMitreTactics: true, AttrAuditID: true,
	AttrRiskEventsTruncated: true, AttrRiskEventsDropped: true,
	AttrIndex: true, AttrSourcetype: true, AttrSource: true, attrHost: true,
}

// splunkDefaultFields are the fields every indexed Splunk event has: a result row's field of one of these names is
// written as orig_<name>, as Splunk ES's risk action does (contentctl's RiskEvent: "field names [that] collide w/
// reserved fields in Splunk events (e.g. sourcetype or host) get prefixed w/ orig_"). Written as itself, it would be
// a second, indexed value beside the event's own (a search for host=x would find the risk event).
var splunkDefaultFields = map[string]bool{"host": true, "source": true, "sourcetype": true, "index": true,
	"splunk_server": true}

// Config is the HEC metadata risk records carry, and the cap on risk records per audit record.
type Config struct {
	Index      string // default "risk"
	Sourcetype string // default "stash"
	// MaxRiskEvents caps the risk records one audit record yields (0: DefaultMaxRiskEvents). sourceIPs carries
	// client-supplied X-Forwarded-For values, so without a cap one request could fan out into thousands of events.
	MaxRiskEvents int
}

// DefaultMaxRiskEvents is the risk record cap per audit record. A real event yields a handful (a few rules, one or
// two risk objects, one to three source IPs); 100 keeps every legitimate one and bounds a hostile one to 100.
const DefaultMaxRiskEvents = 100

// Limits on what an audit event can put into attributes: values reach Splunk as indexed fields, so their size must
// not be the attacker's choice. Rule-controlled text (names, ids, the message template) is not capped.
const (
	// MaxValueBytes caps one string value taken from the event; a longer one is cut and ends in "…".
	MaxValueBytes = 1024
	// MaxValues caps the values of one multi-valued attribute (and of one $token$ in a message); the first are kept,
	// and the last (of sourceIPs, the address the API server saw, which X-Forwarded-For cannot push out).
	MaxValues = 100
	// MaxMessageBytes caps risk_message (and the body, which is the same text).
	MaxMessageBytes = rule.MaxMessageBytes
)

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
	if cfg.MaxRiskEvents <= 0 {
		cfg.MaxRiskEvents = DefaultMaxRiskEvents
	}
	return &Writer{cfg: cfg}
}

// AppendRiskRecords adds to dst one risk record per risk object per value for every row of every match, as Splunk
// ES writes them, up to Config.MaxRiskEvents, and returns how many it added and how many it dropped past the cap.
// Past the cap the records are shared out among the matches, one of each in turn, so that every matching rule keeps
// at least one record and a rule with many rows cannot push out the others. Within a match the last record of each
// risk object comes first, then the first ones (in row and value order): with a value per source address, the last
// is the address the API server saw, which a client cannot set (the ones before it come from X-Forwarded-For).
// Each kept record then says how many were dropped. src is the audit record that matched; its timestamp is kept.
func (w *Writer) AppendRiskRecords(dst plog.LogRecordSlice, src plog.LogRecord, res engine.Result) (added, dropped int) {
	type target struct {
		m   *engine.Match
		row engine.Row
		t   riskTarget
		seq int // its place among the match's targets
	}
	type matchTargets struct {
		first []target                    // the first ones, at most limit (no match can be given more)
		last  map[*rule.RiskObject]target // each risk object's last one
		order []*rule.RiskObject          // the objects of last, in the order they came
		count int
	}
	limit := w.cfg.MaxRiskEvents
	perMatch := make([]matchTargets, len(res.Matches))
	total := 0
	for i := range res.Matches {
		m, mt := &res.Matches[i], &perMatch[i]
		for _, row := range m.Rows {
			for _, t := range riskTargets(m.Rule, row) {
				tg := target{m: m, row: row, t: t, seq: mt.count}
				if len(mt.first) < limit {
					mt.first = append(mt.first, tg)
				}
				if mt.last == nil {
					mt.last = map[*rule.RiskObject]target{}
				}
				if _, seen := mt.last[t.obj]; !seen {
					mt.order = append(mt.order, t.obj)
				}
				mt.last[t.obj] = tg
				mt.count++
				total++
			}
		}
	}
	// keep[i] is how many of match i's targets are written: all when they fit, else one per match in turn.
	keep := make([]int, len(perMatch))
	for left, more := min(total, limit), true; left > 0 && more; {
		more = false
		for i := range perMatch {
			if left > 0 && keep[i] < perMatch[i].count && keep[i] < limit {
				keep[i]++
				left--
				more = true
			}
		}
	}
	var targets []target
	for i, mt := range perMatch {
		if keep[i] == mt.count {
			targets = append(targets, mt.first...)
			continue
		}
		// Each object's last target first (the last object's last one first of all), then the first ones.
		chosen := map[int]bool{}
		var picked []target
		for j := len(mt.order) - 1; j >= 0 && len(picked) < keep[i]; j-- {
			tg := mt.last[mt.order[j]]
			chosen[tg.seq] = true
			picked = append(picked, tg)
		}
		for _, tg := range mt.first {
			if len(picked) == keep[i] {
				break
			}
			if !chosen[tg.seq] {
				picked = append(picked, tg)
			}
		}
		slices.SortFunc(picked, func(a, b target) int { return a.seq - b.seq })
		targets = append(targets, picked...)
	}
	dropped = total - len(targets)
	ts := src.Timestamp()
	if ts == 0 && !res.Time.IsZero() {
		ts = pcommon.NewTimestampFromTime(res.Time)
	}
	observed := pcommon.NewTimestampFromTime(time.Now())
	for _, tg := range targets {
		rec := dst.AppendEmpty()
		rec.SetTimestamp(ts)
		rec.SetObservedTimestamp(observed)
		rec.SetSeverityNumber(plog.SeverityNumberInfo)
		rec.SetSeverityText("INFO")
		// The body is the risk message: a readable one-line summary in Splunk and in the debug exporter.
		rec.Body().SetStr(w.fill(rec.Attributes(), tg.m.Rule, tg.row, tg.t, res.AuditID))
		putProvenance(rec.Attributes(), res.Provenance)
		if dropped > 0 {
			rec.Attributes().PutBool(AttrRiskEventsTruncated, true)
			rec.Attributes().PutInt(AttrRiskEventsDropped, int64(dropped))
		}
	}
	return len(targets), dropped
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
		name := f.Name
		if splunkDefaultFields[name] {
			name = "orig_" + name
		}
		putValues(attrs, name, f.Values, f.Numeric)
	}
	attrs.PutStr(AttrSearchName, r.SavedSearchName())
	attrs.PutStr(AttrRuleID, r.ID)
	if t.obj != nil {
		attrs.PutStr(AttrRiskObject, capValue(t.value))
		attrs.PutStr(AttrRiskObjectType, t.obj.Type)
		attrs.PutInt(AttrRiskScore, int64(t.obj.Score))
	}
	msg := Message(r.Risk.Message, row)
	if strings.TrimSpace(msg) == "" {
		// The splunk_hec exporter drops a record whose body is empty, without a word: a rule without a message
		// (an ESCU detection without rba.message) still says what matched, and on whom.
		msg = r.SavedSearchName()
		if t.obj != nil {
			msg += ": " + t.obj.Type + " " + EscapeControl(capValue(t.value))
		}
	}
	attrs.PutStr(AttrRiskMessage, msg)
	var threats, threatTypes []string
	// Each threat field its share of MaxValues, its first values and its last (of sourceIPs, the one the API server
	// saw), so that a long field can push neither its own last value nor another field out.
	share := max(2, MaxValues/max(1, len(r.Risk.Threats)))
	for _, th := range r.Risk.Threats {
		for _, v := range firstAndLast(distinct(row.Values(th.Field)), share) {
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
		putSlice(attrs, AttrMitreAttack, r.MitreTechniques)
		putSlice(attrs, AttrMitreTechniques, r.MitreTechniques)
	}
	if len(r.MitreTactics) > 0 {
		putSlice(attrs, AttrMitreTactics, r.MitreTactics)
	}
	if auditID != "" {
		attrs.PutStr(AttrAuditID, capValue(auditID))
	}
	attrs.PutStr(AttrIndex, w.cfg.Index)
	attrs.PutStr(AttrSourcetype, w.cfg.Sourcetype)
	attrs.PutStr(AttrSource, r.SavedSearchName())
	return msg
}

// Message replaces each $field$ token of an RBA message (rule.FirstMessageToken) with the row's value(s); a token the
// row cannot fill stays visible, as in Splunk ES, so a broken message is noticed rather than silently shortened (the
// loader warns of a token no row can fill). Values come from the audit event, so each is capped (MaxValues values of
// MaxValueBytes each) and its control characters are escaped (see EscapeControl): a crafted username cannot forge a
// second line or hide text. The whole message is capped at MaxMessageBytes.
func Message(msg string, row engine.Row) string {
	if !strings.Contains(msg, "$") {
		return msg
	}
	// Each token gets its share of the message, so that neither a long token nor the cut at MaxMessageBytes can take
	// a later token's values, or a token's last value, away.
	budget := max(256, MaxMessageBytes/max(1, strings.Count(msg, "$")/2))
	var b strings.Builder
	for {
		// The token syntax is the rule model's (rule.FirstMessageToken), which the loader checks messages against.
		i, name, ok := rule.FirstMessageToken(msg)
		if !ok {
			break
		}
		var vals []string
		if rule.IsTokenName(name) {
			vals = row.Values(name)
		}
		if len(vals) == 0 {
			b.WriteString(msg[:i+1])
			msg = msg[i+1:]
			continue
		}
		b.WriteString(msg[:i])
		b.WriteString(joinValues(vals, budget))
		msg = msg[i+2+len(name):]
		if b.Len() > MaxMessageBytes {
			break
		}
	}
	b.WriteString(msg)
	return truncate(b.String(), MaxMessageBytes)
}

// EscapeControl makes s one printable line of valid UTF-8: C0 and C1 control characters and DEL become \n, \r, \t
// or \xNN, invalid UTF-8 bytes become \xNN, and the Unicode line separators and bidirectional overrides (which can
// make a message read differently from what it holds) become \uNNNN. Other text, backslashes included, is kept.
func EscapeControl(s string) string {
	i := 0
	for i < len(s) {
		c := s[i]
		if c >= 0x20 && c < 0x7f {
			i++
			continue
		}
		r, n := utf8.DecodeRuneInString(s[i:])
		if c >= utf8.RuneSelf && r != utf8.RuneError && !escapedRune(r) {
			i += n
			continue
		}
		break
	}
	if i == len(s) {
		return s
	}
	var b strings.Builder
	b.Grow(len(s) + 8)
	b.WriteString(s[:i])
	for i < len(s) {
		r, n := utf8.DecodeRuneInString(s[i:])
		switch {
		case r == utf8.RuneError && n <= 1:
			fmt.Fprintf(&b, `\x%02x`, s[i])
		case r == '\n':
			b.WriteString(`\n`)
		case r == '\r':
			b.WriteString(`\r`)
		case r == '\t':
			b.WriteString(`\t`)
		case r < 0x20 || r == 0x7f:
			fmt.Fprintf(&b, `\x%02x`, r)
		case escapedRune(r):
			fmt.Fprintf(&b, `\u%04x`, r)
		default:
			b.WriteString(s[i : i+n])
		}
		i += n
	}
	return b.String()
}

// escapedRune reports the non-ASCII runes EscapeControl escapes: C1 controls, line and paragraph separators, and
// the bidirectional embedding, override and isolate controls.
func escapedRune(r rune) bool {
	return (r >= 0x80 && r < 0xa0) || r == 0x2028 || r == 0x2029 ||
		(r >= 0x202a && r <= 0x202e) || (r >= 0x2066 && r <= 0x2069)
}

// capValue makes a value from the event fit an attribute: valid UTF-8 (an OTLP receiver that checks strings as proto3
// asks would refuse the whole batch; the collector's own pdata does not check) and at most MaxValueBytes.
func capValue(s string) string {
	if !utf8.ValidString(s) {
		s = strings.ToValidUTF8(s, "\uFFFD")
	}
	return truncate(s, MaxValueBytes)
}

// truncate cuts s to at most limit bytes on a rune boundary, ending in "…" when it cut.
func truncate(s string, limit int) string {
	if len(s) <= limit {
		return s
	}
	const ellipsis = "…"
	cut := limit - len(ellipsis)
	for cut > 0 && !utf8.RuneStart(s[cut]) {
		cut--
	}
	return s[:cut] + ellipsis
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
		names = append(names, m.Rule.SavedSearchName())
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
		putSlice(attrs, AttrMitreAttack, techniques)
		putSlice(attrs, AttrMitreTechniques, techniques)
	}
	putProvenance(attrs, res.Provenance)
}

// putProvenance writes the cloud provenance of the event's wrapper (cloud.provider, cloud.account.id, cloud.region,
// k8s.cluster.name, ...: processor/normalize), in name order, over a row field of the same name but never over a
// contract attribute.
func putProvenance(attrs pcommon.Map, prov map[string]string) {
	if len(prov) == 0 {
		return
	}
	names := make([]string, 0, len(prov))
	for name := range prov {
		if !reserved[name] {
			names = append(names, name)
		}
	}
	sort.Strings(names)
	for _, name := range names {
		attrs.PutStr(name, capValue(prov[name]))
	}
}

// putValues writes values taken from the event, capped by capValue and MaxValues.
func putValues(attrs pcommon.Map, key string, vals []string, numeric bool) {
	if len(vals) == 1 {
		if numeric {
			if n, err := strconv.ParseInt(vals[0], 10, 64); err == nil {
				attrs.PutInt(key, n)
				return
			}
		}
		attrs.PutStr(key, capValue(vals[0]))
		return
	}
	vals = firstAndLast(vals, MaxValues)
	s := attrs.PutEmptySlice(key)
	s.EnsureCapacity(len(vals))
	for _, v := range vals {
		s.AppendEmpty().SetStr(capValue(v))
	}
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

// firstAndLast returns vals cut to at most n values: the first n-1 and the last.
func firstAndLast(vals []string, n int) []string {
	if len(vals) <= n {
		return vals
	}
	return append(slices.Clip(vals[:n-1]), vals[len(vals)-1])
}

// joinValues writes a token's values joined by ", ", within budget bytes and MaxValues values: the first ones, and
// always the last (of sourceIPs, the address the API server saw), with the number left out between them. Each value
// is cut and escaped (see Message).
func joinValues(vals []string, budget int) string {
	render := func(v string) string {
		// Cut before escaping (escaping is linear in what it reads) and after (escapes are longer than bytes).
		return truncate(EscapeControl(truncate(v, MaxValueBytes)), MaxValueBytes)
	}
	last := render(vals[len(vals)-1])
	var b strings.Builder
	n := 0 // values written before the last
	for ; n < len(vals)-1 && n < MaxValues-1; n++ {
		v := render(vals[n])
		// Room for this value, the note for the ones after it, and the last.
		if b.Len()+len(v)+len(", … (99999 more), ")+len(last) > budget && n > 0 {
			break
		}
		if n > 0 {
			b.WriteString(", ")
		}
		b.WriteString(v)
	}
	switch more := len(vals) - 1 - n; {
	case more > 0 && n > 0:
		fmt.Fprintf(&b, ", … (%d more), ", more)
	case more > 0:
		fmt.Fprintf(&b, "… (%d more), ", more)
	case n > 0:
		b.WriteString(", ")
	}
	b.WriteString(last)
	return b.String()
}
