package normalize

import (
	"encoding/json"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

const (
	nativeEvent = `{"kind":"Event","apiVersion":"audit.k8s.io/v1","level":"Metadata","auditID":"a-1","stage":"ResponseComplete","verb":"get","user":{"username":"alice"},"objectRef":{"resource":"pods","namespace":"default","name":"p"}}`
	// nativeSorted is the same event as json.Marshal writes a map: keys sorted, annotations first.
	nativeSorted = `{"annotations":{"authorization.k8s.io/decision":"allow"},"apiVersion":"audit.k8s.io/v1","auditID":"a-1","kind":"Event","verb":"get"}`
	secondEvent  = `{"kind":"Event","apiVersion":"audit.k8s.io/v1","auditID":"a-2","verb":"create","objectRef":{"resource":"services"}}`
)

// quote returns s as a JSON string literal.
func quote(s string) string {
	b, _ := json.Marshal(s)
	return string(b)
}

func TestDetect(t *testing.T) {
	// requestObject before the deciding key, with braces and escaped quotes inside strings.
	tricky := `{"requestObject":{"a":"}\"{","b":[1,{"c":"\\"}]},"note":"\\\"verb\\\"","verb":"get"}`
	tests := []struct {
		name string
		body string
		want Format
		err  error
	}{
		{"native as the API server writes it", nativeEvent, Native, nil},
		{"native with sorted keys", nativeSorted, Native, nil},
		{"native with spaces", " {\n \"verb\" : \"get\" }", Native, nil},
		{"native behind a large value", tricky, Native, nil},
		{"native v1beta1", `{"kind":"Event","apiVersion":"audit.k8s.io/v1beta1","verb":"get"}`, Native, nil},
		{"eventlist", `{"kind":"EventList","apiVersion":"audit.k8s.io/v1","items":[]}`, EventList, nil},
		{"eventlist with items first", `{"items":[` + nativeEvent + `],"kind":"EventList"}`, EventList, nil},
		{"gke", `{"insertId":"x","protoPayload":{"methodName":"io.k8s.get"}}`, GKE, nil},
		{"aks record", `{"category":"kube-audit","properties":{"log":"{}"}}`, AKS, nil},
		{"aks batch", `{"records":[]}`, AKS, nil},
		{"cloudwatch envelope", `{"messageType":"DATA_MESSAGE","logEvents":[]}`, EKS, nil},
		{"cloudwatch log event", `{"timestamp":1,"message":"{}","ingestionTime":2}`, EKS, nil},
		{"deciding key wins over message", `{"message":"x","verb":"get"}`, Native, nil},
		{"kind of another object", `{"kind":"Pod","metadata":{}}`, Unknown, ErrUnknown},
		{"empty object", `{}`, Unknown, ErrUnknown},
		{"array", `[1,2]`, Unknown, ErrMalformed},
		{"string", `"verb"`, Unknown, ErrMalformed},
		{"empty", ``, Unknown, ErrMalformed},
		{"blank", " \n", Unknown, ErrMalformed},
		{"cut short before a deciding key", `{"level":"Metadata","objectR`, Unknown, ErrMalformed},
		{"unterminated value", `{"a":{"b":[1,2}`, Unknown, ErrMalformed},
		{"missing colon", `{"a" 1}`, Unknown, ErrMalformed},
		{"decided before the damage", `{"verb":"get","x":`, Native, nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := Detect([]byte(tt.body))
			assert.Equal(t, tt.want, got)
			if tt.err == nil {
				assert.NoError(t, err)
			} else {
				assert.ErrorIs(t, err, tt.err)
			}
		})
	}
}

func TestParseFormats(t *testing.T) {
	tests := []struct {
		names []string
		want  Formats
		err   string
	}{
		{nil, AllFormats, ""},
		{[]string{"native"}, 1 << Native, ""},
		{[]string{"GKE", "eks"}, 1<<GKE | 1<<EKS, ""},
		{[]string{"native", "eventlist", "eks", "aks", "gke"}, AllFormats, ""},
		{[]string{"cloudtrail"}, 0, `"cloudtrail" is not one of native, eventlist, eks, aks, gke`},
		{[]string{"unknown"}, 0, `"unknown" is not one of`},
	}
	for _, tt := range tests {
		t.Run(strings.Join(tt.names, ","), func(t *testing.T) {
			got, err := ParseFormats(tt.names)
			if tt.err != "" {
				require.Error(t, err)
				assert.Contains(t, err.Error(), tt.err)
				return
			}
			require.NoError(t, err)
			assert.Equal(t, tt.want, got)
		})
	}
	assert.False(t, AllFormats.Has(Unknown))
}

type found struct {
	body string
	prov map[string]string
}

func collect(t *testing.T, n *Normalizer, body string) ([]found, Format, error) {
	t.Helper()
	var out []found
	f, err := n.Each([]byte(body), func(ev Event) {
		// Copy: the body is valid only during the call.
		out = append(out, found{string(ev.Body), ev.Provenance})
	})
	return out, f, err
}

func TestEachWrappers(t *testing.T) {
	eksProv := map[string]string{
		AttrCloudProvider: "aws", AttrCloudPlatform: "aws_eks", AttrCloudAccountID: "123456789012",
		AttrClusterName: "prod-eks",
	}
	aksID := "/SUBSCRIPTIONS/8F3C0E7A-1111-2222-3333-444455556666/RESOURCEGROUPS/SHOP-RG/PROVIDERS/MICROSOFT.CONTAINERSERVICE/MANAGEDCLUSTERS/SHOP-AKS"
	aksProv := map[string]string{
		AttrCloudProvider: "azure", AttrCloudPlatform: "azure_aks", AttrCloudAccountID: "8F3C0E7A-1111-2222-3333-444455556666",
		AttrCloudResourceID: aksID, AttrClusterName: "SHOP-AKS",
	}
	aksRecord := func(category, log string) string {
		return `{"category":"` + category + `","operationName":"Microsoft.ContainerService/managedClusters/diagnosticLogs/Read","properties":{"log":` + log + `,"stream":"stdout","pod":"kube-apiserver-7f9c"},"resourceId":"` + aksID + `","time":"2026-12-05T09:14:01.4Z"}`
	}
	cwEvent := func(msg string) string {
		return `{"id":"3761","timestamp":1796548441341,"message":` + quote(msg) + `}`
	}
	tests := []struct {
		name    string
		formats Formats
		body    string
		format  Format
		err     error
		want    []found
	}{
		{name: "native passes through", body: nativeEvent, format: Native, want: []found{{nativeEvent, nil}}},
		{
			name:   "eventlist items, each as written",
			body:   `{"kind":"EventList","apiVersion":"audit.k8s.io/v1","metadata":{},"items":[` + nativeEvent + `, ` + secondEvent + `,"junk",7]}`,
			format: EventList,
			want:   []found{{nativeEvent, nil}, {secondEvent, nil}},
		},
		{name: "empty eventlist", body: `{"kind":"EventList","items":[]}`, format: EventList, err: ErrNoEvents},
		{name: "eventlist without items", body: `{"kind":"EventList","metadata":{}}`, format: EventList, err: ErrNoEvents},
		{
			name:   "eventlist cut short keeps the whole items",
			body:   `{"kind":"EventList","items":[` + nativeEvent + `,{"verb":`,
			format: EventList,
			want:   []found{{nativeEvent, nil}},
		},
		{
			name: "cloudwatch subscription envelope",
			body: `{"messageType":"DATA_MESSAGE","owner":"123456789012","logGroup":"/aws/eks/prod-eks/cluster",` +
				`"logStream":"kube-apiserver-audit-0f1e2d","subscriptionFilters":["audit"],"logEvents":[` +
				cwEvent(nativeEvent) + `,` + cwEvent(`time="2026-12-05T09:14:01Z" level=info msg="access granted"`) + `,` +
				cwEvent(secondEvent) + `]}`,
			format: EKS,
			want:   []found{{nativeEvent, eksProv}, {secondEvent, eksProv}},
		},
		{
			name:   "cloudwatch control message",
			body:   `{"messageType":"CONTROL_MESSAGE","owner":"CloudwatchLogs","logGroup":"","logEvents":[{"id":"","timestamp":1,"message":"CWL CONTROL MESSAGE: Checking health of destination Firehose."}]}`,
			format: EKS,
			err:    ErrNoEvents,
		},
		{
			name:   "single cloudwatch log event",
			body:   `{"logStreamName":"kube-apiserver-audit-0f1e2d","timestamp":1796548441341,"message":` + quote(nativeEvent) + `,"ingestionTime":1796548442000,"eventId":"3761"}`,
			format: EKS,
			want:   []found{{nativeEvent, nil}},
		},
		{name: "a message that is not an audit event", body: `{"message":"hello"}`, format: EKS, err: ErrNoEvents},
		{
			name:   "aks log as a JSON string",
			body:   aksRecord("kube-audit", quote(nativeEvent)),
			format: AKS,
			want:   []found{{nativeEvent, aksProv}},
		},
		{
			name:   "aks log as an object",
			body:   aksRecord("kube-audit-admin", nativeEvent),
			format: AKS,
			want:   []found{{nativeEvent, aksProv}},
		},
		{
			name: "aks batch skips other categories",
			body: `{"records":[` + aksRecord("kube-audit", quote(nativeEvent)) + `,` +
				aksRecord("kube-apiserver", quote("I1205 09:14:01.341359 1 trace.go:236] Trace[1]")) + `,` +
				aksRecord("kube-audit-admin", secondEvent) + `]}`,
			format: AKS,
			want:   []found{{nativeEvent, aksProv}, {secondEvent, aksProv}},
		},
		{
			name:   "aks location becomes the region",
			body:   `{"category":"kube-audit","location":"westeurope","resourceId":"/subscriptions/s-1/resourceGroups/rg/providers/Microsoft.ContainerService/managedClusters/c1","properties":{"log":` + quote(nativeEvent) + `}}`,
			format: AKS,
			want: []found{{nativeEvent, map[string]string{
				AttrCloudProvider: "azure", AttrCloudPlatform: "azure_aks", AttrCloudAccountID: "s-1", AttrCloudRegion: "westeurope",
				AttrCloudResourceID: "/subscriptions/s-1/resourceGroups/rg/providers/Microsoft.ContainerService/managedClusters/c1",
				AttrClusterName:     "c1",
			}}},
		},
		{name: "aks record of another category", body: aksRecord("guard", quote("plain text")), format: AKS, err: ErrNoEvents},
		{
			name:   "gke entry of another service",
			body:   `{"protoPayload":{"serviceName":"container.googleapis.com","methodName":"google.container.v1.ClusterManager.CreateCluster"}}`,
			format: GKE,
			err:    ErrNoEvents,
		},
		{name: "format left out", formats: 1 << Native, body: aksRecord("kube-audit", quote(nativeEvent)), format: AKS, err: ErrNotAccepted},
		{name: "native left out", formats: 1 << GKE, body: nativeEvent, format: Native, err: ErrNotAccepted},
		{name: "unknown shape", body: `{"level":"info","msg":"started"}`, format: Unknown, err: ErrUnknown},
		{name: "unknown shape, not JSON", body: `{"level":info}`, format: Unknown, err: ErrMalformed},
		{name: "unknown shape, nested too deep", body: strings.Repeat(`{"a":`, 400) + "1" + strings.Repeat("}", 400),
			format: Unknown, err: ErrMalformed},
		{name: "not an object", body: `not json`, format: Unknown, err: ErrMalformed},
		{name: "broken wrapper", body: `{"protoPayload":{"methodName":"io.k8s.get"},"x":tru}`, format: GKE, err: ErrMalformed},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, f, err := collect(t, New(Config{Formats: tt.formats}), tt.body)
			assert.Equal(t, tt.format, f)
			if tt.err != nil {
				assert.ErrorIs(t, err, tt.err)
			} else {
				assert.NoError(t, err)
			}
			assert.Equal(t, tt.want, got)
		})
	}
}

func TestEachNativeIsNotCopied(t *testing.T) {
	body := []byte(nativeEvent)
	var got []byte
	_, err := New(Config{}).Each(body, func(ev Event) { got = ev.Body })
	require.NoError(t, err)
	assert.Same(t, &body[0], &got[0], "a native body reaches the engine as it is")
}

func TestMaxParseBytes(t *testing.T) {
	n := New(Config{MaxParseBytes: 64})
	gke := `{"protoPayload":{"serviceName":"k8s.io","methodName":"io.k8s.core.v1.pods.get","resourceName":"core/v1/namespaces/default/pods/p"}}`
	_, f, err := collect(t, n, gke)
	assert.Equal(t, GKE, f)
	assert.ErrorIs(t, err, ErrTooLarge)

	// Native events and EventLists are not parsed here: the limit is the caller's to apply per event.
	list := `{"kind":"EventList","items":[` + nativeEvent + `]}`
	got, _, err := collect(t, n, list)
	require.NoError(t, err)
	assert.Len(t, got, 1)
}

func TestResourceProvenance(t *testing.T) {
	tests := []struct {
		name  string
		attrs map[string]string
		want  map[string]string
	}{
		{
			name:  "awscloudwatch receiver on an EKS log group",
			attrs: map[string]string{"cloudwatch.log.group.name": "/aws/eks/prod-eks/cluster", "aws.region": "eu-west-1"},
			want: map[string]string{
				AttrCloudProvider: "aws", AttrCloudPlatform: "aws_eks", AttrCloudRegion: "eu-west-1", AttrClusterName: "prod-eks",
			},
		},
		{name: "another log group", attrs: map[string]string{"cloudwatch.log.group.name": "/aws/lambda/f"}},
		{name: "no cloudwatch attributes", attrs: map[string]string{"k8s.cluster.name": "x"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := ResourceProvenance(func(k string) (string, bool) { v, ok := tt.attrs[k]; return v, ok })
			assert.Equal(t, tt.want, got)
		})
	}
}

func TestEKSClusterFromLogGroup(t *testing.T) {
	for group, want := range map[string]string{
		"/aws/eks/prod/cluster":     "prod",
		"/aws/eks/a-b_c/cluster":    "a-b_c",
		"/aws/eks//cluster":         "",
		"/aws/eks/prod/cluster/x":   "",
		"/aws/eks/a/b/cluster":      "",
		"/aws/containerinsights/p/": "",
		"":                          "",
	} {
		assert.Equal(t, want, EKSClusterFromLogGroup(group), group)
	}
}

// TestConcurrentEach runs wrapped shapes on many goroutines: each must see only its own scratch buffers.
func TestConcurrentEach(t *testing.T) {
	n := New(Config{})
	gke, err := os.ReadFile(filepath.Join("testdata", "gke", "service-nodeport-create.json"))
	require.NoError(t, err)
	aks := `{"category":"kube-audit","properties":{"log":` + nativeEvent + `}}`
	errs := make(chan error, 8)
	for g := 0; g < 8; g++ {
		go func() {
			var err error
			for i := 0; i < 200 && err == nil; i++ {
				body, want := gke, "payments-debug"
				if (g+i)%2 == 0 {
					body, want = []byte(aks), `"name":"p"`
				}
				_, e := n.Each(body, func(ev Event) {
					if !strings.Contains(string(ev.Body), want) {
						err = errors.New("event body from another goroutine: " + string(ev.Body))
					}
				})
				if e != nil {
					err = e
				}
			}
			errs <- err
		}()
	}
	for g := 0; g < 8; g++ {
		assert.NoError(t, <-errs)
	}
}

// TestLeadingByteOrderMark: the filelog receiver's utf-8 decoding keeps a UTF-8 byte order mark, so a file written by
// a tool that starts its files with one (PowerShell's Out-File, some editors) gives a first record that starts with
// it. The mark is not part of the JSON: the event is read after it, in every format.
func TestLeadingByteOrderMark(t *testing.T) {
	const bom = "\ufeff"
	body := []byte(bom + nativeEvent)
	var got []Event
	f, err := New(Config{}).Each(body, func(ev Event) { got = append(got, ev) })
	require.NoError(t, err)
	assert.Equal(t, Native, f)
	require.Len(t, got, 1)
	assert.Equal(t, nativeEvent, string(got[0].Body))

	f, err = Detect(body)
	require.NoError(t, err)
	assert.Equal(t, Native, f)

	list, _, err := collect(t, New(Config{}), bom+`{"kind":"EventList","items":[`+nativeEvent+`,`+secondEvent+`]}`)
	require.NoError(t, err)
	assert.Len(t, list, 2)

	// Only a leading mark: one inside the text is a malformed body, as before.
	_, err = New(Config{}).Each([]byte(" "+bom+nativeEvent), func(Event) {})
	assert.ErrorIs(t, err, ErrMalformed)

	// One mark: a second is text, and the body malformed, for Each as for Detect (the fuzzer found Each taking two).
	called := false
	_, err = New(Config{}).Each([]byte(bom+bom+nativeEvent), func(Event) { called = true })
	assert.ErrorIs(t, err, ErrMalformed)
	assert.False(t, called)
	_, err = Detect([]byte(bom + bom + nativeEvent))
	assert.ErrorIs(t, err, ErrMalformed)
}
