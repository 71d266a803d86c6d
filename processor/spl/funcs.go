package spl

import (
	"net/netip"
	"regexp"
	"slices"
	"strconv"
	"strings"

	"github.com/auditdetect/auditdetect/processor/rule"
)

// The eval functions: conditions (where's and if's) and values. Each checks its arguments when the rule loads and
// compiles to the rule model; LANGUAGE.md says what each computes.

type condFunc func(p *parser, name token, args []item) (wexpr, *posError)

// condFuncs are the functions that are conditions.
var condFuncs = map[string]condFunc{
	"true":      truth,
	"false":     truth,
	"isnull":    nullTest,
	"isnotnull": nullTest,
	"like":      patternTest,
	"match":     patternTest,
	"cidrmatch": cidrTest,
	"in":        inTest,
	"isnum":     typeTest,
	"isint":     typeTest,
	"isstr":     typeTest,
}

type valueFunc func(p *parser, name token, args []item) (item, *posError)

// valueFuncs are the functions that are values.
var valueFuncs = map[string]valueFunc{
	"if":        ifValue,
	"case":      caseValue,
	"coalesce":  coalesceValue,
	"lower":     textCall,
	"upper":     textCall,
	"urldecode": textCall,
	"trim":      trimValue,
	"ltrim":     trimValue,
	"rtrim":     trimValue,
	"replace":   replaceValue,
	"null":      nullValue,
	"strftime":  timeValue,
	"strptime":  timeValue,
	"len":       lenValue,
	"length":    lenValue,
	"substr":    substrValue,
	"tonumber":  toNumberValue,
	"tostring":  toStringValue,
	"abs":       numberCall,
	"ceiling":   numberCall,
	"ceil":      numberCall,
	"floor":     numberCall,
	"round":     roundValue,
	"exact":     exactValue,
	"min":       extremeValue,
	"max":       extremeValue,
	"mvcount":   mvCall,
	"mvindex":   mvCall,
	"mvjoin":    mvCall,
	"split":     mvCall,
}

// funcUsage is how each value function is written, for errors.
var funcUsage = map[string]string{
	"if":        `if(condition, then, else)`,
	"case":      `case(condition, value, ...)`,
	"coalesce":  `coalesce(value, ..., "default")`,
	"lower":     `lower(value)`,
	"upper":     `upper(value)`,
	"urldecode": `urldecode(value)`,
	"trim":      `trim(value) or trim(value, "characters")`,
	"ltrim":     `ltrim(value) or ltrim(value, "characters")`,
	"rtrim":     `rtrim(value) or rtrim(value, "characters")`,
	"replace":   `replace(value, "regex", "replacement")`,
	"null":      `null()`,
	"strftime":  `strftime(time, "format")`,
	"strptime":  `strptime(text, "format")`,
	"len":       `len(value)`,
	"length":    `length(value)`,
	"substr":    `substr(value, start) or substr(value, start, length)`,
	"tonumber":  `tonumber(value) or tonumber(value, base)`,
	"tostring":  `tostring(value) or tostring(value, "hex"|"commas"|"duration")`,
	"abs":       `abs(number)`,
	"ceiling":   `ceiling(number)`,
	"ceil":      `ceil(number)`,
	"floor":     `floor(number)`,
	"round":     `round(number) or round(number, decimals)`,
	"exact":     `exact(value)`,
	"min":       `min(value, ...)`,
	"max":       `max(value, ...)`,
	"mvcount":   `mvcount(value)`,
	"mvindex":   `mvindex(value, start) or mvindex(value, start, end)`,
	"mvjoin":    `mvjoin(value, "delimiter")`,
	"split":     `split(value, "delimiter")`,
}

// supportedFuncs lists the functions, for the error naming one that is not.
var supportedFuncs = func() string {
	var names []string
	for n := range condFuncs {
		names = append(names, n)
	}
	for n := range valueFuncs {
		names = append(names, n)
	}
	slices.Sort(names)
	return strings.Join(names, ", ")
}()

// valueCondArg reports whether argument i of the value function fn is a condition (if's first, case's odd ones).
func valueCondArg(fn string, i int) bool {
	return fn == "if" && i == 0 || fn == "case" && i%2 == 0
}

func shape(name token, usage string) *posError {
	return errAt(name.pos, "%s takes %s", strings.ToLower(name.text), usage)
}

func usageOf(name token) string { return funcUsage[strings.ToLower(name.text)] }

// union is the type of a value that is one of several: theirs when they agree (null aside), else either.
func union(items ...item) vtype {
	t := tNull
	for _, it := range items {
		switch {
		case it.typ == tNull:
		case t == tNull:
			t = it.typ
		case t != it.typ:
			return tAny
		}
	}
	return t
}

func values(args []item) []rule.Value {
	out := make([]rule.Value, len(args))
	for i, a := range args {
		out[i] = a.val
	}
	return out
}

// Conditions.

func truth(_ *parser, name token, args []item) (wexpr, *posError) {
	fn := strings.ToLower(name.text)
	if len(args) != 0 {
		return nil, shape(name, fn+"()")
	}
	return wFunc{name: fn}, nil
}

func nullTest(_ *parser, name token, args []item) (wexpr, *posError) {
	fn := strings.ToLower(name.text)
	if len(args) != 1 || args[0].cond != nil {
		return nil, shape(name, "one value: "+fn+"(value)")
	}
	a := args[0]
	isnull := fn == "isnull"
	switch {
	case a.field != "":
		return wFunc{name: fn, field: a.field}, nil
	case a.lit:
		if (a.typ == tNull) == isnull {
			return wFunc{name: "true"}, nil
		}
		return wFunc{name: "false"}, nil
	case isnull:
		return wNot{x: wValTest{v: a.val}}, nil
	}
	return wValTest{v: a.val}, nil
}

func patternTest(_ *parser, name token, args []item) (wexpr, *posError) {
	fn := strings.ToLower(name.text)
	if len(args) != 2 || args[0].field == "" || !args[1].lit || args[1].typ == tNull {
		if fn == "like" {
			return nil, shape(name, `a field and a "pattern": like(field, "pat%")`)
		}
		return nil, shape(name, `a field and a "regex": match(field, "re")`)
	}
	text := args[1].constant().Text
	if fn == "like" {
		return wFunc{name: fn, field: args[0].field, pat: likePattern(text)}, nil
	}
	if err := rule.CheckRegexLength(text); err != nil {
		return nil, errAt(name.pos, "match: %v", err)
	}
	if _, err := regexp.Compile(text); err != nil {
		return nil, errAt(name.pos, "match: the regular expression is not RE2 syntax: %v", err)
	}
	return wFunc{name: fn, field: args[0].field, pat: rule.Pattern{Kind: rule.Regex, Text: text, CaseSensitive: true}}, nil
}

func cidrTest(_ *parser, name token, args []item) (wexpr, *posError) {
	if len(args) != 2 || !args[0].lit || args[1].field == "" {
		return nil, shape(name, `a "cidr" and a field: cidrmatch("10.0.0.0/8", field)`)
	}
	text := args[0].constant().Text
	if _, err := netip.ParsePrefix(text); err != nil {
		return nil, errAt(name.pos, "cidrmatch: %v", err)
	}
	return wFunc{name: "cidrmatch", field: args[1].field, pat: rule.Pattern{Kind: rule.CIDR, Text: text}}, nil
}

func inTest(p *parser, name token, args []item) (wexpr, *posError) {
	const usage = `a field and one or more constants: in(field, "a", "b")`
	if len(args) < 2 {
		return nil, shape(name, usage)
	}
	x, err := p.inItems(args[0], args[1:], "in takes "+usage)
	return x.cond, err
}

// typeTest is isnum, isint and isstr: whether the value is a number, a whole number written as one, no number. A
// value whose type the compiler knows is decided when the rule loads.
func typeTest(_ *parser, name token, args []item) (wexpr, *posError) {
	fn := strings.ToLower(name.text)
	if len(args) != 1 || args[0].cond != nil {
		return nil, shape(name, "one value: "+fn+"(value)")
	}
	a := args[0]
	never, has := wFunc{name: "false"}, wValTest{v: a.val}
	switch a.typ {
	case tNull:
		return never, nil
	case tStr:
		if fn == "isstr" {
			return has, nil
		}
		return never, nil
	case tNum:
		switch {
		case fn == "isstr":
			return never, nil
		case fn == "isnum":
			return has, nil
		}
	}
	model := map[string]string{"isnum": "numbers", "isint": "integers", "isstr": "strings"}[fn]
	return wValTest{v: rule.Call{Func: model, Args: []rule.Value{a.val}}}, nil
}

// Values.

func ifValue(_ *parser, name token, args []item) (item, *posError) {
	if len(args) != 3 {
		return item{}, shape(name, usageOf(name))
	}
	c, err := asCond(args[0])
	if err != nil {
		return item{}, err
	}
	v := rule.Case{Whens: []rule.When{{Cond: compileWhere(c, false), Then: args[1].val}}, Else: args[2].val}
	return item{val: v, typ: union(args[1], args[2])}, nil
}

func caseValue(_ *parser, name token, args []item) (item, *posError) {
	n := len(args)
	if n == 0 || n%2 != 0 {
		return item{}, shape(name, usageOf(name))
	}
	var v rule.Case // no condition holds: null, as in Splunk
	var thens []item
	for i := 0; i < n; i += 2 {
		c, err := asCond(args[i])
		if err != nil {
			return item{}, err
		}
		v.Whens = append(v.Whens, rule.When{Cond: compileWhere(c, false), Then: args[i+1].val})
		thens = append(thens, args[i+1])
	}
	return item{val: v, typ: union(thens...)}, nil
}

// coalesceValue is the first argument that has a value: a field when it exists, a computed value when it is not
// null, a constant always.
func coalesceValue(_ *parser, name token, args []item) (item, *posError) {
	if len(args) == 0 {
		return item{}, shape(name, usageOf(name))
	}
	var v rule.Case
	for _, a := range args {
		switch {
		case a.typ == tNull:
			continue
		case a.field != "":
			v.Whens = append(v.Whens, rule.When{Cond: rule.Exists{Field: rule.Field{Name: a.field}}, Then: a.val})
		case a.lit:
			v.Whens = append(v.Whens, rule.When{Cond: rule.True{}, Then: a.val})
		default:
			v.Whens = append(v.Whens, rule.When{Cond: rule.ValueCompare{Left: a.val}, Then: a.val})
		}
	}
	return item{val: v, typ: union(args...)}, nil
}

func textCall(_ *parser, name token, args []item) (item, *posError) {
	if len(args) != 1 {
		return item{}, shape(name, usageOf(name))
	}
	model := map[string]string{"lower": "to_lower", "upper": "to_upper", "urldecode": "url_decode_lenient"}[strings.ToLower(name.text)]
	return item{val: rule.Call{Func: model, Args: values(args)}, typ: tStr}, nil
}

func trimValue(_ *parser, name token, args []item) (item, *posError) {
	fn := strings.ToLower(name.text)
	// "If not specified, spaces and tabs are removed": not the other white space (a newline stays).
	chars := rule.Value(rule.Constant{Text: " \t"})
	switch {
	case len(args) == 2:
		if !args[1].lit || args[1].typ == tNull {
			return item{}, errAt(name.pos, "%s: the characters to remove must be a \"string\"", fn)
		}
		chars = args[1].val
	case len(args) != 1:
		return item{}, shape(name, usageOf(name))
	}
	return item{val: rule.Call{Func: fn + "_chars", Args: []rule.Value{args[0].val, chars}}, typ: tStr}, nil
}

func replaceValue(_ *parser, name token, args []item) (item, *posError) {
	if len(args) != 3 {
		return item{}, shape(name, usageOf(name))
	}
	re, repl := args[1], args[2]
	if !re.lit || !repl.lit || re.typ == tNull || repl.typ == tNull {
		return item{}, errAt(name.pos, "replace: the regular expression and the replacement must be \"strings\"")
	}
	if err := rule.CheckRegex(re.constant().Text); err != nil {
		return item{}, errAt(name.pos, "replace: the regular expression is not RE2 syntax or is too large: %v", err)
	}
	v := rule.Call{Func: "replace", Args: []rule.Value{args[0].val, re.val, rule.Constant{Text: expandTemplate(repl.constant().Text)}}}
	return item{val: v, typ: tStr}, nil
}

func nullValue(_ *parser, name token, args []item) (item, *posError) {
	if len(args) != 0 {
		return item{}, shape(name, usageOf(name))
	}
	return item{val: rule.Constant{Null: true}, typ: tNull, lit: true}, nil
}

func timeValue(p *parser, name token, args []item) (item, *posError) {
	fn := strings.ToLower(name.text)
	if len(args) != 2 {
		return item{}, shape(name, usageOf(name))
	}
	if !args[1].lit || args[1].typ == tNull {
		return item{}, errAt(name.pos, "%s: the format must be a \"string\"", fn)
	}
	if fn == "strftime" {
		return item{val: rule.Call{Func: "format_time", Args: p.zoned(values(args)...)}, typ: tStr}, nil
	}
	return item{val: rule.Call{Func: "parse_time", Args: p.zoned(values(args)...)}, typ: tNum}, nil
}

func lenValue(_ *parser, name token, args []item) (item, *posError) {
	if len(args) != 1 {
		return item{}, shape(name, usageOf(name))
	}
	return item{val: rule.Call{Func: "length", Args: values(args)}, typ: tNum}, nil
}

// numbers checks that the arguments a function reads as numbers are not strings, and that a number written is one
// eval computes with.
func numbers(name token, args ...item) *posError {
	for _, a := range args {
		if a.typ == tStr {
			return errAt(a.pos, "%s: this argument is a number, not a string (%s)", strings.ToLower(name.text), usageOf(name))
		}
		if err := numberLiteral(a); err != nil {
			return err
		}
	}
	return nil
}

func substrValue(_ *parser, name token, args []item) (item, *posError) {
	if len(args) < 2 || len(args) > 3 {
		return item{}, shape(name, usageOf(name))
	}
	if err := numbers(name, args[1:]...); err != nil {
		return item{}, err
	}
	return item{val: rule.Call{Func: "substr", Args: values(args)}, typ: tStr}, nil
}

// wholeConstant is a constant argument that must be a whole number from lo to hi.
func wholeConstant(a item, lo, hi int) (int, bool) {
	if !a.lit || !a.num {
		return 0, false
	}
	n, err := strconv.Atoi(strings.TrimPrefix(a.constant().Text, "+"))
	return n, err == nil && lo <= n && n <= hi
}

func toNumberValue(_ *parser, name token, args []item) (item, *posError) {
	if len(args) < 1 || len(args) > 2 {
		return item{}, shape(name, usageOf(name))
	}
	base := 10
	if len(args) == 2 {
		var ok bool
		if base, ok = wholeConstant(args[1], 2, 36); !ok {
			return item{}, errAt(args[1].pos, "tonumber: the base must be a whole number from 2 to 36")
		}
	}
	if a := args[0]; a.lit && a.typ != tNull {
		// "If the tonumber function cannot parse a literal string to a number, it returns an error."
		text := a.constant().Text
		_, ok := rule.ParseNumber(text)
		if base != 10 {
			_, err := strconv.ParseInt(text, base, 64)
			ok = err == nil
		}
		if !ok {
			return item{}, errAt(a.pos, "tonumber cannot read %q as a number in base %d", text, base)
		}
	}
	v := rule.Call{Func: "to_number", Args: []rule.Value{args[0].val, rule.Constant{Text: strconv.Itoa(base)}}}
	return item{val: v, typ: tNum}, nil
}

// toStringValue: tostring(X) is X as text (a string to the compiler: tostring(code)="403" compares text); the
// formats hex, commas and duration write a number.
func toStringValue(_ *parser, name token, args []item) (item, *posError) {
	switch len(args) {
	case 1:
		a := args[0]
		if a.typ == tNull {
			return a, nil
		}
		return item{val: a.val, typ: tStr, lit: a.lit}, nil
	case 2:
	default:
		return item{}, shape(name, usageOf(name))
	}
	format := args[1]
	model := map[string]string{"hex": "to_hex", "commas": "format_commas", "duration": "format_duration"}[format.constant().Text]
	if !format.lit || format.typ != tStr || model == "" {
		return item{}, errAt(format.pos, `tostring: the format must be "hex", "commas" or "duration"`)
	}
	if err := numbers(name, args[0]); err != nil {
		return item{}, err
	}
	return item{val: rule.Call{Func: model, Args: []rule.Value{args[0].val}}, typ: tStr}, nil
}

func numberCall(_ *parser, name token, args []item) (item, *posError) {
	if len(args) != 1 {
		return item{}, shape(name, usageOf(name))
	}
	if err := numbers(name, args...); err != nil {
		return item{}, err
	}
	model := map[string]string{"abs": "abs", "ceiling": "ceil", "ceil": "ceil", "floor": "floor"}[strings.ToLower(name.text)]
	return item{val: rule.Call{Func: model, Args: values(args)}, typ: tNum}, nil
}

func roundValue(_ *parser, name token, args []item) (item, *posError) {
	if len(args) < 1 || len(args) > 2 {
		return item{}, shape(name, usageOf(name))
	}
	if err := numbers(name, args[0]); err != nil {
		return item{}, err
	}
	digits := "0"
	if len(args) == 2 {
		n, ok := wholeConstant(args[1], -400, 400)
		if !ok {
			return item{}, errAt(args[1].pos, "round: the number of decimals must be a whole number, from -400 to 400")
		}
		digits = strconv.Itoa(n)
	}
	return item{val: rule.Call{Func: "round", Args: []rule.Value{args[0].val, rule.Constant{Text: digits}}}, typ: tNum}, nil
}

// exactValue: Splunk's exact() writes a result in full instead of rounding it to its inputs' precision; here results
// are always written in full.
func exactValue(_ *parser, name token, args []item) (item, *posError) {
	if len(args) != 1 {
		return item{}, shape(name, usageOf(name))
	}
	return args[0], nil
}

func extremeValue(_ *parser, name token, args []item) (item, *posError) {
	if len(args) == 0 {
		return item{}, shape(name, usageOf(name))
	}
	t := tNum
	for _, a := range args {
		if a.typ != tNum {
			t = tAny
		}
	}
	return item{val: rule.Call{Func: strings.ToLower(name.text), Args: values(args)}, typ: t}, nil
}

func mvCall(_ *parser, name token, args []item) (item, *posError) {
	fn := strings.ToLower(name.text)
	switch n := len(args); {
	case fn == "mvcount" && n == 1:
		return item{val: rule.Call{Func: "mv_count", Args: values(args)}, typ: tNum}, nil
	case fn == "mvindex" && (n == 2 || n == 3):
		if err := numbers(name, args[1:]...); err != nil {
			return item{}, err
		}
		return item{val: rule.Call{Func: "mv_index", Args: values(args)}, typ: args[0].typ}, nil
	case fn == "mvjoin" && n == 2:
		return item{val: rule.Call{Func: "mv_join", Args: values(args)}, typ: tStr}, nil
	case fn == "split" && n == 2:
		return item{val: rule.Call{Func: "split", Args: values(args)}, typ: tStr}, nil
	}
	return item{}, shape(name, usageOf(name))
}
