package sigma

import (
	"encoding/base64"
	"fmt"
	"math"
	"net/netip"
	"regexp"
	"strconv"
	"strings"
	"unicode/utf16"

	"gopkg.in/yaml.v3"

	"github.com/auditdetect/auditdetect/processor/rule"
)

// search is one search identifier of `detection:`, compiled: a mapping ANDs its fields, a list of mappings ORs its
// elements (whatever quantifier the condition puts before the identifier).
type search struct {
	name string
	expr rule.Expr
	// terms is the comparisons it expanded into: each reference to it in the condition adds them to the rule.
	terms int
}

// detection compiles the `detection:` mapping: every search identifier, then the condition.
func (p *parser) detection(det *yaml.Node) (rule.Expr, error) {
	if det == nil || det.Kind != yaml.MappingNode {
		return nil, p.errorAt(det, "`detection` must be a mapping of search identifiers and a `condition`")
	}
	var searches []search
	var cond *yaml.Node
	for i := 0; i+1 < len(det.Content); i += 2 {
		k, v := det.Content[i], deref(det.Content[i+1])
		switch k.Value {
		case "condition":
			cond = v
			continue
		case "timeframe":
			// Only aggregations use it, and those are rejected in the condition.
			continue
		}
		if len(searches) == maxSearches {
			return nil, p.errorAt(k, fmt.Sprintf("more than %d search identifiers in one detection", maxSearches))
		}
		before := p.terms
		items, err := p.searchItems(k, v)
		if err != nil {
			return nil, err
		}
		searches = append(searches, search{name: k.Value, expr: simplifyOr(items), terms: p.terms - before})
	}
	if cond == nil {
		return nil, p.errorAt(det, "missing `condition` in `detection`")
	}
	if len(searches) == 0 {
		return nil, p.errorAt(det, "`detection` has no search identifiers")
	}
	referenced := 0 // across a list of conditions: each is expanded
	switch cond.Kind {
	case yaml.ScalarNode:
		return p.condition(cond, searches, &referenced)
	case yaml.SequenceNode:
		// A list of conditions (Sigma 1): the rule matches when any of them does.
		var any rule.Or
		for _, c := range cond.Content {
			c = deref(c)
			if c.Kind != yaml.ScalarNode {
				return nil, p.errorAt(c, "a condition must be a string")
			}
			e, err := p.condition(c, searches, &referenced)
			if err != nil {
				return nil, err
			}
			any = append(any, e)
		}
		if len(any) == 0 {
			return nil, p.errorAt(cond, "empty condition list")
		}
		return simplifyOr(any), nil
	}
	return nil, p.errorAt(cond, "`condition` must be a string")
}

// searchItems compiles one search identifier: a mapping (fields ANDed) or a list of mappings (ORed).
func (p *parser) searchItems(k, v *yaml.Node) ([]rule.Expr, error) {
	switch v.Kind {
	case yaml.MappingNode:
		e, err := p.fieldMap(v)
		return []rule.Expr{e}, err
	case yaml.SequenceNode:
		if len(v.Content) == 0 {
			return nil, p.errorAt(v, fmt.Sprintf("search identifier %q is an empty list", k.Value))
		}
		var items []rule.Expr
		for _, el := range v.Content {
			el = deref(el)
			if el.Kind != yaml.MappingNode {
				return nil, p.errorAt(el, keywordReason(k.Value))
			}
			e, err := p.fieldMap(el)
			if err != nil {
				return nil, err
			}
			items = append(items, e)
		}
		return items, nil
	}
	return nil, p.errorAt(v, keywordReason(k.Value))
}

func keywordReason(name string) string {
	return fmt.Sprintf("search identifier %q is a keyword search (plain values without a field): keywords match the raw event text, which auditdetect does not search; name the field (`field|contains: value`)", name)
}

// fieldMap compiles a mapping of `field|modifiers: value(s)` into the AND of its entries.
func (p *parser) fieldMap(m *yaml.Node) (rule.Expr, error) {
	if len(m.Content) == 0 {
		return nil, p.errorAt(m, "empty mapping in a search identifier")
	}
	var all rule.And
	for i := 0; i+1 < len(m.Content); i += 2 {
		e, err := p.fieldMatch(m.Content[i], deref(m.Content[i+1]))
		if err != nil {
			return nil, err
		}
		all = append(all, e)
	}
	if len(all) == 1 {
		return all[0], nil
	}
	return all, nil
}

// modifiers is the parsed `|mod|mod` suffix of a field.
type modifiers struct {
	match      string // contains, startswith or endswith; "" for a whole-value match
	all        bool
	neq        bool // the whole entry negated
	cased      bool
	exists     bool
	fieldref   bool
	cidr       bool
	re         bool
	reFlags    string // i, m, s
	windash    bool
	encodings  []string // utf16le, utf16be, utf16, wide, base64, base64offset, in order
	order      rule.Op
	hasOrder   bool
	valueKinds int // how many of exists, fieldref, cidr, re, gt/... are set: at most one may be
}

// reFlagNames are the regular expression flag modifiers, by name, and the flag each sets.
var reFlagNames = map[string]string{"i": "i", "ignorecase": "i", "m": "m", "multiline": "m", "s": "s", "dotall": "s"}

var orderOps = map[string]rule.Op{"gt": rule.OpGt, "gte": rule.OpGe, "lt": rule.OpLt, "lte": rule.OpLe}

func (p *parser) modifiers(k *yaml.Node, names []string) (modifiers, error) {
	var m modifiers
	for _, name := range names {
		switch n := strings.ToLower(name); n {
		case "contains", "startswith", "endswith":
			if m.match != "" {
				return m, p.errorAt(k, fmt.Sprintf("modifiers %q and %q cannot be combined", m.match, n))
			}
			m.match = n
		case "all":
			m.all = true
		case "neq":
			// pySigma's SigmaNegateModifier: the entry, whatever its other modifiers, is negated.
			m.neq = true
		case "cased":
			m.cased = true
		case "exists":
			m.exists = true
			m.valueKinds++
		case "fieldref":
			m.fieldref = true
			m.valueKinds++
		case "cidr":
			m.cidr = true
			m.valueKinds++
		case "re":
			m.re = true
			m.valueKinds++
		case "i", "m", "s", "ignorecase", "multiline", "dotall":
			if !m.re {
				return m, p.errorAt(k, fmt.Sprintf("modifier %q must follow `re`", n))
			}
			// pySigma's modifier table names each flag twice: i or ignorecase, m or multiline, s or dotall.
			m.reFlags += reFlagNames[n]
		case "windash":
			m.windash = true
		case "base64", "base64offset", "utf16le", "utf16be", "utf16", "wide":
			m.encodings = append(m.encodings, n)
		case "gt", "gte", "lt", "lte":
			m.order, m.hasOrder = orderOps[n], true
			m.valueKinds++
		case "expand":
			return m, p.errorAt(k, "modifier `expand` (placeholders) is not supported: replace the placeholder with its values")
		default:
			return m, p.errorAt(k, fmt.Sprintf("unknown modifier %q", name))
		}
	}
	switch {
	case m.valueKinds > 1:
		return m, p.errorAt(k, "only one of the modifiers exists, fieldref, cidr, re, gt, gte, lt and lte may be used on a field")
	case m.valueKinds == 1 && (m.match != "" || m.windash || len(m.encodings) > 0):
		return m, p.errorAt(k, "contains, startswith, endswith, windash and the encodings apply to plain values, not with exists, fieldref, cidr, re or comparisons")
	}
	if n := len(m.encodings); n > 0 {
		last := m.encodings[n-1]
		if last != "base64" && last != "base64offset" {
			return m, p.errorAt(k, fmt.Sprintf("modifier %q must be followed by base64 or base64offset", last))
		}
		for _, e := range m.encodings[:n-1] {
			if e == "base64" || e == "base64offset" {
				return m, p.errorAt(k, "base64 or base64offset must be the last encoding")
			}
		}
	}
	return m, nil
}

// fieldMatch compiles one `field|modifiers: value(s)` entry.
func (p *parser) fieldMatch(k, v *yaml.Node) (rule.Expr, error) {
	parts := strings.Split(k.Value, "|")
	name := strings.TrimSpace(parts[0])
	if name == "" {
		return nil, p.errorAt(k, "a field name is required: keyword searches match the raw event text, which auditdetect does not search")
	}
	mods, err := p.modifiers(k, parts[1:])
	if err != nil {
		return nil, err
	}
	field := rule.Field{Name: name, AnyArray: true}
	var values []*yaml.Node
	switch v.Kind {
	case yaml.ScalarNode:
		values = []*yaml.Node{v}
	case yaml.SequenceNode:
		if len(v.Content) == 0 {
			return nil, p.errorAt(v, fmt.Sprintf("field %q has an empty list of values", name))
		}
		for _, el := range v.Content {
			el = deref(el)
			if el.Kind != yaml.ScalarNode {
				return nil, p.errorAt(el, fmt.Sprintf("field %q: a value must be a single value, not a list or mapping", name))
			}
			values = append(values, el)
		}
	default:
		return nil, p.errorAt(v, fmt.Sprintf("field %q: values must be a value or a list of values", name))
	}
	// One term per value written: the variants one value expands into (windash, base64offset) are ORed, and `all`
	// ANDs the values, not their variants (pySigma's SigmaExpansion).
	var exprs []rule.Expr
	for _, val := range values {
		es, err := p.valueExprs(field, mods, val)
		if err != nil {
			return nil, err
		}
		if p.terms += len(es); p.terms > maxTerms {
			return nil, p.errorAt(k, fmt.Sprintf("the detection expands into more than %d comparisons (each value, each windash or base64offset variant, and each YAML alias reference counts): split the rule, or list fewer values", maxTerms))
		}
		exprs = append(exprs, simplifyOr(es))
	}
	e := simplifyOr(exprs)
	if mods.all {
		e = simplifyAnd(exprs)
	}
	if mods.neq {
		// NOT of the entry, as pySigma's backends write it (Splunk `NOT field="value"`): true when the field is
		// absent too.
		if n, ok := e.(rule.Not); ok {
			return n.X, nil
		}
		return rule.Not{X: e}, nil
	}
	return e, nil
}

// maxVariants bounds the values one value expands into (windash, base64offset).
const maxVariants = 256

// maxSearches bounds the search identifiers of a detection. Each `1 of x*` of the condition is matched against
// all of them: 9,000 identifiers, each named by a pattern of its own, took 2.6 s to load. The corpus's rules have
// at most 3.
const maxSearches = 1000

// maxTerms bounds the comparisons a whole detection expands into, stopping the expansion where the engine would refuse
// the rule it makes. Variants and YAML aliases multiply: a 5 KB file whose 100 search items each alias one list of
// 100 windash values made 1.25 million comparisons (2 s and 200 MB to load) before it could be refused.
const maxTerms = rule.MaxComparisons

// valueExprs compiles one value of a field; windash and base64offset expand one value into several, which the
// caller ORs (with or without `all`, as Sigma's expansion does).
func (p *parser) valueExprs(f rule.Field, m modifiers, v *yaml.Node) ([]rule.Expr, error) {
	if isNull(v) {
		if m.valueKinds > 0 || m.match != "" || len(m.encodings) > 0 || m.windash {
			return nil, p.errorAt(v, fmt.Sprintf("field %q: null cannot take modifiers", f.Name))
		}
		// Sigma's null: the field is absent, or null. A key holding an object or an array is not null.
		return []rule.Expr{rule.Not{X: rule.Exists{Field: f, AnyValue: true, NotNull: true}}}, nil
	}
	text := v.Value
	// A plain scalar is read as pySigma reads YAML (1.1 types): `yes` is true, `0620` is the integer 400.
	canon, typed := yaml11Scalar(v)
	switch {
	case m.exists:
		if typed {
			text = canon
		}
		b, err := strconv.ParseBool(strings.ToLower(text))
		if err != nil {
			return nil, p.errorAt(v, fmt.Sprintf("field %q: exists takes true or false, not %q", f.Name, text))
		}
		// Sigma's exists "only verifies the presence of a field, not its value, be it empty or null".
		present := rule.Exists{Field: f, AnyValue: true}
		if b {
			return []rule.Expr{present}, nil
		}
		return []rule.Expr{rule.Not{X: present}}, nil
	case m.fieldref:
		if strings.TrimSpace(text) == "" {
			return nil, p.errorAt(v, fmt.Sprintf("field %q: fieldref needs a field name", f.Name))
		}
		return []rule.Expr{rule.FieldEquals{A: f, B: rule.Field{Name: strings.TrimSpace(text), AnyArray: true}, CaseSensitive: m.cased}}, nil
	case m.cidr:
		prefix, err := netip.ParsePrefix(strings.TrimSpace(text))
		if addr, aerr := netip.ParseAddr(strings.TrimSpace(text)); err != nil && aerr == nil && addr.Zone() == "" {
			// One address is its own network (/32, /128), as Python's ip_network reads it for pySigma.
			prefix, err = addr.Prefix(addr.BitLen())
		}
		if err != nil {
			return nil, p.errorAt(v, fmt.Sprintf("field %q: invalid CIDR %q", f.Name, text))
		}
		return []rule.Expr{rule.Compare{Field: f, Op: rule.OpEq, Value: rule.Pattern{Kind: rule.CIDR, Text: prefix.String()}}}, nil
	case m.re:
		src := text
		if flags := strings.ReplaceAll(m.reFlags, "i", ""); flags != "" {
			src = "(?" + flags + ")" + src
		}
		if err := rule.CheckRegexLength(src); err != nil {
			return nil, p.errorAt(v, fmt.Sprintf("field %q: %v", f.Name, err))
		}
		if _, err := regexp.Compile(src); err != nil {
			return nil, p.errorAt(v, fmt.Sprintf("field %q: invalid regular expression (RE2 syntax): %v", f.Name, err))
		}
		// Sigma regular expressions are case-sensitive unless `|i`; `|cased` changes nothing.
		return []rule.Expr{rule.Compare{Field: f, Op: rule.OpEq, Value: rule.Pattern{Kind: rule.Regex, Text: src, CaseSensitive: !strings.Contains(m.reFlags, "i")}}}, nil
	case m.hasOrder:
		num := strings.TrimSpace(text)
		if typed {
			num = canon
		}
		if x, err := strconv.ParseFloat(num, 64); err != nil || math.IsInf(x, 0) || math.IsNaN(x) || strings.Contains(num, "_") {
			return nil, p.errorAt(v, fmt.Sprintf("field %q: gt, gte, lt and lte take a number, not %q", f.Name, text))
		}
		return []rule.Expr{rule.Compare{Field: f, Op: m.order, Value: rule.Literal(num, true)}}, nil
	}

	if plain := m.match == "" && len(m.encodings) == 0 && !m.windash; plain {
		if typed {
			return []rule.Expr{rule.Compare{Field: f, Op: rule.OpEq, Value: rule.Literal(canon, m.cased)}}, nil
		}
		// A float (403.0) is a number to pySigma, and to Elasticsearch's numeric fields: it equals 403.
		if x, err := strconv.ParseFloat(text, 64); v.Style == 0 && v.Tag == "!!float" && err == nil && !math.IsInf(x, 0) && !math.IsNaN(x) {
			return []rule.Expr{rule.Compare{Field: f, Op: rule.OpEq, Value: rule.Pattern{Kind: rule.Number, Text: text, CaseSensitive: true}}}, nil
		}
	}
	globs, err := p.expand(f, m, v)
	if err != nil {
		return nil, err
	}
	out := make([]rule.Expr, 0, len(globs))
	for _, g := range globs {
		switch m.match {
		case "contains":
			g = "*" + g + "*"
		case "startswith":
			g = g + "*"
		case "endswith":
			g = "*" + g
		}
		out = append(out, rule.Compare{Field: f, Op: rule.OpEq, Value: rule.Pattern{Kind: rule.Glob, Text: g, CaseSensitive: m.cased}})
	}
	return out, nil
}

// expand turns one plain value into the rule.Glob texts it stands for: Sigma wildcards kept, windash variants and
// encodings applied in the order the modifiers were written.
func (p *parser) expand(f rule.Field, m modifiers, v *yaml.Node) ([]string, error) {
	glob, wild := sigmaGlob(v.Value)
	globs := []string{glob}
	if m.windash {
		if globs = windash(glob); globs == nil {
			return nil, p.errorAt(v, fmt.Sprintf("field %q: windash would expand %q into more than %d values", f.Name, v.Value, maxVariants))
		}
	}
	if len(m.encodings) == 0 {
		return globs, nil
	}
	if wild {
		return nil, p.errorAt(v, fmt.Sprintf("field %q: %s cannot encode a value with wildcards (%q)", f.Name, m.encodings[len(m.encodings)-1], v.Value))
	}
	var out []string
	for _, g := range globs {
		plain := []byte(unescapeGlob(g))
		for _, enc := range m.encodings {
			switch enc {
			case "utf16le", "wide":
				plain = utf16Bytes(plain, false, false)
			case "utf16be":
				plain = utf16Bytes(plain, true, false)
			case "utf16":
				plain = utf16Bytes(plain, false, true)
			case "base64":
				out = append(out, rule.EscapeGlob(base64.StdEncoding.EncodeToString(plain)))
			case "base64offset":
				for _, s := range base64Offsets(plain) {
					out = append(out, rule.EscapeGlob(s))
				}
			}
		}
	}
	return out, nil
}

// sigmaGlob converts a Sigma value to rule.Glob text: `*` and `?` are wildcards, `\*`, `\?` and `\\` are the literal
// characters, and any other backslash is itself. It also reports whether the value has wildcards.
func sigmaGlob(s string) (string, bool) {
	var b strings.Builder
	wild := false
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch {
		case c == '\\' && i+1 < len(s) && (s[i+1] == '*' || s[i+1] == '?' || s[i+1] == '\\'):
			i++
			b.WriteByte('\\')
			b.WriteByte(s[i])
		case c == '\\':
			b.WriteString(`\\`)
		case c == '*' || c == '?':
			wild = true
			b.WriteByte(c)
		default:
			b.WriteByte(c)
		}
	}
	return b.String(), wild
}

func unescapeGlob(g string) string {
	var b strings.Builder
	for i := 0; i < len(g); i++ {
		if g[i] == '\\' && i+1 < len(g) {
			i++
		}
		b.WriteByte(g[i])
	}
	return b.String()
}

// windashChars are the characters Windows accepts for a command-line flag's leading dash.
var windashChars = []string{"-", "/", "–", "—", "―"}

// windash expands every `-` or `/` that starts a word (as pySigma's `\B[-/]\b`) into each of windashChars. It
// returns nil when that would make more than maxVariants values.
func windash(g string) []string {
	var at []int
	for i := 0; i < len(g); i++ {
		if (g[i] == '-' || g[i] == '/') && (i == 0 || !isWord(g[i-1])) && i+1 < len(g) && isWord(g[i+1]) {
			at = append(at, i)
		}
	}
	n := 1
	for range at {
		if n *= len(windashChars); n > maxVariants {
			return nil
		}
	}
	out := []string{""}
	prev := 0
	for _, i := range at {
		next := make([]string, 0, len(out)*len(windashChars))
		for _, o := range out {
			for _, c := range windashChars {
				next = append(next, o+g[prev:i]+c)
			}
		}
		out, prev = next, i+1
	}
	for j := range out {
		out[j] += g[prev:]
	}
	return out
}

func isWord(c byte) bool {
	return c == '_' || '0' <= c && c <= '9' || 'a' <= c && c <= 'z' || 'A' <= c && c <= 'Z'
}

func utf16Bytes(b []byte, bigEndian, bom bool) []byte {
	units := utf16.Encode([]rune(string(b)))
	out := make([]byte, 0, 2*len(units)+2)
	if bom {
		out = append(out, 0xFF, 0xFE)
	}
	for _, u := range units {
		if bigEndian {
			out = append(out, byte(u>>8), byte(u))
		} else {
			out = append(out, byte(u), byte(u>>8))
		}
	}
	return out
}

// base64Offsets is Sigma's base64offset: the value encoded at each of the three byte offsets it may have in a longer
// base64 text, with the characters that depend on its neighbours cut off (as pySigma does).
func base64Offsets(b []byte) []string {
	start := [3]int{0, 2, 3}
	end := [3]int{0, 3, 2} // characters cut from the end, by (len+offset) % 3
	var out []string
	for i := 0; i < 3; i++ {
		padded := append([]byte(strings.Repeat(" ", i)), b...)
		enc := base64.StdEncoding.EncodeToString(padded)
		cut := end[(len(b)+i)%3]
		if start[i] >= len(enc)-cut {
			continue
		}
		out = append(out, enc[start[i]:len(enc)-cut])
	}
	return out
}

// simplifyOr and simplifyAnd drop one-term groups and flatten nested groups of the same kind.
func simplifyOr(es []rule.Expr) rule.Expr { return rule.AnyOf(es...) }

func simplifyAnd(es []rule.Expr) rule.Expr { return rule.AllOf(es...) }

// yaml11Scalar reads a plain (unquoted) scalar as pySigma does: PyYAML resolves YAML 1.1 types, so `yes`, `on`,
// `off` are booleans and `0777`, `0x1FF`, `0b11`, `1_000` integers, which the backends write as `true` and `511`.
// It returns that form when it differs from the text. Sexagesimal numbers (`1:30`) and floats stay text.
func yaml11Scalar(v *yaml.Node) (string, bool) {
	if v.Kind != yaml.ScalarNode || v.Style != 0 || v.Tag == "!!str" && v.Value == "" {
		return "", false
	}
	switch v.Value {
	case "yes", "Yes", "YES", "on", "On", "ON":
		return "true", true
	case "no", "No", "NO", "off", "Off", "OFF":
		return "false", true
	}
	text := v.Value
	sign := ""
	if text != "" && (text[0] == '+' || text[0] == '-') {
		sign, text = text[:1], text[1:]
	}
	base, digits := 10, text
	switch {
	case strings.HasPrefix(text, "0x"):
		base, digits = 16, text[2:]
	case strings.HasPrefix(text, "0b"):
		base, digits = 2, text[2:]
	case len(text) > 1 && text[0] == '0':
		base, digits = 8, text[1:]
	}
	if digits == "" || digits[0] == '_' {
		return "", false
	}
	n, err := strconv.ParseUint(strings.ReplaceAll(digits, "_", ""), base, 64)
	if err != nil {
		return "", false
	}
	if sign == "+" || n == 0 {
		sign = ""
	}
	canon := sign + strconv.FormatUint(n, 10)
	return canon, canon != v.Value
}
