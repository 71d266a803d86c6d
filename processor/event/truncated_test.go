package event

import (
	"strings"
	"testing"
)

func TestTruncated(t *testing.T) {
	event := `{"kind":"Event","requestURI":"/api/v1/namespaces/a/pods/p/exec?command=` + strings.Repeat("A", 100) +
		`","verb":"create","objectRef":{"resource":"pods","subresource":"exec"},"user":{"groups":["x","y"]}}`
	// Every cut of a valid event is a truncated one; the whole event is not.
	for n := 1; n < len(event); n++ {
		if !Truncated([]byte(event[:n])) {
			t.Fatalf("cut at %d (%q) not seen as truncated", n, event[max(0, n-10):n])
		}
	}
	for _, s := range []string{event, ``, `   `, `{"a":}`, `{"a":1}x`, `{"a":1,}`, `{"a" 1`, `not json`} {
		if Truncated([]byte(s)) {
			t.Errorf("%.40q taken for truncated", s)
		}
	}
}
