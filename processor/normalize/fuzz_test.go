package normalize

import (
	"bytes"
	"compress/gzip"
	"os"
	"path/filepath"
	"testing"

	"github.com/valyala/fastjson"
)

// FuzzEach feeds arbitrary bodies through every shape. Nothing may panic; a body recognised as native reaches the
// callback unchanged; a GKE event is a JSON object; every other event handed out is recognised as native.
func FuzzEach(f *testing.F) {
	for _, seed := range []string{
		nativeEvent, nativeSorted, `{"kind":"EventList","items":[` + nativeEvent + `,` + secondEvent + `]}`,
		`{"messageType":"DATA_MESSAGE","logGroup":"/aws/eks/c/cluster","logEvents":[{"message":"{\"verb\":\"get\"}"}]}`,
		`{"records":[{"properties":{"log":"{\"verb\":\"get\"}"},"resourceId":"/subscriptions/s/x/managedClusters/c"}]}`,
		`{"protoPayload":{"serviceName":"k8s.io","methodName":"io.k8s.core.v1.pods.exec.create","resourceName":"core/v1/namespaces/a/pods/p/exec","status":{"code":7}},"resource":{"type":"k8s_cluster","labels":{"location":"a-b"}}}`,
		`{"a":"\\\"","b":[{"c":"]"}],"verb":1}`, `{"items":[`, `{"message":"{`, `[]`, ``,
		"\ufeff" + nativeEvent,
	} {
		f.Add([]byte(seed))
	}
	files, _ := filepath.Glob(filepath.Join("testdata", "gke", "*.json"))
	for _, file := range files {
		if b, err := os.ReadFile(file); err == nil {
			f.Add(b)
		}
	}
	// A gzip body, so that the fuzzer reaches the decompression.
	var gzSeed bytes.Buffer
	zw := gzip.NewWriter(&gzSeed)
	_, _ = zw.Write([]byte(nativeEvent))
	_ = zw.Close()
	f.Add(gzSeed.Bytes())
	n := New(Config{MaxParseBytes: 1 << 20})
	f.Fuzz(func(t *testing.T, body []byte) {
		detected, _ := Detect(body)
		var p fastjson.Parser
		format, _ := n.Each(body, func(ev Event) {
			switch detected {
			case Native:
				if !bytes.Equal(ev.Body, trimBOM(body)) {
					t.Fatalf("native body changed (beyond a leading byte order mark): %q", ev.Body)
				}
			case EventList:
				// Items are sliced, not parsed: the engine validates them.
				if len(ev.Body) == 0 || ev.Body[0] != '{' {
					t.Fatalf("eventlist item is not an object: %q", ev.Body)
				}
			case GKE:
				// Built here, so always valid.
				if v, err := p.ParseBytes(ev.Body); err != nil || v.Type() != fastjson.TypeObject {
					t.Fatalf("GKE event is not a JSON object (%v): %q", err, ev.Body)
				}
			default:
				// A wrapped message is handed on as a native body, validated by the engine as a native one is.
				if f, _ := Detect(ev.Body); f != Native && !IsGzip(body) {
					t.Fatalf("wrapped %s event is not native: %q", detected, ev.Body)
				}
			}
		})
		if format != detected && !IsGzip(body) {
			t.Fatalf("Each says %s, Detect %s", format, detected)
		}
	})
}
