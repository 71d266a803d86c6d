package event

import (
	"bytes"
	"math/rand/v2"
	"strings"
	"testing"

	"github.com/auditdetect/auditdetect/processor/auditgen"
)

// TestFastHeadAgreesOnPredictionEdges: keys out of the API server's order and twice (predicted first or scanned
// first), post-head keys before user and within 32 bytes of the end, bodies cut short, and the kind/apiVersion
// start followed by whitespace, a duplicate or nothing.
func TestFastHeadAgreesOnPredictionEdges(t *testing.T) {
	std := `{"kind":"Event","apiVersion":"audit.k8s.io/v1","level":"Metadata","auditID":"a","stage":"ResponseComplete","requestURI":"/x","verb":"get",`
	wh := `{"level":"Metadata","auditID":"a","stage":"ResponseComplete","requestURI":"/x","verb":"get",`
	bodies := []string{
		std + `"user":{"uid":"1","username":"u","username":"v"}}`,
		std + `"user":{"username":"u","uid":"1","uid":"2"}}`,
		std + `"user":{"uid":"1","username":"u","uid":"2"}}`,
		std + `"user":{"groups":["g"],"username":"u","groups":["h"]}}`,
		std + `"user":{"extra":{},"username":"u","uid":"1","groups":[]}}`,
		std + `"user":{"username":"u","extra":{"a":["b"]},"groups":["g"]}}`,
		std + `"user":{"username":"u"},"impersonatedUser":{"username":"i","uid":"9","groups":["g"],"uid":"8"}}`,
		std + `"user":{"username":"u"},"impersonatedUser":{"uid":"9","username":"i","username":"j"}}`,
		std + `"user":{"username":"u"},"objectRef":{"name":"n","resource":"r","namespace":"ns","name":"m"}}`,
		std + `"user":{"username":"u"},"objectRef":{"resourceVersion":"1","resource":"r","subresource":"s","resourceVersion":"2"}}`,
		std + `"user":{"username":"u"},"objectRef":{"resource":"r","resources":"x","resource":"y"}}`,
		std + `"user":{"username":"u"},"responseStatus":{"code":200,"metadata":{},"code":201}}`,
		std + `"user":{"username":"u"},"responseStatus":{"metadata":{},"code":-}}`,
		std + `"user":{"username":"u"},"responseStatus":{"metadata":{},"code": 1}}`,
		std + `"user":{"username":"u"},"responseStatus":{"metadata":{},"code":1}`,
		std + `"user":{"username":"u"},"responseStatus":{"metadata":{},"code":1}}   `,
		std + `"user":{"username":"u"},"requestReceivedTimestamp":1234}`,
		std + `"user":{"username":"u"},"requestReceivedTimestamp":123}`,
		std + `"user":{"username":"u"},"requestReceivedTimestamp":12345}`,
		std + `"user":{"username":"u"},"requestReceivedTimestamp":"x"}`,
		std + `"user":{"username":"u"},"requestReceivedTimestamp":"x","verb":"late"}`,
		std + `"user":{"username":"u"},"stageTimestamp":1}`,
		std + `"user":{"username":"u"},"annotations":{}}`,
		std + `"user":{"username":"u"},"annotations":{},"objectRef":{"resource":"late"}}`,
		std + `"user":{"username":"u"},"responseStatus":{"code":1},"responseStatus":{"code":2}}`,
		std + `"user":{"username":"u"},"responseStatus":{"code":1},"objectRef":{"resource":"r"}}`,
		std + `"user":{"username":"u"},"userAgent":"a","sourceIPs":["1"]}`,
		std + `"user":{"username":"u"},"sourceIPs":"notarray","userAgent":"a"}`,
		std + `"user":{"username":"u"},"objectRef":"str"}`,
		std + `"user":{"username":"u"},"objectRef":{"resource":"r"},"objectRef.resource":"d"}`,
		std + `"requestObject":{},"user":{"username":"u"}}`,
		std + `"annotations":{},"user":{"username":"u"}}`,
		std + `"impersonatedUser":{"username":"u"}}`,
		std + `"user":{"username":"u","username":"v"}}`,
		std + `"user":{"username":"u"}}`,
		std + `"user":{"username":"u"}`,
		std + `"user":{"username":"u"`,
		std + `"user":{"username":`,
		std + `"user":{"username":"`,
		std + `"user":{"username":"u"},"objectRef":{"resource":"r"},"responseStatus":{"code":`,
		std + `"user":{"username":"u"},"objectRef":{"resource":"r"},"responseStatus":{"code":1`,
		std + `"user":{"username":"u"},"objectRef":{"resource":"r"},"responseStatus":{"code":1}`,
		std + `"user":{"username":"u"},"objectRef":{"resource":"r"},"responseStatus":{"code":1},`,
		`{"kind":"Event","apiVersion":"audit.k8s.io/v1",`,
		`{"kind":"Event","apiVersion":"audit.k8s.io/v1",}`,
		`{"kind":"Event","apiVersion":"audit.k8s.io/v1","kind":"Event","level":"x"}`,
		`{"kind":"Event","apiVersion":"audit.k8s.io/v1", "level":"x"}`,
		`{"kind":"Event","apiVersion":"audit.k8s.io/v1","apiVersion":"v2","level":"x"}`,
		`{"kind":"Event","apiVersion":"audit.k8s.io/v1","level":"x","kind":"K"}`,
		`{"kind":"Event","apiVersion":"audit.k8s.io/v1","user":{"username":"u"}}`,
		`{"kind":"Event","apiVersion":"audit.k8s.io/v1","level":"x","auditID":"a","stage":"s","requestURI":"/","verb":"v","user":{"username":"u"},"x":"kind\":\"Event\",\"apiVersion\":\"audit.k8s.io/v1\","}`,
		`{"level":"x","kind":"Event","apiVersion":"audit.k8s.io/v1","auditID":"a"}`,
		// The start's literal after level: not the start, or level would be read twice.
		`{"level":"x","kind":"Event","apiVersion":"audit.k8s.io/v1","level":"y","auditID":"a","stage":"s","requestURI":"/","verb":"v","user":{"username":"u"},"objectRef":{"resource":"r"},"responseStatus":{"code":200}}`,
		`{"apiVersion":"audit.k8s.io/v1","kind":"Event","level":"x"}`,
		`{"kind":"Event","apiVersion":"audit.k8s.io/v1beta1","level":"x"}`,
		`{"kind":"Event","apiVersion":"audit.k8s.io/v1","level":{"a":1},"auditID":"a","stage":"s","requestURI":"/","verb":"v","user":{"username":"u"}}`,
		` {"kind":"Event","apiVersion":"audit.k8s.io/v1","level":"x"}`,
		wh + `"user":{"username":"u"},"requestObject":{}}`,
		wh + `"user":{"username":"u"},"requestObject":{},"kind":"K","apiVersion":"A"}`,
		wh + `"user":{"username":"u"},"level":"again"}`,
		wh + `"kind":"K","user":{"username":"u"}}`,
		`{"level":"x","requestObject":{}}`,
		`{"kind":"Event","level":"x"}`,
		`{"kind":"Event","apiVersion":"audit.k8s.io/v1","level":"x","auditID":"a","stage":"s","requestURI":"/","verb":"v","requestObject":{},"user":{"username":"u"}}`,
		`{"kind":"Event","apiVersion":"audit.k8s.io/v1","level":"x","auditID":"a","stage":"s","requestURI":"/","verb":"v","annotations":{"a":"b"}}`,
	}
	for k, b := range bodies {
		checkFastHead(t, []byte(b), uint64(k))
	}
}

// TestFastHeadAgreesOnKeyMutations puts keys near, before and after the expected ones, and cuts bodies short just
// after a key, so that keys fall within 32 bytes of the end.
func TestFastHeadAgreesOnKeyMutations(t *testing.T) {
	keys := append(append([]string{}, headFields...), postHeadFields...)
	keys = append(keys, "username", "uid", "groups", "extra", "resource", "namespace", "name", "apiGroup",
		"resourceVersion", "subresource", "metadata", "status", "message", "reason", "details", "code")
	vals := []string{`"s"`, `1`, `{}`, `{"username":"x","uid":"y"}`, `["a"]`, `null`, `-`, `"`, `{"code":2}`}
	r := rand.New(rand.NewPCG(7, 7))
	for n, ev := range auditgen.Generate(3, 300) {
		body := ev.Body
		for m := 0; m < 20; m++ {
			k := keys[r.IntN(len(keys))]
			lit := []byte(`"` + k + `":`)
			at := bytes.Index(body, lit)
			var nb []byte
			switch op := r.IntN(5); {
			case op == 0 && at >= 0: // duplicate before
				ins := `"` + keys[r.IntN(len(keys))] + `":` + vals[r.IntN(len(vals))] + `,`
				nb = append(append(append([]byte{}, body[:at]...), ins...), body[at:]...)
			case op == 1 && at >= 0: // cut right after the key or the value's first bytes, then close
				cut := at + len(lit) + r.IntN(6)
				if cut > len(body) {
					cut = len(body)
				}
				nb = append(append([]byte{}, body[:cut]...), strings.Repeat("}", r.IntN(3))...)
			case op == 2 && at >= 0: // prefix/extension of the key
				alt := []string{k + "x", k[:len(k)-1], k + `\u0000`, strings.ToUpper(k[:1]) + k[1:]}[r.IntN(4)]
				nb = bytes.Replace(body, lit, []byte(`"`+alt+`":`), 1)
			case op == 3 && at >= 0: // after the key's value, a second copy
				ins := `"` + k + `":` + vals[r.IntN(len(vals))] + `,`
				end := at + len(lit)
				if e, err := skipValue(body, end); err == nil && e < len(body) && body[e] == ',' {
					nb = append(append(append([]byte{}, body[:e+1]...), ins...), body[e+1:]...)
				} else {
					continue
				}
			default: // the tail cut short: the head's keys within 32 bytes of the end
				if at < 0 {
					continue
				}
				nb = append(append([]byte{}, body[:at+len(lit)]...), []byte(vals[r.IntN(len(vals))]+"}")...)
			}
			checkFastHead(t, nb, uint64(n*100+m))
		}
	}
}
