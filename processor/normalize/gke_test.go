package normalize

import (
	"fmt"
	"os"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/auditdetect/auditdetect/processor/event"
)

func TestParseMethod(t *testing.T) {
	tests := []struct {
		name string
		want method
		ok   bool
	}{
		{"io.k8s.core.v1.services.create", method{version: "v1", resource: "services", verb: "create"}, true},
		{"io.k8s.apps.v1.daemonsets.create", method{group: "apps", version: "v1", resource: "daemonsets", verb: "create"}, true},
		{"io.k8s.core.v1.pods.exec.create", method{version: "v1", resource: "pods", subresource: "exec", verb: "create"}, true},
		{"io.k8s.authorization.rbac.v1.clusterrolebindings.create",
			method{group: "rbac.authorization.k8s.io", version: "v1", resource: "clusterrolebindings", verb: "create"}, true},
		{"io.k8s.networking.v1.networkpolicies.delete",
			method{group: "networking.k8s.io", version: "v1", resource: "networkpolicies", verb: "delete"}, true},
		{"io.k8s.batch.v1.cronjobs.patch", method{group: "batch", version: "v1", resource: "cronjobs", verb: "patch"}, true},
		{"io.k8s.autoscaling.v2.horizontalpodautoscalers.update",
			method{group: "autoscaling", version: "v2", resource: "horizontalpodautoscalers", verb: "update"}, true},
		{"io.k8s.certificates.v1beta1.certificatesigningrequests.approval.update",
			method{group: "certificates.k8s.io", version: "v1beta1", resource: "certificatesigningrequests", subresource: "approval", verb: "update"}, true},
		{"io.cert-manager.v1.certificates.create", method{group: "cert-manager.io", version: "v1", resource: "certificates", verb: "create"}, true},
		{"io.k8s.get", method{verb: "get"}, true},
		{"io.k8s.core.v1", method{}, false},
		{"io.k8s.core.v1.pods", method{}, false},
		{"io.k8s.core.v1.pods.a.b.create", method{}, false},
		{"io.k8s.core.pods.create", method{}, false},
		{"io.k8s.", method{}, false},
		{"", method{}, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, ok := parseMethod(tt.name)
			assert.Equal(t, tt.ok, ok)
			if tt.ok {
				assert.Equal(t, tt.want, got)
			}
		})
	}
}

func TestParseResourceName(t *testing.T) {
	tests := []struct {
		rn         string
		want       resourceName
		verb, sub  string
		requestURI string
	}{
		{"core/v1/namespaces/shop/services/web", resourceName{version: "v1", namespace: "shop", resource: "services", name: "web"},
			"create", "", "/api/v1/namespaces/shop/services"},
		{"core/v1/namespaces/shop/services/web", resourceName{version: "v1", namespace: "shop", resource: "services", name: "web"},
			"get", "", "/api/v1/namespaces/shop/services/web"},
		{"core/v1/namespaces/pay/pods/api/exec",
			resourceName{version: "v1", namespace: "pay", resource: "pods", name: "api", subresource: "exec"},
			"create", "exec", "/api/v1/namespaces/pay/pods/api/exec"},
		{"apps/v1/namespaces/kube-system/daemonsets", resourceName{group: "apps", version: "v1", namespace: "kube-system", resource: "daemonsets"},
			"list", "", "/apis/apps/v1/namespaces/kube-system/daemonsets"},
		{"rbac.authorization.k8s.io/v1/clusterrolebindings/ci-admin",
			resourceName{group: "rbac.authorization.k8s.io", version: "v1", resource: "clusterrolebindings", name: "ci-admin"},
			"delete", "", "/apis/rbac.authorization.k8s.io/v1/clusterrolebindings/ci-admin"},
		{"core/v1/namespaces/team-a", resourceName{version: "v1", namespace: "team-a", resource: "namespaces", name: "team-a"},
			"get", "", "/api/v1/namespaces/team-a"},
		{"core/v1/namespaces", resourceName{version: "v1", resource: "namespaces"}, "list", "", "/api/v1/namespaces"},
		// A namespace's own subresources are of the namespace object, as the API server reads the path.
		{"core/v1/namespaces/old-team/finalize",
			resourceName{version: "v1", namespace: "old-team", resource: "namespaces", name: "old-team", subresource: "finalize"},
			"update", "finalize", "/api/v1/namespaces/old-team/finalize"},
		{"core/v1/namespaces/old-team/status",
			resourceName{version: "v1", namespace: "old-team", resource: "namespaces", name: "old-team", subresource: "status"},
			"update", "status", "/api/v1/namespaces/old-team/status"},
		// A proxied path stays in the request URI, as the node-proxy rule's allow-list reads it.
		{"core/v1/nodes/n1/proxy/metrics/cadvisor",
			resourceName{version: "v1", resource: "nodes", name: "n1", subresource: "proxy", proxied: "metrics/cadvisor"},
			"get", "proxy", "/api/v1/nodes/n1/proxy/metrics/cadvisor"},
		{"readyz", resourceName{path: "/readyz"}, "get", "", ""},
		{"/version", resourceName{path: "/version"}, "get", "", ""},
		{"", resourceName{}, "get", "", ""},
	}
	for _, tt := range tests {
		t.Run(tt.rn+" "+tt.verb, func(t *testing.T) {
			got := parseResourceName(tt.rn)
			assert.Equal(t, tt.want, got)
			assert.Equal(t, tt.requestURI, got.uri(tt.verb, tt.sub))
		})
	}
}

func TestIsVersion(t *testing.T) {
	for s, want := range map[string]bool{
		"v1": true, "v2": true, "v10": true, "v1beta1": true, "v2alpha3": true,
		"v0": false, "v": false, "version": false, "v1beta": false, "v1gamma1": false, "v1beta-1": false, "1": false, "": false,
	} {
		assert.Equal(t, want, isVersion(s), s)
	}
}

// view normalises one GKE entry and returns the resulting native event, parsed, with the provenance.
func gkeView(t *testing.T, body []byte) (*event.View, map[string]string) {
	t.Helper()
	var native []byte
	var prov map[string]string
	f, err := New(Config{}).Each(body, func(ev Event) {
		if native == nil { // the first: an entry read as two stages gives ResponseStarted first
			native = append([]byte(nil), ev.Body...)
			prov = ev.Provenance
		}
	})
	require.NoError(t, err)
	require.Equal(t, GKE, f)
	var p event.Parser
	v, err := p.Parse(native)
	require.NoError(t, err, string(native))
	return v, prov
}

// values reads every value of each path, Splunk style.
func values(v *event.View, paths ...string) map[string][]string {
	out := map[string][]string{}
	for _, name := range paths {
		v.Each(event.CompilePath(name, false), func(b []byte) bool {
			out[name] = append(out[name], string(b))
			return true
		})
	}
	return out
}

func TestGKEMapping(t *testing.T) {
	fields := []string{
		"kind", "apiVersion", "level", "auditID", "stage", "requestURI", "verb", "user.username", "user.groups{}",
		"sourceIPs{}", "userAgent", "objectRef.resource", "objectRef.subresource", "objectRef.namespace",
		"objectRef.name", "objectRef.apiGroup", "objectRef.apiVersion", "responseStatus.code", "responseStatus.status",
		"responseStatus.reason", "requestObject.spec.type", "requestObject.spec.hostNetwork",
		"requestObject.roleRef.name", "responseObject.spec.ports{}.nodePort", "requestReceivedTimestamp",
		"stageTimestamp", "annotations.authorization.k8s.io/decision", "annotations.audit.k8s.io/truncated",
	}
	tests := []struct {
		file string
		want map[string][]string
		prov map[string]string
	}{
		{
			file: "service-nodeport-create.json",
			want: map[string][]string{
				"kind": {"Event"}, "apiVersion": {"audit.k8s.io/v1"}, "level": {"RequestResponse"},
				"auditID": {"92d2061c-e078-4fb0-9961-c7fd86af4553"}, "stage": {"ResponseComplete"},
				"requestURI": {"/api/v1/namespaces/shop/services"}, "verb": {"create"},
				"user.username": {"jane.doe@corp.example"}, "user.groups{}": {"system:authenticated"}, "sourceIPs{}": {"10.20.4.17"},
				"userAgent": {"kubectl/v1.31.2 (linux/amd64) kubernetes/5864a46"}, "objectRef.resource": {"services"},
				"objectRef.namespace": {"shop"}, "objectRef.name": {"payments-debug"}, "objectRef.apiGroup": {""},
				"objectRef.apiVersion": {"v1"}, "responseStatus.code": {"201"}, "requestObject.spec.type": {"NodePort"},
				"responseObject.spec.ports{}.nodePort": {"31337"}, "requestReceivedTimestamp": {"2026-12-05T09:14:01.341359Z"},
				"stageTimestamp": {"2026-12-05T09:14:01.341359Z"}, "annotations.authorization.k8s.io/decision": {"allow"},
			},
			prov: map[string]string{
				AttrCloudProvider: "gcp", AttrCloudPlatform: "gcp_kubernetes_engine", AttrCloudAccountID: "shop-prod-4711",
				AttrCloudRegion: "europe-west1", AttrClusterName: "prod-gke",
			},
		},
		{
			file: "pod-hostnetwork-create.json",
			want: map[string][]string{
				"kind": {"Event"}, "apiVersion": {"audit.k8s.io/v1"}, "level": {"Request"},
				"auditID": {"55da795b-f772-4d27-b83a-275e2835af7f"}, "stage": {"ResponseComplete"},
				"requestURI": {"/api/v1/namespaces/tools/pods"}, "verb": {"create"},
				"user.username": {"system:serviceaccount:web:frontend"}, "sourceIPs{}": {"10.244.3.12"},
				"user.groups{}": {"system:serviceaccounts", "system:serviceaccounts:web", "system:authenticated"}, "userAgent": {"curl/8.5.0"},
				"objectRef.resource": {"pods"}, "objectRef.namespace": {"tools"},
				"objectRef.name": {"sniffer"}, "objectRef.apiGroup": {""}, "objectRef.apiVersion": {"v1"},
				"responseStatus.code": {"201"}, "requestObject.spec.hostNetwork": {"true"},
				"requestReceivedTimestamp": {"2026-12-05T09:14:11.882154Z"}, "stageTimestamp": {"2026-12-05T09:14:11.882154Z"},
				"annotations.authorization.k8s.io/decision": {"allow"},
			},
			prov: map[string]string{
				AttrCloudProvider: "gcp", AttrCloudPlatform: "gcp_kubernetes_engine", AttrCloudAccountID: "shop-prod-4711",
				AttrCloudRegion: "us-central1", AttrCloudZone: "us-central1-c", AttrClusterName: "tools-gke",
			},
		},
		{
			file: "pod-exec-forbidden.json",
			want: map[string][]string{
				"kind": {"Event"}, "apiVersion": {"audit.k8s.io/v1"}, "level": {"Metadata"},
				"auditID": {"e2c3a4b5-6d7e-4f80-9a1b-2c3d4e5f6a7b"}, "stage": {"ResponseComplete"},
				"requestURI": {"/api/v1/namespaces/payments/pods/api-7d9f/exec"}, "verb": {"create"},
				"user.username": {"intern@corp.example"}, "user.groups{}": {"system:authenticated"}, "sourceIPs{}": {"203.0.113.50"},
				"userAgent": {"kubectl/v1.30.1 (darwin/arm64) kubernetes/a6b0c5a"}, "objectRef.resource": {"pods"},
				"objectRef.subresource": {"exec"}, "objectRef.namespace": {"payments"}, "objectRef.name": {"api-7d9f"},
				"objectRef.apiGroup": {""}, "objectRef.apiVersion": {"v1"}, "responseStatus.code": {"403"},
				"responseStatus.status": {"Failure"}, "responseStatus.reason": {"Forbidden"},
				"requestReceivedTimestamp": {"2026-12-05T10:02:44.120000Z"}, "stageTimestamp": {"2026-12-05T10:02:44.120000Z"},
				"annotations.authorization.k8s.io/decision": {"forbid"},
			},
			prov: map[string]string{
				AttrCloudProvider: "gcp", AttrCloudPlatform: "gcp_kubernetes_engine", AttrCloudAccountID: "shop-prod-4711",
				AttrCloudRegion: "europe-west1", AttrClusterName: "prod-gke",
			},
		},
		{
			file: "clusterrolebinding-create.json",
			want: map[string][]string{
				"kind": {"Event"}, "apiVersion": {"audit.k8s.io/v1"}, "level": {"Request"},
				"auditID": {"7a7a7a7a-8b8b-4c4c-9d9d-0e0e0e0e0e0e"}, "stage": {"ResponseComplete"},
				"requestURI": {"/apis/rbac.authorization.k8s.io/v1/clusterrolebindings"}, "verb": {"create"},
				"user.username": {"ci-deployer@shop-prod-4711.iam.gserviceaccount.com"}, "sourceIPs{}": {"35.187.0.10"},
				"user.groups{}": {"system:authenticated"}, "userAgent": {"kubectl/v1.31.0 (linux/amd64) kubernetes/9edcffc"},
				"objectRef.resource": {"clusterrolebindings"},
				"objectRef.name":     {"ci-admin"}, "objectRef.apiGroup": {"rbac.authorization.k8s.io"},
				"objectRef.apiVersion": {"v1"}, "responseStatus.code": {"201"}, "requestObject.roleRef.name": {"cluster-admin"},
				"requestReceivedTimestamp": {"2026-12-05T11:00:00.500000Z"}, "stageTimestamp": {"2026-12-05T11:00:00.500000Z"},
				"annotations.authorization.k8s.io/decision": {"allow"},
			},
			prov: map[string]string{
				AttrCloudProvider: "gcp", AttrCloudPlatform: "gcp_kubernetes_engine", AttrCloudAccountID: "shop-prod-4711",
				AttrCloudRegion: "europe-west1", AttrClusterName: "prod-gke",
			},
		},
		{
			// The API server dropped the bodies for size and said so in a label: the native event carries the same
			// annotation, and the lowest level at which the API server drops bodies.
			file: "pod-create-truncated.json",
			want: map[string][]string{
				"kind": {"Event"}, "apiVersion": {"audit.k8s.io/v1"}, "level": {"Request"},
				"auditID": {"5f0b7c1e-2d4a-4c8e-9b3f-7a6e1d2c4b90"}, "stage": {"ResponseComplete"},
				"requestURI": {"/api/v1/namespaces/ops-tools/pods"}, "verb": {"create"},
				"user.username": {"omar.haddad@corp.example"}, "user.groups{}": {"system:authenticated"}, "sourceIPs{}": {"10.20.6.41"},
				"userAgent": {"kubectl/v1.30.4 (darwin/arm64) kubernetes/a51b3b7"}, "objectRef.resource": {"pods"},
				"objectRef.namespace": {"ops-tools"}, "objectRef.name": {"toolbox-q7x2"}, "objectRef.apiGroup": {""},
				"objectRef.apiVersion": {"v1"}, "responseStatus.code": {"201"},
				"requestReceivedTimestamp": {"2026-12-06T11:02:14.352817Z"}, "stageTimestamp": {"2026-12-06T11:02:14.352817Z"},
				"annotations.authorization.k8s.io/decision": {"allow"}, "annotations.audit.k8s.io/truncated": {"true"},
			},
			prov: map[string]string{
				AttrCloudProvider: "gcp", AttrCloudPlatform: "gcp_kubernetes_engine", AttrCloudAccountID: "shop-prod-4711",
				AttrCloudRegion: "europe-west1", AttrClusterName: "prod-gke",
			},
		},
	}
	for _, tt := range tests {
		t.Run(tt.file, func(t *testing.T) {
			body, err := os.ReadFile(filepath.Join("testdata", "gke", tt.file))
			require.NoError(t, err)
			v, prov := gkeView(t, body)
			assert.Equal(t, tt.want, values(v, fields...))
			assert.Equal(t, tt.prov, prov)
		})
	}
}

// TestGKEEntryVariants covers the parts of an entry the files above do not: stages, fallbacks, status codes.
func TestGKEEntryVariants(t *testing.T) {
	const pp = `"serviceName":"k8s.io","methodName":"io.k8s.core.v1.pods.watch","resourceName":"core/v1/namespaces/default/pods"`
	tests := []struct {
		name  string
		entry string
		want  map[string][]string
	}{
		{
			name:  "first entry of a watch",
			entry: `{"protoPayload":{` + pp + `},"operation":{"id":"w-1","first":true}}`,
			want:  map[string][]string{"stage": {"ResponseStarted"}, "auditID": {"w-1"}, "verb": {"watch"}, "responseStatus.code": {"200"}},
		},
		{
			name:  "last entry of a watch",
			entry: `{"protoPayload":{` + pp + `},"operation":{"id":"w-1","last":true}}`,
			want:  map[string][]string{"stage": {"ResponseComplete"}, "auditID": {"w-1"}, "verb": {"watch"}, "responseStatus.code": {"200"}},
		},
		{
			// A watch in one entry, as a session, is read at ResponseStarted, then ResponseComplete (TestGKEWatchOneEntry).
			name:  "no operation: insertId and receiveTimestamp",
			entry: `{"insertId":"ins-9","receiveTimestamp":"2026-01-01T00:00:01Z","protoPayload":{` + pp + `}}`,
			want: map[string][]string{"stage": {"ResponseStarted"}, "auditID": {"ins-9"}, "verb": {"watch"},
				"responseStatus.code": {"200"}, "stageTimestamp": {"2026-01-01T00:00:01Z"}},
		},
		{
			name:  "not found",
			entry: `{"protoPayload":{"serviceName":"k8s.io","methodName":"io.k8s.core.v1.secrets.get","resourceName":"core/v1/namespaces/a/secrets/s","status":{"code":5,"message":"secrets \"s\" not found"}}}`,
			want: map[string][]string{"stage": {"ResponseComplete"}, "verb": {"get"}, "responseStatus.code": {"404"},
				"responseStatus.reason": {"NotFound"}, "responseStatus.message": {`secrets "s" not found`}},
		},
		{
			name:  "out-of-range status code",
			entry: `{"protoPayload":{"serviceName":"k8s.io","methodName":"io.k8s.core.v1.secrets.get","resourceName":"core/v1/namespaces/a/secrets/s","status":{"code":99}}}`,
			want:  map[string][]string{"stage": {"ResponseComplete"}, "verb": {"get"}, "responseStatus.code": {"500"}},
		},
		{
			// A session in one entry opened: written at ResponseStarted, as the API server writes an upgraded request.
			name:  "successful exec answers 101",
			entry: `{"protoPayload":{"serviceName":"k8s.io","methodName":"io.k8s.core.v1.pods.exec.create","resourceName":"core/v1/namespaces/a/pods/p/exec","status":{}}}`,
			want:  map[string][]string{"stage": {"ResponseStarted"}, "verb": {"create"}, "responseStatus.code": {"101"}},
		},
		{
			name:  "the last entry of a session written in two",
			entry: `{"protoPayload":{"serviceName":"k8s.io","methodName":"io.k8s.core.v1.pods.exec.create","resourceName":"core/v1/namespaces/a/pods/p/exec","status":{}},"operation":{"last":true}}`,
			want:  map[string][]string{"stage": {"ResponseComplete"}, "verb": {"create"}, "responseStatus.code": {"101"}},
		},
		{
			name:  "non-resource request",
			entry: `{"protoPayload":{"serviceName":"k8s.io","methodName":"io.k8s.get","resourceName":"readyz","status":{"code":0}}}`,
			want: map[string][]string{"stage": {"ResponseComplete"}, "verb": {"get"}, "responseStatus.code": {"200"},
				"requestURI": {"/readyz"}},
		},
		{
			// Its path has the shape group/version/resource; the method says it names no resource.
			name:  "non-resource request with a versioned path",
			entry: `{"protoPayload":{"serviceName":"k8s.io","methodName":"io.k8s.get","resourceName":"openid/v1/jwks","status":{"code":0}}}`,
			want: map[string][]string{"stage": {"ResponseComplete"}, "verb": {"get"}, "responseStatus.code": {"200"},
				"requestURI": {"/openid/v1/jwks"}},
		},
	}
	paths := []string{"stage", "auditID", "verb", "responseStatus.code", "responseStatus.reason", "responseStatus.message",
		"stageTimestamp", "requestURI", "objectRef.resource"}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			v, prov := gkeView(t, []byte(tt.entry))
			got := values(v, paths...)
			if tt.want["requestURI"] != nil {
				assert.Empty(t, got["objectRef.resource"], "a non-resource request has no objectRef")
				delete(got, "objectRef.resource")
			} else {
				delete(got, "requestURI")
				delete(got, "objectRef.resource")
			}
			assert.Equal(t, tt.want, got)
			assert.Nil(t, prov, "no resource labels, no provenance")
		})
	}
}

func TestImpliedGroups(t *testing.T) {
	for user, want := range map[string][]string{
		"system:anonymous":                      {"system:unauthenticated"},
		"system:serviceaccount:kube-system:ccm": {"system:serviceaccounts", "system:serviceaccounts:kube-system", "system:authenticated"},
		"system:serviceaccount:":                {"system:authenticated"},
		"system:serviceaccount::x":              {"system:authenticated"},
		"jane@corp.example":                     {"system:authenticated"},
		"system:node:gke-pool-1-abcd":           {"system:authenticated"},
	} {
		assert.Equal(t, want, impliedGroups(user), user)
	}
}

func TestGKEMethodsThatAreNotEvents(t *testing.T) {
	for name, entry := range map[string]string{
		"no protoPayload object": `{"protoPayload":"x"}`,
		"unparseable method":     `{"protoPayload":{"serviceName":"k8s.io","methodName":"io.k8s.core.pods"}}`,
		"another service":        `{"protoPayload":{"serviceName":"compute.googleapis.com","methodName":"v1.compute.instances.insert"}}`,
		"no service, no io.k8s":  `{"protoPayload":{"methodName":"google.iam.admin.v1.CreateRole"}}`,
	} {
		_, err := New(Config{}).Each([]byte(entry), func(Event) { t.Errorf("%s: unexpected event", name) })
		assert.ErrorIs(t, err, ErrNoEvents, name)
	}
}

// TestGKEDryRunAndNamespaces: a server-side dry run, which GKE says in a label, shows in requestURI as the API server
// writes it; a namespace create has the new namespace's name and no namespace, as in native events.
func TestGKEDryRunAndNamespaces(t *testing.T) {
	const create = `{"protoPayload":{"serviceName":"k8s.io","methodName":"io.k8s.core.v1.pods.create",` +
		`"resourceName":"core/v1/namespaces/default/pods/p","status":{}}`
	for labels, want := range map[string]string{
		``: "/api/v1/namespaces/default/pods",
		`,"labels":{"command.gke.io/dryRun":"true"}`:  "/api/v1/namespaces/default/pods?dryRun=All",
		`,"labels":{"command.gke.io/dryRun":"false"}`: "/api/v1/namespaces/default/pods",
	} {
		v, _ := gkeView(t, []byte(create+labels+`}`))
		assert.Equal(t, []string{want}, values(v, "requestURI")["requestURI"], labels)
	}

	ns := func(method, rn string) map[string][]string {
		v, _ := gkeView(t, []byte(`{"protoPayload":{"serviceName":"k8s.io","methodName":"`+method+`","resourceName":"`+rn+`","status":{}}}`))
		return values(v, "objectRef.namespace", "objectRef.name", "requestURI")
	}
	assert.Equal(t, map[string][]string{"objectRef.name": {"kube-evil"}, "requestURI": {"/api/v1/namespaces"}},
		ns("io.k8s.core.v1.namespaces.create", "core/v1/namespaces/kube-evil"))
	assert.Equal(t, map[string][]string{"objectRef.namespace": {"kube-evil"}, "objectRef.name": {"kube-evil"},
		"requestURI": {"/api/v1/namespaces/kube-evil"}},
		ns("io.k8s.core.v1.namespaces.delete", "core/v1/namespaces/kube-evil"), "the namespace object itself, as the API server reads its path")
}

// TestGKETruncatedLabel: an entry whose bodies the API server dropped for size says so in the label
// audit.k8s.io/truncated, which becomes the annotation the API server writes on a native event; such an event had
// level Request or above, as the truncating backend drops bodies at no lower level. Without the label, an entry
// without bodies is a Metadata event.
func TestGKETruncatedLabel(t *testing.T) {
	const create = `{"protoPayload":{"serviceName":"k8s.io","methodName":"io.k8s.apps.v1.deployments.patch",` +
		`"resourceName":"apps/v1/namespaces/shop/deployments/api","status":{}}`
	for labels, want := range map[string]map[string][]string{
		``: {"level": {"Metadata"}},
		`,"labels":{"audit.k8s.io/truncated":"true"}`:  {"level": {"Request"}, "annotations.audit.k8s.io/truncated": {"true"}},
		`,"labels":{"audit.k8s.io/truncated":"True"}`:  {"level": {"Request"}, "annotations.audit.k8s.io/truncated": {"True"}},
		`,"labels":{"audit.k8s.io/truncated":"false"}`: {"level": {"Metadata"}, "annotations.audit.k8s.io/truncated": {"false"}},
	} {
		v, _ := gkeView(t, []byte(create+labels+`}`))
		assert.Equal(t, want, values(v, "level", "annotations.audit.k8s.io/truncated"), labels)
	}
	v, _ := gkeView(t, []byte(`{"protoPayload":{"serviceName":"k8s.io","methodName":"io.k8s.apps.v1.deployments.patch",`+
		`"resourceName":"apps/v1/namespaces/shop/deployments/api","response":{"kind":"Deployment"},"status":{}},`+
		`"labels":{"audit.k8s.io/truncated":"true"}}`))
	assert.Equal(t, []string{"RequestResponse"}, values(v, "level")["level"], "a body present decides")
}

// TestGKEPrincipalSubject: a principal federated by workforce identity has a subject and no e-mail address; it is
// the user, authenticated.
func TestGKEPrincipalSubject(t *testing.T) {
	const subject = "principal://iam.googleapis.com/locations/global/workforcePools/corp/subject/alice"
	v, _ := gkeView(t, []byte(`{"protoPayload":{"serviceName":"k8s.io","methodName":"io.k8s.core.v1.secrets.get",`+
		`"resourceName":"core/v1/namespaces/a/secrets/s","authenticationInfo":{"principalSubject":"`+subject+`"},"status":{}}}`))
	assert.Equal(t, map[string][]string{"user.username": {subject}, "user.groups{}": {"system:authenticated"}},
		values(v, "user.username", "user.groups{}"))
}

// TestGKEImpersonation: GKE writes the caller of an impersonated request (kubectl --as) in principalEmail and the
// identity it acted as in authenticationInfo.authoritySelector (as in the entry quoted in kyma-project/kyma#2811, and
// as elastic/detection-rules' GKE impersonation rule reads it). The native event has the caller in user and the
// impersonated identity in impersonatedUser, with the groups the API server gives it.
func TestGKEImpersonation(t *testing.T) {
	entry := func(selector string) []byte {
		return []byte(`{"protoPayload":{"@type":"type.googleapis.com/google.cloud.audit.AuditLog","serviceName":"k8s.io",` +
			`"methodName":"io.k8s.core.v1.secrets.list","resourceName":"core/v1/namespaces/kube-system/secrets",` +
			`"authenticationInfo":{"principalEmail":"system:serviceaccount:ops:access-proxy"` + selector + `},` +
			`"requestMetadata":{"callerIp":"10.8.0.12"},"status":{}},"operation":{"first":true,"last":true}}`)
	}
	paths := []string{"user.username", "user.groups{}", "impersonatedUser.username", "impersonatedUser.groups{}"}

	v, _ := gkeView(t, entry(`,"authoritySelector":"system:serviceaccount:kube-system:replicaset-controller"`))
	assert.Equal(t, map[string][]string{
		"user.username":             {"system:serviceaccount:ops:access-proxy"},
		"user.groups{}":             {"system:serviceaccounts", "system:serviceaccounts:ops", "system:authenticated"},
		"impersonatedUser.username": {"system:serviceaccount:kube-system:replicaset-controller"},
		"impersonatedUser.groups{}": {"system:serviceaccounts", "system:serviceaccounts:kube-system", "system:authenticated"},
	}, values(v, paths...))

	v, _ = gkeView(t, entry(`,"authoritySelector":"admin@corp.example"`))
	assert.Equal(t, []string{"admin@corp.example"}, values(v, paths...)["impersonatedUser.username"])
	assert.Equal(t, []string{"system:authenticated"}, values(v, paths...)["impersonatedUser.groups{}"])

	v, _ = gkeView(t, entry(``))
	assert.Empty(t, values(v, paths...)["impersonatedUser.username"], "no selector, no impersonation")
}

// TestGKEWatchOneEntry: GKE writes every Kubernetes audit entry with operation first and last both true (the schema
// in GoogleCloudPlatform/gke-mcp, pkg/tools/logging/schemas/k8s_audit_logs.md: "first: Always set to true", "last:
// Always set to true", operation.id is the insertId), a watch included. The API server writes a watch at
// ResponseStarted when it starts sending, the stage the secret-read rules read watches at; a successful one-entry
// watch must be read there too, as a session is, or no GKE watch is ever seen by them.
func TestGKEWatchOneEntry(t *testing.T) {
	const watch = `{"insertId":"3f1d2c4b-5a69-4e70-8b91-a2b3c4d5e6f7","protoPayload":{"serviceName":"k8s.io",` +
		`"methodName":"io.k8s.core.v1.secrets.watch","resourceName":"core/v1/namespaces/shop/secrets",` +
		`"authenticationInfo":{"principalEmail":"dev@corp.example"},"status":%s},` +
		`"operation":{"id":"3f1d2c4b-5a69-4e70-8b91-a2b3c4d5e6f7","producer":"k8s.io","first":true,"last":true}}`
	stage := func(status string) []string {
		v, _ := gkeView(t, []byte(fmt.Sprintf(watch, status)))
		return values(v, "stage", "responseStatus.code")["stage"]
	}
	assert.Equal(t, []string{"ResponseStarted"}, stage(`{}`), "a successful watch in one entry")
	assert.Equal(t, []string{"ResponseComplete"}, stage(`{"code":7,"message":"Forbidden"}`), "a refused watch")
	assert.Equal(t, []string{"ResponseStarted", "ResponseComplete"}, gkeStages(t, fmt.Sprintf(watch, `{}`)),
		"a successful watch is both events a native log has")
	assert.Equal(t, []string{"ResponseComplete"}, gkeStages(t, fmt.Sprintf(watch, `{"code":7}`)))
}

// gkeStages is the stage of each event an entry is read as.
func gkeStages(t *testing.T, entry string) []string {
	t.Helper()
	var stages []string
	_, err := New(Config{}).Each([]byte(entry), func(ev Event) {
		var p event.Parser
		v, err := p.Parse(ev.Body)
		require.NoError(t, err)
		stages = append(stages, values(v, "stage")["stage"]...)
	})
	require.NoError(t, err)
	return stages
}
