package auditdetectprocessor

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.opentelemetry.io/collector/consumer/consumertest"
	"go.opentelemetry.io/collector/processor"
)

// TestOddBytesStillEvaluated: bytes a filelog receiver hands on as they are do not stop an event from being
// evaluated, and the body is forwarded as it came. A file that starts with a UTF-8 byte order mark keeps it on its
// first line (with filelog's utf-8 and utf-8-raw encodings alike); with utf-8-raw a line's invalid bytes reach the
// processor too (utf-8 decoding replaced each with U+FFFD), here in a string the rule does not read (the name).
func TestOddBytesStillEvaluated(t *testing.T) {
	inName := func(bad string) string {
		return strings.Replace(nodePortCreate, `"name":"backdoor"}`, `"name":"back`+bad+`door"}`, 1)
	}
	for name, body := range map[string]string{
		"byte order mark before the event": "\ufeff" + nodePortCreate,
		"raw 0xff":                         inName("\xff"),
		"cut rune":                         inName("\xe2\x82"),
		"U+FFFD (utf-8 decoder)":           inName("\ufffd"),
	} {
		t.Run(name, func(t *testing.T) {
			require.NotEqual(t, nodePortCreate, body)
			p, sink, _ := newTestProcessor(t, testConfig(func(c *Config) { c.Mode = ModeEnrich }))
			require.NoError(t, p.ConsumeLogs(context.Background(), input(str(body))))
			got := records(sink.AllLogs()[0])
			require.Len(t, got, 1)
			assert.Equal(t, []any{"ESCU - Test NodePort - Rule"}, got[0].Attributes().AsRaw()["search_name"])
			assert.Equal(t, body, got[0].Body().Str())
		})
	}
}

// TestInvalidUTF8DoesNotChangeWhatMatches: every match event of the built-in pack, with invalid bytes put where
// utf-8-raw now lets them through (a lone 0xff in auditID, a rune cut just before a closing quote in userAgent, a
// stray continuation byte in a key of requestObject), is matched by the same rules as the event as written, and as
// the event with U+FFFD there (what the utf-8 decoder made of the same line). Three processors, one per spelling,
// are fed the events in the same order, so that stateful rules see the same sequence in each.
func TestInvalidUTF8DoesNotChangeWhatMatches(t *testing.T) {
	files, err := filepath.Glob(filepath.Join("..", "builtin", "testdata", "*", "match-*.json"))
	require.NoError(t, err)
	require.NotEmpty(t, files)
	cfg := fullPackConfig(t, func(c *Config) { c.Mode = ModeEnrich })
	type spelling struct {
		p    processor.Logs
		sink *consumertest.LogsSink
	}
	newSpelling := func() spelling {
		p, sink, _ := newTestProcessor(t, cfg)
		return spelling{p, sink}
	}
	asWritten, raw, replaced := newSpelling(), newSpelling(), newSpelling()
	names := func(s spelling, body string) any {
		s.sink.Reset()
		require.NoError(t, s.p.ConsumeLogs(context.Background(), input(str(body))))
		got := records(s.sink.AllLogs()[0])
		require.Len(t, got, 1)
		return got[0].Attributes().AsRaw()["search_name"]
	}
	mutate := func(ev, bad1, bad2, bad3 string) string {
		ev = strings.Replace(ev, `"auditID":"`, `"auditID":"`+bad1, 1)
		if i := strings.Index(ev, `"userAgent":"`); i >= 0 {
			j := i + len(`"userAgent":"`) + strings.Index(ev[i+len(`"userAgent":"`):], `"`)
			ev = ev[:j] + bad2 + ev[j:]
		}
		return strings.Replace(ev, `"requestObject":{"`, `"requestObject":{"`+bad3+`x":1,"`, 1)
	}
	matched := 0
	for _, f := range files {
		b, err := os.ReadFile(f)
		require.NoError(t, err)
		ev := strings.TrimSpace(string(b))
		if !strings.HasPrefix(ev, "{") {
			continue
		}
		want := names(asWritten, ev)
		if want != nil {
			matched++
		}
		assert.Equal(t, want, names(raw, mutate(ev, "\xff", "\xe2\x82", "\x80")), "%s with invalid bytes", f)
		assert.Equal(t, want, names(replaced, mutate(ev, "\ufffd", "\ufffd", "\ufffd")), "%s with U+FFFD", f)
	}
	// The events are the pack's match examples: most match as written, so the comparison says something.
	assert.Greater(t, matched, len(files)/2, "match examples that matched")
}
