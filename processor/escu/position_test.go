package escu

import (
	"strings"
	"testing"
	"unicode/utf8"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"gopkg.in/yaml.v3"
)

// TestScalarPosition maps every character of a scalar's text back to the file and checks that the file has that
// character there, for each way YAML can write a scalar that the mapping claims to know.
func TestScalarPosition(t *testing.T) {
	for _, tt := range []struct {
		name, yaml string
		unknown    bool // past its first line, the column cannot be recovered: the scalar's first line, column 0
	}{
		{name: "plain", yaml: "v: a=1 b=\"x y\"\n"},
		{name: "plain, then a comment", yaml: "v: a=1 b=2 # note\n"},
		{name: "plain on the next line", yaml: "v:\n  a=1 b=2\n"},
		{name: "plain wrapped", yaml: "v: a=1\n  b=2   \n     c=3\nw: 1\n"},
		{name: "plain wrapped with an empty line", yaml: "v: a=1\n\n  b=2\n"},
		{name: "single-quoted", yaml: "v: 'a=1 b=2'\n"},
		{name: "double-quoted", yaml: "v: \"a=1 b=2\"\n"},
		{name: "literal", yaml: "v: |-\n  a=1\n    | where b=2\n  c\n"},
		{name: "literal, kept", yaml: "v: |+\n  a=1\n  b\n\n"},
		{name: "literal with an indentation indicator", yaml: "v: |2-\n    a=1\n  b=2\n"},
		{name: "folded with an indentation indicator, under a list item", yaml: "v:\n- >1-\n     a=1\n   b=2\n"},
		{name: "folded", yaml: "v: >-\n  a=1\n  | where b=2\n  | stats count\nw: 1\n"},
		{name: "folded, clipped, under a list item", yaml: "v:\n- >\n    a=1\n    b=2\n"},
		{name: "folded with a paragraph", yaml: "v: >\n  a=1\n\n  b=2\n  c=3\n"},
		{name: "folded with a more-indented line", yaml: "v: >\n  a=1\n    b=2\n  c=3\n"},
		{name: "non-ASCII", yaml: "v: >-\n  ü=\"é\"\n  ß=1\n"},
		{name: "double-quoted wrapped", yaml: "v: \"a=1 b\n  c=2\"\n", unknown: true},
		{name: "plain with a tag", yaml: "v: !!str a=1 b\n"},
		{name: "single-quoted with an anchor", yaml: "v: &x 'a=1 b'\n"},
		{name: "plain wrapped with a tag and an anchor", yaml: "v: !!str &y a=1\n  b=2\n"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			var doc yaml.Node
			require.NoError(t, yaml.Unmarshal([]byte(tt.yaml), &doc))
			n := doc.Content[0].Content[1]
			if n.Kind == yaml.SequenceNode {
				n = n.Content[0]
			}
			lines := strings.Split(tt.yaml, "\n")
			textLine, textCol := 1, 1
			for _, r := range n.Value {
				if r == '\n' {
					textLine, textCol = textLine+1, 1
					continue
				}
				line, col := scalarPosition([]byte(tt.yaml), n, textLine, textCol)
				switch {
				case tt.unknown && col == 0:
					assert.Equal(t, n.Line, line, "%q at %d:%d", r, textLine, textCol)
				case r != ' ':
					require.True(t, line >= 1 && line <= len(lines), "%q at %d:%d: file line %d", r, textLine, textCol, line)
					src := []rune(lines[line-1])
					require.True(t, col >= 1 && col <= len(src), "%q at %d:%d: file column %d:%d", r, textLine, textCol, line, col)
					assert.Equal(t, string(r), string(src[col-1]), "%q at %d:%d: file %d:%d", r, textLine, textCol, line, col)
				}
				textCol++
			}
			// The end of the text (where "unexpected end" is reported) is after its last character.
			last := strings.TrimRight(n.Value, "\n")
			endLine := strings.Count(last, "\n") + 1
			endCol := utf8.RuneCountInString(last[strings.LastIndexByte(last, '\n')+1:]) + 1
			line, col := scalarPosition([]byte(tt.yaml), n, endLine, endCol)
			if !tt.unknown {
				assert.NotZero(t, col, "the end, at %d:%d", line, col)
			}
		})
	}
}

// TestScalarPositionEdges: where a character of the text is not the same character in the file (an escape), and the
// end of a literal block's text, which its final line breaks would put below the block.
func TestScalarPositionEdges(t *testing.T) {
	for _, tt := range []struct {
		name              string
		yaml              string
		textLine, textCol int
		wantLine, wantCol int
	}{
		// x=é junk: j is the 5th character of the text, the 14th of the line (\u00e9 is six characters).
		{"unicode escape", "v: \"x=\\u00e9 junk\"\n", 1, 5, 1, 14},
		{"hex escapes", "v: \"x=\\x41\\x42 junk\"\n", 1, 6, 1, 16},
		{"long unicode escape", "v: \"\\U0001F600 junk\"\n", 1, 3, 1, 16},
		{"two-character escape", "v: \"a\\tb junk\"\n", 1, 5, 1, 10},
		{"end of a clipped literal block", "v: |\n  a=1 OR\nw: x\n", 2, 1, 2, 9},
		{"end of a kept literal block", "v: |+\n  a=1 OR\n\n\nw: x\n", 4, 1, 2, 9},
	} {
		t.Run(tt.name, func(t *testing.T) {
			var doc yaml.Node
			require.NoError(t, yaml.Unmarshal([]byte(tt.yaml), &doc))
			n := doc.Content[0].Content[1]
			line, col := scalarPosition([]byte(tt.yaml), n, tt.textLine, tt.textCol)
			assert.Equal(t, [2]int{tt.wantLine, tt.wantCol}, [2]int{line, col}, "text %q", n.Value)
		})
	}
}
