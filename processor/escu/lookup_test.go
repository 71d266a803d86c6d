package escu

import (
	"fmt"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/auditdetect/auditdetect/processor/rule"
)

// TestParseLookup: both generations of security_content's lookup files, the CSV file each names, and the lookups a
// search cannot use (a KV store, a model, a filter), which load and fail only a rule that names them.
func TestParseLookup(t *testing.T) {
	dir := filepath.Join("content", "lookups")
	tests := []struct {
		name, yaml string
		csv        string
		unusable   string
	}{
		{"contentctl 5: the YAML file's own name", "name: kube_allowed_namespaces\nlookup_type: csv\nmatch_type:\n- WILDCARD(namespace)\nmin_matches: 1\ncase_sensitive_match: false\n",
			filepath.Join(dir, "ns.csv"), ""},
		{"contentctl 4: filename, its path stripped", "name: ns\nfilename: ../elsewhere/ns_list.csv\nmatch_type: WILDCARD(namespace), CIDR(ip)\ndefault_match: 'false'\n",
			filepath.Join(dir, "ns_list.csv"), ""},
		{"KV store", "name: ns\nlookup_type: kvstore\nfields: [_key, a]\n", "", "a KV store lookup"},
		{"KV store, contentctl 4", "name: ns\ncollection: ns\nfields_list: _key, a\n", "", "a KV store lookup"},
		{"model", "name: __mlspl_m\nlookup_type: mlmodel\n", "", "a machine-learning model"},
		{"filter", "name: ns\nlookup_type: csv\nfilter: a=1\n", filepath.Join(dir, "ns.csv"), "its filter"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			data := []byte(tt.yaml)
			require.True(t, IsLookup(data))
			assert.False(t, IsDetection(data))
			assert.False(t, IsMacro(data))
			d, err := ParseLookup(filepath.Join(dir, "ns.yml"), data)
			require.NoError(t, err)
			once, ok, err := LookupOf(filepath.Join(dir, "ns.yml"), data)
			require.True(t, ok)
			require.NoError(t, err)
			assert.Equal(t, d, once, "LookupOf reads as IsLookup and ParseLookup do")
			assert.Equal(t, tt.csv, d.CSV)
			assert.Equal(t, 1, d.Line)
			if tt.unusable == "" {
				assert.Empty(t, d.Unusable)
			} else {
				assert.Contains(t, d.Unusable, tt.unusable)
			}
		})
	}
	d, err := ParseLookup("builtin:lookups/x.yml", []byte("name: x\nfilename: x_20250101.csv\n"))
	require.NoError(t, err)
	assert.Equal(t, "builtin:lookups/x_20250101.csv", d.CSV, "an embedded pack's names are slash-separated")

	for _, data := range []string{"name: a\nsearch: a=1\nfilename: x.csv\n", "name: m\ndefinition: a=1\nfilename: x\n",
		"title: s\nfilename: x\ndetection: {sel: {a: 1}}\n", "name: x\ndescription: a filename\n"} {
		assert.False(t, IsLookup([]byte(data)), data)
		d, ok, err := LookupOf("x.yml", []byte(data))
		assert.True(t, d == nil && !ok && err == nil, data)
	}
}

func TestParseLookupErrors(t *testing.T) {
	tests := []struct {
		name, yaml   string
		line, column int
		reason       string
	}{
		{"no name", "lookup_type: csv\n", 1, 1, "lookup file without `name`"},
		{"bad name", "name: a b\nlookup_type: csv\n", 1, 7, `invalid lookup name "a b"`},
		{"bad type", "name: a\nlookup_type: json\n", 2, 14, `lookup_type "json" is not csv, kvstore or mlmodel`},
		{"bad match type", "name: a\nlookup_type: csv\nmatch_type:\n- REGEX(x)\n", 4, 3, `match_type "REGEX(x)" is not WILDCARD(field), CIDR(field) or EXACT(field)`},
		{"two types for a field", "name: a\nlookup_type: csv\nmatch_type: [WILDCARD(x), CIDR(x)]\n", 3, 27, `match_type gives field "x" two types (WILDCARD and CIDR)`},
		{"match type a mapping", "name: a\nlookup_type: csv\nmatch_type: {x: 1}\n", 3, 13, "`match_type` must be a list"},
		{"case sensitivity", "name: a\nlookup_type: csv\ncase_sensitive_match: maybe\n", 3, 23, "`case_sensitive_match` must be true or false"},
		{"max matches", "name: a\nlookup_type: csv\nmax_matches: 1001\n", 3, 14, "`max_matches` must be a whole number from 1 to 1000"},
		{"min matches", "name: a\nlookup_type: csv\nmin_matches: -1\n", 3, 14, "`min_matches` must be a whole number from 0 to 1000"},
		{"default match", "name: a\nlookup_type: csv\ndefault_match: [a]\n", 3, 16, "`default_match` must be a string"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := ParseLookup("l.yml", []byte(tt.yaml))
			var e *rule.Error
			require.ErrorAs(t, err, &e)
			_, ok, onceErr := LookupOf("l.yml", []byte(tt.yaml))
			assert.True(t, ok)
			assert.Equal(t, err, onceErr, "LookupOf fails as ParseLookup does")
			assert.Contains(t, e.Reason, tt.reason)
			assert.Equal(t, [3]any{"l.yml", tt.line, tt.column}, [3]any{e.File, e.Line, e.Column}, "%v", err)
		})
	}
}

// TestReadLookupTable: RFC 4180 CSV as Splunk reads it (quoted fields holding commas, quotes and line breaks, CRLF line
// ends, a byte-order mark), with the lookup file's settings; the defaults of a lookup without a file are Splunk's.
func TestReadLookupTable(t *testing.T) {
	d, err := ParseLookup("lookups/ns.yml", []byte("name: ns\nlookup_type: csv\nmatch_type: [WILDCARD(namespace), CIDR(net)]\n"+
		"min_matches: 1\nmax_matches: 5\ndefault_match: false\ncase_sensitive_match: 'false'\n"))
	require.NoError(t, err)
	csv := "\ufeffnamespace,net,note\r\n" +
		"dev-*,10.0.0.0/8,\"plain, with a comma\"\r\n" +
		"kube-system,192.168.0.1,\"says \"\"hi\"\"\nover two lines\"\r\n"
	tab, err := ReadLookupTable(d, "lookups/ns.csv", []byte(csv))
	require.NoError(t, err)
	assert.Equal(t, []string{"namespace", "net", "note"}, tab.Columns)
	assert.Equal(t, [][]string{{"dev-*", "10.0.0.0/8", "plain, with a comma"}, {"kube-system", "192.168.0.1", "says \"hi\"\nover two lines"}}, tab.Rows)
	assert.Equal(t, []rule.LookupMatch{rule.MatchWildcard, rule.MatchCIDR, rule.MatchExact}, tab.Match)
	assert.Equal(t, [5]any{"ns", false, 1, 5, "false"}, [5]any{tab.Name, tab.CaseSensitive, tab.MinMatches, tab.MaxMatches, tab.DefaultMatch})
	assert.Equal(t, "lookups/ns.csv", tab.Source)

	plain, err := ReadLookupTable(ConfiguredLookup("users", "/etc/users.csv"), "/etc/users.csv", []byte("user\nalice\n"))
	require.NoError(t, err)
	assert.Equal(t, [4]any{true, 0, 100, ""}, [4]any{plain.CaseSensitive, plain.MinMatches, plain.MaxMatches, plain.DefaultMatch},
		"Splunk's transforms.conf defaults")
	// A changed cell is another table for the reload's comparison of rule definitions.
	other, err := ReadLookupTable(ConfiguredLookup("users", "/etc/users.csv"), "/etc/users.csv", []byte("user\nbob\n"))
	require.NoError(t, err)
	assert.NotEqual(t, fmt.Sprintf("%#v", plain), fmt.Sprintf("%#v", other))
	same, err := ReadLookupTable(ConfiguredLookup("users", "/moved/users.csv"), "/moved/users.csv", []byte("user\r\nalice\r\n"))
	require.NoError(t, err)
	assert.Equal(t, fmt.Sprintf("%#v", plain), fmt.Sprintf("%#v", same))
}

func TestReadLookupTableErrors(t *testing.T) {
	d, err := ParseLookup("lookups/ns.yml", []byte("name: ns\nlookup_type: csv\nmatch_type:\n- CIDR(net)\n"))
	require.NoError(t, err)
	tests := []struct {
		name, csv          string
		file               string
		line, column       int
		reason             string
		settingsFromConfig bool
	}{
		{"empty", "", "lookups/ns.csv", 1, 0, "empty lookup file", false},
		{"row too short", "net,a,b\n10.0.0.0/8,x,y\n10.0.0.1,x\n", "lookups/ns.csv", 3, 0, "2 fields, where the header has 3 (a field that holds a comma must be in double quotes)", false},
		{"unquoted comma", "net,a\n10.0.0.1,x\n10.0.0.2,a, b\n", "lookups/ns.csv", 3, 12, "3 fields, where the header has 2", false},
		{"bare quote", "net,a\n10.0.0.1,x\"y\n", "lookups/ns.csv", 2, 11, `bare " in non-quoted-field`, false},
		{"unterminated quote", "net,a\n10.0.0.1,\"x\n", "lookups/ns.csv", 2, 13, `extraneous or missing " in quoted-field`, false},
		{"empty header name", "net,,b\n", "lookups/ns.csv", 1, 5, "field 2 of the header has no name", false},
		{"header name twice", "net,a,a\n", "lookups/ns.csv", 1, 7, `field "a" is named twice in the header`, false},
		{"not a network", "a,net\nx,10.0.0.0/8\ny,10.0.0.300\n", "lookups/ns.csv", 3, 3, `"10.0.0.300" in field net (CIDR) is no network or IP address`, false},
		{"an IPv4-mapped network wider than IPv4", "a,net\nx,::ffff:10.0.0.0/104\ny,::ffff:10.0.0.0/8\n", "lookups/ns.csv", 3, 3,
			`"::ffff:10.0.0.0/8" in field net (CIDR) is an IPv4-mapped network shorter than /96 (all of IPv4): write it as an IPv4 network`, false},
		{"match type of a field the table lacks", "a,b\n", "lookups/ns.yml", 4, 3, `match_type names field "net", which the lookup's table (lookups/ns.csv) does not have (its fields: a, b)`, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := ReadLookupTable(d, "lookups/ns.csv", []byte(tt.csv))
			var e *rule.Error
			require.ErrorAs(t, err, &e)
			assert.Contains(t, e.Reason, tt.reason)
			assert.Equal(t, [3]any{tt.file, tt.line, tt.column}, [3]any{e.File, e.Line, e.Column}, "%v", err)
		})
	}
}

// TestReadLookupTableBounds: a table over the row or byte bound fails, at the row past the bound.
func TestReadLookupTableBounds(t *testing.T) {
	var b strings.Builder
	b.WriteString("user\n")
	for i := range MaxLookupRows + 1 {
		fmt.Fprintf(&b, "u%d\n", i)
	}
	_, err := ReadLookupTable(ConfiguredLookup("big", "big.csv"), "big.csv", []byte(b.String()))
	var e *rule.Error
	require.ErrorAs(t, err, &e)
	assert.Equal(t, MaxLookupRows+2, e.Line)
	assert.Contains(t, e.Reason, fmt.Sprintf("more than %d rows, the limit for one lookup table", MaxLookupRows))

	_, err = ReadLookupTable(ConfiguredLookup("big", "big.csv"), "big.csv", make([]byte, MaxLookupBytes+1))
	assert.ErrorContains(t, err, fmt.Sprintf("big.csv: lookup file is larger than %d bytes", MaxLookupBytes))

	_, err = ReadLookupTable(ConfiguredLookup("wide", "wide.csv"), "wide.csv", []byte(strings.Repeat("c,", MaxLookupColumns)+"c\n"))
	assert.ErrorContains(t, err, fmt.Sprintf("wide.csv:1: %d fields, over the limit of %d", MaxLookupColumns+1, MaxLookupColumns))
}

// TestReadLookupTableCellBound: a table's cells are bounded, not only its bytes and rows: every cell costs a string
// header (16 bytes) however short, so 32 MiB of commas would hold 33 million empty cells, over 500 MiB in memory. The
// read stops at the row past the bound.
func TestReadLookupTableCellBound(t *testing.T) {
	var b strings.Builder
	for i := range MaxLookupColumns - 1 {
		fmt.Fprintf(&b, "c%d,", i)
	}
	b.WriteString("last\n")
	empty := strings.Repeat(",", MaxLookupColumns-1) + "\n"
	rows := MaxLookupCells/MaxLookupColumns + 1
	b.WriteString(strings.Repeat(empty, rows))
	require.Less(t, b.Len(), MaxLookupBytes)
	require.Less(t, rows, MaxLookupRows)
	_, err := ReadLookupTable(ConfiguredLookup("commas", "commas.csv"), "commas.csv", []byte(b.String()))
	var e *rule.Error
	require.ErrorAs(t, err, &e)
	assert.Equal(t, rows+1, e.Line)
	assert.Contains(t, e.Reason, fmt.Sprintf("more than %d fields in all (rows × fields), the limit for one lookup table", MaxLookupCells))
}
