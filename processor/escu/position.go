package escu

import (
	"strings"

	"gopkg.in/yaml.v3"
)

// Mapping a position in the search text back to the YAML file.
//
// The line is exact for the forms ESCU uses: a one-line scalar (v4, plain or quoted) and a literal block (`|-`, v5),
// where search line L sits at file line Origin.Line+L-1. The column is exact for a literal block (block indentation
// plus the search column) and for a scalar on one line (quote escapes such as '' and \" are counted). Folded forms
// (`>` blocks, plain or quoted scalars wrapped over several lines) join lines with spaces, so the column cannot be
// recovered: it is reported as 0 (unknown) and the line is the scalar's first.

// searchStartLine is the file line on which the search text begins.
func searchStartLine(n *yaml.Node) int {
	if n.Style&(yaml.LiteralStyle|yaml.FoldedStyle) != 0 {
		return n.Line + 1 // a block's text starts below its `|-` or `>` indicator
	}
	return n.Line
}

// searchPosition maps a 1-based line and column of the search text to the file.
func searchPosition(data []byte, n *yaml.Node, splLine, splCol int) (line, col int) {
	lines := strings.Split(string(data), "\n")
	switch {
	case n.Style&yaml.LiteralStyle != 0:
		return n.Line + splLine, blockIndent(lines, n.Line) + splCol
	case n.Style&yaml.FoldedStyle != 0:
		return n.Line + 1, 0
	case splLine != 1 || n.Line < 1 || n.Line > len(lines):
		return n.Line, 0
	}
	src := []rune(lines[n.Line-1])
	pos := n.Column - 1
	quote := rune(0)
	switch {
	case n.Style&yaml.SingleQuotedStyle != 0:
		quote = '\''
		pos++
	case n.Style&yaml.DoubleQuotedStyle != 0:
		quote = '"'
		pos++
	}
	for range splCol - 1 {
		if pos >= len(src) {
			return n.Line, 0 // the scalar continues on a folded line
		}
		switch {
		case quote == '\'' && src[pos] == '\'' && pos+1 < len(src) && src[pos+1] == '\'':
			pos += 2
		case quote == '"' && src[pos] == '\\':
			pos += 2
		default:
			pos++
		}
	}
	if pos > len(src) {
		return n.Line, 0
	}
	return n.Line, pos + 1
}

// blockIndent is the indentation of a block scalar whose indicator is on file line indicatorLine: the leading
// spaces of its first non-blank line.
func blockIndent(lines []string, indicatorLine int) int {
	for _, l := range lines[min(indicatorLine, len(lines)):] {
		if strings.TrimSpace(l) != "" {
			return len(l) - len(strings.TrimLeft(l, " "))
		}
	}
	return 0
}
