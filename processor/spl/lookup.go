package spl

import (
	"slices"
	"strings"
	"time"

	"github.com/auditdetect/auditdetect/processor/internal/timefmt"
	"github.com/auditdetect/auditdetect/processor/rule"
)

// Lookups gives the lookup tables a search may name (`| lookup <name> ...`). The loader reads a table when a search
// first names it, so that a lookup no rule uses costs nothing.
type Lookups interface {
	// Table returns the lookup named name, which may also be a CSV file's name (`users.csv`, `users.csv.gz`:
	// rule.IsLookupFileName): Splunk's lookup takes "the name of a CSV file that you want to use as the lookup" as
	// well as a lookup definition's. ok is false when no lookup (no file) of that name is known; err says why one
	// that is cannot be used (its CSV file does not read), which fails the rule that names it.
	Table(name string) (t *rule.LookupTable, ok bool, err error)
}

// LookupTables is Lookups over tables at hand, by name.
type LookupTables map[string]*rule.LookupTable

func (m LookupTables) Table(name string) (*rule.LookupTable, bool, error) {
	t, ok := m[name]
	return t, ok, nil
}

// CompileWith is Compile for a search that may name lookups: `| lookup` resolves its table in lookups when the search
// is compiled, so that a lookup that is not defined, or a field its table does not have, fails the rule there.
func CompileWith(search string, macros Macros, lookups Lookups) (filter rule.Expr, pipeline []rule.Stage, err error) {
	return CompileIn(search, macros, Env{Lookups: lookups})
}

// Env is what a search is compiled against besides its text and macros.
type Env struct {
	// Lookups are the lookup tables `| lookup` can name (nil: none).
	Lookups Lookups
	// TimeZone is the zone of the user Splunk would run the search as (a scheduled search's owner): convert's ctime
	// and mktime, strftime and strptime, and bin's spans of days work in it (LANGUAGE.md, "Time zone"). nil is UTC.
	TimeZone *time.Location
}

// LoadTimeZone returns the IANA time zone named name (UTC, Europe/Berlin) for Env.TimeZone; an error says why there
// is none: an unknown name, or "" or "Local", which name the host's zone, not a user's.
func LoadTimeZone(name string) (*time.Location, error) {
	return timefmt.Zone(name)
}

// CompileIn is Compile against env: its lookups, as CompileWith, and its time zone.
func CompileIn(search string, macros Macros, env Env) (filter rule.Expr, pipeline []rule.Stage, err error) {
	p := newParser(search, macros, nil)
	p.lookups = env.Lookups
	if env.TimeZone != nil && env.TimeZone != time.UTC {
		p.zone = env.TimeZone.String()
	}
	q, perr := p.parseQuery()
	if perr != nil {
		return nil, nil, perr.toError(search)
	}
	filter, pipeline = compileQuery(q)
	return filter, pipeline, nil
}

// lookupCmd is `lookup`, its table resolved and its fields checked against the table's columns.
type lookupCmd struct{ l rule.Lookup }

func (lookupCmd) isCommand() {}

// lookupOptions are the lookup command's options. Both are about where and when Splunk runs the lookup (on the
// search head; a real-time search reading a file that changes), which a collector reading its tables at start-up
// and at each reload has no use for: accepted, and without effect.
var lookupOptions = map[string]bool{"local": true, "update": true}

// parseLookup parses `lookup [local=<bool>] [update=<bool>] <name> (<lookup-field> [AS <event-field>])...
// [OUTPUT|OUTPUTNEW (<lookup-destfield> [AS <event-destfield>])...]`, the syntax of Splunk's Search Reference. Without
// an OUTPUT clause, every column of the table that is not an input is an output, as Splunk reads it.
func (p *parser) parseLookup(cmd token) (command, *posError) {
	name, err := p.next()
	if err != nil {
		return nil, err
	}
	for name.kind == kWord {
		eq, err := p.peek()
		if err != nil {
			return nil, err
		}
		if eq.kind != kEq {
			break
		}
		if !lookupOptions[strings.ToLower(name.text)] {
			return nil, errAt(name.pos, "unsupported lookup option %q (lookup takes local= and update=, before the lookup's name)", name.text)
		}
		v, err := p.optionValue(name)
		if err != nil {
			return nil, err
		}
		if !isBool(v) {
			return nil, errAt(name.pos, "%s=%s: expected true or false", name.text, v)
		}
		if name, err = p.next(); err != nil {
			return nil, err
		}
	}
	if name.kind != kWord && name.kind != kString || name.text == "" {
		if name.kind == kLBracket {
			return nil, errAt(name.pos, "subsearches ([...]) are not supported")
		}
		return nil, errAt(cmd.pos, "lookup needs the name of a lookup, found %s", name.describe())
	}
	table, err := p.lookupTable(name)
	if err != nil {
		return nil, err
	}
	l := rule.Lookup{Table: table}
	output := false // OUTPUT or OUTPUTNEW seen
	err = p.eachListItem(func(t token) *posError {
		if t.kind == kWord && !output && (strings.EqualFold(t.text, "OUTPUT") || strings.EqualFold(t.text, "OUTPUTNEW")) {
			p.next()
			if len(l.Inputs) == 0 {
				return errAt(t.pos, "lookup %s needs an input field before %s", table.Name, strings.ToUpper(t.text))
			}
			output, l.New = true, strings.EqualFold(t.text, "OUTPUTNEW")
			return nil
		}
		pair, err := p.lookupField(table, output)
		if err != nil {
			return err
		}
		if output {
			l.Outputs = append(l.Outputs, pair)
		} else {
			l.Inputs = append(l.Inputs, pair)
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	switch {
	case len(l.Inputs) == 0:
		return nil, errAt(cmd.pos, "lookup %s needs at least one input field (lookup %s <field> [AS <event field>] ...)", table.Name, table.Name)
	case output && len(l.Outputs) == 0:
		return nil, errAt(cmd.pos, "lookup %s: OUTPUT needs at least one field of the lookup", table.Name)
	case !output:
		for _, c := range table.Columns {
			if !slices.ContainsFunc(l.Inputs, func(in rule.LookupField) bool { return in.Column == c }) {
				l.Outputs = append(l.Outputs, rule.LookupField{Column: c, Field: c})
			}
		}
		if len(l.Outputs) == 0 {
			return nil, errAt(cmd.pos, "lookup %s has no field but its input fields (%s): nothing to output",
				table.Name, strings.Join(table.Columns, ", "))
		}
	}
	return lookupCmd{l: l}, nil
}

// lookupTable resolves the lookup the name token names: a lookup's name, or a CSV file's name (`users.csv`,
// `users.csv.gz`), the table of that file (Lookups.Table).
func (p *parser) lookupTable(name token) (*rule.LookupTable, *posError) {
	if p.lookups != nil {
		t, ok, err := p.lookups.Table(name.text)
		if err != nil {
			return nil, errAt(name.pos, "lookup %s: %v", name.text, err)
		}
		if ok {
			return t, nil
		}
	}
	if rule.IsLookupFileName(name.text) {
		return nil, errAt(name.pos, "no lookup table file %s: no lookup loaded with the rules has it as its table (a "+
			"lookup file's filename:, or <name>.csv beside lookups/<name>.yml), and the lookups setting gives no file of "+
			"that name", name.describe())
	}
	return nil, errAt(name.pos, "undefined lookup %s (load its lookup file with the rules, as security_content's lookups/ "+
		"folder: %s.yml beside its CSV file, or give its CSV file in the lookups setting)", name.describe(), name.text)
}

// lookupField reads `<field> [AS <field>]`: a column of the table, and the row field it is matched against (an
// input) or written to (an output).
func (p *parser) lookupField(table *rule.LookupTable, output bool) (rule.LookupField, *posError) {
	t, _ := p.peek()
	column, err := p.fieldArg("a field of the lookup")
	if err != nil {
		return rule.LookupField{}, err
	}
	if table.Column(column) < 0 {
		return rule.LookupField{}, errAt(t.pos, "lookup %s has no field %q (its fields: %s)", table.Name, column,
			strings.Join(table.Columns, ", "))
	}
	f := rule.LookupField{Column: column, Field: column}
	if ok, err := p.peekWord("as", false); err != nil {
		return f, err
	} else if ok {
		p.next()
		what := "the event field it is matched against"
		if output {
			what = "the field it is written to"
		}
		if f.Field, err = p.fieldArg(what + " after AS"); err != nil {
			return f, err
		}
	}
	return f, nil
}

func isBool(v string) bool {
	switch strings.ToLower(v) {
	case "true", "false", "t", "f", "1", "0", "yes", "no":
		return true
	}
	return false
}
