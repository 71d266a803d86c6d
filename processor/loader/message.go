package loader

import (
	"slices"

	"go.uber.org/zap"

	"github.com/auditdetect/auditdetect/processor/lint"
	"github.com/auditdetect/auditdetect/processor/rule"
)

// checkMessage warns of each $field$ token of r's risk message that no result row can ever fill, read as package rba
// reads them (rule.MessageTokens): it stays as written in every risk record, as Splunk ES leaves it. When the rows'
// fields are known (a stats, table or fields bounds them: resultFields), a token outside them can never be filled;
// when the rows are the event, a token that names neither a field the search's own stages set (eval, rex, rename,
// fillnull, iplocation...) nor a field an audit event can have a value for (lint.NoValue: `user` is an object,
// `sourceIPs` is spelt sourceIPs{}), or one a rename or projection took away. A field a table or fields names is no
// exception: Splunk's table shows an empty column for it, which fills no token. $_time$ is filled only where a command
// reads _time or a projection names it. A rule with a stage this does not know is not checked. The rule still loads:
// the rest of its message is written.
func checkMessage(r *rule.Rule, log *zap.Logger) {
	res, known := rowFields(r)
	if !known {
		return
	}
	never := map[string]string{} // a token no row fills, and why when it can be said
	fills := func(name string) bool {
		named := slices.Contains(res.named, name)
		switch {
		case slices.Contains(res.fields, name):
			if !named || name == "_time" {
				return true
			}
			// A table or fields of names keeps the event's field: the event must have it.
			why, no := lint.NoValue(name)
			if !no {
				return true
			}
			never[name] = "a table or fields names it, but " + why
		case !res.open && named:
			never[name] = "a table or fields names it, but no result row holds it (Splunk's table shows an empty column)"
		case !res.open:
			never[name] = ""
		case slices.Contains(res.hidden, name):
			never[name] = "the search renames it"
		case !res.fromEvent(name):
			never[name] = "a table or fields leaves it out"
		case name == "_time":
			// Not the event's member: Splunk's event time, which the engine puts in a row for the commands that read
			// it (LANGUAGE.md, _time), not for a message.
			never[name] = "_time (the event's time) is in a row only when a command reads it or a table or fields " +
				"names it, and no command of this search leaves it in the rows"
		default:
			why, no := lint.NoValue(name)
			if !no {
				return true
			}
			never[name] = why
		}
		return false
	}
	said := map[string]bool{}
	for _, name := range rule.MessageTokens(r.Risk.Message, fills) {
		why, unfilled := never[name]
		if !unfilled || said[name] {
			continue
		}
		said[name] = true
		fields := []zap.Field{zap.String("rule", r.Name), zap.String("file", r.Origin.String()),
			zap.String("token", "$"+name+"$"), zap.Strings("results", res.describe())}
		if why != "" {
			fields = append(fields, zap.String("reason", why))
		}
		log.Warn("Rule's risk message names a field its results never hold: the token stays as written in its risk "+
			"records", fields...)
	}
}
