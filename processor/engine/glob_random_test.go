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
		var glob, re strings.Builder
		re.WriteString(`(?s)\A`)
		for n := rng.IntN(6); n >= 0; n-- {
			switch rng.IntN(4) {
			case 0:
				glob.WriteString("*")
				re.WriteString(".*")
			case 1:
				glob.WriteString("?")
				re.WriteString(".")
			default:
				s := alphabet[rng.IntN(len(alphabet))]
				glob.WriteString(s)
				re.WriteString(regexp.QuoteMeta(s))
			}
		}
		re.WriteString(`\z`)
		if strings.HasSuffix(glob.String(), "*") {
			ended++
		}
		toks := parseGlob(glob.String(), true)
		ref := regexp.MustCompile(re.String())
		for range 8 {
			var v strings.Builder
			for n := rng.IntN(8); n > 0; n-- {
				v.WriteString(values[rng.IntN(len(values))])
			}
			if got, want := globMatch(toks, []byte(v.String())), ref.MatchString(v.String()); got != want {
				t.Fatalf("glob %q against %q: %v, the regexp %q says %v", glob.String(), v.String(), got, re.String(), want)
			}
		}
	}
	if ended < 2000 {
		t.Fatalf("only %d globs end with a star", ended)
	}
}
