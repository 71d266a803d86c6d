package suggest

import "testing"

func TestClosest(t *testing.T) {
	names := []string{"message", "risk_objects", "threat_objects"}
	for s, want := range map[string]string{
		"mesage":      "message",
		"risk_object": "risk_objects",
		"severity":    "", // nothing near enough
		"message":     "message",
		"":            "",
	} {
		if got := Closest(s, names); got != want {
			t.Errorf("Closest(%q) = %q, want %q", s, got, want)
		}
	}
}

func TestEditDistance(t *testing.T) {
	for _, tt := range []struct {
		a, b string
		want int
	}{{"", "", 0}, {"abc", "", 3}, {"", "ab", 2}, {"kitten", "sitting", 3}, {"flaw", "lawn", 2}, {"same", "same", 0}} {
		if got := EditDistance(tt.a, tt.b); got != tt.want {
			t.Errorf("EditDistance(%q, %q) = %d, want %d", tt.a, tt.b, got, tt.want)
		}
	}
}
