package normalize

import (
	"strconv"
	"strings"

	"github.com/valyala/fastjson"
)

// gke maps a Cloud Logging LogEntry holding a GKE Kubernetes audit log (protoPayload.serviceName k8s.io) to a native
// audit event, field by field (docs/sources.md has the table, and what cannot be recovered):
//
//	verb, objectRef.resource, .subresource   protoPayload.methodName  io.k8s.core.v1.pods.exec.create
//	objectRef.apiGroup/.apiVersion           protoPayload.resourceName core/v1/namespaces/ns/pods/name/exec
//	objectRef.namespace/.name/.subresource   protoPayload.resourceName
//	user.username                            protoPayload.authenticationInfo.principalEmail, else .principalSubject
//	user.groups                              the groups the API server gives that name (impliedGroups)
//	impersonatedUser.username, .groups       protoPayload.authenticationInfo.authoritySelector, its implied groups
//	sourceIPs                                protoPayload.requestMetadata.callerIp
//	userAgent                                protoPayload.requestMetadata.callerSuppliedUserAgent
//	requestObject / responseObject           protoPayload.request / protoPayload.response
//	responseStatus.code                      protoPayload.status.code (gRPC code, mapped to HTTP)
//	annotations                              labels (authorization.k8s.io/decision, audit.k8s.io/truncated, ...)
//	requestURI                               resourceName, and ?dryRun=All from the label command.gke.io/dryRun
//	auditID                                  operation.id, else insertId
//	stage                                    operation.first/last; a one-entry session or watch as two events, ResponseStarted and ResponseComplete
//	requestReceivedTimestamp, stageTimestamp timestamp, else receiveTimestamp
func (s *scratch) gke(root *fastjson.Value, fn func(Event)) {
	pp := root.Get("protoPayload")
	if pp == nil || pp.Type() != fastjson.TypeObject {
		return
	}
	method := string(pp.GetStringBytes("methodName"))
	if service := string(pp.GetStringBytes("serviceName")); service != "k8s.io" &&
		!(service == "" && strings.HasPrefix(method, "io.k8s.")) {
		return // another service's audit log (container.googleapis.com cluster operations, ...)
	}
	m, ok := parseMethod(method)
	if !ok {
		return
	}
	rn := parseResourceName(string(pp.GetStringBytes("resourceName")))

	a := &s.arena
	a.Reset()
	str := func(v string) *fastjson.Value { return a.NewString(v) }
	ev := a.NewObject()
	ev.Set("kind", str("Event"))
	ev.Set("apiVersion", str("audit.k8s.io/v1"))
	request, response := object(pp.Get("request")), object(pp.Get("response"))
	labels := object(root.Get("labels"))
	switch {
	case response != nil:
		ev.Set("level", str("RequestResponse"))
	case request != nil || truncated(labels):
		// The API server drops the bodies of an event over its size limit only at level Request or above, and
		// marks it (audit.k8s.io/truncated, kept below as an annotation): it was not a Metadata event.
		ev.Set("level", str("Request"))
	default:
		ev.Set("level", str("Metadata"))
	}
	if id := root.GetStringBytes("operation", "id"); len(id) > 0 {
		ev.Set("auditID", a.NewStringBytes(id))
	} else if id := root.GetStringBytes("insertId"); len(id) > 0 {
		ev.Set("auditID", a.NewStringBytes(id))
	}
	subresource := rn.subresource
	if subresource == "" {
		subresource = m.subresource
	}
	stage := gkeStage(root.Get("operation"))
	// A session (exec, attach, port forwarding, a proxied request) or a watch that GKE wrote as one entry (it writes
	// every request so, operation first and last) and that opened: the API server writes such a request twice, at
	// ResponseStarted when it opens and at ResponseComplete when it ends. Rules on sessions and watches read the
	// first (they would never see the request otherwise), rules on any request the second (anonymous access,
	// impersonation): the entry is read as both events, as a native log has them.
	op := root.Get("operation")
	bothStages := stage == "ResponseComplete" && (op == nil || op.GetBool("first")) &&
		(session(subresource) || m.verb == "watch") && pp.GetInt("status", "code") == 0
	if bothStages {
		stage = "ResponseStarted"
	}
	ev.Set("stage", str(stage))
	if m.resource != "" {
		uri := rn.uri(m.verb, subresource)
		if dryRun(labels) {
			// GKE drops the query string and says in a label what ?dryRun=All said; rules exclude dry runs by
			// requestURI, as on any other cluster (the built-in pack's README shows how).
			uri += "?dryRun=All"
		}
		ev.Set("requestURI", str(uri))
	} else if raw := string(pp.GetStringBytes("resourceName")); raw != "" {
		// A non-resource URL: the resource name is its path, however much it looks like group/version/resource
		// (openid/v1/jwks, the service-account issuer's keys, which anonymous clients read).
		ev.Set("requestURI", str("/"+strings.TrimPrefix(raw, "/")))
	}
	ev.Set("verb", str(m.verb))
	email := pp.GetStringBytes("authenticationInfo", "principalEmail")
	if len(email) == 0 {
		// Workforce and workload identity federation name their principals by subject, without an e-mail address.
		email = pp.GetStringBytes("authenticationInfo", "principalSubject")
	}
	if len(email) > 0 {
		ev.Set("user", identity(a, email))
	}
	if as := pp.GetStringBytes("authenticationInfo", "authoritySelector"); len(as) > 0 {
		// A request made while impersonating (kubectl --as): GKE writes the caller in principalEmail and the identity
		// it acted as here; the API server writes that identity in impersonatedUser, with the groups it adds to an
		// impersonated name (the groups asked for with --as-group are not in the entry).
		ev.Set("impersonatedUser", identity(a, as))
	}
	if ip := pp.GetStringBytes("requestMetadata", "callerIp"); len(ip) > 0 {
		ips := a.NewArray()
		ips.SetArrayItem(0, a.NewStringBytes(ip))
		ev.Set("sourceIPs", ips)
	}
	if ua := pp.GetStringBytes("requestMetadata", "callerSuppliedUserAgent"); len(ua) > 0 {
		ev.Set("userAgent", a.NewStringBytes(ua))
	}
	if m.resource != "" {
		ref := a.NewObject()
		ref.Set("resource", str(m.resource))
		// A namespace's own path (namespaces/<ns>) names it twice; creating one posts to the collection, and the
		// API server gives that request no namespace, only the new object's name.
		if rn.namespace != "" && !(m.resource == "namespaces" && m.verb == "create" && subresource == "") {
			ref.Set("namespace", str(rn.namespace))
		}
		if rn.name != "" {
			ref.Set("name", str(rn.name))
		}
		group, version := rn.group, rn.version
		if version == "" {
			group, version = m.group, m.version
		}
		ref.Set("apiGroup", str(group))
		ref.Set("apiVersion", str(version))
		if subresource != "" {
			ref.Set("subresource", str(subresource))
		}
		ev.Set("objectRef", ref)
	}
	ev.Set("responseStatus", s.responseStatus(pp.Get("status"), m.verb, subresource))
	if request != nil {
		ev.Set("requestObject", request)
	}
	if response != nil {
		ev.Set("responseObject", response)
	}
	ts := root.GetStringBytes("timestamp")
	if len(ts) == 0 {
		ts = root.GetStringBytes("receiveTimestamp")
	}
	if len(ts) > 0 {
		ev.Set("requestReceivedTimestamp", a.NewStringBytes(ts))
		ev.Set("stageTimestamp", a.NewStringBytes(ts))
	}
	if labels != nil {
		ev.Set("annotations", labels)
	}
	s.buf = ev.MarshalTo(s.buf[:0])

	var prov map[string]string
	if res := root.Get("resource"); string(res.GetStringBytes("type")) == "k8s_cluster" {
		prov = gkeProvenance(res.Get("labels"))
	}
	fn(Event{Body: s.buf, Provenance: prov})
	if bothStages {
		ev.Set("stage", str("ResponseComplete"))
		s.buf = ev.MarshalTo(s.buf[:0])
		fn(Event{Body: s.buf, Provenance: prov, Again: true})
	}
}

// truncated reports whether the entry's labels say the API server dropped its request and response bodies for size
// (audit.k8s.io/truncated, as its truncating audit backend annotates such an event).
func truncated(labels *fastjson.Value) bool {
	return strings.EqualFold(string(labels.GetStringBytes("audit.k8s.io/truncated")), "true")
}

// dryRun reports whether the entry's labels say it was a server-side dry run (command.gke.io/dryRun).
func dryRun(labels *fastjson.Value) bool {
	v := string(labels.GetStringBytes("command.gke.io/dryRun"))
	return v != "" && !strings.EqualFold(v, "false")
}

// impliedGroups are the groups the API server itself gives a user name, whatever authenticated it: anonymous
// requests are system:unauthenticated, every other request system:authenticated, and service-account tokens also
// system:serviceaccounts and system:serviceaccounts:<namespace>. GKE records no groups; these are the ones that can be
// known from the name alone (Google Groups for RBAC, system:nodes and the like cannot).
func impliedGroups(username string) []string {
	switch {
	case username == "system:anonymous":
		return []string{"system:unauthenticated"}
	case strings.HasPrefix(username, "system:serviceaccount:"):
		ns, _, ok := strings.Cut(strings.TrimPrefix(username, "system:serviceaccount:"), ":")
		if ok && ns != "" {
			return []string{"system:serviceaccounts", "system:serviceaccounts:" + ns, "system:authenticated"}
		}
	}
	return []string{"system:authenticated"}
}

func object(v *fastjson.Value) *fastjson.Value {
	if v == nil || v.Type() != fastjson.TypeObject {
		return nil
	}
	return v
}

// identity is a user info object (user, impersonatedUser): the name, and the groups the API server gives it.
func identity(a *fastjson.Arena, name []byte) *fastjson.Value {
	u := a.NewObject()
	u.Set("username", a.NewStringBytes(name))
	if implied := impliedGroups(string(name)); len(implied) > 0 {
		groups := a.NewArray()
		for i, g := range implied {
			groups.SetArrayItem(i, a.NewString(g))
		}
		u.Set("groups", groups)
	}
	return u
}

// gkeStage is the stage of an entry by its operation. Google documents every GKE entry as one per request (operation
// first and last); an entry that is first and not last is read as the start of a request written in two.
func gkeStage(op *fastjson.Value) string {
	if op == nil || op.GetBool("last") || !op.GetBool("first") {
		return "ResponseComplete"
	}
	return "ResponseStarted"
}

// session reports whether a request on this subresource is one the API server holds open: exec, attach, port
// forwarding and proxying, which it writes at ResponseStarted when the connection is upgraded or proxied.
func session(subresource string) bool {
	switch subresource {
	case "exec", "attach", "portforward", "proxy":
		return true
	}
	return false
}

// grpcToHTTP maps google.rpc.Code to the HTTP status google.rpc.Code documents for it.
var grpcToHTTP = [...]int{
	0: 200, 1: 499, 2: 500, 3: 400, 4: 504, 5: 404, 6: 409, 7: 403, 8: 429, 9: 400, 10: 409, 11: 400, 12: 501,
	13: 500, 14: 503, 15: 500, 16: 401,
}

// grpcReason is the Kubernetes StatusReason of a failed request, by gRPC code, where one is implied.
var grpcReason = [...]string{
	3: "BadRequest", 4: "Timeout", 5: "NotFound", 6: "AlreadyExists", 7: "Forbidden", 8: "TooManyRequests",
	10: "Conflict", 13: "InternalError", 14: "ServiceUnavailable", 16: "Unauthorized",
}

// responseStatus maps status {code, message} (gRPC) to responseStatus {code, status, reason, message} (HTTP). A
// successful create answers 201 (101 for the streaming exec, attach and portforward), as the API server does; other
// successes 200.
func (s *scratch) responseStatus(st *fastjson.Value, verb, subresource string) *fastjson.Value {
	a := &s.arena
	rs := a.NewObject()
	rs.Set("metadata", a.NewObject())
	code := 0
	if st != nil {
		code = st.GetInt("code")
	}
	if code < 0 || code >= len(grpcToHTTP) {
		code = 2 // UNKNOWN
	}
	httpCode := grpcToHTTP[code]
	if code == 0 && verb == "create" {
		switch subresource {
		case "exec", "attach", "portforward":
			httpCode = 101
		default:
			httpCode = 201
		}
	}
	rs.Set("code", a.NewNumberInt(httpCode))
	if code != 0 {
		rs.Set("status", a.NewString("Failure"))
		if code < len(grpcReason) && grpcReason[code] != "" {
			rs.Set("reason", a.NewString(grpcReason[code]))
		}
		if msg := st.GetStringBytes("message"); len(msg) > 0 {
			rs.Set("message", a.NewStringBytes(msg))
		}
	}
	return rs
}

// method is what a GKE method name says: io.k8s.<group words reversed>.<version>.<resource>[.<subresource>].<verb>,
// or io.k8s.<verb> for a non-resource URL (/healthz, /readyz, /version, ...).
type method struct {
	group, version, resource, subresource, verb string
}

func parseMethod(name string) (method, bool) {
	segs := strings.Split(name, ".")
	if len(segs) == 3 && segs[0] == "io" && segs[1] == "k8s" && segs[2] != "" {
		return method{verb: segs[2]}, true
	}
	v := 1
	for v < len(segs) && !isVersion(segs[v]) {
		v++
	}
	rest := segs[min(v+1, len(segs)):]
	if v >= len(segs) || len(rest) < 2 || len(rest) > 3 {
		return method{}, false
	}
	m := method{version: segs[v], resource: rest[0], verb: rest[len(rest)-1]}
	if len(rest) == 3 {
		m.subresource = rest[1]
	}
	// The group is the reversed domain: io.k8s.authorization.rbac → rbac.authorization.k8s.io. The core group and
	// the built-in groups without a domain (apps, batch, ...) are written io.k8s.<name>.
	words := segs[:v]
	for i, j := 0, len(words)-1; i < j; i, j = i+1, j-1 {
		words[i], words[j] = words[j], words[i]
	}
	m.group = strings.Join(words, ".")
	if short, ok := strings.CutSuffix(m.group, ".k8s.io"); ok && !strings.Contains(short, ".") && legacyGroups[short] {
		m.group = short
	}
	if m.group == "core" {
		m.group = ""
	}
	return m, m.resource != "" && m.verb != ""
}

// legacyGroups are the built-in API groups whose names carry no domain.
var legacyGroups = map[string]bool{
	"core": true, "apps": true, "batch": true, "autoscaling": true, "policy": true, "extensions": true,
}

// isVersion reports whether s is a Kubernetes API version: v1, v2, v1beta1, v1alpha2, ...
func isVersion(s string) bool {
	if len(s) < 2 || s[0] != 'v' || s[1] < '1' || s[1] > '9' {
		return false
	}
	i := 2
	for i < len(s) && s[i] >= '0' && s[i] <= '9' {
		i++
	}
	if i == len(s) {
		return true
	}
	for _, q := range []string{"alpha", "beta"} {
		if rest, ok := strings.CutPrefix(s[i:], q); ok && rest != "" {
			_, err := strconv.Atoi(rest)
			return err == nil && rest[0] != '-' && rest[0] != '+'
		}
	}
	return false
}

// resourceName is what a GKE resource name says: <group>/<version>[/namespaces/<ns>]/<resource>[/<name>[/<sub>]]
// (group "core" for the core group), or a non-resource path such as "readyz".
type resourceName struct {
	group, version, namespace, resource, name, subresource string
	path                                                   string // a non-resource path, with a leading slash
	// proxied is what follows a proxy subresource (nodes/n/proxy/metrics/cadvisor: metrics/cadvisor), the path the
	// request is proxied to, which the API server keeps in requestURI.
	proxied string
}

func parseResourceName(rn string) resourceName {
	segs := strings.Split(rn, "/")
	if len(segs) < 3 || !isVersion(segs[1]) {
		if rn == "" {
			return resourceName{}
		}
		return resourceName{path: "/" + strings.TrimPrefix(rn, "/")}
	}
	r := resourceName{group: segs[0], version: segs[1]}
	if r.group == "core" {
		r.group = ""
	}
	rest := segs[2:]
	// As the API server reads a path (its RequestInfoFactory): namespaces/<ns>/<resource>/... is namespaced, and
	// namespaces/<ns> alone, or with a namespace's own subresource (status, finalize), is the namespace object itself,
	// whose namespace and name are both <ns>.
	if rest[0] == "namespaces" && len(rest) >= 2 {
		r.namespace = rest[1]
		if len(rest) > 2 && rest[2] != "status" && rest[2] != "finalize" {
			rest = rest[2:]
		}
	}
	r.resource = rest[0]
	if len(rest) > 1 {
		r.name = rest[1]
	}
	if len(rest) > 2 {
		r.subresource = rest[2]
	}
	if len(rest) > 3 && r.subresource == "proxy" {
		r.proxied = strings.Join(rest[3:], "/")
	}
	return r
}

// uri rebuilds the request path the API server saw. A create without a subresource posts to the collection, so the
// name (which GKE includes in the resource name) is left out, as in native events. The query string is lost.
func (r resourceName) uri(verb, subresource string) string {
	if r.version == "" {
		return ""
	}
	var b strings.Builder
	if r.group == "" {
		b.WriteString("/api/")
	} else {
		b.WriteString("/apis/")
		b.WriteString(r.group)
		b.WriteByte('/')
	}
	b.WriteString(r.version)
	if r.namespace != "" && !(r.resource == "namespaces" && r.name == r.namespace) {
		b.WriteString("/namespaces/")
		b.WriteString(r.namespace)
	}
	b.WriteByte('/')
	b.WriteString(r.resource)
	if r.name != "" && (verb != "create" || subresource != "") {
		b.WriteByte('/')
		b.WriteString(r.name)
		if subresource != "" {
			b.WriteByte('/')
			b.WriteString(subresource)
			if r.proxied != "" && subresource == r.subresource {
				b.WriteByte('/')
				b.WriteString(r.proxied)
			}
		}
	}
	return b.String()
}

// gkeProvenance reads resource.labels of a k8s_cluster entry: project_id, location (a region, or a zone for zonal
// clusters: us-central1-c is in region us-central1) and cluster_name.
func gkeProvenance(labels *fastjson.Value) map[string]string {
	location := string(labels.GetStringBytes("location"))
	region, zone := location, ""
	if i := strings.LastIndexByte(location, '-'); i > 0 && len(location)-i == 2 {
		region, zone = location[:i], location
	}
	return provenance(
		AttrCloudProvider, "gcp",
		AttrCloudPlatform, "gcp_kubernetes_engine",
		AttrCloudAccountID, string(labels.GetStringBytes("project_id")),
		AttrCloudRegion, region,
		AttrCloudZone, zone,
		AttrClusterName, string(labels.GetStringBytes("cluster_name")),
	)
}
