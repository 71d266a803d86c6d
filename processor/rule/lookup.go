package rule

import (
	"crypto/sha256"
	"encoding/binary"
	"encoding/hex"
	"errors"
	"fmt"
	"net/netip"
	"slices"
	"strings"
)

// Lookup sets row fields from the rows of a lookup table that match the row (SPL `| lookup`), as Splunk's lookup
// command does with a CSV lookup and its transforms.conf settings.
//
// The row's values are looked up one at a time: with several Inputs, each combination of their values (a
// multi-valued field contributes each of its values); a table row matches a combination when every input column
// matches its value (as the column's LookupMatch says, with the table's case sensitivity), and up to
// Table.MaxMatches table rows match it, in file order. When fewer than Table.MinMatches do, Table.DefaultMatch stands
// for the missing ones. Each output field gets, in order, the output column's values of every match of every
// combination: one value for the common single match, several (a multi-valued field) otherwise. An empty cell is no
// value (Splunk's null), and so is an empty DefaultMatch.
//
// A row without a value for some input is not looked up: its fields stay as they are. On a row that is looked up,
// the outputs replace the row's fields of their names, a field left without a value included (OUTPUT); with New
// (OUTPUTNEW) a row whose output fields all exist is not looked up, and on the others only the missing output fields
// are set.
type Lookup struct {
	Table   *LookupTable
	Inputs  []LookupField
	Outputs []LookupField
	New     bool
}

// LookupField pairs a column of the table with a row field: the field whose values match the column (an input),
// or that receives the column's values (an output).
type LookupField struct{ Column, Field string }

// OutputNames are the row fields the lookup writes.
func (l Lookup) OutputNames() []string {
	out := make([]string, len(l.Outputs))
	for i, o := range l.Outputs {
		out[i] = o.Field
	}
	return out
}

// InputNames are the row fields the lookup reads.
func (l Lookup) InputNames() []string {
	out := make([]string, len(l.Inputs))
	for i, in := range l.Inputs {
		out[i] = in.Field
	}
	return out
}

// LookupMatch says how a value matches a column's cells (transforms.conf `match_type`).
type LookupMatch int

const (
	// MatchExact: the value is the cell (EXACT, the default).
	MatchExact LookupMatch = iota
	// MatchWildcard: the cell is a pattern in which `*` matches any run of characters; every other character is
	// itself (WILDCARD(field)).
	MatchWildcard
	// MatchCIDR: the cell is a network (10.0.0.0/8) or one address, and the value an IP address inside it
	// (CIDR(field)).
	MatchCIDR
)

// LookupNetwork reads a cell of a CIDR field: a network (10.0.0.0/8, fd00::/8) or one address, as the network of
// that address alone. An IPv4-mapped one (::ffff:10.0.0.0/104) is its IPv4 network, as a mapped value is its IPv4
// address; one shorter than /96 would reach past IPv4, where no unmapped value lies, and is refused rather than
// never matching.
func LookupNetwork(cell string) (netip.Prefix, error) {
	p, err := netip.ParsePrefix(cell)
	if err != nil {
		a, aerr := netip.ParseAddr(cell)
		if aerr != nil {
			return netip.Prefix{}, errors.New("is no network or IP address")
		}
		a = a.Unmap().WithZone("")
		return netip.PrefixFrom(a, a.BitLen()), nil
	}
	if a := p.Addr(); a.Is4In6() {
		if p.Bits() < 96 {
			return netip.Prefix{}, errors.New("is an IPv4-mapped network shorter than /96 (all of IPv4): write it as an IPv4 network")
		}
		p = netip.PrefixFrom(a.Unmap(), p.Bits()-96)
	}
	return p.Masked(), nil
}

func (m LookupMatch) String() string {
	return [...]string{"EXACT", "WILDCARD", "CIDR"}[m]
}

// IsLookupFileName reports whether name names a lookup table file rather than a lookup: Splunk takes a table file by
// a name that ends in .csv, or .csv.gz for a gzip-compressed one (Search Reference, inputlookup and outputlookup:
// "must end with .csv or .csv.gz").
func IsLookupFileName(name string) bool {
	return strings.HasSuffix(name, ".csv") || strings.HasSuffix(name, ".csv.gz")
}

// Splunk's defaults and bounds for a lookup's matches (transforms.conf).
const (
	DefaultMaxMatches = 100
	MaxMaxMatches     = 1000
)

// LookupTable is a lookup's table and its matching settings. It is immutable once made by NewLookupTable, and shared
// by every rule that names it.
type LookupTable struct {
	// Name is the name searches give it (`| lookup <name>`).
	Name string
	// Source says where the table was read from (its CSV file), for messages.
	Source string
	// Columns are the header's field names; every row has one cell per column.
	Columns []string
	Rows    [][]string
	// Match says how each column matches, by column index; NewLookupTable fills a short one with MatchExact.
	Match []LookupMatch
	// CaseSensitive compares exact and wildcard cells with the row's values case-sensitively; without it,
	// characters compare as bytes.EqualFold does. Splunk's default is case-sensitive.
	CaseSensitive bool
	// MinMatches, when positive, makes DefaultMatch stand for the matches a value lacks (min_matches, default_match).
	MinMatches   int
	DefaultMatch string
	// MaxMatches bounds the table rows one value matches, the first ones in file order (1 to MaxMaxMatches).
	MaxMatches int

	digest string
}

// NewLookupTable checks t and returns it ready to share: every row as wide as the header, settings in their ranges.
// Its digest (GoString) identifies its content and settings.
func NewLookupTable(t LookupTable) (*LookupTable, error) {
	switch {
	case t.Name == "":
		return nil, fmt.Errorf("a lookup needs a name")
	case len(t.Columns) == 0:
		return nil, fmt.Errorf("lookup %q has no columns", t.Name)
	case len(t.Match) > len(t.Columns):
		return nil, fmt.Errorf("lookup %q: %d match types for %d columns", t.Name, len(t.Match), len(t.Columns))
	case t.MinMatches < 0:
		return nil, fmt.Errorf("lookup %q: min_matches %d is negative", t.Name, t.MinMatches)
	case t.MaxMatches == 0:
		t.MaxMatches = DefaultMaxMatches
	}
	if t.MaxMatches < 1 || t.MaxMatches > MaxMaxMatches {
		return nil, fmt.Errorf("lookup %q: max_matches %d is outside 1 to %d", t.Name, t.MaxMatches, MaxMaxMatches)
	}
	// One match type per column, so that two tables that match alike digest alike.
	t.Match = append(slices.Clip(t.Match), make([]LookupMatch, len(t.Columns)-len(t.Match))...)
	for i, row := range t.Rows {
		if len(row) != len(t.Columns) {
			return nil, fmt.Errorf("lookup %q: row %d has %d fields, the header %d", t.Name, i+1, len(row), len(t.Columns))
		}
	}
	h := sha256.New()
	field := func(s string) {
		var n [8]byte
		binary.BigEndian.PutUint64(n[:], uint64(len(s)))
		h.Write(n[:])
		h.Write([]byte(s))
	}
	fmt.Fprintf(h, "%d %d %d %t %v\n", len(t.Columns), len(t.Rows), t.MaxMatches, t.CaseSensitive, t.Match)
	field(t.Name)
	field(t.DefaultMatch)
	fmt.Fprintf(h, "%d\n", t.MinMatches)
	for _, c := range t.Columns {
		field(c)
	}
	for _, row := range t.Rows {
		for _, c := range row {
			field(c)
		}
	}
	t.digest = hex.EncodeToString(h.Sum(nil))
	return &t, nil
}

// Column returns the index of the named column, or -1.
func (t *LookupTable) Column(name string) int { return slices.Index(t.Columns, name) }

// MatchOf returns how column i matches.
func (t *LookupTable) MatchOf(i int) LookupMatch {
	if i < len(t.Match) {
		return t.Match[i]
	}
	return MatchExact
}

// GoString spells the table by its name and digest: the rule model is compared as its %#v text (a reloaded rule keeps
// its state when that text is unchanged), and a table is its content, not its address.
func (t *LookupTable) GoString() string {
	if t == nil {
		return "(*rule.LookupTable)(nil)"
	}
	return fmt.Sprintf("rule.LookupTable{Name:%q, Digest:%q}", t.Name, t.digest)
}

func (Lookup) isStage() {}
