package engine

import (
	"math/rand/v2"
	"regexp"
	"strings"
	"testing"
)

// globMatch answers as a regular expression spelling the same glob does (`?` one character, `*` any run of them,
// an invalid UTF-8 byte of a value a character), on random globs and values over a small alphabet, including globs that end
// with a star, where globMatch stops early.
func TestGlobMatchAgreesWithRegexp(t *testing.T) {
	rng := rand.New(rand.NewPCG(3, 5))
	// Values may hold invalid UTF-8; a regexp cannot spell it, so globs do not.
	alphabet := []string{"a", "b", "ab", "é", "K", "\u212a"}
	values := append([]string{"\xff", "\xc3"}, alphabet...)
	ended := 0
	for range 20000 {
		glob, re := randomGlob(rng, alphabet, 6, 4)
		if strings.HasSuffix(glob, "*") {
			ended++
		}
		toks := parseGlob(glob, true)
		ref := regexp.MustCompile(re)
		for range 8 {
			var v strings.Builder
			for n := rng.IntN(8); n > 0; n-- {
				v.WriteString(values[rng.IntN(len(values))])
			}
			if got, want := globMatch(toks, []byte(v.String())), ref.MatchString(v.String()); got != want {
				t.Fatalf("glob %q against %q: %v, the regexp %q says %v", glob, v.String(), got, re, want)
			}
		}
	}
	if ended < 2000 {
		t.Fatalf("only %d globs end with a star", ended)
	}
}

// randomGlob returns a glob of one to parts pieces of alphabet, a piece being a star or a ? one time in odds each,
// and the anchored regexp that spells the same glob (`?` one character, `*` any run of them).
func randomGlob(rng *rand.Rand, alphabet []string, parts, odds int) (glob, re string) {
	var g, r strings.Builder
	r.WriteString(`(?s)\A`)
	for n := rng.IntN(parts); n >= 0; n-- {
		switch rng.IntN(odds) {
		case 0:
			g.WriteString("*")
			r.WriteString(".*")
		case 1:
			g.WriteString("?")
			r.WriteString(".")
		default:
			s := alphabet[rng.IntN(len(alphabet))]
			g.WriteString(s)
			r.WriteString(regexp.QuoteMeta(s))
		}
	}
	r.WriteString(`\z`)
	return g.String(), r.String()
}
