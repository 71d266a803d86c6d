package loader

import (
	"fmt"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/auditdetect/auditdetect/processor/engine"
)

// loadBound is the time any one hostile rule file may take to be refused (or loaded), -race and a busy machine
// included: a guard against the blow-ups these files aim at (hours), not a measure of speed. Most take milliseconds;
// the slowest is the 10 MB file. (A 420 KB regular expression took 4 s under -race while the front ends compiled it
// before they checked its length; they check the length first now.)
const loadBound = time.Minute

func sigmaDetection(detection string) string {
	return "title: Hostile\nid: 5a1e6c0e-0000-4000-8000-000000000001\nlogsource: {product: kubernetes, service: audit}\n" +
		"detection:\n" + detection + "\nlevel: high\n"
}

// TestHostileRuleFiles: a malformed or hostile rule file fails the load within a bounded time, and the error names
// the file, the line and the reason; regular expressions are RE2 and linear whatever they look like.
func TestHostileRuleFiles(t *testing.T) {
	for _, tc := range []struct {
		name    string
		file    string // file name; its extension picks nothing, content decides the format
		content string
		// wantErr matches the error text (file:line[:col]: ... reason); empty: the file loads.
		wantErr string
		// others are more files (macros) loaded with it.
		others map[string]string
	}{
		{
			name:    "10 MB file",
			file:    "huge.yml",
			content: detection("5a1e6c0e-0000-4000-8000-000000000002", "Huge", "verb=get") + "description: " + strings.Repeat("x", 10<<20) + "\n",
			wantErr: `huge\.yml:11: file is larger than 1048576 bytes`,
		},
		{
			name:    "10 MB of newlines",
			file:    "lines.yml",
			content: strings.Repeat("\n", 10<<20),
			wantErr: `lines\.yml:1048577: file is larger than 1048576 bytes`,
		},
		{
			name:    "deeply nested SPL condition",
			file:    "nested.yml",
			content: detection("5a1e6c0e-0000-4000-8000-000000000003", "Nested", strings.Repeat("(", 50000)+"verb=get"+strings.Repeat(")", 50000)),
			wantErr: `nested\.yml:4:\d+: .*nest`,
		},
		{
			name:    "deeply nested SPL where",
			file:    "nested-where.yml",
			content: detection("5a1e6c0e-0000-4000-8000-000000000004", "Nested", "verb=get | where "+strings.Repeat("(", 50000)+"a=1"+strings.Repeat(")", 50000)),
			wantErr: `nested-where\.yml:4:\d+: .*nest`,
		},
		{
			name:    "deeply nested Sigma condition",
			file:    "sigma-nested.yml",
			content: sigmaDetection("  sel: {verb: get}\n  condition: " + strings.Repeat("(", 50000) + "sel" + strings.Repeat(")", 50000)),
			wantErr: `sigma-nested\.yml:\d+.*nest`,
		},
		{
			name:    "deeply nested YAML",
			file:    "yaml-nested.yml",
			content: "name: x\nsearch: verb=get\nextra: " + strings.Repeat("[", 100000) + strings.Repeat("]", 100000) + "\n",
			wantErr: `yaml-nested\.yml:\d+: .*`,
		},
		{
			// 9^8 = 43 million strings if expanded into a field the loader decodes.
			name:    "YAML alias bomb in a decoded field",
			file:    "bomb.yml",
			content: detection("5a1e6c0e-0000-4000-8000-00000000000b", "Bomb", "verb=get") + aliasBomb("tags:\n  analytic_story: *h\n"),
			wantErr: `bomb\.yml(:\d+)?: .*`,
		},
		{
			name:    "YAML alias bomb in fields the loader ignores",
			file:    "bomb-ignored.yml",
			content: detection("5a1e6c0e-0000-4000-8000-00000000000c", "Bomb", "verb=get") + aliasBomb("extra: *h\n"),
		},
		{
			name:    "huge regular expression",
			file:    "huge-regex.yml",
			content: detection("5a1e6c0e-0000-4000-8000-000000000005", "Regex", `verb=get | where match(user, "`+strings.Repeat("(a|b|c)", 60000)+`")`),
			wantErr: `huge-regex\.yml:4:\d+: .*match: regular expression of 420000 bytes is over the limit of 8192`,
		},
		{
			name:    "huge Sigma regular expression",
			file:    "sigma-huge-regex.yml",
			content: sigmaDetection("  sel:\n    user.username|re: '" + strings.Repeat("(a|b|c)", 60000) + "'\n  condition: sel"),
			wantErr: `sigma-huge-regex\.yml:\d+.*regular expression of 420000 bytes is over the limit of 8192`,
		},
		{
			name:    "nested repetition over RE2's limit",
			file:    "repeat.yml",
			content: detection("5a1e6c0e-0000-4000-8000-000000000006", "Regex", `verb=get | where match(user, "((a{1000}){1000}){1000}")`),
			wantErr: `repeat\.yml:4:\d+: .*(repeat|too large)`,
		},
		{
			name:    "backreference is not RE2",
			file:    "backref.yml",
			content: detection("5a1e6c0e-0000-4000-8000-000000000007", "Regex", `verb=get | where match(user, "(a)\\1")`),
			wantErr: `backref\.yml:4:\d+: .*escape`,
		},
		{
			name:    "lookahead is not RE2",
			file:    "lookahead.yml",
			content: sigmaDetection("  sel: {user.username|re: '^(?=admin)'}\n  condition: sel"),
			wantErr: `lookahead\.yml:\d+.*(?i)regular expression|regexp|perl`,
		},
		{
			name:    "unknown top-level ESCU field is a typo of search",
			file:    "typo.yml",
			content: "name: Typo\nid: 5a1e6c0e-0000-4000-8000-000000000008\nserach: verb=get\n",
			wantErr: `typo\.yml: not an? `,
		},
		{
			name:    "binary garbage",
			file:    "garbage.yml",
			content: "\x00\x01\x02\xff\xfe{[",
			wantErr: `garbage\.yml(:\d+)?: `,
		},
		{
			name:    "catastrophic-looking regex loads: RE2 runs it in linear time",
			file:    "redos.yml",
			content: detection("5a1e6c0e-0000-4000-8000-000000000009", "ReDoS", `verb=get | where match(user, "^(a+)+$") OR match(user, "(x+x+)+y")`),
		},
		{
			name:    "short regular expression with a huge program",
			file:    "big-program.yml",
			content: sigmaDetection("  sel: {user.username|re: '" + strings.Repeat("[a-z]{1000}", 25) + "'}\n  condition: sel"),
			wantErr: `big-program\.yml:\d+: .*compiles to \d+ instructions, over the limit of 20000`,
		},
		{
			// 2^14 expansions: 0.3 s and 150 MB before the bound; 2^20, the depth allowed, took 12 GB.
			name:    "macro referenced twice at each level",
			file:    "twice.yml",
			content: detection("5a1e6c0e-0000-4000-8000-00000000000d", "Twice", "`m14`"),
			others:  macroLevels(14, "m%d", "", "`%[1]s` OR `%[1]s`"),
			wantErr: `twice\.yml:4:\d+: .*macros expand more than 1000 times in one search`,
		},
		{
			// Each level passes its argument on twice: the reference's text doubles, 3 MB at 18 levels.
			name:    "macro argument doubled at each level",
			file:    "doubling.yml",
			content: detection("5a1e6c0e-0000-4000-8000-00000000000e", "Doubling", "`a18(user=bob)`"),
			others:  macroLevels(18, "a%d", "arguments: [x]\n", "`%[1]s($x$ $x$)`"),
			wantErr: `doubling\.yml:4:\d+: .*macros expand into more than 1048576 bytes in one search`,
		},
		{
			// A row's fields are searched by name: 1,000 set fields cost 3 ms an event, 20,000 0.8 s.
			name:    "pipeline of a thousand eval assignments",
			file:    "evals.yml",
			content: detection("5a1e6c0e-0000-4000-8000-00000000000f", "Evals", "verb=get | eval "+numbered(1000, "x%d=verb", ", ")),
			wantErr: `evals\.yml:\d+: .*pipeline has 1000 stages and fields in all.*over the limit of 256`,
		},
		{
			// Each `1 of x*` scans every identifier: 9,000 of each took 2.6 s.
			name:    "Sigma detection of 1001 search identifiers",
			file:    "sigma-searches.yml",
			content: sigmaDetection(numbered(1001, "  s%d: {verb: get}", "\n") + "\n  condition: 1 of s*"),
			wantErr: `sigma-searches\.yml:1005:3: .*more than 1000 search identifiers`,
		},
		{
			// Values are compared one by one: 60,000 in an IN took 0.9 ms an event, 60,000 `*x*` patterns 3.6 ms.
			name:    "SPL IN of 20,000 values",
			file:    "spl-in.yml",
			content: detection("5a1e6c0e-0000-4000-8000-000000000010", "In", "verb=get user IN ("+numbered(20000, "u%d", ", ")+")"),
			wantErr: `spl-in\.yml:4: .*the rule makes 20001 comparisons in all .*over the limit of 10000`,
		},
		{
			name:    "SPL where of 20,000 ORs",
			file:    "spl-where.yml",
			content: detection("5a1e6c0e-0000-4000-8000-000000000011", "Where", "verb=get | where "+numbered(20000, `user="u%d"`, " OR ")),
			wantErr: `spl-where\.yml:4: .*the rule makes 20001 comparisons in all .*over the limit of 10000`,
		},
		{
			name:    "SPL case of 20,000 branches",
			file:    "spl-case.yml",
			content: detection("5a1e6c0e-0000-4000-8000-000000000012", "Case", "verb=get | eval x=case("+numbered(20000, `user="u%d", "a"`, ", ")+")"),
			wantErr: `spl-case\.yml:4: .*the rule makes 20001 comparisons in all .*over the limit of 10000`,
		},
		{
			name:    "KQL list of 20,000 values",
			file:    "kql-list.toml",
			content: elasticDoc("KQL", "query", "kubernetes.audit.user.username:("+numbered(20000, "u%d", " or ")+")"),
			wantErr: `kql-list\.toml:11: .*the rule makes 20000 comparisons in all .*over the limit of 10000`,
		},
		{
			name:    "EQL list of 20,000 values",
			file:    "eql-list.toml",
			content: elasticDoc("EQL", "eql", "any where kubernetes.audit.user.username in ("+numbered(20000, `"u%d"`, ", ")+")"),
			wantErr: `eql-list\.toml:11: .*the rule makes 20000 comparisons in all .*over the limit of 10000`,
		},
	} {
		t.Run(tc.name, func(t *testing.T) {
			files := map[string]string{tc.file: tc.content}
			for name, content := range tc.others {
				files[name] = content
			}
			dir := layout(t, files)
			start := time.Now()
			// What start-up does: load, then compile (config validation and the factory both do both).
			res, err := Load(Options{Paths: []string{dir}})
			if err == nil {
				_, err = engine.Compile(res.Rules, engine.Options{})
			}
			elapsed := time.Since(start)
			assert.Less(t, elapsed, loadBound, "load took too long")
			if tc.wantErr == "" {
				require.NoError(t, err)
				require.Len(t, res.Rules, 1)
				return
			}
			require.Error(t, err)
			msg := err.Error()
			assert.Contains(t, msg, filepath.Join(dir, tc.file), "the error names the file")
			assert.Regexp(t, regexp.MustCompile(tc.wantErr), msg)
			assert.Less(t, len(msg), 20000, "the error quotes the hostile input at length: %.200s", msg)
		})
	}
}

// TestCatastrophicRegexIsLinear evaluates the classic exponential-backtracking patterns against long adversarial
// usernames: RE2 answers in time linear in the input.
func TestCatastrophicRegexIsLinear(t *testing.T) {
	dir := layout(t, map[string]string{"redos.yml": detection("5a1e6c0e-0000-4000-8000-00000000000a", "ReDoS",
		`verb=get | where match('user.username', "^(a+)+$") OR match('user.username', "^(a|a)*$") OR match('user.username', "(x+x+)+y")`)})
	res, err := Load(Options{Paths: []string{dir}})
	require.NoError(t, err)
	eng, err := engine.Compile(res.Rules, engine.Options{})
	require.NoError(t, err)
	for _, n := range []int{30, 100000} {
		body := fmt.Sprintf(`{"verb":"get","user":{"username":"%s!"}}`, strings.Repeat("a", n)+strings.Repeat("x", n))
		start := time.Now()
		m, err := eng.Match([]byte(body))
		require.NoError(t, err)
		assert.Empty(t, m)
		// A backtracking engine needs 2^30 steps for n=30 already (and 2^100000 for the other): a guard against
		// that, with room for -race on a loaded machine, not a measure of speed.
		assert.Less(t, time.Since(start), 30*time.Second, "n=%d", n)
	}
}

// macroLevels returns the files of macros name%d for levels 0 to n: level 0 is a search, each level above is def
// (a format whose %[1]s is the macro of the level below); head goes before the definition (its arguments).
func macroLevels(n int, name, head, def string) map[string]string {
	files := map[string]string{}
	for i := 0; i <= n; i++ {
		d := "verb=get"
		if i > 0 {
			d = fmt.Sprintf(def, fmt.Sprintf(name, i-1))
		}
		files[fmt.Sprintf("macros/"+name+".yml", i)] = "name: " + fmt.Sprintf(name, i) + "\n" + head + "definition: '" + d + "'\ndescription: test\n"
	}
	return files
}

// numbered joins n copies of format, each given its index.
func numbered(n int, format, sep string) string {
	parts := make([]string, n)
	for i := range parts {
		parts[i] = fmt.Sprintf(format, i)
	}
	return strings.Join(parts, sep)
}

// aliasBomb returns YAML anchors that expand to 9^8 values, followed by tail, which names the last one.
func aliasBomb(tail string) string {
	var b strings.Builder
	b.WriteString("a0: &a0 [x, x, x, x, x, x, x, x, x]\n")
	for i := 1; i <= 8; i++ {
		fmt.Fprintf(&b, "a%d: &a%d [", i, i)
		for j := 0; j < 9; j++ {
			if j > 0 {
				b.WriteString(", ")
			}
			fmt.Fprintf(&b, "*a%d", i-1)
		}
		b.WriteString("]\n")
	}
	return b.String() + strings.ReplaceAll(tail, "*h", "*a8")
}
