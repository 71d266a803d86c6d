package rba

import (
	"testing"

	"go.opentelemetry.io/collector/pdata/plog"

	"github.com/auditdetect/auditdetect/processor/engine"
)

// TestProvenance: the cloud attributes of an event's wrapper reach every risk record and an enriched record; they
// win over a row field of the same name, never over the contract's attributes.
func TestProvenance(t *testing.T) {
	prov := map[string]string{
		"k8s.cluster.name": "prod-gke", "cloud.provider": "gcp", "cloud.account.id": "shop-4711",
		"cloud.region": "europe-west1",
		// A wrapper can never set a contract attribute.
		AttrRiskObject: "mallory", AttrIndex: "main",
	}
	res := engine.Result{
		Provenance: prov,
		Matches: []engine.Match{{Rule: nodePort, Rows: []engine.Row{
			row(f("user", "alice", "bob"), f("src_ip", "10.0.0.1"), f("cloud.region", "from-the-row")),
		}}},
	}
	tests := []struct {
		name  string
		write func(w *Writer) []plog.LogRecord
		want  int
	}{
		{
			name: "fork",
			write: func(w *Writer) []plog.LogRecord {
				logs := plog.NewLogRecordSlice()
				w.AppendRiskRecords(logs, logs.AppendEmpty(), res)
				var out []plog.LogRecord
				for i := 1; i < logs.Len(); i++ {
					out = append(out, logs.At(i))
				}
				return out
			},
			want: 2,
		},
		{
			name: "enrich",
			write: func(w *Writer) []plog.LogRecord {
				rec := plog.NewLogRecord()
				w.Enrich(rec, res)
				return []plog.LogRecord{rec}
			},
			want: 1,
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			recs := tt.write(NewWriter(Config{}))
			if len(recs) != tt.want {
				t.Fatalf("%d records, want %d", len(recs), tt.want)
			}
			for i, rec := range recs {
				a := rec.Attributes().AsRaw()
				for _, k := range []string{"k8s.cluster.name", "cloud.provider", "cloud.account.id", "cloud.region"} {
					if a[k] != prov[k] {
						t.Errorf("record %d: %s = %v, want %q", i, k, a[k], prov[k])
					}
				}
				if a[AttrRiskObject] == "mallory" || a[AttrIndex] == "main" {
					t.Errorf("record %d: provenance overwrote a contract attribute: %v", i, a)
				}
			}
		})
	}

	// No provenance, no attributes: a native event's risk record is unchanged.
	logs := plog.NewLogRecordSlice()
	res.Provenance = nil
	NewWriter(Config{}).AppendRiskRecords(logs, logs.AppendEmpty(), res)
	if _, ok := logs.At(1).Attributes().Get("k8s.cluster.name"); ok {
		t.Error("provenance written without a wrapper")
	}
}
