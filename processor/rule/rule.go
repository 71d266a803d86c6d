// Package rule is auditdetect's rule model: the one form that every rule language (ESCU/SPL, Sigma, Elastic)
// compiles into and that the engine evaluates. It knows nothing of pdata, of YAML or of any query language.
//
// A Rule is a per-event Filter followed by a Pipeline of row stages (the part of an SPL search after the first
// pipe), and a Risk block that says how a result row becomes risk events.
package rule

import (
	"fmt"
	"regexp"
	"regexp/syntax"
	"slices"
	"strings"
	"time"

	"github.com/auditdetect/auditdetect/internal/suggest"
)

// Rule is one detection.
type Rule struct {
	// ID is the rule's stable identifier (ESCU `id`, Sigma `id`, Elastic `rule_id`).
	ID string
	// Name is the rule's name (ESCU `name`, Sigma `title`, Elastic `name`).
	Name string
	// SearchName is the name of the saved search Splunk ES runs the rule as, which its risk events carry as
	// search_name and source: for an ESCU detection `ESCU - <name> - Rule` (set by the loader). Empty: Name.
	SearchName string
	// Ref is another identifier rules refer to this one by: a Sigma rule's `name`, which correlation rules name.
	Ref string
	// Version is the rule's content version (ESCU `version`); of two rules with one ID, the higher version wins.
	Version     int
	Description string
	Origin      Origin
	// Status is the rule's upstream status as written (ESCU and Sigma `status`, Elastic `[metadata] maturity`), lower
	// case: production, experimental, stable, test, development, deprecated... Empty when the file has none.
	Status string

	// Filter decides, per audit event, whether the event enters the pipeline. nil matches every event.
	Filter Expr
	// Pipeline turns a matching event into zero or more result rows. Empty: one row holding the whole event.
	Pipeline []Stage

	Risk Risk
	// MitreTechniques holds ATT&CK technique ids such as T1204 or T1552.007.
	MitreTechniques []string
	MitreTactics    []string
	// Stories holds ESCU analytic stories.
	Stories []string
	// Window is the rule's own window for a windowed stats (an Elastic rule's look-back, `from = "now-9m"`); 0 leaves
	// it to the processor's window. A rule_overrides window replaces it.
	Window time.Duration
	// Tests are the test events the rule's file carries (test.go).
	Tests []Test
}

// SavedSearchName returns the search_name the rule's risk events carry: SearchName, or Name when it has none.
func (r *Rule) SavedSearchName() string {
	if r.SearchName != "" {
		return r.SearchName
	}
	return r.Name
}

// NamedBy reports whether key names the rule, as rule_overrides keys and the tools' -disable do: its id, its name,
// the saved-search name its risk events carry (`ESCU - <name> - Rule`), or its Ref (a Sigma `name`).
func (r *Rule) NamedBy(key string) bool {
	return key == r.ID || key == r.Name || r.SearchName != "" && key == r.SearchName || r.Ref != "" && key == r.Ref
}

// Suggest returns the id, name or search name of one of rules that key, which names none of them, was likely meant to
// be; "" when none is near. A key in the saved-search form `<app> - <name> - Rule` whose name is a rule's is that
// rule's name (the built-in pack, Sigma and Elastic rules are named without the ESCU form); else the nearest
// misspelling (suggest.Closest).
func Suggest(key string, rules []*Rule) string {
	if inner, ok := strings.CutSuffix(key, " - Rule"); ok {
		if _, name, ok := strings.Cut(inner, " - "); ok {
			for _, r := range rules {
				if r.NamedBy(name) {
					return name
				}
			}
		}
	}
	known := make([]string, 0, 3*len(rules))
	for _, r := range rules {
		known = append(known, r.ID, r.Name, r.SavedSearchName())
	}
	return suggest.Closest(key, known)
}

// Deprecated reports whether the rule's upstream marks it deprecated: no longer maintained, kept for reference.
func (r *Rule) Deprecated() bool { return r.Status == "deprecated" }

// StatusWarning says what the rule's upstream status warns of, or "" for a status that warns of nothing: deprecated
// (security_content, SigmaHQ and Elastic keep such rules for reference; a directory copied whole brings them along)
// and Sigma's unsupported (a rule that cannot be used as written: a special log source or fields of its own).
func (r *Rule) StatusWarning() string {
	switch r.Status {
	case "deprecated":
		return "deprecated upstream: no longer maintained, and a newer rule may detect the same activity"
	case "unsupported":
		return "marked unsupported upstream: it cannot be used as written (a special log source or fields of its own)"
	}
	return ""
}

// Origin says where a rule came from, for error messages and for the coverage catalog.
type Origin struct {
	File string
	// Line is the 1-based line of the rule's query (ESCU `search:`, Sigma `detection:`, Elastic `query`) in File.
	Line   int
	Format string // escu, sigma, elastic
}

func (o Origin) String() string {
	if o.Line > 0 {
		return fmt.Sprintf("%s:%d", o.File, o.Line)
	}
	return o.File
}

// Risk says how each result row becomes risk events, as Splunk ES does it: one event per risk object per value.
type Risk struct {
	// Message may hold $field$ tokens, replaced from the result row.
	Message string
	Objects []RiskObject
	Threats []ThreatObject
}

// RiskObject names a row field whose values are risk objects.
type RiskObject struct {
	Field string
	Type  string // user, system, other
	Score int
}

// ThreatObject names a row field whose values are threat objects.
type ThreatObject struct {
	Field string
	Type  string // ip_address, process, url, ...
}

// Field names a value of an audit event or of a result row.
//
// In an event, Name is a flattened JSON path in Splunk's spelling: dots between keys, `{}` after a key whose value is
// an array (`sourceIPs{}`, `spec.containers{}.image`). A key that itself contains dots or slashes is written
// unquoted (`annotations.kubectl.kubernetes.io/last-applied-configuration`): the engine resolves such ambiguous paths
// against the keys the event really has.
type Field struct {
	Name string
	// AnyArray makes every array on the path transparent, as Sigma and ECS flattening do: `spec.containers.image`
	// reaches each container's image. Splunk paths leave it false and mark arrays with `{}`.
	AnyArray bool
	// Leaves makes the field's values every string, number and boolean at or under it, at any depth, through objects
	// and arrays (object keys are not values): Elasticsearch's `flattened` field queried at its root, which searches
	// all the leaf values of the object.
	Leaves bool
}

// Expr is a boolean condition over the fields of an event or a row. A multi-valued field satisfies a comparison when
// any one of its values does.
type Expr interface{ isExpr() }

// True matches everything.
type True struct{}

// And matches when every term matches. An empty And matches everything.
type And []Expr

// Or matches when any term matches. An empty Or matches nothing.
type Or []Expr

// Not inverts X. A missing field makes a comparison false, so Not of it is true: Splunk's `NOT x=v` matches events
// that have no x.
type Not struct{ X Expr }

// Op is a comparison operator.
type Op int

const (
	// OpEq matches a value against a Pattern.
	OpEq Op = iota
	// OpNe is Splunk's `x!=v`: x exists and no value of x matches v.
	OpNe
	// OpLt, OpLe, OpGt and OpGe compare numerically when both sides are numbers, otherwise as strings; with an IP
	// pattern, as addresses.
	OpLt
	OpLe
	OpGt
	OpGe
)

func (o Op) String() string {
	return [...]string{"=", "!=", "<", "<=", ">", ">="}[o]
}

// Holds reports whether a comparison's result (negative, zero or positive, as bytes.Compare gives it) satisfies the
// ordering o; false for OpEq and OpNe.
func (o Op) Holds(cmp int) bool {
	switch o {
	case OpLt:
		return cmp < 0
	case OpLe:
		return cmp <= 0
	case OpGt:
		return cmp > 0
	case OpGe:
		return cmp >= 0
	}
	return false
}

// Compare tests a field's values.
type Compare struct {
	Field Field
	Op    Op
	Value Pattern
}

// Exists matches when the field has at least one value (Splunk `x=*`, KQL `x:*`): a string, number or boolean.
// A key whose value is null, an object or an array without values has none.
type Exists struct {
	Field Field
	// AnyValue makes Exists match when the field's key is present, whatever its value: null, an object or an array
	// (empty or not) count as well as values. That is Sigma's `|exists: true`, which "only verifies the presence of
	// a field, not its value, be it empty or null".
	AnyValue bool
	// NotNull, with AnyValue, does not count a key whose value is null: Not of it is Sigma's `x: null`, "absent or
	// null". Without AnyValue it changes nothing (null is never a value).
	NotNull bool
	// Under also counts a value anywhere under the field, when it names an object or an array of objects: that is
	// Elasticsearch's exists query on an object field (KQL `impersonatedUser:*`), which asks whether any field
	// under it has a value.
	Under bool
}

// FieldEquals matches when some value of A equals some value of B (Sigma `|fieldref`).
type FieldEquals struct {
	A, B          Field
	CaseSensitive bool
}

// ValueCompare compares computed values (SPL eval's `len(requestURI) > 2000`, `a + b > c`, `isnum(x)`) as where
// compares: numerically when both values are numbers (ParseNumber), else as text, case-sensitively; with AsText
// always as text (SPL's = or != with a string, or two strings: "quoted" constants, text functions). It holds when
// some value of Left and some value of Right satisfy Op; OpNe when both have values and no two are equal, as
// Compare's. A side without a value makes it false, and Not of it true: front ends that keep eval's null (a
// comparison with null never holds, even under NOT) push NOT down to the operator instead (negated Op).
//
// With Right nil it holds when Left has a value (SPL's isnotnull() of an expression).
type ValueCompare struct {
	Left   Value
	Op     Op
	Right  Value
	AsText bool
}

func (True) isExpr()         {}
func (And) isExpr()          {}
func (Or) isExpr()           {}
func (Not) isExpr()          {}
func (Compare) isExpr()      {}
func (Exists) isExpr()       {}
func (FieldEquals) isExpr()  {}
func (ValueCompare) isExpr() {}

// PatternKind says how Pattern.Text is read.
type PatternKind int

const (
	// Glob: `*` matches any run of characters, `?` any one character, `\` makes the next character literal.
	// Text without wildcards is an exact match.
	Glob PatternKind = iota
	// Regex: RE2 syntax, unanchored (as Sigma's `|re`).
	Regex
	// CIDR: Text is a network (10.0.0.0/8, fd00::/8); the value must be an IP inside it.
	CIDR
	// Number: Text is a decimal number, compared as eval's `=` does: a value that is a number matches when it is
	// numerically equal (`10.0` = `10`), any other value when it is Text exactly.
	Number
	// Phrase is a full-text match, as Elasticsearch's match_phrase on a `text` field: the value is split into
	// lower-cased tokens (Tokens, text.go) and matches when it holds Text's tokens one after the other. Text holds
	// the phrase's tokens, lower-cased, separated by single spaces. CaseSensitive is ignored.
	Phrase
	// Token matches when one token of the value (Tokens, text.go) matches Text, a Glob written in lower case, as a
	// wildcard query on a `text` field does. CaseSensitive is ignored.
	Token
	// IP: Text is an IP address, and values compare as addresses, as on an Elasticsearch `ip` field: OpEq matches
	// the same address (an IPv4-mapped IPv6 address is its IPv4 one), OpLt to OpGe order addresses with IPv4 as
	// IPv4-mapped IPv6 (so every IPv4 address sorts below 2000::). A value that is no address never matches.
	IP
	// String: Text is compared as text, never as a number, as an Elasticsearch keyword is (ES|QL's TO_STRING of a
	// number): OpEq matches the value that is Text (wildcards are characters), OpLt to OpGe order values byte by
	// byte ("201" < "3", and "201" is not "201.0").
	String
)

// Pattern is the right-hand side of a comparison.
type Pattern struct {
	Kind PatternKind
	Text string
	// CaseSensitive is false for SPL base-search values and default Sigma values; true for KQL keywords and `where`.
	// Without it, characters compare as bytes.EqualFold does (Unicode simple case folding: k, K and the Kelvin sign
	// are equal), whatever the pattern's shape.
	CaseSensitive bool
}

// Literal returns a Glob pattern that matches s exactly (its wildcard characters escaped).
func Literal(s string, caseSensitive bool) Pattern {
	return Pattern{Kind: Glob, Text: EscapeGlob(s), CaseSensitive: caseSensitive}
}

// EscapeGlob escapes `*`, `?` and `\` so that s matches only itself as a Glob.
func EscapeGlob(s string) string {
	if !strings.ContainsAny(s, `*?\`) {
		return s
	}
	var b strings.Builder
	for _, r := range s {
		if r == '*' || r == '?' || r == '\\' {
			b.WriteByte('\\')
		}
		b.WriteRune(r)
	}
	return b.String()
}

// Stage is one step of a rule's pipeline. Stages see rows: before Stats a row is the event itself plus any fields
// earlier stages set; Stats replaces it with aggregate rows.
type Stage interface{ isStage() }

// FillNull gives each listed field Value where the row has none. With no Fields it fills every field that a later
// stage or the risk block names (the streaming reading of Splunk's "all fields of the result set").
type FillNull struct {
	Value  string
	Fields []string
}

// Search keeps the rows that match Cond (SPL `| search`, the `_filter` macros).
type Search struct{ Cond Expr }

// Where keeps rows that match Cond, with `where` semantics: values compare case-sensitively (SPL `| where`).
type Where struct{ Cond Expr }

// Rename renames row fields (SPL `| rename a as b, c as d`).
type Rename struct{ Pairs []RenamePair }

// RenamePair is one `a as b`.
type RenamePair struct{ From, To string }

// Stats groups rows by the By fields and computes Aggs (SPL `| stats`). A row missing any By field is dropped (unless
// NullGroups); a
// multi-valued By field yields one group per value. The engine evaluates it per event, or over a window when a later
// Where reads an aggregate.
type Stats struct {
	Aggs []Aggregate
	By   []string
	// NullGroups keeps a row missing a By field, in the group whose value there is null (ES|QL), instead of
	// dropping it (SPL). The group's rows have no such field.
	NullGroups bool
	// Windowed counts over the window even when no later stage filters on an aggregate: each group fires once per
	// window, on its first row (an ES|QL query, which Kibana runs once per look-back and alerts on once per group).
	// Without it such a stats is evaluated per event, as SPL's is.
	Windowed bool
}

// Aggregate is one stats function.
type Aggregate struct {
	Func  string // count, values, dc, min, max, earliest, latest, sum
	Field string // empty for count
	As    string // output name; empty means Splunk's default (count, values(f), ...)
	// EachValue makes a count of Field count its values, each value of a multi-valued field (ES|QL's COUNT(f):
	// "the total number of input values"), not the rows that have one.
	EachValue bool
}

// OutputName is the row field the aggregate writes.
func (a Aggregate) OutputName() string {
	if a.As != "" {
		return a.As
	}
	if a.Field == "" {
		return a.Func
	}
	return a.Func + "(" + a.Field + ")"
}

// IPLocation adds City, Country, Region, lat and lon for the IP in Field (SPL `| iplocation`).
type IPLocation struct {
	Field  string
	Prefix string
}

// IPLocationOutputs are the fields iplocation writes, before its prefix.
var IPLocationOutputs = []string{"City", "Country", "Region", "lat", "lon"}

// Outputs returns the fields the stage writes, prefixed.
func (l IPLocation) Outputs() []string {
	out := make([]string, len(IPLocationOutputs))
	for i, f := range IPLocationOutputs {
		out[i] = l.Prefix + f
	}
	return out
}

// NewTerms keeps a row only when some combination of its Fields' values was not seen within History before the
// event (Elastic `new_terms`). A row missing any of the fields is dropped. The engine bounds the combinations it
// remembers; a forgotten one counts as new again.
type NewTerms struct {
	Fields  []Field
	History time.Duration
}

// NewTermsField is the row field a NewTerms stage sets on the rows it keeps: the values that were new.
const NewTermsField = "new_terms"

// Copy sets the row field To to the values of From, which stays: every value, or with Ends only the first and the
// last. Sigma and Elastic rules take their threat object this way: `src_ip` is the first address of `sourceIPs{}`,
// the client as X-Forwarded-For names it, and the last, the address the API server saw (the client can set the
// first, not the last).
type Copy struct {
	From, To string
	Ends     bool
}

// Eval sets the row field To to what Value computes from the row (ES|QL `EVAL` and `GROK`). A Value with no value
// (null) leaves the field without one, hiding an event field of the same name, as a column set to null does.
type Eval struct {
	To    string
	Value Value
}

// Sequence keeps a row only when its event completes, for the row's key, a sequence of events that matched Steps in
// order, the first no more than MaxSpan before it (EQL `sequence by ... with maxspan=...`, Sigma `temporal_ordered`).
// It is a pipeline's first stage; the rule's Filter must let through every event some step's Cond matches.
//
// A step's key is the values of its By fields (every step has as many, the same names or not: EQL's per-stage `by`,
// Sigma's aliases); an event missing one of them takes no part in that step. Events are taken in the order of their
// times (EQL's sorted events), the engine placing one that arrives late among those it holds for its key. For each
// key one partial sequence is kept per step reached, the latest: an event matching step i (i > 0) extends the partial
// that has reached step i-1, and one matching step 0 starts a partial, replacing an older one (EQL's state machine).
// An event is tried against the steps from the last to the first, so that it never extends a partial it has just
// extended.
//
// An event that matches Until's Cond (EQL `until`; nil: none) ends, for its key, every partial it did not itself extend or start: a
// sequence's steps must come before it.
//
// The row of the event whose arrival completes a sequence gets SequenceIDsField (the auditIDs of its events, in
// time order) and, when Columns names them, the key's values under those names.
type Sequence struct {
	Steps   []SequenceStep
	Until   SequenceStep
	MaxSpan time.Duration
	Columns []string
}

// SequenceStep is one event of a Sequence.
type SequenceStep struct {
	Cond Expr
	By   []Field
}

// SequenceIDsField is the row field a Sequence sets on the row that completes it.
const SequenceIDsField = "sequence_audit_ids"

// Project keeps, or with Remove removes, the row fields whose names match one of Fields (SPL `table` and `fields`).
// A name's `*` matches any run of characters (`user*` is user, userAgent, user.username...); every other character
// is itself. With Ordered (SPL `table`), the kept fields are put in the order of the first name each matches, and
// fields a later stage sets come after them.
//
// On a row that still reads the event (before stats), the event's fields are kept or removed by the same names:
// later stages and the result row see only those the projection keeps. A projection copies nothing from the event;
// the result row shows the event fields it always shows (risk, threat and message fields, the request's summary)
// that the projection keeps, and the fields Fields names without a wildcard.
//
// ES|QL's KEEP and DROP do not compile to it: they name ES|QL columns, not row fields (kubernetes.audit.verb is the
// row's verb), and an ES|QL rule's risk block is auditdetect's own (eventrisk), reading event fields the query need
// not keep; the ES|QL compiler checks that later commands read only kept columns.
type Project struct {
	Fields  []string
	Remove  bool
	Ordered bool
}

// Keeps reports whether the projection lets the field name through.
func (p Project) Keeps(name string) bool {
	return p.Rank(name) < len(p.Fields) != p.Remove
}

// Rank is the index in Fields of the first name that matches name, or len(Fields) when none does.
func (p Project) Rank(name string) int {
	for i, f := range p.Fields {
		if MatchName(f, name) {
			return i
		}
	}
	return len(p.Fields)
}

// Names are the names of Fields that have no wildcard: the fields a keeping projection names one by one.
func (p Project) Names() []string {
	var out []string
	for _, f := range p.Fields {
		if !strings.Contains(f, "*") {
			out = append(out, f)
		}
	}
	return out
}

// MatchName reports whether name matches pattern, in which `*` matches any run of characters (none included) and
// every other character only itself, case-sensitively (field names are).
func MatchName(pattern, name string) bool {
	star := strings.IndexByte(pattern, '*')
	if star < 0 {
		return pattern == name
	}
	if !strings.HasPrefix(name, pattern[:star]) {
		return false
	}
	name = name[star:]
	parts := strings.Split(pattern[star+1:], "*")
	last := parts[len(parts)-1]
	for _, part := range parts[:len(parts)-1] {
		i := strings.Index(name, part)
		if i < 0 {
			return false
		}
		name = name[i+len(part):]
	}
	return len(name) >= len(last) && strings.HasSuffix(name, last)
}

// Value computes a row field's values from the row. Computed values are text; a number is its decimal form, as
// FormatNumber writes a computed one (number.go).
type Value interface{ isValue() }

// FieldValue is every value of a row or event field.
type FieldValue struct{ Field Field }

// Constant is a literal value, or with Null no value at all.
type Constant struct {
	Text string
	Null bool
}

// Call applies a function to its arguments. Most are single-value functions: an argument with no value, or with
// several (a multi-valued field), makes the result null, as ES|QL's scalar functions and most of Splunk's text
// functions do; url_decode, to_lower, to_upper, format_time and parse_time convert each value, as ES|QL's conversion
// functions, TO_LOWER and TO_UPPER, and Splunk's lower, upper and convert do. Func is one of CallFuncs.
type Call struct {
	Func string
	Args []Value
}

// CallFuncs are the functions a Call may name, with their argument counts (-1: one or more):
//
//	url_decode(s)               percent-decoding of each value, `+` as a space (application/x-www-form-urlencoded);
//	                            a value with an invalid escape is dropped (ES|QL's URL_DECODE)
//	url_decode_lenient(s)       the same, an invalid escape kept as written (SPL's urldecode: a client that appends
//	                            `&x=%zz` must not hide the rest of its query, which the API server still reads)
//	replace(s, regex, template) every match of regex (RE2) replaced by template (regexp.Expand syntax: ${1})
//	concat(s, ...)              the arguments joined
//	to_lower(s), to_upper(s)    Unicode case mapping of each value
//	trim(s)                     leading and trailing white space removed
//	trim_chars(s, chars)        the characters of the constant chars removed from both ends of s (SPL's trim)
//	ltrim_chars(s, chars)       the same at s's start only; rtrim_chars(s, chars) at its end only
//	date_trunc(unit, t)         the RFC 3339 time t truncated to a multiple of unit (a Go duration such as 1m0s)
//	                            since the Unix epoch, in UTC; 168h to the week that starts on Monday
//	event_time()                the time of the event being evaluated, in seconds since the Unix epoch, to the
//	                            microsecond (1764000000, 1764000000.123456: trailing zeros of the fraction dropped):
//	                            the engine's event time (an audit event's stageTimestamp, else its
//	                            requestReceivedTimestamp, else the time it is evaluated). In the stages after a
//	                            stats answered when its window closes, the window's end. Splunk's _time.
//	format_time(t, format[, zone]) each value of t that is a number of seconds since the epoch, written by the
//	                            constant strftime format (timefmt.FormatIn: %Y-%m-%dT%H:%M:%S, %3N...) in the time
//	                            zone the constant zone names (an IANA name, Europe/Berlin; without it UTC); a value
//	                            that is no such number, or outside the years 1 to 9999, is dropped. The engine
//	                            refuses a windowed stats grouped by the event time written so in a zone whose
//	                            calendar units (its days, its hours) the rule's windows cut where they would not cut UTC's
//	format_time_lenient(t, format[, zone]) the same, a value it cannot convert kept as it is (SPL's convert ctime)
//	parse_time(s, format[, zone]) each value of s read by the constant strftime format (timefmt.ParseIn), a time
//	                            without a zone of its own read in zone (without it UTC), as seconds since the epoch
//	                            written as event_time writes them; a value that does not match is dropped
//	parse_time_lenient(s, format[, zone]) the same, a value it cannot read kept as it is (SPL's convert mktime)
//	bin_floor(x, span[, zone])  the number x rounded down to a multiple of the constant span, a positive decimal
//	                            number (no exponent): floor(x/span)*span, computed exactly (not through a float),
//	                            written as a decimal number without trailing zeros; null when x is no number. Numeric
//	                            where date_trunc is RFC 3339 text: bin_floor(event_time(), 600) is the start of the
//	                            event's 10-minute bucket counted from the Unix epoch (UTC), in epoch seconds (SPL's
//	                            bin _time span=10m). With the constant zone, span is whole days and x epoch seconds:
//	                            the start of x's bucket of span/86400 local days of zone, counted from 1970-01-01
//	                            (timefmt.DayBucket; SPL's bin _time span=1d in the search's zone), null for a time
//	                            outside the years 1 to 9999. The engine refuses a windowed stats grouped by such a
//	                            bucket of the event time when span does not divide the rule's window, or when the
//	                            bucket's days are a zone's other than UTC.
//
// Numbers (number.go): an argument is a number when ParseNumber reads it; a result is written by FormatNumber. The
// arithmetic and numeric functions give null for an argument that is no number.
//
//	add(a, b)                   a + b when both are numbers; a and b joined when neither is (cut at 1 MiB, as
//	                            concat); null when one is (SPL's +)
//	subtract(a, b), multiply(a, b), divide(a, b), modulo(a, b)
//	                            a - b, a * b, a / b, a % b (the remainder has a's sign) in double precision
//	                            (Arithmetic); null for a division by zero
//	negate(a)                   -a
//	abs(a), ceil(a), floor(a)   |a|, a rounded up, down to a whole number
//	round(a, digits)            a rounded to the constant digits decimals (0: a whole number), half toward +infinity,
//	                            on a's shortest decimal form (round(2.675, 2) is 2.68)
//	length(s)                   the number of Unicode code points of s (an invalid UTF-8 byte counts as one)
//	substr(s, start, length)    SQLite's substr of s, by code points: start 1 is the first, a negative start counts
//	                            from the end, 0 is before the first; a negative length takes the characters before
//	                            start; without length (CallOptional), the rest of s. start and length are numbers,
//	                            their fractions cut
//	to_number(s, base)          s read as a number: in base 10 as ParseNumber reads it (written by FormatNumber: 010
//	                            is 10), in the constant base 2 to 36 a whole number of its digits (either case) with
//	                            an optional sign; null when s is not one (a space before or after included)
//	to_hex(a)                   the whole number a, 0 or more and at most 2^53, in hexadecimal: 0x and capital
//	                            letters (0xF); null otherwise
//	format_commas(a)            a with its thousands separated by commas (1,234,567), a fraction rounded to two
//	                            decimals (12,345.68)
//	format_duration(a)          a whole number of seconds, 0 or more, as [D+]HH:MM:SS (615 is 00:10:15, 90061 is
//	                            1+01:01:01); null otherwise
//	min(v, ...), max(v, ...)    the least, greatest of every value of every argument, as written: numbers below text,
//	                            numbers in numeric order, text in byte order; null when no argument has a value
//	mv_count(v)                 the number of values of v; null when it has none
//	mv_index(v, start, end)     the values of v from start to end, inclusive (without end, CallOptional: the one at
//	                            start), counted from 0, or from the end when negative (-1 is the last); an end past
//	                            the last value stops there; null when start is outside the values or after end
//	mv_join(v, sep)             the values of v joined by sep (cut at 1 MiB, as concat)
//	split(s, sep)               s split at each sep (at each character when sep is empty) into a multi-valued
//	                            result of at most 10000 values, the last holding the rest of s
//	numbers(v), integers(v), strings(v)
//	                            each value of v that is a number, a whole number written as one (an optional sign
//	                            and digits), no number: SPL's isnum, isint and isstr are ValueCompare{Left: ...}
var CallFuncs = map[string]int{
	"url_decode": 1, "url_decode_lenient": 1, "replace": 3, "concat": -1, "to_lower": 1, "to_upper": 1, "trim": 1, "date_trunc": 2,
	"trim_chars": 2, "ltrim_chars": 2, "rtrim_chars": 2,
	"event_time": 0, "format_time": 3, "format_time_lenient": 3, "parse_time": 3, "parse_time_lenient": 3,
	"bin_floor": 3,
	"add":       2, "subtract": 2, "multiply": 2, "divide": 2, "modulo": 2, "negate": 1,
	"abs": 1, "ceil": 1, "floor": 1, "round": 2, "length": 1, "substr": 3, "to_number": 2,
	"to_hex": 1, "format_commas": 1, "format_duration": 1, "min": -1, "max": -1,
	"mv_count": 1, "mv_index": 3, "mv_join": 2, "split": 2, "numbers": 1, "integers": 1, "strings": 1,
}

// CallOptional counts, for the functions of CallFuncs that have them, the trailing arguments a Call may leave out.
var CallOptional = map[string]int{
	"substr": 1, "mv_index": 1,
	"format_time": 1, "format_time_lenient": 1, "parse_time": 1, "parse_time_lenient": 1, "bin_floor": 1,
}

// Case is the value of the first When whose condition the row satisfies, else of Else (nil: null). With All, the
// values of every When whose condition holds, together (a multi-valued result), else of Else.
type Case struct {
	Whens []When
	Else  Value
	All   bool
}

// When is one condition and value of a Case.
type When struct {
	Cond Expr
	Then Value
}

// Extract is the text the named group Group of Regex (RE2, unanchored) captures in the first match in From's value
// (ES|QL `GROK`, SPL `rex`). When From has no single value, the regex does not match, or the group takes no part,
// it is Else (nil: null; SPL's rex keeps the field's value as it was).
type Extract struct {
	From  Value
	Regex string
	Group string
	Else  Value
}

func (FieldValue) isValue() {}
func (Constant) isValue()   {}
func (Call) isValue()       {}
func (Case) isValue()       {}
func (Extract) isValue()    {}

func (FillNull) isStage()   {}
func (Search) isStage()     {}
func (Where) isStage()      {}
func (Rename) isStage()     {}
func (Stats) isStage()      {}
func (IPLocation) isStage() {}
func (NewTerms) isStage()   {}
func (Copy) isStage()       {}
func (Eval) isStage()       {}
func (Sequence) isStage()   {}
func (Project) isStage()    {}

// Error is a rule that could not be compiled, with the position of the fault.
type Error struct {
	File string
	// Line and Column locate the fault in File (1-based); 0 when unknown.
	Line, Column int
	Rule         string // rule name or id, when known
	Reason       string
}

// ExpectedKind names the Go type a rule file's value was decoded into as the kind of value its author must write,
// for YAML and TOML front ends' type errors; list and mapping are the format's words ("a list"/"a mapping" in YAML,
// "an array"/"a table" in TOML).
func ExpectedKind(goType, list, mapping string) string {
	switch {
	case strings.HasPrefix(goType, "int"), strings.HasPrefix(goType, "uint"), strings.HasPrefix(goType, "float"):
		return "a number"
	case goType == "string":
		return "a string"
	case goType == "bool":
		return "true or false"
	case strings.HasPrefix(goType, "[]"):
		return list
	}
	return mapping
}

func (e *Error) Error() string {
	var b strings.Builder
	b.WriteString(e.File)
	if e.Line > 0 {
		fmt.Fprintf(&b, ":%d", e.Line)
		if e.Column > 0 {
			fmt.Fprintf(&b, ":%d", e.Column)
		}
	}
	if e.Rule != "" {
		fmt.Fprintf(&b, ": rule %q", e.Rule)
	}
	b.WriteString(": ")
	b.WriteString(e.Reason)
	return b.String()
}

// EachTerm calls fn with every term of e below its And, Or and Not (a Compare, Exists, FieldEquals, ValueCompare or
// True), in order.
func EachTerm(e Expr, fn func(term Expr)) {
	switch e := e.(type) {
	case And:
		for _, t := range e {
			EachTerm(t, fn)
		}
	case Or:
		for _, t := range e {
			EachTerm(t, fn)
		}
	case Not:
		EachTerm(e.X, fn)
	case nil:
	default:
		fn(e)
	}
}

// EachField calls fn with every field e reads, in order (both of a FieldEquals, those a ValueCompare's values read).
func EachField(e Expr, fn func(Field)) {
	EachTerm(e, func(t Expr) {
		switch t := t.(type) {
		case Compare:
			fn(t.Field)
		case Exists:
			fn(t.Field)
		case FieldEquals:
			fn(t.A)
			fn(t.B)
		case ValueCompare:
			EachValueField(t.Left, fn)
			if t.Right != nil {
				EachValueField(t.Right, fn)
			}
		}
	})
}

// EachExprField calls fn with every field the expression of a Search, Where or Eval stage reads (its condition, or
// the value it computes); other stages name the fields they read themselves.
func EachExprField(st Stage, fn func(Field)) {
	switch st := st.(type) {
	case Search:
		EachField(st.Cond, fn)
	case Where:
		EachField(st.Cond, fn)
	case Eval:
		EachValueField(st.Value, fn)
	}
}

// EachValueField calls fn for each field v reads, the fields of a Case's conditions included.
func EachValueField(v Value, fn func(Field)) {
	switch v := v.(type) {
	case FieldValue:
		fn(v.Field)
	case Call:
		for _, a := range v.Args {
			EachValueField(a, fn)
		}
	case Case:
		for _, w := range v.Whens {
			EachField(w.Cond, fn)
			EachValueField(w.Then, fn)
		}
		if v.Else != nil {
			EachValueField(v.Else, fn)
		}
	case Extract:
		EachValueField(v.From, fn)
		if v.Else != nil {
			EachValueField(v.Else, fn)
		}
	}
}

// FillTargets are the fields a FillNull without a field list fills: the fields the stages after it read, up to and
// including the first Stats (whose rows replace the event's). Splunk fills every field of the result set, which a
// stream does not know in advance; these are the ones the search goes on to use.
func FillTargets(later []Stage) []string {
	var names []string
	add := func(f Field) { names = append(names, f.Name) }
	for _, st := range later {
		switch st := st.(type) {
		case Stats:
			names = append(names, st.By...)
			for _, a := range st.Aggs {
				if a.Field != "" {
					names = append(names, a.Field)
				}
			}
			return names
		case Search:
			EachField(st.Cond, add)
		case Where:
			EachField(st.Cond, add)
		case IPLocation:
			names = append(names, st.Field)
		case Lookup:
			names = append(names, st.InputNames()...)
		case Eval:
			EachValueField(st.Value, add)
		case Sequence:
			for _, step := range append(slices.Clip(st.Steps), st.Until) {
				if step.Cond != nil {
					EachField(step.Cond, add)
				}
				for _, f := range step.By {
					add(f)
				}
			}
		}
	}
	return names
}

// AllOf is the And of the terms, simplified as front ends build it: nested Ands are flattened, True terms dropped,
// a term that can never match (an empty Or) makes the whole never match, and a single term stands alone.
func AllOf(terms ...Expr) Expr {
	var out And
	for _, t := range terms {
		switch t := t.(type) {
		case True:
		case And:
			out = append(out, t...)
		case Or:
			if len(t) == 0 {
				return Or{}
			}
			out = append(out, t)
		default:
			out = append(out, t)
		}
	}
	switch len(out) {
	case 0:
		return True{}
	case 1:
		return out[0]
	}
	return out
}

// AnyOf is the Or of the terms, simplified like AllOf: nested Ors flattened, a True term making the whole True. With
// no terms it is the empty Or, which matches nothing.
func AnyOf(terms ...Expr) Expr {
	out := Or{}
	for _, t := range terms {
		switch t := t.(type) {
		case True:
			return True{}
		case Or:
			out = append(out, t...)
		case And:
			if len(t) == 0 {
				return True{}
			}
			out = append(out, t)
		default:
			out = append(out, t)
		}
	}
	if len(out) == 1 {
		return out[0]
	}
	return out
}

// NeedsGeoIP reports whether the rule's pipeline uses iplocation, which needs a GeoIP database.
func (r *Rule) NeedsGeoIP() bool {
	for _, s := range r.Pipeline {
		if _, ok := s.(IPLocation); ok {
			return true
		}
	}
	return false
}

// IsDecimal reports whether s is a decimal number, as SPL's eval writes one and as the engine reads a value as a
// number: an optional sign, digits with an optional fraction (digits on at least one side of the point: a value ".5"
// or "5." is a number), an optional exponent. (Not "nan", "inf" or hex, which strconv.ParseFloat also takes.)
func IsDecimal(s string) bool {
	i := 0
	if i < len(s) && (s[i] == '+' || s[i] == '-') {
		i++
	}
	digits := 0
	for ; i < len(s) && '0' <= s[i] && s[i] <= '9'; i++ {
		digits++
	}
	if i < len(s) && s[i] == '.' {
		for i++; i < len(s) && '0' <= s[i] && s[i] <= '9'; i++ {
			digits++
		}
	}
	if digits == 0 {
		return false
	}
	if i < len(s) && (s[i] == 'e' || s[i] == 'E') {
		i++
		if i < len(s) && (s[i] == '+' || s[i] == '-') {
			i++
		}
		start := i
		for i < len(s) && '0' <= s[i] && s[i] <= '9' {
			i++
		}
		if i == start {
			return false
		}
	}
	return i == len(s)
}

// Regular expressions are RE2 (linear in the input), but matching still costs up to the program's size per input
// byte: a rule's regex is bounded so that no rule can make one event cost milliseconds. Real Sigma, ESCU and Elastic
// expressions are well under a hundred bytes. Front ends that translate a regex check the result with CheckRegex, so
// that a rule too large fails where it is written.
const (
	MaxRegexBytes = 8192
	MaxRegexInsts = 20000
)

// MaxComparisons bounds the comparisons one rule can make an event cost: values are compared one by one, so a long
// flat list (an SPL IN, a where of ORs, a case, a KQL, EQL or ES|QL list) made one event cost milliseconds, bounded
// only by the rule file's 1 MiB (60,000 `*x*` patterns: 3.6 ms). The engine checks every compiled rule against it;
// the Sigma front end stops a detection's expansion (aliases, variants) at it before the rule is built. The corpus's
// rules make at most 76, the built-in pack's 202.
const MaxComparisons = 10000

// CheckRegexLength reports whether src is within MaxRegexBytes. Front ends call it before they compile src to
// check its syntax: compiling a hostile expression of hundreds of kilobytes takes seconds.
func CheckRegexLength(src string) error {
	if len(src) > MaxRegexBytes {
		return fmt.Errorf("regular expression of %d bytes is over the limit of %d", len(src), MaxRegexBytes)
	}
	return nil
}

// CheckRegex reports whether src (RE2, flags included) compiles within MaxRegexBytes and MaxRegexInsts.
func CheckRegex(src string) error {
	if err := CheckRegexLength(src); err != nil {
		return err
	}
	if _, err := regexp.Compile(src); err != nil {
		return err
	}
	re, err := syntax.Parse(src, syntax.Perl)
	if err != nil {
		return err
	}
	prog, err := syntax.Compile(re.Simplify())
	if err != nil {
		return err
	}
	if n := len(prog.Inst); n > MaxRegexInsts {
		return fmt.Errorf("regular expression %.40q... compiles to %d instructions, over the limit of %d", src, n, MaxRegexInsts)
	}
	return nil
}
