package spl

import (
	"errors"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/auditdetect/auditdetect/processor/rule"
)

// binTime is the stage `bin _time span=<secs>s [AS to]` compiles to.
func binTime(to, secs string) rule.Stage {
	return rule.Eval{To: to, Value: rule.Call{Func: "bin_floor", Args: []rule.Value{fv("_time"), rule.Constant{Text: secs}}}}
}

// TestBin: bin (and bucket) _time with a span is _time rounded down to the span, after the event time is set.
func TestBin(t *testing.T) {
	dcByBucket := rule.Stats{Aggs: []rule.Aggregate{{Func: "dc", Field: "objectRef.name", As: "n"}}, By: []string{"_time", "user.username"}}
	tests := []struct {
		name, search string
		want         []rule.Stage
	}{
		{"the Splunk way", "* | bin _time span=10m | stats dc(objectRef.name) as n by _time user.username | where n > 50",
			[]rule.Stage{setTime, binTime("_time", "600"), dcByBucket,
				rule.Where{Cond: rule.Compare{Field: fld("n"), Op: rule.OpGt, Value: rule.Literal("50", true)}}}},
		{"span first, as the Search Reference writes it", "* | bin span=10m _time", []rule.Stage{setTime, binTime("_time", "600")}},
		{"bucket is an alias", "* | BUCKET _time SPAN=1h", []rule.Stage{setTime, binTime("_time", "3600")}},
		{"AS", "* | bin _time span=1h AS t | stats count by t", []rule.Stage{setTime, binTime("t", "3600"),
			rule.Stats{Aggs: []rule.Aggregate{{Func: "count"}}, By: []string{"t"}}}},
		{"as before span", "* | bin _time as t span=30s", []rule.Stage{setTime, binTime("t", "30")}},
		{"seconds without a unit", "* | bin _time span=90", []rule.Stage{setTime, binTime("_time", "90")}},
		{"quoted", `* | bin "_time" span="5min"`, []rule.Stage{setTime, binTime("_time", "300")}},
		{"long unit names", "* | bin _time span=2hours", []rule.Stage{setTime, binTime("_time", "7200")}},
		{"hr", "* | bin _time span=3HR", []rule.Stage{setTime, binTime("_time", "10800")}},
		{"sec", "* | bin _time span=45sec", []rule.Stage{setTime, binTime("_time", "45")}},
		{"day", "* | bin _time span=1d", []rule.Stage{setTime, binTime("_time", "86400")}},
		{"days", "* | bin _time span=2days", []rule.Stage{setTime, binTime("_time", "172800")}},
		// After a first read, bin reads what the row has: the event time is set once, before that read.
		{"after a where on _time", "* | where _time > 5 | bin _time span=1m", []rule.Stage{setTime,
			rule.Where{Cond: rule.Compare{Field: fld("_time"), Op: rule.OpGt, Value: rule.Literal("5", true)}}, binTime("_time", "60")}},
		// After stats, _time is what stats made: the by-value is binned, as Splunk bins the results.
		{"after stats", "* | stats count by _time | bin _time span=1h", []rule.Stage{setTime,
			rule.Stats{Aggs: []rule.Aggregate{{Func: "count"}}, By: []string{"_time"}}, binTime("_time", "3600")}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, pipeline, err := Compile(tt.search, nil)
			require.NoError(t, err)
			assert.Equal(t, tt.want, pipeline)
		})
	}
}

func TestBinErrors(t *testing.T) {
	tests := []struct {
		name, search string
		column       int
		reason       string
	}{
		{"no span", "* | bin _time", 5, "bin needs span=<int><unit>"},
		{"bucket, no span", "* | bucket _time", 5, "bucket needs span=<int><unit>"},
		{"no field", "* | bin span=1h", 5, "bin needs a field"},
		{"another field", "* | bin span=10 bytes", 17, `bin of "bytes" is not supported: only _time is binned`},
		{"two fields", "* | bin _time span=1h user", 23, "bin takes one field, found a second"},
		{"bins", "* | bin bins=10 _time", 9, "unsupported bin option bins="},
		{"minspan", "* | bin _time minspan=1m", 15, "unsupported bin option minspan="},
		{"start", "* | bin _time span=1h start=0", 23, "unsupported bin option start="},
		{"end", "* | bin end=1000 _time span=1h", 9, "unsupported bin option end="},
		{"aligntime", "* | bin span=12h aligntime=@d+3h _time", 18, "unsupported bin option aligntime="},
		{"unknown option", "* | bin foo=1 _time", 9, `unknown bin option "foo"`},
		{"log span", "* | bin _time span=2log10", 20, "log spans (span=2log10) are not supported"},
		{"bare log span", "* | bin _time span=log", 20, "log spans"},
		{"week", "* | bin _time span=1w", 20, "span=1w is not supported"},
		{"month", "* | bin _time span=1mon", 20, "not weeks, months"},
		{"milliseconds", "* | bin _time span=100ms", 20, "fractions of a second"},
		{"fraction", "* | bin _time span=1.5h", 20, "span=1.5h is not a span"},
		{"negative", "* | bin _time span=-1h", 20, "span=-1h is not a span"},
		{"zero", "* | bin _time span=0m", 20, "span=0m is not positive"},
		{"unknown unit", "* | bin _time span=10x", 20, `unknown span unit "x"`},
		{"no number", "* | bin _time span=h", 20, "span=h needs a number: span=1h"},
		{"too long", "* | bin _time span=367d", 20, "too long"},
		{"overflow", "* | bin _time span=99999999999999999999s", 20, "too long"},
		{"twice", "* | bin _time span=1h span=1m", 23, "span= is given twice"},
		{"empty span", "* | bin _time span=", 19, "missing value after '='"},
		{"wildcard", "* | bin *time span=1h", 9, "wildcard field names"},
		{"AS without a name", "* | bin _time span=1h as", 25, "expected a new field name after AS"},
		{"a parenthesis", "* | bin (_time) span=1h", 9, "expected a field name"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, _, err := Compile(tt.search, nil)
			var e *Error
			require.True(t, errors.As(err, &e), "error %v", err)
			assert.Equal(t, 1, e.Line)
			assert.Equal(t, tt.column, e.Column, e.Reason)
			assert.Contains(t, e.Reason, tt.reason)
		})
	}
}
