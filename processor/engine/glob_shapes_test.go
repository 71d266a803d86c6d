package engine

import (
	"math/rand/v2"
	"regexp"
	"strings"
	"testing"
)

// Every matcher compileGlob picks (exact, any, prefix, suffix, contains, general) answers as the regexp spelling the
// same glob, case-sensitive and folded: TestGlobMatchAgreesWithRegexp calls globMatch alone, case-sensitively, so
// it neither reaches the other shapes nor a folded value, whose characters may be shorter than the value's (the
// Kelvin sign folds to k, ſ to s).
func TestGlobShapesAgreeWithRegexp(t *testing.T) {
	rng := rand.New(rand.NewPCG(7, 11))
	alphabet := []string{"a", "k", "K", "\u212a", "s", "\u017f", "é", "É", "σ", "ς", "Σ", "ı", "\U0001d538"}
	values := append([]string{"\xff", "\xc3"}, alphabet...)
	c := &evalCtx{}
	shapes := map[string]int{}
	for range 20000 {
		glob, re := randomGlob(rng, alphabet, 5, 5)
		for _, caseSensitive := range []bool{true, false} {
			src := re
			if !caseSensitive {
				src = "(?i)" + src
			}
			ref := regexp.MustCompile(src)
			m := compileGlob(glob, caseSensitive)
			shapes[typeName(m)]++
			for range 6 {
				var v strings.Builder
				for n := rng.IntN(7); n > 0; n-- {
					v.WriteString(values[rng.IntN(len(values))])
				}
				if got, want := m.match(c, []byte(v.String())), ref.MatchString(v.String()); got != want {
					t.Fatalf("glob %q (%T, case-sensitive %v) against %q: %v, the regexp %q says %v",
						glob, m, caseSensitive, v.String(), got, src, want)
				}
			}
		}
	}
	for _, s := range []string{"exact", "any", "affix", "contains", "glob"} {
		if shapes[s] < 500 {
			t.Errorf("only %d globs compiled to the %s matcher: %v", shapes[s], s, shapes)
		}
	}
}

func typeName(m matcher) string {
	switch m.(type) {
	case exactMatcher:
		return "exact"
	case anyMatcher:
		return "any"
	case affixMatcher:
		return "affix"
	case containsMatcher:
		return "contains"
	case globMatcher:
		return "glob"
	}
	return "other"
}
