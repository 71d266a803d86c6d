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

// TestLookupNetwork: a CIDR cell is a network or one address; an IPv4-mapped one is its IPv4 network (a mapped value
// is its IPv4 address), and one reaching past IPv4 is refused, as it could match no value.
func TestLookupNetwork(t *testing.T) {
	for cell, want := range map[string]string{
		"10.1.2.3/8": "10.0.0.0/8", "10.1.2.3": "10.1.2.3/32", "2001:db8::1/32": "2001:db8::/32", "fe80::1%eth0": "fe80::1/128",
		"::ffff:10.0.0.1": "10.0.0.1/32", "::ffff:10.0.0.0/104": "10.0.0.0/8", "::ffff:0:0/96": "0.0.0.0/0", "::/0": "::/0",
	} {
		if p, err := LookupNetwork(cell); err != nil || p.String() != want {
			t.Errorf("%s: %v, %v; want %s", cell, p, err, want)
		}
	}
	for _, cell := range []string{"10.0.0.300", "10.0.0.0/33", "::ffff:10.0.0.0/8", "host", ""} {
		if p, err := LookupNetwork(cell); err == nil {
			t.Errorf("%s: %v, want an error", cell, p)
		}
	}
}
