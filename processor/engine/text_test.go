package engine

import (
	"testing"

	"github.com/auditdetect/auditdetect/processor/rule"
)

func textCmp(field string, kind rule.PatternKind, text string) rule.Compare {
	return rule.Compare{Field: rule.Field{Name: field, AnyArray: true}, Op: rule.OpEq, Value: rule.Pattern{Kind: kind, Text: text}}
}

// textEvent has values a text field's analysis splits: upper case, JSON escapes, separators, several values.
const textEvent = `{"kind":"Event","auditID":"t-1","verb":"list","user":{"username":"bob","groups":["System:Masters","system:authenticated"]},
"objectRef":{"resource":"secrets","namespace":"shop"},
"responseStatus":{"code":403,"message":"secrets is forbidden: User \"bob\" cannot list resource \"secrets\""},
"requestObject":{"spec":{"containers":[{"image":"Docker.IO/library/NGIN\u0058:1.27"},{"image":"quay.io/calico/node:v3.27.0"}]}}}`

func TestTextPatterns(t *testing.T) {
	tests := []struct {
		name string
		e    rule.Expr
		want bool
	}{
		{"a word", textCmp("responseStatus.message", rule.Phrase, "forbidden"), true},
		{"a phrase", textCmp("responseStatus.message", rule.Phrase, "user bob cannot list"), true},
		{"words out of order", textCmp("responseStatus.message", rule.Phrase, "bob user"), false},
		{"a phrase runs within one value", textCmp("user.groups", rule.Phrase, "system:masters system:authenticated"), false},
		{"case folded", textCmp("user.groups", rule.Phrase, "system:masters"), true},
		{"a word is whole", textCmp("responseStatus.message", rule.Phrase, "forbid"), false},
		{"a token glob", textCmp("responseStatus.message", rule.Token, "forbid*"), true},
		{"a token glob matches one word", textCmp("responseStatus.message", rule.Token, "*forbidden:*"), false},
		{"a token glob, ?", textCmp("responseStatus.message", rule.Token, "c?nnot"), true},
		// The prefilter must not look for the phrase as written (NGINX, escaped) in the bytes of requestObject.
		{"escaped and upper case, in a large object", textCmp("requestObject.spec.containers.image", rule.Phrase, "nginx 1.27"), true},
		{"second array element", textCmp("requestObject.spec.containers.image", rule.Token, "node:v3*"), true},
		{"no word spans a slash", textCmp("requestObject.spec.containers.image", rule.Token, "quay.io/calico*"), false},
		{"a missing field", textCmp("responseStatus.reason", rule.Phrase, "forbidden"), false},
		{"not of a miss", rule.Not{X: textCmp("responseStatus.reason", rule.Phrase, "forbidden")}, true},
		// The operation index must not narrow to a verb or resource a full-text pattern names.
		{"verb by word", textCmp("verb", rule.Phrase, "list"), true},
		{"resource by glob", textCmp("objectRef.resource", rule.Token, "secret*"), true},
		{"resource and verb", rule.And{textCmp("objectRef.resource", rule.Token, "SECRETS"), textCmp("verb", rule.Phrase, "list")}, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := matches(t, tt.e, textEvent); got != tt.want {
				t.Errorf("matched %v, want %v", got, tt.want)
			}
		})
	}
}

func TestTextPatternErrors(t *testing.T) {
	for _, p := range []rule.Pattern{{Kind: rule.Phrase, Text: " "}, {Kind: rule.Token}} {
		_, err := Compile([]*rule.Rule{{ID: "r", Name: "r", Filter: rule.Compare{Field: rule.Field{Name: "verb"}, Value: p}}}, Options{})
		if err == nil {
			t.Errorf("%+v compiled", p)
		}
	}
}

// A token glob outside ASCII: Text is lower case (rule.Token) and the value is lower-cased, so the glob compares
// as written. Folding it as a case-insensitive glob (to each orbit's representative, É for é, Σ for σ) made it
// match no lower-cased value.
func TestTokenGlobOutsideASCII(t *testing.T) {
	tests := []struct {
		glob, value string
		want        bool
	}{
		{"café", "Le Café", true},
		{"caf?", "CAFÉ", true},
		{"σ*", "ΣΑΣ", true},
		{"*ς", "λόγος", true},
		{"kelvin", "\u212aELVIN", true}, // a value's Kelvin sign lowers to k
		{"café", "cafe", false},
	}
	for _, tt := range tests {
		m, err := compileText(rule.Pattern{Kind: rule.Token, Text: tt.glob})
		if err != nil {
			t.Fatal(err)
		}
		if got := m.match(&evalCtx{}, []byte(tt.value)); got != tt.want {
			t.Errorf("token %q against %q: %v, want %v", tt.glob, tt.value, got, tt.want)
		}
	}
}
