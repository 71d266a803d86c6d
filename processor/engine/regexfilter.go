package engine

import (
	"regexp/syntax"
	"slices"
	"strings"
	"unicode/utf8"
)

// Required literals of a regular expression. RE2 runs in time linear in its input, but the factor is the size of the
// program: a rule's alternation of twenty shell idioms (`.*(/dev/tcp/|mkfifo|socat\s.*exec|...).*`) costs about a
// microsecond per byte of command, and every pod exec carries one. Most inputs contain none of the strings every
// match must contain; searching for those first, as RE2's own prefilter and Russ Cox's trigram index do, decides them
// at the speed of bytes.Index and leaves the regex to the few that may match.

// literalFilter holds strings of which every match of its regex contains at least one (nil: no such set is known).
type literalFilter []string

// mayMatch reports whether v contains one of the strings: false means the regex cannot match v.
func (f literalFilter) mayMatch(v string) bool {
	if f == nil {
		return true
	}
	for _, s := range f {
		if strings.Contains(v, s) {
			return true
		}
	}
	return false
}

const (
	// maxExact bounds the strings an exact set may hold before it is given up (a cross product grows fast).
	maxExact = 16
	// maxRequired bounds the strings of a filter: each is one search of the input.
	maxRequired = 32
	// minRequired is the shortest string worth a search.
	minRequired = 2
)

// newLiteralFilter derives the filter of a case-sensitive RE2 expression; nil when none is worth it.
func newLiteralFilter(src string) literalFilter {
	re, err := syntax.Parse(src, syntax.Perl)
	if err != nil {
		return nil
	}
	info := literals(re.Simplify())
	req, ok := info.required()
	if !ok || len(req) == 0 || len(req) > maxRequired {
		return nil
	}
	for _, s := range req {
		if len(s) < minRequired {
			return nil
		}
	}
	return literalFilter(req)
}

// litInfo is what a sub-expression says about the text it matches: exactly one of a set of strings (exact); text
// that contains one of a set of strings (req); text that starts with one of a set of strings (prefix). Go's parser
// factors alternations (`nc\s+-e|ncat\s+-e` becomes `nc(?:\s+-e|at\s+-e)`), so a concatenation joins its exact run
// with the prefixes of what follows, to keep the strings long.
type litInfo struct {
	exact     []string
	isExact   bool
	req       []string
	hasReq    bool
	prefix    []string
	hasPrefix bool
}

var anything = litInfo{}

func exactly(s ...string) litInfo { return litInfo{exact: s, isExact: true} }

// required is the set every match contains one of: the exact strings themselves, or req.
func (l litInfo) required() ([]string, bool) {
	if l.isExact {
		if slices.Contains(l.exact, "") {
			return nil, false // a match may be empty: it contains nothing
		}
		return l.exact, true
	}
	return l.req, l.hasReq
}

// prefixes is the set every match starts with one of ("" among them: nothing known).
func (l litInfo) prefixes() []string {
	switch {
	case l.isExact:
		return l.exact
	case l.hasPrefix:
		return l.prefix
	}
	return []string{""}
}

// product is every a+b, or nil when there would be more than maxExact.
func product(as, bs []string) []string {
	if len(as)*len(bs) > maxExact {
		return nil
	}
	out := make([]string, 0, len(as)*len(bs))
	for _, a := range as {
		for _, b := range bs {
			out = append(out, a+b)
		}
	}
	return out
}

// better reports whether required set a is worth more than b. A string of three bytes or more is rare enough in a
// value; shorter ones are not. So: the set whose shortest string is longer, up to three bytes; then the one with
// fewer strings (fewer searches); then the longer shortest string.
func better(a, b []string) bool {
	short := func(s []string) int {
		n := -1
		for _, x := range s {
			if n < 0 || len(x) < n {
				n = len(x)
			}
		}
		return n
	}
	sa, sb := short(a), short(b)
	if ca, cb := min(sa, 3), min(sb, 3); ca != cb {
		return ca > cb
	}
	if len(a) != len(b) {
		return len(a) < len(b)
	}
	return sa > sb
}

func literals(re *syntax.Regexp) litInfo {
	switch re.Op {
	case syntax.OpLiteral:
		// U+FFFD also matches an invalid byte of the input, which its UTF-8 encoding is not.
		if re.Flags&syntax.FoldCase != 0 || slices.Contains(re.Rune, utf8.RuneError) {
			return anything
		}
		return exactly(string(re.Rune))
	case syntax.OpCharClass:
		if len(re.Rune) == 0 {
			return litInfo{exact: []string{}, isExact: true} // an empty class matches nothing, as OpNoMatch
		}
		// A few runes (`[Ss]`, `[-/]`) enumerate; a wider class says nothing.
		var out []string
		for i := 0; i+1 < len(re.Rune); i += 2 {
			for r := re.Rune[i]; r <= re.Rune[i+1]; r++ {
				if len(out) == 4 || !utf8.ValidRune(r) || r == utf8.RuneError {
					return anything
				}
				out = append(out, string(r))
			}
		}
		return exactly(out...)
	case syntax.OpNoMatch:
		// Matches no string (a rule's intersection decided empty at load): an alternative that adds nothing.
		return litInfo{exact: []string{}, isExact: true}
	case syntax.OpEmptyMatch, syntax.OpBeginLine, syntax.OpEndLine, syntax.OpBeginText, syntax.OpEndText,
		syntax.OpWordBoundary, syntax.OpNoWordBoundary:
		return exactly("")
	case syntax.OpCapture:
		return literals(re.Sub[0])
	case syntax.OpQuest:
		sub := literals(re.Sub[0])
		if sub.isExact && len(sub.exact) < maxExact {
			return exactly(append(slices.Clone(sub.exact), "")...)
		}
		return anything
	case syntax.OpPlus:
		return repeated(literals(re.Sub[0]))
	case syntax.OpRepeat:
		if re.Min >= 1 {
			return repeated(literals(re.Sub[0]))
		}
		return anything
	case syntax.OpConcat:
		return concatLiterals(re.Sub)
	case syntax.OpAlternate:
		return alternateLiterals(re.Sub)
	}
	return anything // any character, a star: no string is required
}

// repeated is x+: every match contains a match of x, and starts with one.
func repeated(sub litInfo) litInfo {
	req, ok := sub.required()
	return litInfo{req: req, hasReq: ok, prefix: sub.prefixes(), hasPrefix: true}
}

// concatLiterals: runs of exact parts multiply into exact sets; where a part is not exact the run so far, joined
// with the prefixes of that part, becomes a candidate required set, and the concatenation requires the best
// candidate (a match contains a match of each part). Its prefixes are the first run's, joined likewise.
func concatLiterals(subs []*syntax.Regexp) litInfo {
	run := []string{""}
	exact, first := true, true
	var best, prefix []string
	consider := func(set []string, ok bool) {
		if ok && len(set) > 0 && !slices.Contains(set, "") && (best == nil || better(set, best)) {
			best = set
		}
	}
	for _, sub := range subs {
		info := literals(sub)
		if info.isExact {
			if next := product(run, info.exact); next != nil {
				run = next
				continue
			}
		}
		exact = false
		joined := product(run, info.prefixes())
		if joined == nil {
			joined = run
		}
		if first {
			prefix, first = joined, false
		}
		consider(joined, true)
		consider(info.required())
		run = []string{""}
		if info.isExact { // too many combinations: start a new run from this part
			run = info.exact
		}
	}
	if exact {
		return exactly(run...)
	}
	consider(run, true)
	return litInfo{req: best, hasReq: best != nil, prefix: prefix, hasPrefix: true}
}

// alternateLiterals: exact when every branch is and the union is small; else every branch must require something,
// and the alternation requires any of it. Its prefixes are the branches' together.
func alternateLiterals(subs []*syntax.Regexp) litInfo {
	infos := make([]litInfo, 0, len(subs))
	allExact, n := true, 0
	for _, sub := range subs {
		info := literals(sub)
		if info.isExact && len(info.exact) == 0 {
			continue // matches nothing
		}
		infos = append(infos, info)
		allExact = allExact && info.isExact
		n += len(info.exact)
	}
	if allExact && n <= maxExact {
		out := []string{}
		for _, info := range infos {
			out = append(out, info.exact...)
		}
		return exactly(out...)
	}
	var req, prefix []string
	hasReq := true
	for _, info := range infos {
		prefix = append(prefix, info.prefixes()...)
		set, ok := info.required()
		if !ok || len(set) == 0 {
			hasReq = false
		}
		req = append(req, set...)
	}
	slices.Sort(req)
	if req = slices.Compact(req); len(req) > maxRequired {
		hasReq = false
	}
	if len(prefix) > maxExact {
		prefix = nil
	}
	return litInfo{req: req, hasReq: hasReq, prefix: prefix, hasPrefix: prefix != nil}
}
