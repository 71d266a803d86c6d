package rule

import (
	"strings"
	"testing"
)

func TestEachTermAndField(t *testing.T) {
	cmp := func(name string) Compare { return Compare{Field: Field{Name: name}} }
	computed := ValueCompare{Left: Call{Func: "add", Args: []Value{FieldValue{Field: Field{Name: "f"}}, Constant{Text: "1"}}}, Op: OpGt,
		Right: Case{Whens: []When{{Cond: Exists{Field: Field{Name: "g"}}, Then: FieldValue{Field: Field{Name: "h"}}}}}}
	e := And{cmp("a"), Or{Not{X: cmp("b")}, Exists{Field: Field{Name: "c"}}, True{}}, FieldEquals{A: Field{Name: "d"}, B: Field{Name: "e"}},
		computed, ValueCompare{Left: FieldValue{Field: Field{Name: "i"}}}}
	var terms []string
	EachTerm(e, func(t Expr) {
		switch t := t.(type) {
		case Compare:
			terms = append(terms, "cmp:"+t.Field.Name)
		case Exists:
			terms = append(terms, "exists:"+t.Field.Name)
		case True:
			terms = append(terms, "true")
		case FieldEquals:
			terms = append(terms, "eq:"+t.A.Name+","+t.B.Name)
		case ValueCompare:
			terms = append(terms, "values")
		}
	})
	if got := strings.Join(terms, " "); got != "cmp:a cmp:b exists:c true eq:d,e values values" {
		t.Errorf("terms %q", got)
	}
	var fields []string
	EachField(e, func(f Field) { fields = append(fields, f.Name) })
	// A comparison of values reads the fields of its values, the conditions of a Case's included.
	if got := strings.Join(fields, ""); got != "abcdefghi" {
		t.Errorf("fields %q", got)
	}
	EachTerm(nil, func(Expr) { t.Error("a term of no filter") })
}

func TestStatusWarning(t *testing.T) {
	for status, want := range map[string]string{"deprecated": "deprecated upstream", "unsupported": "marked unsupported upstream",
		"production": "", "stable": "", "experimental": "", "": ""} {
		got := (&Rule{Status: status}).StatusWarning()
		if want == "" && got != "" || want != "" && !strings.HasPrefix(got, want) {
			t.Errorf("status %q: warning %q, want %q", status, got, want)
		}
	}
}

func TestSuggest(t *testing.T) {
	rules := []*Rule{
		{ID: "a1", Name: "Kubernetes Secret Read by Unapproved User"},
		{ID: "a2", Name: "Kubernetes Secret Read by Unapproved User Group"},
		{ID: "a3", Name: "Kubernetes Node Port Creation", SearchName: "ESCU - Kubernetes Node Port Creation - Rule"},
	}
	for key, want := range map[string]string{
		// The ESCU form of a rule named without it: its name, not the nearest string (which is the Group one).
		"ESCU - Kubernetes Secret Read by Unapproved User - Rule": "Kubernetes Secret Read by Unapproved User",
		"Kubernetes Secret Read by Unaproved User":                "Kubernetes Secret Read by Unapproved User",
		"ESCU - Kubernetes Node Port Creaton - Rule":              "ESCU - Kubernetes Node Port Creation - Rule",
		"something else entirely":                                 "",
	} {
		if got := Suggest(key, rules); got != want {
			t.Errorf("Suggest(%q) = %q, want %q", key, got, want)
		}
	}
}
