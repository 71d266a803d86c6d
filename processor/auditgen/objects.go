package auditgen

import (
	"fmt"
	"strings"
	"time"
)

// The cluster the log comes from: control plane, nodes, namespaces and the identities that talk to the API server.

const (
	nodes       = 40
	gitCommit   = "a78aa47"
	controlIP   = "10.0.0.10"
	platformStr = " (linux/amd64) kubernetes/" + gitCommit
)

var (
	appNamespaces = []string{"payments", "checkout", "search", "web", "data", "identity", "catalog", "orders"}
	appNames      = []string{"api", "worker", "frontend", "cache", "gateway", "scheduler", "indexer", "notifier"}
	registries    = []string{"registry.example.com", "123456789012.dkr.ecr.eu-west-1.amazonaws.com", "ghcr.io/example"}
	users         = []string{"alice@example.com", "bob@example.com", "carol@example.com", "dave@example.com"}
	userIPs       = []string{"192.0.2.15", "192.0.2.44", "198.51.100.23", "198.51.100.87"}
)

func nodeName(i int) string { return fmt.Sprintf("worker-%d", i) }
func nodeIP(i int) string   { return fmt.Sprintf("10.0.1.%d", 10+i) }

func (g *Generator) node() (string, string) {
	i := g.r.between(1, nodes)
	return nodeName(i), nodeIP(i)
}

func rbacReason(kind, binding, role, subjectKind, subject string) string {
	return fmt.Sprintf("RBAC: allowed by %s %q of ClusterRole %q to %s %q", kind, binding, role, subjectKind, subject)
}

func (g *Generator) kubelet() identity {
	name, ip := g.node()
	return identity{
		user: obj{{"username", "system:node:" + name}, {"groups", []string{"system:nodes", "system:authenticated"}}},
		ip:   ip, ua: "kubelet/" + k8sVersion + platformStr,
	}
}

func controlPlane(component, suffix string) identity {
	user := "system:" + component
	return identity{
		user: obj{{"username", user}, {"groups", []string{"system:authenticated"}}},
		ip:   controlIP, ua: component + "/" + k8sVersion + platformStr + suffix,
		reason: rbacReason("ClusterRoleBinding", user, user, "User", user),
	}
}

// controller is a kube-controller-manager controller running under its own service account.
func (g *Generator) controller(name string) identity {
	sa := "system:serviceaccount:kube-system:" + name
	return identity{
		user: obj{{"username", sa}, {"uid", g.r.uuid()},
			{"groups", []string{"system:serviceaccounts", "system:serviceaccounts:kube-system", "system:authenticated"}}},
		ip: controlIP, ua: "kube-controller-manager/" + k8sVersion + platformStr + "/" + sa,
		reason: rbacReason("ClusterRoleBinding", "system:controller:"+name, "system:controller:"+name,
			"ServiceAccount", name+"/kube-system"),
	}
}

// serviceAccount is a workload's service account.
func (g *Generator) serviceAccount(ns, name, ua string) identity {
	return identity{
		user: obj{{"username", "system:serviceaccount:" + ns + ":" + name}, {"uid", g.r.uuid()},
			{"groups", []string{"system:serviceaccounts", "system:serviceaccounts:" + ns, "system:authenticated"}},
			{"extra", obj{{"authentication.kubernetes.io/pod-name", []string{name + "-" + g.r.alnum(10) + "-" + g.r.alnum(5)}}}}},
		ip: fmt.Sprintf("10.244.%d.%d", g.r.between(0, 39), g.r.between(2, 250)), ua: ua,
		reason: rbacReason("ClusterRoleBinding", name, name, "ServiceAccount", name+"/"+ns),
	}
}

// person is a human using kubectl through OIDC.
func (g *Generator) person() identity {
	i := g.r.intn(len(users))
	return identity{
		user: obj{{"username", "oidc:" + users[i]}, {"groups", []string{"oidc:developers", "system:authenticated"}}},
		ip:   userIPs[i], ua: "kubectl/" + k8sVersion + " (darwin/arm64) kubernetes/" + gitCommit,
		reason: rbacReason("ClusterRoleBinding", "developers-edit", "edit", "Group", "oidc:developers"),
	}
}

func anonymous(ip, ua string) identity {
	return identity{
		user: obj{{"username", "system:anonymous"}, {"groups", []string{"system:unauthenticated"}}},
		ip:   ip, ua: ua,
		reason: rbacReason("ClusterRoleBinding", "system:public-info-viewer", "system:public-info-viewer", "Group", "system:unauthenticated"),
	}
}

// ---- objects -------------------------------------------------------------------------------------------------

func (g *Generator) old(maxHours int) string {
	return g.stamp(g.now.Add(-time.Duration(g.r.between(1, maxHours*3600)) * time.Second).Truncate(time.Second))
}

// managedField is one server-side-apply ownership record; fields is its fieldsV1 tree.
func (g *Generator) managedField(manager, op, apiVersion string, fields obj) obj {
	return obj{{"manager", manager}, {"operation", op}, {"apiVersion", apiVersion},
		{"time", g.old(48)[:19] + "Z"}, {"fieldsType", "FieldsV1"}, {"fieldsV1", fields}}
}

func (g *Generator) meta(name, ns string, labels obj, annotations obj, owner obj, managed arr) obj {
	m := obj{{"name", name}}
	if ns != "" {
		m = append(m, kv{"namespace", ns})
	}
	m = append(m, kv{"uid", g.r.uuid()}, kv{"resourceVersion", g.nextRV()}, kv{"creationTimestamp", g.old(2000)[:19] + "Z"})
	if labels != nil {
		m = append(m, kv{"labels", labels})
	}
	if annotations != nil {
		m = append(m, kv{"annotations", annotations})
	}
	if owner != nil {
		m = append(m, kv{"ownerReferences", arr{owner}})
	}
	if managed != nil {
		m = append(m, kv{"managedFields", managed})
	}
	return m
}

func (g *Generator) lease(name, ns, holder, manager string) obj {
	renew := g.stamp(g.now)
	return obj{{"kind", "Lease"}, {"apiVersion", "coordination.k8s.io/v1"},
		{"metadata", g.meta(name, ns, nil, nil, nil, arr{g.managedField(manager, "Update", "coordination.k8s.io/v1",
			obj{{"f:spec", obj{{"f:acquireTime", obj{}}, {"f:holderIdentity", obj{}}, {"f:leaseDurationSeconds", obj{}},
				{"f:leaseTransitions", obj{}}, {"f:renewTime", obj{}}}}})})},
		{"spec", obj{{"holderIdentity", holder}, {"leaseDurationSeconds", 15}, {"acquireTime", g.old(72)},
			{"renewTime", renew}, {"leaseTransitions", g.r.between(0, 9)}}}}
}

func (g *Generator) endpointSlice(ns, svc string, n int) obj {
	var eps arr
	for range n {
		node, _ := g.node()
		pod := svc + "-" + g.r.alnum(10) + "-" + g.r.alnum(5)
		eps = append(eps, obj{{"addresses", []string{fmt.Sprintf("10.244.%d.%d", g.r.between(0, 39), g.r.between(2, 250))}},
			{"conditions", obj{{"ready", true}, {"serving", true}, {"terminating", false}}},
			{"targetRef", obj{{"kind", "Pod"}, {"namespace", ns}, {"name", pod}, {"uid", g.r.uuid()}}},
			{"nodeName", node}, {"zone", "eu-west-1" + string("abc"[g.r.intn(3)])}})
	}
	labels := obj{{"app.kubernetes.io/name", svc}, {"endpointslice.kubernetes.io/managed-by", "endpointslice-controller.k8s.io"},
		{"kubernetes.io/service-name", svc}}
	owner := obj{{"apiVersion", "v1"}, {"kind", "Service"}, {"name", svc}, {"uid", g.r.uuid()},
		{"controller", true}, {"blockOwnerDeletion", true}}
	return obj{{"kind", "EndpointSlice"}, {"apiVersion", "discovery.k8s.io/v1"},
		{"metadata", g.meta(svc+"-"+g.r.alnum(5), ns, labels, obj{{"endpoints.kubernetes.io/last-change-trigger-time", g.old(1)}}, owner,
			arr{g.managedField("kube-controller-manager", "Update", "discovery.k8s.io/v1",
				obj{{"f:addressType", obj{}}, {"f:endpoints", obj{}}, {"f:metadata", obj{{"f:labels", obj{{".", obj{}},
					{"f:endpointslice.kubernetes.io/managed-by", obj{}}, {"f:kubernetes.io/service-name", obj{}}}}}}, {"f:ports", obj{}}})})},
		{"addressType", "IPv4"}, {"endpoints", eps},
		{"ports", arr{obj{{"name", "http"}, {"protocol", "TCP"}, {"port", 8080}}}}}
}

// configText returns about n bytes of a configuration file, with newlines and quotes as real files have.
func (g *Generator) configText(n int) string {
	var b strings.Builder
	for i := 0; b.Len() < n; i++ {
		switch g.r.intn(4) {
		case 0:
			fmt.Fprintf(&b, "[section_%d]\n", i)
		case 1:
			fmt.Fprintf(&b, "key_%d = \"%s\"\n", i, g.r.hex(g.r.between(8, 40)))
		case 2:
			fmt.Fprintf(&b, "  endpoint_%d: https://svc-%d.internal.example.com:%d/v1/path?x=1&y=2\n", i, i, g.r.between(1000, 9999))
		default:
			fmt.Fprintf(&b, "# comment line %d: %s\n", i, g.r.alnum(g.r.between(20, 70)))
		}
	}
	return b.String()
}

func (g *Generator) configMap(ns, name string, size int) obj {
	return obj{{"kind", "ConfigMap"}, {"apiVersion", "v1"},
		{"metadata", g.meta(name, ns, obj{{"app.kubernetes.io/name", name}}, nil, nil,
			arr{g.managedField("helm", "Update", "v1", obj{{"f:data", obj{{".", obj{}}, {"f:config.yaml", obj{}}}}})})},
		{"data", obj{{"config.yaml", g.configText(size)}}}}
}

func (g *Generator) container(name, image string, sc obj) obj {
	c := obj{{"name", name}, {"image", image},
		{"ports", arr{obj{{"name", "http"}, {"containerPort", 8080}, {"protocol", "TCP"}}}},
		{"env", arr{obj{{"name", "LOG_LEVEL"}, {"value", "info"}}, obj{{"name", "POD_NAMESPACE"},
			{"valueFrom", obj{{"fieldRef", obj{{"apiVersion", "v1"}, {"fieldPath", "metadata.namespace"}}}}}}}},
		{"resources", obj{{"limits", obj{{"memory", "512Mi"}}}, {"requests", obj{{"cpu", "100m"}, {"memory", "256Mi"}}}}},
		{"volumeMounts", arr{obj{{"name", "kube-api-access-" + g.r.alnum(5)}, {"readOnly", true},
			{"mountPath", "/var/run/secrets/kubernetes.io/serviceaccount"}}}},
		{"readinessProbe", obj{{"httpGet", obj{{"path", "/healthz"}, {"port", 8080}, {"scheme", "HTTP"}}},
			{"periodSeconds", 10}, {"successThreshold", 1}, {"failureThreshold", 3}}},
		{"terminationMessagePath", "/dev/termination-log"}, {"terminationMessagePolicy", "File"},
		{"imagePullPolicy", "IfNotPresent"}}
	if sc != nil {
		c = append(c, kv{"securityContext", sc})
	}
	return c
}

// podSpec is an application pod's spec; extra holds fields such as hostNetwork.
func (g *Generator) podSpec(app string, containers arr, extra obj) obj {
	node, _ := g.node()
	s := obj{{"volumes", arr{obj{{"name", "kube-api-access-" + g.r.alnum(5)}, {"projected", obj{{"sources", arr{
		obj{{"serviceAccountToken", obj{{"expirationSeconds", 3607}, {"path", "token"}}}},
		obj{{"configMap", obj{{"name", "kube-root-ca.crt"}, {"items", arr{obj{{"key", "ca.crt"}, {"path", "ca.crt"}}}}}}}}},
		{"defaultMode", 420}}}}}},
		{"containers", containers}, {"restartPolicy", "Always"}, {"terminationGracePeriodSeconds", 30},
		{"dnsPolicy", "ClusterFirst"}, {"serviceAccountName", app}, {"serviceAccount", app}, {"nodeName", node},
		{"securityContext", obj{{"runAsNonRoot", true}}}, {"schedulerName", "default-scheduler"},
		{"tolerations", arr{obj{{"key", "node.kubernetes.io/not-ready"}, {"operator", "Exists"}, {"effect", "NoExecute"}, {"tolerationSeconds", 300}}}},
		{"priority", 0}, {"enableServiceLinks", true}, {"preemptionPolicy", "PreemptLowerPriority"}}
	return append(s, extra...)
}

func (g *Generator) image(app string) string {
	return fmt.Sprintf("%s/%s:%d.%d.%d", pick(&g.r, registries), app, g.r.between(1, 4), g.r.between(0, 30), g.r.between(0, 9))
}

// appPod is a pod of a Deployment, as its ReplicaSet creates it.
func (g *Generator) appPod(ns, app string) (obj, string) {
	hash := g.r.alnum(10)
	name := app + "-" + hash + "-" + g.r.alnum(5)
	labels := obj{{"app", app}, {"pod-template-hash", hash}}
	owner := obj{{"apiVersion", "apps/v1"}, {"kind", "ReplicaSet"}, {"name", app + "-" + hash}, {"uid", g.r.uuid()},
		{"controller", true}, {"blockOwnerDeletion", true}}
	containers := arr{g.container(app, g.image(app), obj{{"allowPrivilegeEscalation", false}, {"readOnlyRootFilesystem", true}})}
	if g.r.chance(400) {
		containers = append(containers, g.container("sidecar", g.image("envoy"), nil))
	}
	managed := arr{g.managedField("kube-controller-manager", "Update", "v1", obj{{"f:metadata", obj{
		{"f:generateName", obj{}}, {"f:labels", obj{{".", obj{}}, {"f:app", obj{}}, {"f:pod-template-hash", obj{}}}},
		{"f:ownerReferences", obj{{".", obj{}}, {`k:{"uid":"` + g.r.uuid() + `"}`, obj{}}}}}},
		{"f:spec", obj{{"f:containers", obj{{`k:{"name":"` + app + `"}`, obj{{".", obj{}}, {"f:image", obj{}},
			{"f:imagePullPolicy", obj{}}, {"f:name", obj{}}, {"f:ports", obj{}}, {"f:resources", obj{}}}}}}}}})}
	pod := obj{{"kind", "Pod"}, {"apiVersion", "v1"},
		{"metadata", g.meta(name, ns, labels, nil, owner, managed)},
		{"spec", g.podSpec(app, containers, nil)}}
	return pod, name
}

func (g *Generator) podStatus(ready bool) obj {
	state := "True"
	if !ready {
		state = "False"
	}
	var conds arr
	for _, t := range []string{"PodReadyToStartContainers", "Initialized", "Ready", "ContainersReady", "PodScheduled"} {
		conds = append(conds, obj{{"type", t}, {"status", state}, {"lastProbeTime", nil}, {"lastTransitionTime", g.old(24)[:19] + "Z"}})
	}
	return obj{{"status", obj{{"conditions", conds}, {"hostIP", nodeIP(g.r.between(1, nodes))},
		{"podIP", fmt.Sprintf("10.244.%d.%d", g.r.between(0, 39), g.r.between(2, 250))},
		{"startTime", g.old(24)[:19] + "Z"},
		{"containerStatuses", arr{obj{{"name", "app"}, {"state", obj{{"running", obj{{"startedAt", g.old(24)[:19] + "Z"}}}}},
			{"lastState", obj{}}, {"ready", ready}, {"restartCount", g.r.between(0, 3)}, {"image", g.image("app")},
			{"imageID", "sha256:" + g.r.hex(64)}, {"containerID", "containerd://" + g.r.hex(64)}, {"started", true}}}},
		{"qosClass", "Burstable"}}}}
}

// nodeStatusPatch is a kubelet's status patch: a heartbeat, or now and then the full status with its image list.
func (g *Generator) nodeStatusPatch(full bool) obj {
	types := []string{"MemoryPressure", "DiskPressure", "PIDPressure", "Ready"}
	var order, conds arr
	for _, t := range types {
		order = append(order, obj{{"type", t}})
		conds = append(conds, obj{{"lastHeartbeatTime", g.stamp(g.now)[:19] + "Z"}, {"type", t}})
	}
	st := obj{{"$setElementOrder/conditions", order}, {"conditions", conds}}
	if full {
		var images arr
		for i := range g.r.between(30, 90) {
			name := fmt.Sprintf("%s/team/image-%d", pick(&g.r, registries), i)
			images = append(images, obj{{"names", []string{name + "@sha256:" + g.r.hex(64), name + ":v" + g.r.hex(7)}},
				{"sizeBytes", g.r.between(5_000_000, 900_000_000)}})
		}
		st = append(st, kv{"images", images})
	}
	return obj{{"status", st}}
}

func (g *Generator) coreEvent(ns, pod, node, reason, message string) obj {
	first := g.stamp(g.now)[:19] + "Z"
	return obj{{"kind", "Event"}, {"apiVersion", "v1"},
		{"metadata", obj{{"name", fmt.Sprintf("%s.%x", pod, g.r.next()>>12)}, {"namespace", ns}, {"creationTimestamp", nil}}},
		{"involvedObject", obj{{"kind", "Pod"}, {"namespace", ns}, {"name", pod}, {"uid", g.r.uuid()},
			{"apiVersion", "v1"}, {"resourceVersion", g.nextRV()}, {"fieldPath", "spec.containers{app}"}}},
		{"reason", reason}, {"message", message}, {"source", obj{{"component", "kubelet"}, {"host", node}}},
		{"firstTimestamp", first}, {"lastTimestamp", first}, {"count", 1}, {"type", "Normal"},
		{"eventTime", nil}, {"reportingComponent", "kubelet"}, {"reportingInstance", node}}
}

func (g *Generator) deployment(ns, app string, replicas int, lastApplied string) obj {
	var ann obj
	if lastApplied != "" {
		ann = obj{{"kubectl.kubernetes.io/last-applied-configuration", lastApplied}, {"deployment.kubernetes.io/revision", "7"}}
	} else {
		ann = obj{{"deployment.kubernetes.io/revision", "7"}}
	}
	return obj{{"kind", "Deployment"}, {"apiVersion", "apps/v1"},
		{"metadata", g.meta(app, ns, obj{{"app", app}}, ann, nil, nil)},
		{"spec", obj{{"replicas", replicas}, {"selector", obj{{"matchLabels", obj{{"app", app}}}}},
			{"template", obj{{"metadata", obj{{"creationTimestamp", nil}, {"labels", obj{{"app", app}}}}},
				{"spec", g.podSpec(app, arr{g.container(app, g.image(app), nil)}, nil)}}},
			{"strategy", obj{{"type", "RollingUpdate"}, {"rollingUpdate", obj{{"maxUnavailable", "25%"}, {"maxSurge", "25%"}}}}},
			{"revisionHistoryLimit", 10}, {"progressDeadlineSeconds", 600}}},
		{"status", obj{{"observedGeneration", g.r.between(2, 40)}, {"replicas", replicas}, {"updatedReplicas", replicas},
			{"readyReplicas", replicas}, {"availableReplicas", replicas}}}}
}
