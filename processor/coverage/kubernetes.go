package coverage

// Resource is a Kubernetes API resource as objectRef.resource names it (plural, lower case), with its API group and
// the verbs its API serves.
type Resource struct {
	Name  string
	Group string
	Verbs []string
}

// The verbs of a resource with the full set of REST operations, in the order the catalog prints them.
var allVerbs = []string{"create", "get", "list", "watch", "update", "patch", "delete", "deletecollection"}

// Reviews are POST-only: their objects are never stored.
var createOnly = []string{"create"}

// BuiltinResources are the built-in resources of the Kubernetes API (v1.32, GA groups), the rows of the catalog
// that no rule may name. Subresources (pods/exec, services/proxy, ...) are not listed: objectRef.resource holds the
// parent resource, and the engine's operation index keys on resource × verb (docs/operations.md).
var BuiltinResources = []Resource{
	{"bindings", "core", createOnly},
	{"componentstatuses", "core", []string{"get", "list"}},
	{"configmaps", "core", allVerbs},
	{"endpoints", "core", allVerbs},
	{"events", "core, events.k8s.io", allVerbs},
	{"limitranges", "core", allVerbs},
	{"namespaces", "core", []string{"create", "get", "list", "watch", "update", "patch", "delete"}},
	{"nodes", "core", allVerbs},
	{"persistentvolumeclaims", "core", allVerbs},
	{"persistentvolumes", "core", allVerbs},
	{"pods", "core", allVerbs},
	{"podtemplates", "core", allVerbs},
	{"replicationcontrollers", "core", allVerbs},
	{"resourcequotas", "core", allVerbs},
	{"secrets", "core", allVerbs},
	{"serviceaccounts", "core", allVerbs},
	{"services", "core", []string{"create", "get", "list", "watch", "update", "patch", "delete"}},
	{"mutatingwebhookconfigurations", "admissionregistration.k8s.io", allVerbs},
	{"validatingadmissionpolicies", "admissionregistration.k8s.io", allVerbs},
	{"validatingadmissionpolicybindings", "admissionregistration.k8s.io", allVerbs},
	{"validatingwebhookconfigurations", "admissionregistration.k8s.io", allVerbs},
	{"customresourcedefinitions", "apiextensions.k8s.io", allVerbs},
	{"apiservices", "apiregistration.k8s.io", allVerbs},
	{"controllerrevisions", "apps", allVerbs},
	{"daemonsets", "apps", allVerbs},
	{"deployments", "apps", allVerbs},
	{"replicasets", "apps", allVerbs},
	{"statefulsets", "apps", allVerbs},
	{"selfsubjectreviews", "authentication.k8s.io", createOnly},
	{"tokenreviews", "authentication.k8s.io", createOnly},
	{"localsubjectaccessreviews", "authorization.k8s.io", createOnly},
	{"selfsubjectaccessreviews", "authorization.k8s.io", createOnly},
	{"selfsubjectrulesreviews", "authorization.k8s.io", createOnly},
	{"subjectaccessreviews", "authorization.k8s.io", createOnly},
	{"horizontalpodautoscalers", "autoscaling", allVerbs},
	{"cronjobs", "batch", allVerbs},
	{"jobs", "batch", allVerbs},
	{"certificatesigningrequests", "certificates.k8s.io", allVerbs},
	{"leases", "coordination.k8s.io", allVerbs},
	{"endpointslices", "discovery.k8s.io", allVerbs},
	{"flowschemas", "flowcontrol.apiserver.k8s.io", allVerbs},
	{"prioritylevelconfigurations", "flowcontrol.apiserver.k8s.io", allVerbs},
	{"ingressclasses", "networking.k8s.io", allVerbs},
	{"ingresses", "networking.k8s.io", allVerbs},
	{"networkpolicies", "networking.k8s.io", allVerbs},
	{"runtimeclasses", "node.k8s.io", allVerbs},
	{"poddisruptionbudgets", "policy", allVerbs},
	{"clusterrolebindings", "rbac.authorization.k8s.io", allVerbs},
	{"clusterroles", "rbac.authorization.k8s.io", allVerbs},
	{"rolebindings", "rbac.authorization.k8s.io", allVerbs},
	{"roles", "rbac.authorization.k8s.io", allVerbs},
	{"priorityclasses", "scheduling.k8s.io", allVerbs},
	{"csidrivers", "storage.k8s.io", allVerbs},
	{"csinodes", "storage.k8s.io", allVerbs},
	{"csistoragecapacities", "storage.k8s.io", allVerbs},
	{"storageclasses", "storage.k8s.io", allVerbs},
	{"volumeattachments", "storage.k8s.io", allVerbs},
}
