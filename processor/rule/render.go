package rule

import (
	"strings"
)

// Rule text for messages: conditions and values spelled in SPL's eval syntax where it has a form for them, so that a
// load error or a finding names the term as its author wrote it, near enough (`len(requestURI) > 2000`).

// infix are the Call functions written as operators.
var infix = map[string]string{
	"add": " + ", "subtract": " - ", "multiply": " * ", "divide": " / ", "modulo": " % ", "concat": " . ",
}

// splName is SPL's name of a Call function that has one under another name (the rule model's names are neutral:
// ES|QL and SPL compile to them).
var splName = map[string]string{
	"length": "len", "to_number": "tonumber", "to_lower": "lower", "to_upper": "upper", "url_decode": "urldecode",
	"url_decode_lenient": "urldecode", "mv_count": "mvcount", "mv_index": "mvindex", "mv_join": "mvjoin",
	"ceil": "ceiling", "trim_chars": "trim", "ltrim_chars": "ltrim", "rtrim_chars": "rtrim",
	"format_time": "strftime", "parse_time": "strptime",
}

// ValueText spells v.
func ValueText(v Value) string {
	var b strings.Builder
	writeValue(&b, v)
	return b.String()
}

// ExprText spells e.
func ExprText(e Expr) string {
	var b strings.Builder
	writeExpr(&b, e)
	return b.String()
}

func writeValue(b *strings.Builder, v Value) {
	switch v := v.(type) {
	case FieldValue:
		b.WriteString(v.Field.Name)
	case Constant:
		switch {
		case v.Null:
			b.WriteString("null()")
		case IsDecimal(v.Text):
			b.WriteString(v.Text)
		default:
			b.WriteString(`"` + strings.ReplaceAll(strings.ReplaceAll(v.Text, `\`, `\\`), `"`, `\"`) + `"`)
		}
	case Call:
		if op, ok := infix[v.Func]; ok && len(v.Args) >= 2 {
			b.WriteByte('(')
			for i, a := range v.Args {
				if i > 0 {
					b.WriteString(op)
				}
				writeValue(b, a)
			}
			b.WriteByte(')')
			return
		}
		if v.Func == "negate" && len(v.Args) == 1 {
			b.WriteByte('-')
			writeValue(b, v.Args[0])
			return
		}
		if v.Func == "event_time" {
			b.WriteString("_time")
			return
		}
		args := v.Args
		if name, ok := splName[v.Func]; ok {
			b.WriteString(name)
			if (v.Func == "format_time" || v.Func == "parse_time") && len(args) == 3 {
				args = args[:2] // the search's time zone, which SPL's strftime and strptime do not name
			}
		} else {
			b.WriteString(v.Func)
		}
		b.WriteByte('(')
		for i, a := range args {
			if i > 0 {
				b.WriteString(", ")
			}
			writeValue(b, a)
		}
		b.WriteByte(')')
	case Case:
		b.WriteString("case(")
		for i, w := range v.Whens {
			if i > 0 {
				b.WriteString(", ")
			}
			writeExpr(b, w.Cond)
			b.WriteString(", ")
			writeValue(b, w.Then)
		}
		if v.Else != nil {
			b.WriteString(", true(), ")
			writeValue(b, v.Else)
		}
		b.WriteByte(')')
	case Extract:
		b.WriteString("extract(")
		writeValue(b, v.From)
		b.WriteString(`, "` + v.Regex + `")`)
	case nil:
		b.WriteString("null()")
	}
}

func writeExpr(b *strings.Builder, e Expr) {
	join := func(terms []Expr, op string) {
		b.WriteByte('(')
		for i, t := range terms {
			if i > 0 {
				b.WriteString(op)
			}
			writeExpr(b, t)
		}
		b.WriteByte(')')
	}
	switch e := e.(type) {
	case True, nil:
		b.WriteString("true()")
	case And:
		join(e, " AND ")
	case Or:
		if len(e) == 0 {
			b.WriteString("false()")
			return
		}
		join(e, " OR ")
	case Not:
		b.WriteString("NOT ")
		writeExpr(b, e.X)
	case Compare:
		b.WriteString(e.Field.Name + e.Op.String() + e.Value.Text)
	case Exists:
		b.WriteString("isnotnull(" + e.Field.Name + ")")
	case FieldEquals:
		b.WriteString(e.A.Name + "=" + e.B.Name)
	case ValueCompare:
		if e.Right == nil {
			b.WriteString("isnotnull(")
			writeValue(b, e.Left)
			b.WriteByte(')')
			return
		}
		writeValue(b, e.Left)
		b.WriteString(" " + e.Op.String() + " ")
		writeValue(b, e.Right)
	}
}
