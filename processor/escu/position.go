package escu

import (
	"strings"
	"unicode/utf8"

	"gopkg.in/yaml.v3"
)

// Mapping a position in the text of a scalar (a detection's search, a macro's definition) back to the YAML file.
//
// The line and column are exact for the forms ESCU uses: a one-line scalar (v4, plain or quoted; quote escapes such
// as '' and \" are counted) and a literal block (`|-`, v5, also with an indentation indicator such as `|2-`), where
// text line L sits at file line Origin.Line+L-1 and the column is the block indentation plus the text column. Folded forms (`>` blocks and plain scalars wrapped over
// several lines) join their lines with spaces: each file line is found in the text in turn, which gives the line and
// column too. Where that fails (a form not foreseen, a quoted scalar wrapped over several lines) the column is
// reported as 0 (unknown) and the line is the scalar's first.

// searchStartLine is the file line on which the search text begins.
func searchStartLine(n *yaml.Node) int {
	if n.Style&(yaml.LiteralStyle|yaml.FoldedStyle) != 0 {
		return n.Line + 1 // a block's text starts below its `|-` or `>` indicator
	}
	return n.Line
}

// scalarPosition maps a 1-based line and column (counted in characters) of the text of scalar n to the file.
func scalarPosition(data []byte, n *yaml.Node, textLine, textCol int) (line, col int) {
	lines := strings.Split(string(data), "\n")
	quoted := n.Style&(yaml.SingleQuotedStyle|yaml.DoubleQuotedStyle) != 0
	switch {
	case n.Style&yaml.LiteralStyle != 0:
		// The end of the text ("unexpected end") is after its last character, not on the line after the block
		// that the text's final line breaks lead to.
		last := strings.TrimRight(n.Value, "\n")
		if lastLine := strings.Count(last, "\n") + 1; textLine > lastLine {
			textLine, textCol = lastLine, utf8.RuneCountInString(last[strings.LastIndexByte(last, '\n')+1:])+1
		}
		return n.Line + textLine, blockIndent(lines, n) + textCol
	case n.Style&yaml.FoldedStyle != 0 || !quoted:
		if line, col, ok := foldedPosition(lines, n, textLine, textCol); ok {
			return line, col
		}
		if n.Style&yaml.FoldedStyle != 0 {
			return n.Line + 1, 0
		}
	}
	if textLine != 1 || n.Line < 1 || n.Line > len(lines) {
		return n.Line, 0
	}
	src := []rune(lines[n.Line-1])
	pos := skipProperties(src, n.Column-1)
	quote := rune(0)
	switch {
	case n.Style&yaml.SingleQuotedStyle != 0:
		quote = '\''
		pos++
	case n.Style&yaml.DoubleQuotedStyle != 0:
		quote = '"'
		pos++
	}
	for range textCol - 1 {
		if pos >= len(src) {
			return n.Line, 0 // the scalar continues on a folded line
		}
		switch {
		case quote == '\'' && src[pos] == '\'' && pos+1 < len(src) && src[pos+1] == '\'':
			pos += 2
		case quote == '"' && src[pos] == '\\':
			// An escape is one character of the text: \xXX, \uXXXX and \UXXXXXXXX take more of the line.
			switch pos += 2; {
			case pos-1 >= len(src):
			case src[pos-1] == 'x':
				pos += 2
			case src[pos-1] == 'u':
				pos += 4
			case src[pos-1] == 'U':
				pos += 8
			}
		default:
			pos++
		}
	}
	if pos > len(src) {
		return n.Line, 0
	}
	return n.Line, pos + 1
}

// foldedPosition maps a position of the text of a folded block or a plain scalar, whose file lines YAML joins with
// spaces (an empty line is a line break), to the file. It finds each file line of the scalar in the text in turn,
// separated by nothing but spaces and line breaks; ok is false if one is not where it should be.
func foldedPosition(lines []string, n *yaml.Node, textLine, textCol int) (line, col int, ok bool) {
	text := n.Value
	off, ok := textOffset(text, textLine, textCol)
	if !ok || n.Line < 1 {
		return 0, 0, false
	}
	block := n.Style&yaml.FoldedStyle != 0
	first, indent := n.Line, 0
	if block {
		first, indent = n.Line+1, blockIndent(lines, n)
	}
	cursor := 0           // how much of text the file lines so far account for
	lastLine, end := 0, 0 // the last file line found, and the column after its text
	for l := first; l <= len(lines) && strings.Trim(text[cursor:], " \n") != ""; l++ {
		raw := strings.TrimSuffix(lines[l-1], "\r")
		start := 0 // the byte offset of the line's part of the text in raw
		switch {
		case strings.TrimSpace(raw) == "":
			continue // a line break in the text
		case block:
			if len(raw)-len(strings.TrimLeft(raw, " ")) < indent {
				return 0, 0, false // the block ends before its text does
			}
			start = indent
		case l == n.Line:
			start = runeOffset(raw, n.Column-1)
			start += len(skipPropertiesString(raw[start:]))
		default:
			start = len(raw) - len(strings.TrimLeft(raw, " \t"))
		}
		part := raw[start:]
		if !block {
			part = strings.TrimRight(part, " \t")
		}
		i := strings.Index(text[cursor:], part)
		if i < 0 || strings.Trim(text[cursor:cursor+i], " \n") != "" {
			return 0, 0, false
		}
		from := cursor + i
		cursor = from + len(part)
		startCol := utf8.RuneCountInString(raw[:start]) + 1
		if off <= cursor {
			return l, startCol + utf8.RuneCountInString(text[from:max(from, off)]), true
		}
		lastLine, end = l, startCol+utf8.RuneCountInString(part)
	}
	if lastLine == 0 || strings.Trim(text[cursor:], " \n") != "" {
		return 0, 0, false
	}
	return lastLine, end, true // past the last line's text: the text's end
}

// textOffset is the byte offset of a 1-based line and character column of text.
func textOffset(text string, line, col int) (int, bool) {
	off := 0
	for range line - 1 {
		i := strings.IndexByte(text[off:], '\n')
		if i < 0 {
			return 0, false
		}
		off += i + 1
	}
	lineEnd := len(text)
	if i := strings.IndexByte(text[off:], '\n'); i >= 0 {
		lineEnd = off + i
	}
	if col < 1 || col-1 > utf8.RuneCountInString(text[off:lineEnd]) {
		return 0, false
	}
	return off + runeOffset(text[off:lineEnd], col-1), true
}

// runeOffset is the byte offset of the n-th character of s (len(s) past its end).
func runeOffset(s string, n int) int {
	for i := range s {
		if n == 0 {
			return i
		}
		n--
	}
	return len(s)
}

// blockIndent is the indentation of block scalar n's text, whose indicator is on file line n.Line: the spaces its
// file lines have before the text. It is read by matching the text's first non-blank line against the first
// non-blank file line below the indicator: with an indentation indicator (`|2-`) that line may keep spaces of its own,
// which are text, not indentation. Else it is that line's leading spaces.
func blockIndent(lines []string, n *yaml.Node) int {
	first := ""
	for _, t := range strings.Split(n.Value, "\n") {
		if strings.TrimSpace(t) != "" {
			first = t
			break
		}
	}
	for _, l := range lines[min(n.Line, len(lines)):] {
		raw := strings.TrimRight(l, " \t\r")
		if raw == "" {
			continue
		}
		lead := len(raw) - len(strings.TrimLeft(raw, " "))
		// The fewest spaces that leave the rest of the line at the start of the text: fewer would leave spaces
		// that the text does not start with.
		for i := 0; i <= lead; i++ {
			if first != "" && strings.HasPrefix(first, raw[i:]) {
				return i
			}
		}
		return lead
	}
	return 0
}

// skipProperties returns the position of a scalar's text on its line: n.Column is that of a tag (`!!str`) or an
// anchor (`&x`) written before it, if any, and of the spaces after them.
func skipProperties(src []rune, pos int) int {
	for pos < len(src) && (src[pos] == '!' || src[pos] == '&') {
		for pos < len(src) && src[pos] != ' ' && src[pos] != '\t' {
			pos++
		}
		for pos < len(src) && (src[pos] == ' ' || src[pos] == '\t') {
			pos++
		}
	}
	return pos
}

// skipPropertiesString is skipProperties on the rest of a line: the tag and anchor part it starts with.
func skipPropertiesString(rest string) string {
	r := []rune(rest)
	return string(r[:skipProperties(r, 0)])
}
