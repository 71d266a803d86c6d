package rule

import (
	"slices"
	"strings"
	"testing"
)

// TestMessageTokens: a token is the text between a `$` and the next one, unless it is empty (`$$`) or holds white
// space; a token the row does not fill gives its closing `$` to the next one.
func TestMessageTokens(t *testing.T) {
	for _, tt := range []struct {
		msg    string
		filled []string // the names the row fills
		want   []string
	}{
		{"pod $objectRef.name$ by $user$", []string{"objectRef.name", "user"}, []string{"objectRef.name", "user"}},
		{"pod $objectRef.name$ by $user$", nil, []string{"objectRef.name", "user"}},
		{"$user.groups{}$ from $Country$.", nil, []string{"user.groups{}", "Country"}},
		{"no token", nil, nil},
		{"a lone $ sign", nil, nil},
		{"costs $5 or $6 for $user$", nil, []string{"user"}},              // `$5 or $` is text
		{"costs $5 or $6 for $user$", []string{"user"}, []string{"user"}}, // ...whether filled or not
		{"$$ and $user$", nil, []string{"user"}},                          // `$$` is text
		{"$$user$", nil, []string{"user"}},                                // ...and its second `$` opens a token
		{"$a$b$", []string{"a", "b"}, []string{"a"}},                      // a filled: `b$` is text
		{"$a$b$", []string{"b"}, []string{"a", "b"}},                      // a not filled: its `$` opens b
		{"$first name$ $user$", nil, []string{"user"}},                    // a name with a space is text
		{"$tab\tname$ $line\nbreak$ $user$", nil, []string{"user"}},       // as with any white space
		{"$a$ $a$", nil, []string{"a", "a"}},                              // in order, as often as written
	} {
		got := MessageTokens(tt.msg, func(name string) bool { return slices.Contains(tt.filled, name) })
		if !slices.Equal(got, tt.want) {
			t.Errorf("MessageTokens(%q) filling %v = %q, want %q", tt.msg, tt.filled, got, tt.want)
		}
		// Every name a token asks for, whichever the row fills, is among MessageFields.
		for _, name := range got {
			if !slices.Contains(MessageFields(tt.msg), name) {
				t.Errorf("MessageFields(%q) = %q lacks %q", tt.msg, MessageFields(tt.msg), name)
			}
		}
	}
	if got := MessageFields("$a$b$ $$ $c d$ $a$"); strings.Join(got, ",") != "a,b" {
		t.Errorf("MessageFields = %q, want a, b", got)
	}
}
