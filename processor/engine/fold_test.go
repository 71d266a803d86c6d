package engine

import (
	"bytes"
	"strings"
	"testing"

	"github.com/auditdetect/auditdetect/processor/rule"
)

// Every pattern shape folds case the one way bytes.EqualFold does: a value equal to a literal under EqualFold also
// starts, ends and contains it, and matches it inside a general glob; the operation index agrees.
func TestCaseFoldingIsOneRule(t *testing.T) {
	pairs := []struct{ lit, val string }{
		{"kelvin", "\u212aelvin"},   // the Kelvin sign folds with k
		{"secrets", "\u017fecrets"}, // long s folds with s
		{"\u017fecrets", "SECRETS"}, // and the other way round
		{"σας", "ΣΑΣ"},              // σ, ς and Σ are one orbit
		{"ςας", "σας"},
		{"straße", "STRAßE"},     // ß has no one-character upper case in SimpleFold's sense: itself
		{"istanbul", "ıstanbul"}, // dotless ı is its own orbit: not equal
		{"istanbul", "İstanbul"}, // dotted İ too
		{"nginx", "NGINX"},
	}
	for _, p := range pairs {
		want := bytes.EqualFold([]byte(p.lit), []byte(p.val))
		for _, shape := range []struct{ name, glob, val string }{
			{"exact", p.lit, p.val},
			{"prefix", p.lit + "*", p.val + "-x"},
			{"suffix", "*" + p.lit, "x-" + p.val},
			{"contains", "*" + p.lit + "*", "x-" + p.val + "-x"},
			{"general", "x?" + p.lit + "*x", "x-" + p.val + "-x"},
		} {
			m := compileGlob(shape.glob, false)
			if got := m.match(&evalCtx{}, []byte(shape.val)); got != want {
				t.Errorf("%s %q against %q: match %v, want %v (EqualFold)", shape.name, shape.glob, shape.val, got, want)
			}
		}
	}
	// A long value outside ASCII: the affixes fold only the end they compare.
	long := strings.Repeat("é", 5000)
	for _, tc := range []struct {
		glob, val string
		want      bool
	}{
		{"Kelvin*", "KELVIN" + long, true},
		{"*Kelvin", long + "kelvin", true},
		{"*kelvin", long + "KELVIK", false},
		{"*éK", long + "k", true},
		{"ké*", "K" + long, true},
	} {
		if got := compileGlob(tc.glob, false).match(&evalCtx{}, []byte(tc.val)); got != tc.want {
			t.Errorf("%q against a %d-byte value: match %v, want %v", tc.glob, len(tc.val), got, tc.want)
		}
	}
	// The index buckets rules by the folded resource, and looks events up the same way.
	r := &rule.Rule{ID: "r", Name: "r", Filter: rule.And{eq("objectRef.resource", "\u017fecrets"), eq("verb", "get")}}
	e, err := Compile([]*rule.Rule{r}, Options{})
	if err != nil {
		t.Fatal(err)
	}
	for _, res := range []string{"secrets", "SECRETS", "\u017fecrets"} {
		ms, err := e.Match([]byte(`{"verb":"GET","objectRef":{"resource":"` + res + `"}}`))
		if err != nil || len(ms) != 1 {
			t.Errorf("resource %q: %d matches (%v), want 1", res, len(ms), err)
		}
	}
	if got := foldString(strings.Repeat("\u212a", 2)); got != "kk" {
		t.Errorf("fold of two Kelvin signs = %q, want kk", got)
	}
}

// TestFoldsToItself checks the shortcut of evalCtx.fold against appendFold: every byte, at every place of a word and
// of the bytes after the last whole word, next to bytes that fold (upper-case letters) and bytes that do not.
func TestFoldsToItself(t *testing.T) {
	var c evalCtx
	for _, fill := range []byte{'a', '0', '@', '[', 'Z', 0x7f, 0xc3} {
		for n := 1; n <= 19; n++ {
			for at := range n {
				for b := range 256 {
					v := bytes.Repeat([]byte{fill}, n)
					v[at] = byte(b)
					folded := appendFold(nil, v)
					want := isASCII(v) && bytes.Equal(folded, v)
					if got := foldsToItself(v); got != want {
						t.Fatalf("foldsToItself(%q) = %v, want %v", v, got, want)
					}
					if got := c.fold(v); !bytes.Equal(got, folded) {
						t.Fatalf("fold(%q) = %q, want %q", v, got, folded)
					}
				}
			}
		}
	}
	if !foldsToItself(nil) {
		t.Error("the empty value folds to itself")
	}
}
