package spl

import "github.com/auditdetect/auditdetect/processor/rule"

// The SPL syntax tree. Macros are already expanded in it, and the parser has rejected everything the compile step
// cannot express, so compiling a tree never fails.

// query is a whole search: the base search and the commands after it.
type query struct {
	search node
	cmds   []command
}

// node is a search-command expression (base search, `| search`, macro bodies).
type node interface{ isNode() }

type (
	andNode []node
	orNode  []node
	notNode struct{ x node }
	// allNode is the bare `*` term.
	allNode struct{}
	// cmpNode is `field op value`.
	cmpNode struct {
		pos    int // of the field name
		field  string
		op     rule.Op
		val    value
		origin *MacroFault // where a macro's definition wrote the term (at), for messages; nil in the search itself
	}
	// inNode is `field IN (v1, v2, ...)`.
	inNode struct {
		pos    int
		field  string
		vals   []value
		origin *MacroFault // as cmpNode's
	}
)

func (andNode) isNode() {}
func (orNode) isNode()  {}
func (notNode) isNode() {}
func (allNode) isNode() {}
func (cmpNode) isNode() {}
func (inNode) isNode()  {}

// value is a search-command value: its literal text and its glob form (see token).
type value struct {
	text, glob string
}

// command is one pipeline command.
type command interface{ isCommand() }

type (
	searchCmd struct{ x node }
	whereCmd  struct{ x wexpr }
	fillCmd   struct {
		value  string
		fields []string
	}
	renameCmd struct{ pairs []rule.RenamePair }
	statsCmd  struct {
		aggs []rule.Aggregate
		by   []string
	}
	iplocCmd struct{ field, prefix string }
	// evalCmd is `eval` or `rex`: fields computed in order.
	evalCmd struct{ evals []rule.Eval }
	// projectCmd is `table` or `fields`: the names (with `*` wildcards) to keep, or with remove to take away.
	projectCmd struct {
		names   []string
		remove  bool
		ordered bool // table
		// internal: `fields` keeps Splunk's internal fields (`_time`...) that it does not name.
		internal bool
	}
)

func (searchCmd) isCommand()  {}
func (whereCmd) isCommand()   {}
func (fillCmd) isCommand()    {}
func (renameCmd) isCommand()  {}
func (statsCmd) isCommand()   {}
func (iplocCmd) isCommand()   {}
func (evalCmd) isCommand()    {}
func (projectCmd) isCommand() {}

// wexpr is a `where` expression, already restricted to the boolean forms the rule model can hold.
type wexpr interface{ isWexpr() }

type (
	wAnd struct{ l, r wexpr }
	wOr  struct{ l, r wexpr }
	wNot struct{ x wexpr }
	// wCmp compares a field with a constant (op already oriented field-first).
	wCmp struct {
		field string
		op    rule.Op
		lit   string
		num   bool // lit is an unquoted number: = and != compare numerically
	}
	// wFunc is a boolean function: like, match, cidrmatch (with a pattern), isnull, isnotnull, or true, false (no field).
	wFunc struct {
		name  string
		field string
		pat   rule.Pattern
	}
	// wValCmp compares computed values (`len(x) > 5`, `a + b > c`, `a < b`); text when both are strings to eval.
	wValCmp struct {
		l, r rule.Value
		op   rule.Op
		text bool
	}
	// wValTest holds when a computed value is not null (isnotnull(), and isnum/isint/isstr of a filter of the value).
	wValTest struct{ v rule.Value }
	// wNever is a comparison with null(): never true, under NOT too.
	wNever struct{}
)

func (wAnd) isWexpr()     {}
func (wOr) isWexpr()      {}
func (wNot) isWexpr()     {}
func (wCmp) isWexpr()     {}
func (wFunc) isWexpr()    {}
func (wValCmp) isWexpr()  {}
func (wValTest) isWexpr() {}
func (wNever) isWexpr()   {}
