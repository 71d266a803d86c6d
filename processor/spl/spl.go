// Package spl compiles the Splunk SPL of ESCU detections into auditdetect's rule model.
//
// It works in three steps, as regexp/syntax and OTTL do: a lexer turns the search text into tokens with byte
// offsets, a parser builds an SPL syntax tree (expanding macros as it goes and rejecting what a streaming engine
// cannot run), and a compile step turns the tree into a rule.Expr filter and a []rule.Stage pipeline. LANGUAGE.md
// lists the supported subset and where it differs from Splunk.
package spl

import (
	"fmt"
	"strings"
	"unicode/utf8"

	"github.com/auditdetect/auditdetect/processor/rule"
)

// Macros maps a macro name to its SPL definition (without backticks).
//
// A macro that takes arguments is keyed `name(N)` (N arguments, substituted positionally into the `$...$`
// placeholders of the definition in order of first appearance) or `name(arg1,arg2)` (substituted by name), the form
// escu.ParseMacro returns for security_content macro files with `arguments:`.
type Macros map[string]string

// DefaultMacros returns the macros every search can use without defining them. `kube_audit` matches every event:
// the processor already sits in a Kubernetes audit pipeline, so Splunk's `source="kubernetes"` would match nothing.
// Undefined `*_filter` macros (the per-detection exception hooks) are handled separately and expand to `search *`.
func DefaultMacros() Macros {
	return Macros{"kube_audit": "*"}
}

// Error is a search that cannot be compiled. Line and Column (1-based, Column counted in characters) locate the
// fault within the search text; the caller adds the file name and the search's own line offset.
type Error struct {
	Line, Column int
	Reason       string
	// Macro is set when the fault lies inside a macro's definition. Line and Column are then those of the macro's
	// reference in the search, and Reason is Macro.Describe with the fault's position in the definition
	// ("definition 1:5"); a caller that knows where the macro is defined can say that instead.
	Macro *MacroFault
}

// MacroFault is a fault inside the definition of a macro.
type MacroFault struct {
	// Chain lists the macros expanded to reach the fault, as referenced (`name`, or `name(N)` with N arguments):
	// first the one the search references, last the one whose definition holds the fault.
	Chain []string
	// Key is the key of that last macro in the Macros given to Compile (`name(a,b)` for named arguments), or in
	// DefaultMacros.
	Key string
	// Line and Column (1-based, Column counted in characters) locate the fault in that definition as written,
	// before arguments are substituted: a fault within an argument is at its placeholder.
	Line, Column int
	// Reason is the fault itself.
	Reason string
}

// Describe says the fault as an Error's Reason does; where says where in the definition it is: "definition 1:5",
// or a file's line and column.
func (f *MacroFault) Describe(where string) string {
	return fmt.Sprintf("in macro `%s` (%s): %s", strings.Join(f.Chain, "` -> `"), where, f.Reason)
}

func (e *Error) Error() string {
	return fmt.Sprintf("line %d, column %d: %s", e.Line, e.Column, e.Reason)
}

// Compile compiles an ESCU `search:` into the per-event filter (the base search) and the pipeline (the commands
// after the first pipe). macros are consulted before DefaultMacros. A match-all base search compiles to rule.True.
// Errors are *Error.
func Compile(search string, macros Macros) (filter rule.Expr, pipeline []rule.Stage, err error) {
	return CompileWith(search, macros, nil)
}

// posError is an error at a byte offset of the text being parsed.
type posError struct {
	pos    int
	reason string
	macro  *MacroFault // a fault inside a macro referenced at pos (wrapMacroErr)
}

func (e *posError) Error() string { return e.reason }

func errAt(pos int, format string, args ...any) *posError {
	return &posError{pos: pos, reason: fmt.Sprintf(format, args...)}
}

// toError converts the offset into a line and a column of src.
func (e *posError) toError(src string) *Error {
	line, col := lineCol(src, e.pos)
	return &Error{Line: line, Column: col, Reason: e.reason, Macro: e.macro}
}

// lineCol returns the 1-based line and character column of byte offset pos in src.
func lineCol(src string, pos int) (line, col int) {
	pos = max(0, min(pos, len(src)))
	before := src[:pos]
	line = strings.Count(before, "\n") + 1
	if i := strings.LastIndexByte(before, '\n'); i >= 0 {
		before = before[i+1:]
	}
	return line, utf8.RuneCountInString(before) + 1
}
