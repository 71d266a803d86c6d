package spl

import (
	"fmt"
	"slices"
	"strconv"
	"strings"
)

// maxMacroDepth bounds macro nesting; cycles are caught sooner, by name.
const maxMacroDepth = 20

// maxMacroExpansions and maxMacroBytes bound what one search's macros expand into, in all. Depth alone does not:
// a macro that references the one below it twice, 20 levels deep, expands a million times (5 s and 3 GB at 18
// levels), and one that passes its argument on twice doubles its text at each level. Real searches expand a few
// macros of a few hundred bytes; the byte bound is that of a whole rule file.
const (
	maxMacroExpansions = 1000
	maxMacroBytes      = 1 << 20
)

// expansionBudget counts what one search's macros have expanded into so far.
type expansionBudget struct{ expansions, bytes int }

// A macro reference is expanded by parsing its definition on its own, as one parenthesised search expression in
// a search, or as one or more commands at command position. That keeps precedence (`NOT `m`` negates the whole
// macro), keeps macros from swallowing surrounding syntax, and lets errors name the macro.

// expandExpr expands a macro used inside a search expression.
func (p *parser) expandExpr(t token) (node, *posError) {
	x, key, err := p.resolve(t)
	if err != nil {
		return nil, err
	}
	if x == nil {
		// An undefined *_filter macro is `search *` only as a command. Splunk rejects an undefined macro, and taking
		// it for * here would turn `NOT `x_filter`` into a search that matches nothing.
		return nil, errAt(t.pos, "undefined macro `%s` (an undefined *_filter macro stands for `search *` only as a "+
			"pipeline command, | `%s`)", key, key)
	}
	if strings.TrimSpace(x.text) == "" {
		return allNode{}, nil // expands to nothing
	}
	sub := p.sub(x.text, key)
	n, err := sub.parseAnd()
	if err == nil {
		var end token
		if end, err = sub.next(); err == nil {
			switch end.kind {
			case kEOF:
			case kPipe:
				err = errAt(end.pos, "expands to a pipeline, but is used inside a search expression")
			default:
				err = errAt(end.pos, "unexpected %s", end.describe())
			}
		}
	}
	if err != nil {
		return nil, wrapMacroErr(t, x, err)
	}
	return at(n, t.pos, x), nil
}

// at places the terms of the expansion x at the macro reference (pos), and keeps in each where x's definition (or
// the innermost one, when macros nest) wrote it: a later check of the whole search (checkMetadata) then points at
// the reference, not at an offset of the definition read as one of the search, and names the macro and the place.
func at(n node, pos int, x *expansion) node {
	// origin is the term's place, written at termPos of x.text, given its place in a nested expansion (o).
	origin := func(termPos int, o *MacroFault) *MacroFault {
		if o != nil {
			f := *o
			f.Chain = append([]string{x.ref}, o.Chain...)
			return &f
		}
		if _, inArgument := x.argumentAt(termPos); inArgument {
			return nil // written where the reference is: the level above places it
		}
		line, col := lineCol(x.written, x.writtenOffset(termPos))
		return &MacroFault{Chain: []string{x.ref}, Key: x.key, Line: line, Column: col}
	}
	switch n := n.(type) {
	case andNode:
		out := make(andNode, len(n))
		for i, y := range n {
			out[i] = at(y, pos, x)
		}
		return out
	case orNode:
		out := make(orNode, len(n))
		for i, y := range n {
			out[i] = at(y, pos, x)
		}
		return out
	case notNode:
		return notNode{x: at(n.x, pos, x)}
	case cmpNode:
		n.origin, n.pos = origin(n.pos, n.origin), pos
		return n
	case inNode:
		n.origin, n.pos = origin(n.pos, n.origin), pos
		return n
	}
	return n
}

// expandCommands expands a macro used as a pipeline command.
func (p *parser) expandCommands(t token) ([]command, *posError) {
	x, key, err := p.resolve(t)
	if err != nil {
		return nil, err
	}
	if x == nil { // an undefined *_filter macro: `search *`, which filters nothing
		return nil, nil
	}
	if strings.TrimSpace(x.text) == "" {
		return nil, errAt(t.pos, "macro `%s` is empty but is used as a pipeline command", key)
	}
	sub := p.sub(x.text, key)
	first, err := sub.parseCommand()
	var rest []command
	if err == nil {
		rest, err = sub.parseCommands()
	}
	if err != nil {
		return nil, wrapMacroErr(t, x, err)
	}
	return append(first, rest...), nil
}

// wrapMacroErr places an error found inside the expansion x at the macro reference t. The fault keeps its place in
// the definition that holds it, the innermost when macros nest: the reference names the chain of macros down to it.
func wrapMacroErr(t token, x *expansion, err *posError) *posError {
	if arg, ok := x.argumentAt(err.pos); ok && err.macro == nil {
		// The fault is in text the reference passed as an argument, written where the reference is (the search, or
		// the definition of the macro that holds the reference): not this macro's fault, nor its file's.
		return errAt(t.pos, "in argument %d of macro `%s`: %s", arg, x.ref, err.reason)
	}
	var f MacroFault
	if err.macro != nil {
		f = *err.macro
	} else {
		f.Key, f.Reason = x.key, err.reason
		f.Line, f.Column = lineCol(x.written, x.writtenOffset(err.pos))
	}
	f.Chain = append([]string{x.ref}, f.Chain...)
	return &posError{pos: t.pos, reason: f.Describe(fmt.Sprintf("definition %d:%d", f.Line, f.Column)), macro: &f}
}

// expansion is the definition of a referenced macro, ready to parse.
type expansion struct {
	ref     string    // the macro as referenced, `name` or `name(N)`, for messages and cycle detection
	key     string    // its key in Macros (or DefaultMacros)
	written string    // its definition as written
	text    string    // its definition with the arguments substituted
	args    []argSpan // where they were, in order
}

// argSpan is an argument substituted into a definition: text[from:to] stands for the placeholder written[at:at+n].
type argSpan struct{ from, to, at, n, arg int }

// argumentAt returns the 1-based number of the argument whose substituted text holds byte offset pos of x.text.
func (x *expansion) argumentAt(pos int) (arg int, ok bool) {
	for _, a := range x.args {
		if a.from <= pos && pos < a.to {
			return a.arg, true
		}
	}
	return 0, false
}

// writtenOffset maps a byte offset of x.text to the definition as written. An offset inside an argument maps to
// its placeholder.
func (x *expansion) writtenOffset(pos int) int {
	shift := 0 // the written offset less the text offset, after the arguments before pos
	for _, a := range x.args {
		if pos < a.from {
			break
		}
		if pos < a.to {
			return a.at
		}
		shift = a.at + a.n - a.to
	}
	return pos + shift
}

// resolve finds the definition of the macro referenced by t, arguments substituted. It returns a nil expansion for
// an undefined `*_filter` macro, and the macro's reference key (`name` or `name(N)`) for messages and cycle
// detection.
func (p *parser) resolve(t token) (x *expansion, key string, err *posError) {
	name, args, ok := splitMacro(t.text)
	if !ok {
		return nil, "", errAt(t.pos, "malformed macro reference `%s`", t.text)
	}
	key = name
	if len(args) > 0 {
		key = name + "(" + strconv.Itoa(len(args)) + ")"
	}
	if i := slices.Index(p.stack, key); i >= 0 {
		chain := append(slices.Clone(p.stack[i:]), key)
		return nil, key, errAt(t.pos, "macro cycle: `%s`", strings.Join(chain, "` -> `"))
	}
	if len(p.stack) >= maxMacroDepth {
		return nil, key, errAt(t.pos, "macros nested too deeply (more than %d levels) at `%s`", maxMacroDepth, key)
	}
	x = lookupMacro(p.macros, name, args)
	if x == nil {
		x = lookupMacro(DefaultMacros(), name, args)
	}
	if x != nil {
		x.ref = key
		b := p.expanded
		if b.expansions++; b.expansions > maxMacroExpansions {
			return nil, key, errAt(t.pos, "macros expand more than %d times in one search, at `%s` (does a macro "+
				"reference another several times, over several levels?)", maxMacroExpansions, key)
		}
		if b.bytes += len(x.text); b.bytes > maxMacroBytes {
			return nil, key, errAt(t.pos, "macros expand into more than %d bytes in one search, at `%s` (does a "+
				"macro pass its argument on several times, over several levels?)", maxMacroBytes, key)
		}
		return x, key, nil
	}
	if len(args) == 0 && strings.HasSuffix(name, "_filter") {
		return nil, key, nil
	}
	if n := arities(p.macros, name); len(n) > 0 {
		return nil, key, errAt(t.pos, "macro `%s` takes %s, not %d", name, plural(n), len(args))
	}
	return nil, key, errAt(t.pos, "undefined macro `%s` (load its macro file with the rules, as security_content's "+
		"macros/ folder, or define it in the macros setting)", key)
}

// arities returns the argument counts the macros named name are defined with, in order.
func arities(m Macros, name string) []int {
	var out []int
	for k := range m {
		if k == name {
			out = append(out, 0)
			continue
		}
		inner, ok := strings.CutPrefix(k, name+"(")
		if !ok || !strings.HasSuffix(inner, ")") {
			continue
		}
		inner = strings.TrimSuffix(inner, ")")
		if n, err := strconv.Atoi(strings.TrimSpace(inner)); err == nil {
			out = append(out, n)
		} else {
			out = append(out, len(strings.Split(inner, ",")))
		}
	}
	slices.Sort(out)
	return slices.Compact(out)
}

// plural says argument counts: "1 argument", "0 or 2 arguments".
func plural(ns []int) string {
	parts := make([]string, len(ns))
	for i, n := range ns {
		parts[i] = strconv.Itoa(n)
	}
	noun := "arguments"
	if len(ns) == 1 && ns[0] == 1 {
		noun = "argument"
	}
	return strings.Join(parts, " or ") + " " + noun
}

// splitMacro splits `name(arg1, "arg 2")` into its name and arguments.
func splitMacro(body string) (name string, args []string, ok bool) {
	open := strings.IndexByte(body, '(')
	if open < 0 {
		return body, nil, !strings.ContainsFunc(body, func(r rune) bool { return r <= ' ' })
	}
	name = strings.TrimSpace(body[:open])
	if name == "" || !strings.HasSuffix(body, ")") || strings.ContainsFunc(name, func(r rune) bool { return r <= ' ' }) {
		return "", nil, false
	}
	inner := body[open+1 : len(body)-1]
	if strings.TrimSpace(inner) == "" {
		return name, nil, true
	}
	var cur strings.Builder
	quoted := false
	for i := 0; i < len(inner); i++ {
		c := inner[i]
		switch {
		case c == '\\' && i+1 < len(inner):
			cur.WriteByte(c)
			i++
			cur.WriteByte(inner[i])
			continue
		case c == '"':
			quoted = !quoted
		case c == ',' && !quoted:
			args = append(args, strings.TrimSpace(cur.String()))
			cur.Reset()
			continue
		}
		cur.WriteByte(c)
	}
	return name, append(args, strings.TrimSpace(cur.String())), !quoted
}

// lookupMacro finds name with len(args) arguments, key `name`, `name(N)` (positional), or `name(a,b)` (named), and
// substitutes the arguments. It returns nil if m has none.
func lookupMacro(m Macros, name string, args []string) *expansion {
	if len(args) == 0 {
		def, ok := m[name]
		if !ok {
			return nil
		}
		return &expansion{key: name, written: def, text: def}
	}
	k := name + "(" + strconv.Itoa(len(args)) + ")"
	if def, ok := m[k]; ok {
		x := &expansion{key: k, written: def}
		x.text, x.args = substitute(def, placeholders(def), args)
		return x
	}
	// Named keys: pick the lexically first that fits, so the choice does not depend on map order.
	var best string
	var names []string
	for k := range m {
		inner, ok := strings.CutPrefix(k, name+"(")
		if !ok || !strings.HasSuffix(inner, ")") {
			continue
		}
		inner = strings.TrimSuffix(inner, ")")
		if _, err := strconv.Atoi(strings.TrimSpace(inner)); err == nil {
			continue // name(N) with another N
		}
		params := strings.Split(inner, ",")
		if len(params) != len(args) || (best != "" && k > best) {
			continue
		}
		for i := range params {
			params[i] = strings.TrimSpace(params[i])
		}
		best, names = k, params
	}
	if best == "" {
		return nil
	}
	x := &expansion{key: best, written: m[best]}
	x.text, x.args = substitute(x.written, names, args)
	return x
}

// placeholders lists the distinct `$name$` placeholders of def in order of first appearance.
func placeholders(def string) []string {
	var names []string
	for rest := def; ; {
		i := strings.IndexByte(rest, '$')
		if i < 0 {
			return names
		}
		j := strings.IndexByte(rest[i+1:], '$')
		if j < 0 {
			return names
		}
		if n := rest[i+1 : i+1+j]; n != "" && !strings.ContainsFunc(n, func(r rune) bool { return r <= ' ' }) {
			if !slices.Contains(names, n) {
				names = append(names, n)
			}
			rest = rest[i+1+j+1:]
		} else {
			rest = rest[i+1:]
		}
	}
}

// substitute replaces `$names[i]$` with args[i] in one pass from the left, so an argument is never substituted
// again; where two placeholders match at one place, the first of names wins. It also returns where the arguments
// went, to map a position of the result back to def.
func substitute(def string, names, args []string) (string, []argSpan) {
	names = names[:min(len(names), len(args))]
	if len(names) == 0 {
		return def, nil
	}
	var b strings.Builder
	var spans []argSpan
	for i := 0; i < len(def); {
		j := -1
		if def[i] == '$' {
			j = slices.IndexFunc(names, func(n string) bool { return strings.HasPrefix(def[i+1:], n+"$") })
		}
		if j < 0 {
			b.WriteByte(def[i])
			i++
			continue
		}
		spans = append(spans, argSpan{from: b.Len(), to: b.Len() + len(args[j]), at: i, n: len(names[j]) + 2, arg: j + 1})
		b.WriteString(args[j])
		i += len(names[j]) + 2
	}
	return b.String(), spans
}
