package elastic

import (
	"bytes"
	"fmt"
	"net/netip"
	"regexp"
	"slices"
	"sort"
	"strconv"
	"strings"

	"github.com/auditdetect/auditdetect/processor/rule"
)

// DefaultFieldMap maps the ECS fields Elastic's Kubernetes rules use to the raw audit event, as Elastic's
// kubernetes.audit_logs ingest pipeline builds them (elastic/integrations, packages/kubernetes/data_stream/
// audit_logs/elasticsearch/ingest_pipeline/default.yml). Keys are ECS fields, or prefixes ending in `.*`. Values:
//
//	path                  the audit event's field (arrays are transparent, as in ECS)
//	path.*                for a prefix key: the rest of the ECS field goes where the `*` is
//	path|raw=ecs|...      a field whose values the pipeline translated: raw audit value = ECS value
//	path|text, path|keyword, path|flattened  the field's Elasticsearch type, overriding textFields and flattenedFields
//	                      (a part of its own, as raw=ecs)
//	=text                 a constant: every audit event has this value
//	-                     absent: the pipeline removes or never sets it, so rules see no value
var DefaultFieldMap = map[string]string{
	"kubernetes.audit.*": "*",
	// The pipeline replaces the dots of annotation keys with underscores; the key's dots are restored (annotationKeys).
	"kubernetes.audit.annotations.*": "annotations.*",
	// The pipeline removes requestObject.metadata and responseObject.metadata.
	"kubernetes.audit.requestObject.metadata.*":  "-",
	"kubernetes.audit.responseObject.metadata.*": "-",
	"user.name":            "user.username",
	"user.id":              "user.uid",
	"user_agent.original":  "userAgent",
	"source.ip":            "sourceIPs",
	"client.ip":            "sourceIPs",
	"event.action":         "verb",
	"event.outcome":        "annotations.authorization.k8s.io/decision|allow=success|forbid=failure",
	"container.image.name": "requestObject.spec.containers.image",
	"data_stream.dataset":  "=kubernetes.audit_logs",
	"event.dataset":        "=kubernetes.audit_logs",
	"data_stream.type":     "=logs",
	// The data stream's namespace is the integration policy's, "default" unless it names another.
	"data_stream.namespace": "=default",
	// Elastic Agent stamps @timestamp when it reads the line; the nearest time the event holds is when the API server
	// wrote it.
	"@timestamp":   "stageTimestamp",
	"event.module": "=kubernetes",
	"event.kind":   "=event",
	// The pipeline sets no category, so an EQL `<category> where` rule matches nothing unless this is mapped.
	"event.category": "-",
}

// textFields are the fields the integration maps as Elasticsearch type `text` (packages/kubernetes/data_stream/
// audit_logs/fields/fields.yml; the package's docs/audit-logs.md lists the same types), with no keyword sub-field.
// Elasticsearch analyses their values and a rule's values with the standard analyzer, so KQL matches words there, not
// whole values (kql.go fullText), and EQL cannot compare them. Every other kubernetes.audit field the rules read is
// keyword, boolean, integer or flattened (volumes.hostPath, volumeMounts: each leaf a keyword). An elastic_field_map
// entry `path|keyword` or `path|text` overrides this, for an index mapped otherwise.
var textFields = map[string]bool{
	"kubernetes.audit.user.groups":                             true,
	"kubernetes.audit.impersonatedUser.groups":                 true,
	"kubernetes.audit.sourceIPs":                               true,
	"kubernetes.audit.responseStatus.message":                  true,
	"kubernetes.audit.annotations.authorization_k8s_io/reason": true,
	"kubernetes.audit.requestObject.spec.containers.image":     true,
}

// flattenedFields are the fields the integration maps as Elasticsearch type `flattened` (fields.yml): the whole object
// is indexed as the keyword values of its leaves. A value query on the field itself (KQL `hostPath:"/etc"`, EQL
// `hostPath == "/etc"`) matches when any leaf under it has the value, at any depth; `hostPath.path` addresses one
// key, as on any object. An elastic_field_map entry `path|flattened` marks another field so; `path|keyword` or
// `path|text` unmarks one of these.
var flattenedFields = map[string]bool{
	"kubernetes.audit.requestObject.spec.volumes.hostPath":         true,
	"kubernetes.audit.requestObject.spec.containers.volumeMounts":  true,
	"kubernetes.audit.responseObject.spec.volumes.hostPath":        true,
	"kubernetes.audit.responseObject.spec.containers.volumeMounts": true,
}

// ignoreEmptyFields are the ECS fields the ingest pipeline copies with `ignore_empty_value: true`: an empty source
// value ("") leaves them unset, so a rule sees no value at all (user_agent.original:* is false for "userAgent":"").
var ignoreEmptyFields = map[string]bool{
	"user.name": true, "user.id": true, "user_agent.original": true, "event.action": true,
}

// ipFields are ECS fields of Elasticsearch type ip: a KQL value with a `/` on them is a CIDR range, and ranges
// (`<`, `>=`...) compare addresses.
var ipFields = map[string]bool{
	"source.ip": true, "client.ip": true, "destination.ip": true, "server.ip": true, "host.ip": true, "related.ip": true,
}

// numericFields are the fields the integration maps as numbers: Elasticsearch compares a term with them as a number,
// so `responseStatus.code:403.0` matches 403.
var numericFields = map[string]bool{
	"kubernetes.audit.responseStatus.code": true,
}

type targetKind int

const (
	pathTarget targetKind = iota
	constTarget
	absentTarget
)

// target is one entry of the field map, parsed.
type target struct {
	kind targetKind
	// path is the audit field (pathTarget), ending in `*` for a prefix entry whose rest goes there.
	path string
	// value is the constant of a constTarget.
	value string
	// values translates raw audit values to ECS values (pathTarget); nil leaves values unchanged.
	values map[string]string
	// fieldType is "text", "keyword" or "flattened" when the entry says so (`path|text`); "" leaves it to textFields
	// and flattenedFields.
	fieldType string
}

// FieldMap resolves ECS field names to the audit event. It is immutable once built.
type FieldMap struct {
	exact    map[string]target
	prefixes map[string]target // keyed by the prefix without `.*`
}

// NewFieldMap returns DefaultFieldMap with overrides merged over it (an override wins over the default entry of
// the same key). An entry that does not parse is an error naming it.
func NewFieldMap(overrides map[string]string) (*FieldMap, error) {
	fm := &FieldMap{exact: map[string]target{}, prefixes: map[string]target{}}
	add := func(k, v string) error {
		t, err := parseTarget(k, v)
		if err != nil {
			return fmt.Errorf("elastic_field_map %q: %w", k, err)
		}
		if p, ok := strings.CutSuffix(k, ".*"); ok {
			fm.prefixes[p] = t
		} else {
			fm.exact[k] = t
		}
		return nil
	}
	for k, v := range DefaultFieldMap {
		if err := add(k, v); err != nil {
			return nil, err
		}
	}
	keys := make([]string, 0, len(overrides))
	for k := range overrides {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	for _, k := range keys {
		if err := add(strings.TrimSpace(k), strings.TrimSpace(overrides[k])); err != nil {
			return nil, err
		}
	}
	return fm, nil
}

func parseTarget(k, v string) (target, error) {
	prefix := strings.HasSuffix(k, ".*")
	switch {
	case k == "" || k == ".*" || strings.ContainsAny(strings.TrimSuffix(k, ".*"), "* \t"):
		return target{}, fmt.Errorf("a key is an ECS field name or a prefix ending in .*")
	case v == "-":
		return target{kind: absentTarget}, nil
	case strings.HasPrefix(v, "="):
		if prefix {
			return target{}, fmt.Errorf("a prefix entry cannot map to a constant")
		}
		return target{kind: constTarget, value: v[1:]}, nil
	}
	parts := strings.Split(v, "|")
	t := target{kind: pathTarget, path: strings.TrimSpace(parts[0])}
	switch {
	case t.path == "":
		return target{}, fmt.Errorf("empty audit field (use - for an absent field)")
	case prefix && t.path != "*" && !strings.HasSuffix(t.path, ".*"):
		return target{}, fmt.Errorf("a prefix entry must map to a path ending in .* (or *, or -)")
	case !prefix && strings.Contains(t.path, "*"):
		return target{}, fmt.Errorf("only a prefix entry (key ending in .*) may map to a path with *")
	}
	for _, pair := range parts[1:] {
		if p := strings.TrimSpace(pair); p == "text" || p == "keyword" || p == "flattened" {
			t.fieldType = p
			continue
		}
		raw, ecs, ok := strings.Cut(pair, "=")
		if !ok {
			return target{}, fmt.Errorf("value translation %q is not raw=ecs (nor text, keyword or flattened)", pair)
		}
		if t.values == nil {
			t.values = map[string]string{}
		}
		t.values[raw] = ecs
	}
	return t, nil
}

// field is an ECS field resolved against the field map.
type field struct {
	ecs string
	target
	// alts are the audit paths the field may be at (several only for annotation keys whose dots became
	// underscores); each is read with arrays transparent.
	alts []string
	ip   bool
	// numeric: a number field (numericFields), whose exact values compare as numbers.
	numeric bool
	// text: Elasticsearch analyses the field (textFields); only for a path without value translations.
	text bool
	// flattened: the field is an Elasticsearch flattened field (flattenedFields): a value compared with it is compared
	// with every leaf value under it.
	flattened bool
	// ignoreEmpty: an empty value is no value (ignoreEmptyFields).
	ignoreEmpty bool
}

// resolve maps an ECS field: an exact entry first, else the longest prefix entry. A field no entry covers is an
// error, so that a rule never silently reads a field that does not exist in audit events.
func (fm *FieldMap) resolve(ecs string) (field, error) {
	f, err := fm.resolvePath(ecs)
	if err != nil {
		return f, err
	}
	f.text = textFields[ecs]
	if f.fieldType != "" {
		f.text = f.fieldType == "text"
	}
	f.text = f.text && f.kind == pathTarget && f.values == nil
	f.flattened = flattenedFields[ecs]
	if f.fieldType != "" {
		f.flattened = f.fieldType == "flattened"
	}
	f.flattened = f.flattened && f.kind == pathTarget && f.values == nil
	f.ignoreEmpty = ignoreEmptyFields[ecs]
	if f.ignoreEmpty && f.kind == constTarget && f.value == "" {
		f.kind = absentTarget
	}
	return f, nil
}

func (fm *FieldMap) resolvePath(ecs string) (field, error) {
	f := field{ecs: ecs, ip: ipFields[ecs], numeric: numericFields[ecs]}
	if t, ok := fm.exact[ecs]; ok {
		f.target = t
		f.alts = []string{t.path}
		return f, nil
	}
	for p := ecs; ; {
		if t, ok := fm.prefixes[p]; ok {
			f.target = t
			if t.kind != pathTarget {
				return f, nil
			}
			rest := strings.TrimPrefix(strings.TrimPrefix(ecs, p), ".")
			base := strings.TrimSuffix(strings.TrimSuffix(t.path, "*"), ".")
			switch {
			case rest == "" && base == "":
				return f, fmt.Errorf("field %q maps to the whole audit event", ecs)
			case rest == "":
				f.alts = []string{base}
			case base == "":
				f.alts = []string{rest}
			case base == "annotations":
				for _, k := range annotationKeys(rest) {
					f.alts = append(f.alts, base+"."+k)
				}
			default:
				f.alts = []string{base + "." + rest}
			}
			return f, nil
		}
		i := strings.LastIndexByte(p, '.')
		if i < 0 {
			return f, &unmappedError{ecs}
		}
		p = p[:i]
	}
}

// unmappedError is a field no field map entry covers.
type unmappedError struct{ ecs string }

func (e *unmappedError) Error() string {
	return fmt.Sprintf("field %q is not in the Kubernetes audit event: no elastic_field_map entry covers it (kubernetes.audit.* fields map to the raw event; map others in elastic_field_map)", e.ecs)
}

// maxAnnotationAlternatives bounds the spellings tried for one annotation key.
const maxAnnotationAlternatives = 64

// annotationKeys returns the audit annotation keys an ingest-pipeline key may stand for. The pipeline turned every
// dot into an underscore. The part before `/` is a DNS subdomain, which cannot hold underscores, so its underscores
// were all dots; in the name after `/` both are valid, so each underscore is tried both ways (up to a limit, past
// which the underscores are kept).
func annotationKeys(k string) []string {
	prefix, name, hasSlash := strings.Cut(k, "/")
	if !hasSlash {
		prefix, name = "", k
	} else {
		prefix = strings.ReplaceAll(prefix, "_", ".") + "/"
	}
	n := strings.Count(name, "_")
	if 1<<n > maxAnnotationAlternatives {
		return []string{prefix + name}
	}
	out := make([]string, 0, 1<<n)
	for mask := 0; mask < 1<<n; mask++ {
		var b strings.Builder
		b.WriteString(prefix)
		bit := 0
		for i := 0; i < len(name); i++ {
			c := name[i]
			if c == '_' {
				if mask&(1<<bit) != 0 {
					c = '.'
				}
				bit++
			}
			b.WriteByte(c)
		}
		out = append(out, b.String())
	}
	return out
}

// The constructors below build rule expressions over a resolved field. Constants and absent fields are decided when
// the rule loads: `data_stream.dataset:"kubernetes.audit_logs"` is simply true.

var falseExpr = rule.Or{}

func isFalse(e rule.Expr) bool { o, ok := e.(rule.Or); return ok && len(o) == 0 }

func isTrue(e rule.Expr) bool {
	switch e := e.(type) {
	case rule.True:
		return true
	case rule.And:
		return len(e) == 0
	}
	return false
}

func boolExpr(b bool) rule.Expr {
	if b {
		return rule.True{}
	}
	return falseExpr
}

// or and and fold constants and flatten nested groups (rule.AnyOf, rule.AllOf).
func or(es ...rule.Expr) rule.Expr { return rule.AnyOf(es...) }

func and(es ...rule.Expr) rule.Expr { return rule.AllOf(es...) }

func not(e rule.Expr) rule.Expr {
	switch {
	case isTrue(e):
		return falseExpr
	case isFalse(e):
		return rule.True{}
	}
	if n, ok := e.(rule.Not); ok {
		return n.X
	}
	return rule.Not{X: e}
}

func (f field) ruleField(path string) rule.Field { return rule.Field{Name: path, AnyArray: true} }

// valueField is the field a value is compared with: on a flattened field, its leaf values at any depth.
func (f field) valueField(path string) rule.Field {
	rf := f.ruleField(path)
	rf.Leaves = f.flattened
	return rf
}

// onEachValue is onEach over the fields values are compared with (valueField).
func (f field) onEachValue(build func(rule.Field) rule.Expr) rule.Expr {
	terms := make([]rule.Expr, len(f.alts))
	for i, a := range f.alts {
		terms[i] = build(f.valueField(a))
	}
	return or(terms...)
}

// translated is a condition on a translated field (event.outcome): the raw values whose ECS value keep accepts, in
// sorted order for a deterministic expression.
func (f field) translated(keep func(ecs string) (bool, error)) (rule.Expr, error) {
	raws := make([]string, 0, len(f.values))
	for raw := range f.values {
		raws = append(raws, raw)
	}
	sort.Strings(raws)
	var terms []rule.Expr
	for _, raw := range raws {
		ok, err := keep(f.values[raw])
		if err != nil {
			return nil, err
		}
		if ok {
			terms = append(terms, f.onEach(func(rf rule.Field) rule.Expr {
				return rule.Compare{Field: rf, Op: rule.OpEq, Value: rule.Literal(raw, true)}
			}))
		}
	}
	return or(terms...), nil
}

// compare is `field matches p`.
func (f field) compare(p rule.Pattern) (rule.Expr, error) {
	switch f.kind {
	case absentTarget:
		return falseExpr, nil
	case constTarget:
		ok, err := patternMatches(p, f.value)
		return boolExpr(ok), err
	}
	if f.values != nil {
		return f.translated(func(ecs string) (bool, error) { return patternMatches(p, ecs) })
	}
	e := f.onEachValue(func(rf rule.Field) rule.Expr { return rule.Compare{Field: rf, Op: rule.OpEq, Value: p} })
	if f.ignoreEmpty {
		if empty, _ := patternMatches(p, ""); empty {
			e = and(e, f.nonEmpty())
		}
	}
	return e, nil
}

// literal is the pattern of an exact value compared with f: on an ip field, an address is compared as an address
// (Elasticsearch's ip type: 2001:DB8::1 is 2001:db8::1, ::ffff:10.0.0.1 is 10.0.0.1), anything else as text.
func (f field) literal(v string, caseSensitive bool) rule.Pattern {
	if f.ip {
		if addr, err := netip.ParseAddr(v); err == nil {
			return rule.Pattern{Kind: rule.IP, Text: addr.String()}
		}
		// An ip field's term query takes a CIDR range too (EQL `source.ip == "10.0.0.0/8"`).
		if prefix, err := netip.ParsePrefix(v); err == nil {
			return rule.Pattern{Kind: rule.CIDR, Text: prefix.String()}
		}
	}
	if f.numeric && rule.IsDecimal(v) {
		return rule.Pattern{Kind: rule.Number, Text: v, CaseSensitive: true}
	}
	return rule.Literal(v, caseSensitive)
}

// nonEmpty is true when the field has a value other than "": for an ignoreEmpty field, that it has a value at all.
// The fields the pipeline copies that way hold one value, so `value matches p` is `matches p and is not empty`.
func (f field) nonEmpty() rule.Expr {
	return f.onEach(func(rf rule.Field) rule.Expr {
		return rule.Compare{Field: rf, Op: rule.OpEq, Value: rule.Pattern{Kind: rule.Glob, Text: "?*", CaseSensitive: true}}
	})
}

// exists is `field:*`.
func (f field) exists() rule.Expr {
	switch f.kind {
	case absentTarget:
		return falseExpr
	case constTarget:
		return rule.True{}
	}
	if f.values != nil {
		e, _ := f.compare(rule.Pattern{Kind: rule.Glob, Text: "*"})
		return e
	}
	if f.ignoreEmpty {
		return f.nonEmpty()
	}
	// Under: on an object field (impersonatedUser, or a flattened root such as volumes.hostPath) Elasticsearch's
	// exists asks whether any field under it has a value.
	return f.onEach(func(rf rule.Field) rule.Expr { return rule.Exists{Field: rf, Under: true} })
}

// order is `field < value` and the other ordered comparisons: numeric when both sides are numbers, else by text;
// on an ip field, as addresses (Elasticsearch orders an ip field's values so, and `10.1.2.3 >= 9.0.0.0` holds
// there, not as text). A bound on an ip field must be an address, as Elasticsearch requires.
func (f field) order(op rule.Op, v string) (rule.Expr, error) {
	pat, holds := rule.Literal(v, true), func(a string) bool { return ordered(a, op, v) }
	if f.ip {
		bound, err := netip.ParseAddr(v)
		if err != nil {
			return nil, fmt.Errorf("%s is an ip field: a range on it needs an IP address, not %q", f.ecs, v)
		}
		bound = bound.Unmap().WithZone("")
		pat, holds = rule.Pattern{Kind: rule.IP, Text: bound.String()}, func(a string) bool { return ipOrdered(a, op, bound) }
	}
	return f.orderBy(op, pat, holds)
}

// orderText is the ordered comparison of the field's values as text, byte by byte, numbers and addresses too: ES|QL's
// TO_STRING(field) < "3", a keyword's order ("201" < "3").
func (f field) orderText(op rule.Op, v string) (rule.Expr, error) {
	return f.orderBy(op, rule.Pattern{Kind: rule.String, Text: v, CaseSensitive: true},
		func(a string) bool { return op.Holds(strings.Compare(a, v)) })
}

// orderBy is `field op pat`, holds deciding it for a constant value.
func (f field) orderBy(op rule.Op, pat rule.Pattern, holds func(string) bool) (rule.Expr, error) {
	switch f.kind {
	case absentTarget:
		return falseExpr, nil
	case constTarget:
		return boolExpr(holds(f.value)), nil
	}
	if f.values != nil {
		return f.translated(func(ecs string) (bool, error) { return holds(ecs), nil })
	}
	e := f.onEachValue(func(rf rule.Field) rule.Expr { return rule.Compare{Field: rf, Op: op, Value: pat} })
	if f.ignoreEmpty && holds("") {
		e = and(e, f.nonEmpty())
	}
	return e, nil
}

// equalsField is EQL's `a == b` between two fields.
func (f field) equalsField(g field, caseSensitive bool) (rule.Expr, error) {
	switch {
	case f.kind == absentTarget || g.kind == absentTarget:
		return falseExpr, nil
	case f.values != nil || g.values != nil:
		return nil, fmt.Errorf("comparing %s with %s: a translated field cannot be compared with another field", f.ecs, g.ecs)
	case f.kind == constTarget && g.kind == constTarget:
		return boolExpr(f.value == g.value || !caseSensitive && strings.EqualFold(f.value, g.value)), nil
	case f.kind == constTarget:
		return g.compare(rule.Literal(f.value, caseSensitive))
	case g.kind == constTarget:
		return f.compare(rule.Literal(g.value, caseSensitive))
	}
	var terms []rule.Expr
	for _, a := range f.alts {
		for _, b := range g.alts {
			terms = append(terms, rule.FieldEquals{A: f.valueField(a), B: g.valueField(b), CaseSensitive: caseSensitive})
		}
	}
	e := or(terms...)
	if f.ignoreEmpty {
		e = and(e, f.nonEmpty())
	}
	if g.ignoreEmpty {
		e = and(e, g.nonEmpty())
	}
	return e, nil
}

// onEach ORs build over the field's audit paths.
func (f field) onEach(build func(rule.Field) rule.Expr) rule.Expr {
	terms := make([]rule.Expr, len(f.alts))
	for i, a := range f.alts {
		terms[i] = build(f.ruleField(a))
	}
	return or(terms...)
}

// patternMatches decides a pattern against a constant when the rule loads, as the engine would against a value.
func patternMatches(p rule.Pattern, s string) (bool, error) {
	switch p.Kind {
	case rule.Phrase:
		want, toks := strings.Fields(p.Text), rule.Tokens(s)
		for i := 0; len(want) > 0 && i+len(want) <= len(toks); i++ {
			if slices.Equal(toks[i:i+len(want)], want) {
				return true, nil
			}
		}
		return false, nil
	case rule.Token:
		for _, t := range rule.Tokens(s) {
			if ok, err := patternMatches(rule.Pattern{Kind: rule.Glob, Text: p.Text, CaseSensitive: true}, t); ok || err != nil {
				return ok, err
			}
		}
		return false, nil
	case rule.IP:
		want, err := netip.ParseAddr(p.Text)
		if err != nil {
			return false, err
		}
		addr, err := netip.ParseAddr(s)
		return err == nil && addr.Unmap() == want.Unmap(), nil
	case rule.CIDR:
		prefix, err := netip.ParsePrefix(p.Text)
		if err != nil {
			return false, err
		}
		addr, err := netip.ParseAddr(s)
		return err == nil && prefix.Contains(addr.Unmap()), nil
	case rule.Regex:
		src := p.Text
		if !p.CaseSensitive {
			src = "(?i)" + src
		}
		if err := rule.CheckRegexLength(src); err != nil {
			return false, err
		}
		re, err := regexp.Compile(src)
		if err != nil {
			return false, err
		}
		return re.MatchString(s), nil
	case rule.String:
		return s == p.Text || !p.CaseSensitive && strings.EqualFold(s, p.Text), nil
	case rule.Number:
		// As the engine: numerically when both are numbers, else the text exactly.
		a, errA := strconv.ParseFloat(s, 64)
		b, errB := strconv.ParseFloat(p.Text, 64)
		if errA == nil && errB == nil {
			return a == b, nil
		}
		return s == p.Text, nil
	}
	var b strings.Builder
	if !p.CaseSensitive {
		b.WriteString("(?i)")
	}
	b.WriteString("^")
	for i := 0; i < len(p.Text); i++ {
		switch c := p.Text[i]; {
		case c == '\\' && i+1 < len(p.Text):
			i++
			b.WriteString(regexp.QuoteMeta(p.Text[i : i+1]))
		case c == '*':
			b.WriteString("(?s:.*)")
		case c == '?':
			b.WriteString("(?s:.)")
		default:
			b.WriteString(regexp.QuoteMeta(p.Text[i : i+1]))
		}
	}
	b.WriteString("$")
	re, err := regexp.Compile(b.String())
	if err != nil {
		return false, err
	}
	return re.MatchString(s), nil
}

// ordered decides `a op b` for a constant as the engine decides it for a value: numerically when both are numbers,
// else byte by byte. That is Elasticsearch's order for a numeric field, and for a keyword field holding no numbers;
// Elasticsearch compares a keyword holding digits as text ("10" < "9"), this numerically (docs/sigma-elastic.md).
func ordered(a string, op rule.Op, b string) bool {
	cmp := strings.Compare(a, b)
	if x, err := strconv.ParseFloat(a, 64); err == nil {
		if y, err := strconv.ParseFloat(b, 64); err == nil {
			switch {
			case x < y:
				cmp = -1
			case x > y:
				cmp = 1
			default:
				cmp = 0
			}
		}
	}
	return op.Holds(cmp)
}

// ipOrdered decides `a op bound` for a constant as the engine's rule.IP comparison does: as 16-byte addresses, IPv4
// mapped; a value that is no address is never in range.
func ipOrdered(a string, op rule.Op, bound netip.Addr) bool {
	addr, err := netip.ParseAddr(a)
	if err != nil {
		return false
	}
	x, y := addr.As16(), bound.As16()
	return op.Holds(bytes.Compare(x[:], y[:]))
}
