package engine

import (
	"bufio"
	"bytes"
	"fmt"
	"net/netip"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"testing"

	"github.com/auditdetect/auditdetect/processor/auditgen"
	"github.com/auditdetect/auditdetect/processor/builtin"
	"github.com/auditdetect/auditdetect/processor/event"
	"github.com/auditdetect/auditdetect/processor/event/eventtest"
	"github.com/auditdetect/auditdetect/processor/internal/corpus"
	"github.com/auditdetect/auditdetect/processor/loader"
	"github.com/auditdetect/auditdetect/processor/rule"
)

// The engine-level differential test: which rules' filters an event passes, as the engine decides it (operation
// index, terms reordered by cost, literal prefilters, lazy reading), against a plain interpreter of the rule model
// over the reference tree of package eventtest. Rules: the built-in pack and every corpus rule that loads. Events:
// the generated mix, the built-in pack's test events and the corpus events, each also reordered, escaped, with
// duplicate keys and with dotted keys.

// corpusDir is the compatibility corpus, or "" without it (the test then runs on the rest; under CI it fails).
func corpusDir(t testing.TB) string { return corpus.Optional(t) }

// allRules loads the built-in pack and, when the corpus is there, every corpus rule that loads.
func allRules(t testing.TB) []*rule.Rule {
	t.Helper()
	sets := [][]string{{loader.Builtin}}
	if dir := corpusDir(t); dir != "" {
		for _, s := range [][]string{{"escu/macros", "escu/v4"}, {"escu/macros", "escu/v5"}, {"sigma"}, {"elastic"}} {
			var paths []string
			for _, p := range s {
				paths = append(paths, filepath.Join(dir, p))
			}
			sets = append(sets, paths)
		}
	}
	var out []*rule.Rule
	for _, paths := range sets {
		res, err := loader.Load(loader.Options{Paths: paths, Builtin: builtin.FS, SkipErrors: true})
		if err != nil {
			t.Fatalf("loading %v: %v", paths, err)
		}
		// As the processor does under on_rule_error: skip, a rule the engine refuses is left out.
		kept, _ := Runnable(res.Rules, Options{GeoIP: refGeo{}})
		out = append(out, kept...)
	}
	return out
}

func dirExists(dir string) bool {
	info, err := os.Stat(dir)
	return err == nil && info.IsDir()
}

// testBodies returns the generated mix's first n events, the built-in pack's test events and the corpus events.
func testBodies(t testing.TB, n int) [][]byte {
	t.Helper()
	var out [][]byte
	for _, ev := range auditgen.Generate(11, n) {
		out = append(out, ev.Body)
	}
	files, _ := filepath.Glob(filepath.Join("..", "builtin", "testdata", "*", "*.json*"))
	var more []string
	if dir := corpusDir(t); dir != "" {
		more, _ = filepath.Glob(filepath.Join(dir, "events", "*", "*"))
	}
	for _, f := range append(files, more...) {
		data, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		sc := bufio.NewScanner(bytes.NewReader(data))
		sc.Buffer(nil, 16<<20)
		for sc.Scan() {
			if line := bytes.TrimSpace(sc.Bytes()); len(line) > 0 && line[0] == '{' {
				out = append(out, bytes.Clone(line))
			}
		}
	}
	return out
}

// variants returns body as written and rewritten four ways.
func variants(t testing.TB, body []byte) map[string][]byte {
	t.Helper()
	tree, err := eventtest.Decode(body)
	if err != nil {
		t.Fatalf("reference decoder: %v\n%.300s", err, body)
	}
	return map[string][]byte{
		"as written": body,
		"reordered":  eventtest.Encode(tree, eventtest.Encoder{Reverse: true, Indent: true}),
		"escaped":    eventtest.Encode(tree, eventtest.Encoder{Escape: func(i int) bool { return i%4 == 1 }}),
		"duplicates": eventtest.Encode(eventtest.WithDuplicates(tree), eventtest.Encoder{}),
		"dotted":     eventtest.Encode(eventtest.WithDottedKeys(tree), eventtest.Encoder{}),
	}
}

type refGeo struct{}

func (refGeo) Lookup(netip.Addr) (Location, bool) { return Location{}, false }

// passes returns the indexes of the rules whose filter the event passes, as Evaluate decides it.
func (e *Engine) passes(t testing.TB, body []byte) []int {
	st := e.states.get()
	defer e.states.put(st)
	view, err := st.parser.Open(body)
	if err != nil {
		t.Fatalf("Open: %v", err)
	}
	st.ctx.begin()
	var out []int
	for _, i := range e.index.candidates(&st.ctx, view) {
		if e.rules[i].filter.eval(&st.ctx, source{view: view}) {
			out = append(out, i)
		}
	}
	if err := view.Err(); err != nil {
		t.Fatalf("reading: %v", err)
	}
	return out
}

func TestFiltersAgreeWithReference(t *testing.T) {
	rules := allRules(t)
	e, err := Compile(rules, Options{GeoIP: refGeo{}})
	if err != nil {
		t.Fatal(err)
	}
	re := newRefEval()
	bodies := testBodies(t, 120)
	passed, checked := 0, 0
	for bi, body := range bodies {
		for name, vb := range variants(t, body) {
			tree, err := eventtest.Decode(vb)
			if err != nil {
				t.Fatal(err)
			}
			var want []int
			for i, r := range rules {
				// The filter tests the cheap terms of a leading search stage too (hoisted).
				if re.eval(t, r.Filter, tree) && re.eval(t, hoisted(r), tree) {
					want = append(want, i)
				}
			}
			got := e.passes(t, vb)
			if !slices.Equal(got, want) {
				t.Fatalf("body %d, %s: engine passes %v, reference %v\n%.800s", bi, name, ruleNames(rules, got), ruleNames(rules, want), vb)
			}
			passed += len(got)
			checked++
		}
	}
	if passed == 0 {
		t.Fatal("no event passed any filter: the comparison proves nothing")
	}
	t.Logf("%d rules × %d bodies: the engine and the reference agree (%d filter passes)", len(rules), checked, passed)
}

func ruleNames(rules []*rule.Rule, idx []int) []string {
	var out []string
	for _, i := range idx {
		out = append(out, rules[i].Name)
	}
	return out
}

// refEval interprets the rule model directly: every comparison reads the field's values from the reference tree.
type refEval struct{ globs map[string]*regexp.Regexp }

func newRefEval() *refEval { return &refEval{globs: map[string]*regexp.Regexp{}} }

func (re *refEval) eval(t testing.TB, e rule.Expr, tree *eventtest.Value) bool {
	switch e := e.(type) {
	case nil, rule.True:
		return true
	case rule.And:
		for _, x := range e {
			if !re.eval(t, x, tree) {
				return false
			}
		}
		return true
	case rule.Or:
		for _, x := range e {
			if re.eval(t, x, tree) {
				return true
			}
		}
		return false
	case rule.Not:
		return !re.eval(t, e.X, tree)
	case rule.Exists:
		return len(eventtest.Resolve(tree, e.Field.Name, e.Field.AnyArray)) > 0
	case rule.FieldEquals:
		for _, a := range eventtest.Resolve(tree, e.A.Name, e.A.AnyArray) {
			for _, b := range eventtest.Resolve(tree, e.B.Name, e.B.AnyArray) {
				if a == b || !e.CaseSensitive && strings.EqualFold(a, b) {
					return true
				}
			}
		}
		return false
	case rule.Compare:
		vals := eventtest.Resolve(tree, e.Field.Name, e.Field.AnyArray)
		switch e.Op {
		case rule.OpEq, rule.OpNe:
			matched := false
			for _, v := range vals {
				if re.match(t, e.Value, v) {
					matched = true
				}
			}
			if e.Op == rule.OpEq {
				return matched
			}
			return len(vals) > 0 && !matched
		default:
			for _, v := range vals {
				if refOrder(e.Op, e.Value, v) {
					return true
				}
			}
			return false
		}
	}
	t.Fatalf("reference: unknown expression %T", e)
	return false
}

func (re *refEval) match(t testing.TB, p rule.Pattern, v string) bool {
	switch p.Kind {
	case rule.CIDR:
		prefix, err1 := netip.ParsePrefix(p.Text)
		addr, err2 := netip.ParseAddr(v)
		return err1 == nil && err2 == nil && prefix.Masked().Contains(addr.Unmap())
	case rule.Regex:
		src := p.Text
		if !p.CaseSensitive {
			src = "(?i)" + src
		}
		return re.compiled(t, src).MatchString(v)
	case rule.Number:
		y, _ := refNumber(p.Text)
		if x, ok := refNumber(v); ok {
			return x == y
		}
		return v == p.Text
	case rule.Phrase:
		words, phrase := rule.Tokens(v), strings.Fields(p.Text)
		for i := 0; i+len(phrase) <= len(words); i++ {
			if slices.Equal(words[i:i+len(phrase)], phrase) {
				return true
			}
		}
		return false
	case rule.Token:
		for _, w := range rule.Tokens(v) {
			if re.match(t, rule.Pattern{Text: p.Text, CaseSensitive: true}, w) {
				return true
			}
		}
		return false
	}
	// A glob: `*` any run, `?` one character, `\` quotes the next one; the whole value must match.
	var b strings.Builder
	b.WriteString("^(?s)")
	if !p.CaseSensitive {
		b.WriteString("(?i)")
	}
	for i := 0; i < len(p.Text); i++ {
		switch c := p.Text[i]; {
		case c == '\\' && i+1 < len(p.Text):
			i++
			b.WriteString(regexp.QuoteMeta(p.Text[i : i+1]))
		case c == '*':
			b.WriteString(".*")
		case c == '?':
			b.WriteString(".")
		default:
			b.WriteString(regexp.QuoteMeta(p.Text[i : i+1]))
		}
	}
	b.WriteString("$")
	return re.compiled(t, b.String()).MatchString(v)
}

func (re *refEval) compiled(t testing.TB, src string) *regexp.Regexp {
	if r, ok := re.globs[src]; ok {
		return r
	}
	r, err := regexp.Compile(src)
	if err != nil {
		t.Fatalf("reference: %v", err)
	}
	re.globs[src] = r
	return r
}

// refOrder is a <, <=, > or >= comparison: numeric when both sides are numbers, else on the (folded) text.
func refOrder(op rule.Op, p rule.Pattern, v string) bool {
	text := unescapeGlob(p.Text)
	var cmp int
	x, okX := refNumber(v)
	y, okY := refNumber(text)
	if okX && okY && len(v) <= 64 && len(text) <= 64 {
		switch {
		case x < y:
			cmp = -1
		case x > y:
			cmp = 1
		}
	} else {
		if !p.CaseSensitive {
			v, text = strings.ToLower(v), strings.ToLower(text)
		}
		cmp = strings.Compare(v, text)
	}
	switch op {
	case rule.OpLt:
		return cmp < 0
	case rule.OpLe:
		return cmp <= 0
	case rule.OpGt:
		return cmp > 0
	}
	return cmp >= 0
}

// TestPrefilterNeedles pins what the prefilter searches for: clauses that must all hold, each listing literals of
// which one must be in the bytes, rarest anchors first.
func TestPrefilterNeedles(t *testing.T) {
	for _, tc := range []struct {
		name   string
		filter rule.Expr
		want   string
	}{
		{"key and value of a glob", eq("requestObject.message", "Pulling image*"), `pulling image & message"`},
		{"case-sensitive value keeps case", rule.Compare{Field: rule.Field{Name: "requestObject.spec.type"}, Value: rule.Pattern{Text: "*NodePort*", CaseSensitive: true}}, `NodePort & type"`},
		{"escaped quote splits the literal", eq("requestObject.x.annotation", `*\"hostNetwork\":true*`), `hostnetwork & annotation"`},
		{"every term of an and, rarest first, at most three", rule.And{eq("requestObject.reason", "Pulling"), eq("requestObject.kind", "*forbid*")}, `forbid & pulling & kind"`},
		{"a term of each branch of an or", rule.Or{eq("requestObject.a", "alpha"), eq("requestObject.bbb", "beta")}, `alpha|bbb"`},
		{"a needle several branches name is searched once", rule.Or{eq("requestObject.a.x", "alpha"), eq("requestObject.b.x", "alpha"), eq("requestObject.c", "beta")}, `alpha|beta`},
		{"an or with a term without literal has none", rule.Or{eq("requestObject.a", "alpha"), eq("requestObject.b", "*")}, ""},
		{"not has none", rule.Not{X: eq("requestObject.message", "alpha")}, ""},
		{"exists needs the key", rule.Exists{Field: rule.Field{Name: "requestObject.spec.containers{}"}}, `containers"`},
		{"short literals are not searched", eq("requestObject.a", "ab*"), ""},
		{"a list of one field's values needs its key", rule.Or{eq("requestObject.add{}", "all"), eq("requestObject.add{}", "sys_admin"),
			eq("requestObject.add{}", "cap_bpf")}, `add" & all|sys_admin|cap_bpf`},
		{"a flattened list macro is searched by its key", rule.Or{eq("requestObject.c.privileged", "true"), eq("requestObject.d.privileged", "true"),
			eq("requestObject.c.add{}", "all"), eq("requestObject.c.add{}", "sys_admin"), eq("requestObject.d.add{}", "all"),
			eq("requestObject.d.add{}", "sys_admin")}, `privileged"|add"`},
		{"an empty or has none", rule.Or{}, ""},
		{"a rarer parent key, followed by a quote or a dot", eq("requestObject.spec.volumes{}.hostPath.path", "/etc"),
			`hostPath"|hostPath. & path" & /etc`},
		{"not a commoner parent", eq("requestObject.spec.type", "NodePort"), `type" & nodeport`},
		{"a parent key stands for a branch only when it has nothing else", rule.Or{
			eq("requestObject.spec.containers{}.securityContext.privileged", "true"),
			eq("requestObject.spec.containers{}.securityContext.capabilities.add{}", "all"),
			eq("requestObject.spec.containers{}.securityContext.capabilities.add{}", "sys_admin")}, `privileged"|add"`},
		{"not the top-level key", eq("requestObject.hostPath", "/etc"), `hostPath" & /etc`},
		{"a branch needing nothing more than the common clause", rule.Or{eq("requestObject.x", "omega"),
			rule.And{eq("requestObject.b", "beta"), eq("requestObject.x", "omega")}}, `omega`},
		{"a clause every branch has", rule.Or{rule.And{eq("requestObject.a", "alpha"), eq("requestObject.x", "omega")},
			rule.And{eq("requestObject.b", "beta"), eq("requestObject.x", "omega")}}, `omega & alpha|beta`},
	} {
		var clauses []string
		for _, c := range needles(tc.filter) {
			var alts []string
			for _, n := range c {
				alts = append(alts, string(n.lit))
			}
			clauses = append(clauses, strings.Join(alts, "|"))
		}
		if got := strings.Join(clauses, " & "); got != tc.want {
			t.Errorf("%s: needles %q, want %q", tc.name, got, tc.want)
		}
	}
}

// TestPrefilterSeesEscapes: a literal the event writes with escapes is not missed.
func TestPrefilterSeesEscapes(t *testing.T) {
	r := &rule.Rule{ID: "img", Name: "img", Filter: eq("requestObject.message", "Pulling image*")}
	e, err := Compile([]*rule.Rule{r}, Options{})
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		name, message string
		want          bool
	}{
		{"as written", `Pulling image \"x\"`, true},
		{"other case", `PULLING IMAGE x`, true},
		{"letter escaped", `Pu\u006cling image x`, true},
		{"space escaped", `Pulling\u0020image x`, true},
		{"absent", `Pulled image x`, false},
		{"absent, other escapes present", `Pulled \u003cimage\u003e \/x`, false},
		{"folded spelling outside ASCII", "Pu\u2c6fling image", false}, // no folding makes Ɐ an l: nothing missed
		{"long s folds to s", "Pulling image ſ", true},
	} {
		body := fmt.Sprintf(`{"verb":"create","objectRef":{"resource":"events"},"requestObject":{"message":"%s"}}`, tc.message)
		ms, err := e.Match([]byte(body))
		if err != nil {
			t.Fatal(err)
		}
		if got := len(ms) == 1; got != tc.want {
			t.Errorf("%s: matched %v, want %v", tc.name, got, tc.want)
		}
	}
	var p event.Parser
	v, _ := p.Open([]byte(`{"a":"\u0041\/\\u0042"}`))
	if esc, nonASCII := v.EscapedASCII(); esc[1]&(1<<('A'-64)) == 0 || esc[0]&(1<<'/') == 0 || esc[1]&(1<<('B'-64)) != 0 || nonASCII {
		t.Errorf("EscapedASCII = %x, %v: want A and / (not B, whose backslash is escaped), ASCII only", *esc, nonASCII)
	}
	// An escaped character outside ASCII is reported; one written as UTF-8 is the prefilter's to find (it knows
	// the few that fold to a letter of its needle).
	for body, want := range map[string]bool{`{"a":"\u017f"}`: true, `{"a":"\u212A"}`: true, "{\"a\":\"\u212a\"}": false} {
		if v, _ := p.Open([]byte(body)); func() bool { _, n := v.EscapedASCII(); return n }() != want {
			t.Errorf("%s: escaped character outside ASCII reported %v, want %v", body, !want, want)
		}
	}
}

// TestPrefilterUnicodeFolding: SPL values match case-insensitively with Unicode folding, so "ſystem:anonymous"
// is "system:anonymous"; the prefilter must not rule such an event out.
func TestPrefilterUnicodeFolding(t *testing.T) {
	r := &rule.Rule{ID: "anon", Name: "anon", Filter: eq("requestObject.spec.user", "system:anonymous")}
	e, err := Compile([]*rule.Rule{r}, Options{})
	if err != nil {
		t.Fatal(err)
	}
	for _, user := range []string{"ſystem:anonymouſ", `\u017fystem:anonymous`, "system:anonymous"} {
		// With and without a backslash elsewhere in the body: the prefilter looks for escapes only in a body
		// that has one, and for characters outside ASCII in every body.
		for _, other := range []string{`"x"`, `"say \"hi\""`} {
			body := `{"verb":"create","objectRef":{"resource":"pods"},"requestObject":{"note":` + other +
				`,"spec":{"user":"` + user + `"}}}`
			if ms, err := e.Match([]byte(body)); err != nil || len(ms) != 1 {
				t.Errorf("%s: %d matches, %v; want 1", body, len(ms), err)
			}
		}
	}
}

// decimal is a number as Splunk's comparisons read one: sign, digits with an optional fraction, optional exponent.
var decimal = regexp.MustCompile(`^[+-]?([0-9]+\.?[0-9]*|\.[0-9]+)([eE][+-]?[0-9]+)?$`)

func refNumber(s string) (float64, bool) {
	if !decimal.MatchString(s) {
		return 0, false
	}
	f, err := strconv.ParseFloat(s, 64)
	return f, err == nil
}
