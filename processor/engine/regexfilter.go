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

// litInfo is what a sub-expression says about the text it matches: exactly one of a set of strings (exact), or
// text that contains one of a set of strings (req).
type litInfo struct {
	exact   []string
	isExact bool
	req     []string
	hasReq  bool
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

// better reports whether required set a is worth more than b: its shortest string is longer, then it has fewer.
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
	if sa, sb := short(a), short(b); sa != sb {
		return sa > sb
	}
	return len(a) < len(b)
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
		if len(out) == 0 {
			return anything
		}
		return exactly(out...)
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
		req, ok := literals(re.Sub[0]).required()
		return litInfo{req: req, hasReq: ok}
	case syntax.OpRepeat:
		if re.Min >= 1 {
			req, ok := literals(re.Sub[0]).required()
			return litInfo{req: req, hasReq: ok}
		}
		return anything
	case syntax.OpConcat:
		return concatLiterals(re.Sub)
	case syntax.OpAlternate:
		return alternateLiterals(re.Sub)
	}
	return anything // any character, a star: no string is required
}

// concatLiterals: runs of exact parts multiply into exact sets; where a part is not exact the run so far becomes a
// candidate required set, and the concatenation requires the best candidate (a match contains a match of each part).
func concatLiterals(subs []*syntax.Regexp) litInfo {
	run := []string{""}
	exact := true
	var best []string
	consider := func(set []string, ok bool) {
		if ok && len(set) > 0 && !slices.Contains(set, "") && (best == nil || better(set, best)) {
			best = set
		}
	}
	for _, sub := range subs {
		info := literals(sub)
		if info.isExact && len(run)*len(info.exact) <= maxExact {
			next := make([]string, 0, len(run)*len(info.exact))
			for _, a := range run {
				for _, b := range info.exact {
					next = append(next, a+b)
				}
			}
			run = next
			continue
		}
		exact = false
		consider(run, true)
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
	return litInfo{req: best, hasReq: best != nil}
}

// alternateLiterals: exact when every branch is and the union is small; else every branch must require something,
// and the alternation requires any of it.
func alternateLiterals(subs []*syntax.Regexp) litInfo {
	infos := make([]litInfo, len(subs))
	allExact, n := true, 0
	for i, sub := range subs {
		infos[i] = literals(sub)
		allExact = allExact && infos[i].isExact
		n += len(infos[i].exact)
	}
	if allExact && n <= maxExact {
		var out []string
		for _, info := range infos {
			out = append(out, info.exact...)
		}
		return exactly(out...)
	}
	var req []string
	for _, info := range infos {
		set, ok := info.required()
		if !ok || len(set) == 0 {
			return anything
		}
		req = append(req, set...)
		if len(req) > maxRequired {
			return anything
		}
	}
	return litInfo{req: req, hasReq: true}
}
