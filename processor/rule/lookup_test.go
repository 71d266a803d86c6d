package rule

import (
	"fmt"
	"strings"
	"testing"
)

func TestNewLookupTable(t *testing.T) {
	tab, err := NewLookupTable(LookupTable{Name: "t", Columns: []string{"a", "b"}, Rows: [][]string{{"1", "2"}}})
	if err != nil {
		t.Fatal(err)
	}
	if tab.MaxMatches != DefaultMaxMatches || len(tab.Match) != 2 || tab.MatchOf(1) != MatchExact || tab.Column("b") != 1 || tab.Column("c") != -1 {
		t.Errorf("table %+v", tab)
	}
	for _, bad := range []struct {
		t   LookupTable
		err string
	}{
		{LookupTable{Columns: []string{"a"}}, "a lookup needs a name"},
		{LookupTable{Name: "t"}, `lookup "t" has no columns`},
		{LookupTable{Name: "t", Columns: []string{"a"}, Rows: [][]string{{"1", "2"}}}, `lookup "t": row 1 has 2 fields, the header 1`},
		{LookupTable{Name: "t", Columns: []string{"a"}, MaxMatches: 1001}, "max_matches 1001 is outside 1 to 1000"},
		{LookupTable{Name: "t", Columns: []string{"a"}, MinMatches: -1}, "min_matches -1 is negative"},
		{LookupTable{Name: "t", Columns: []string{"a"}, Match: []LookupMatch{MatchCIDR, MatchCIDR}}, "2 match types for 1 columns"},
	} {
		if _, err := NewLookupTable(bad.t); err == nil || !strings.Contains(err.Error(), bad.err) {
			t.Errorf("%+v: %v, want %q", bad.t, err, bad.err)
		}
	}
}

// TestLookupTableGoString: a rule's definition is compared as its %#v text (a reloaded rule keeps its state when it
// is unchanged): a table is spelt by its content and settings, not its address.
func TestLookupTableGoString(t *testing.T) {
	mk := func(cell string, caseSensitive bool) Stage {
		tab, err := NewLookupTable(LookupTable{Name: "t", Columns: []string{"a"}, Rows: [][]string{{cell}}, CaseSensitive: caseSensitive})
		if err != nil {
			t.Fatal(err)
		}
		return Lookup{Table: tab, Inputs: []LookupField{{"a", "x"}}, Outputs: []LookupField{{"a", "y"}}}
	}
	spell := func(s Stage) string { return fmt.Sprintf("%#v", []Stage{s}) }
	if spell(mk("1", true)) != spell(mk("1", true)) {
		t.Error("one table, two spellings")
	}
	if spell(mk("1", true)) == spell(mk("2", true)) || spell(mk("1", true)) == spell(mk("1", false)) {
		t.Error("two tables, one spelling")
	}
	if strings.Contains(spell(mk("1", true)), "0x") {
		t.Errorf("an address in %s", spell(mk("1", true)))
	}
}

func TestFillTargetsOfALookup(t *testing.T) {
	got := FillTargets([]Stage{Lookup{Inputs: []LookupField{{"user", "user.username"}, {"ns", "objectRef.namespace"}}}})
	if strings.Join(got, " ") != "user.username objectRef.namespace" {
		t.Errorf("fill targets %v", got)
	}
}
