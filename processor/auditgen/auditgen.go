// Package auditgen writes a deterministic, realistic Kubernetes API-server audit log: the traffic of a busy cluster
// as its audit backend writes it (audit.k8s.io/v1 Events, one compact JSON object per line, keys in the API server's
// order, strings escaped by Go's encoder), for tests and benchmarks. The same seed gives the same bytes on every
// platform and Go version.
//
// The mix follows a typical audit policy (Metadata for reads, Request for status writes by nodes, RequestResponse
// for other writes): mostly get/list/watch and updates by system identities on leases, endpoint slices,
// configmaps, nodes and pods; a small share of creates, patches, deletes, refused (403) and anonymous requests;
// bodies from under 1 KiB (reads) to several hundred KiB (configmaps carrying whole files). About 0.9% of the events
// belong to attack scenarios written to trigger one of the built-in detections each (Event.Detection); Mix lists
// the scenarios and their weights.
package auditgen

import (
	"bufio"
	"fmt"
	"io"
	"strconv"
	"time"
)

// Event is one generated audit event.
type Event struct {
	// Body is the event's JSON, without a trailing newline.
	Body []byte
	// Scenario names what the event shows, such as "lease-update" or "nodeport-service".
	Scenario string
	// Detection is the name of the built-in detection the scenario is written to trigger, or "" for ordinary
	// traffic. The events of a burst scenario all carry it; the windowed detection fires once per burst.
	Detection string
}

// Scenario is one kind of event in the mix.
type Scenario struct {
	Name string
	// Weight is the scenario's share of the mix, in events per 10,000 (a burst counts each of its events).
	Weight int
	// Detection is the built-in detection the scenario triggers, or "".
	Detection string
	// burst is the number of events one occurrence writes (0: one).
	burst int
	gen   func(g *Generator) []Event
}

// Generator produces events. It is not safe for concurrent use.
type Generator struct {
	r       rng
	now     time.Time
	rv      int // the cluster's resourceVersion counter
	pending []Event
	cum     []int // cumulative weights of Mix
}

// Start is the time of the first event of every log.
var Start = time.Date(2026, 3, 12, 9, 0, 0, 0, time.UTC)

// New returns a Generator for seed.
func New(seed uint64) *Generator {
	g := &Generator{r: rng{s: seed}, now: Start, rv: 4_000_000}
	total := 0
	for _, s := range Mix() {
		// Weights count events: a burst scenario occurs burst times less often than its weight says.
		total += s.Weight * 10 / max(s.burst, 1)
		g.cum = append(g.cum, total)
	}
	return g
}

// Next returns the next event.
func (g *Generator) Next() Event {
	if len(g.pending) == 0 {
		mix := Mix()
		x := g.r.intn(g.cum[len(g.cum)-1])
		i := 0
		for g.cum[i] <= x {
			i++
		}
		evs := mix[i].gen(g)
		for j := range evs {
			evs[j].Scenario, evs[j].Detection = mix[i].Name, mix[i].Detection
		}
		g.pending = evs
	}
	ev := g.pending[0]
	g.pending = g.pending[1:]
	return ev
}

// Generate returns the first n events of seed's log.
func Generate(seed uint64, n int) []Event {
	g := New(seed)
	out := make([]Event, n)
	for i := range out {
		out[i] = g.Next()
	}
	return out
}

// WriteLog writes the first n events of seed's log to w, one per line, and returns the bytes written.
func WriteLog(w io.Writer, seed uint64, n int) (int64, error) {
	bw := bufio.NewWriterSize(w, 1<<20)
	g := New(seed)
	var total int64
	for range n {
		ev := g.Next()
		k, err := bw.Write(append(ev.Body, '\n'))
		total += int64(k)
		if err != nil {
			return total, err
		}
	}
	return total, bw.Flush()
}

// ---- the event envelope --------------------------------------------------------------------------------------

// identity is who sends a request.
type identity struct {
	user obj
	ip   string
	ua   string
	// reason is the authorizer's reason for an allowed request ("" for the Node authorizer).
	reason string
}

// req describes one audit event.
type req struct {
	level, stage, verb, uri string
	who                     identity
	ref                     obj // objectRef; nil for non-resource requests
	code                    int
	status                  obj // responseStatus fields besides metadata and code (failures)
	reqObj, respObj         any
	decision                string // "allow" (default) or "forbid"
	extraAnnotations        obj
	// truncated marks an event the API server's truncating backend wrote without its bodies (over its size limit).
	truncated bool
}

const k8sVersion = "v1.31.4"

func (g *Generator) tick() {
	// A busy API server: a few thousand events a second.
	g.now = g.now.Add(time.Duration(g.r.between(20, 600)) * time.Microsecond)
}

func (g *Generator) stamp(t time.Time) string { return t.UTC().Format("2006-01-02T15:04:05.000000Z") }

func (g *Generator) nextRV() string {
	g.rv += g.r.between(1, 40)
	return strconv.Itoa(g.rv)
}

// event serialises a request in the API server's key order.
func (g *Generator) event(q req) Event {
	g.tick()
	received := g.now.Add(-time.Duration(g.r.between(200, 20000)) * time.Microsecond)
	if q.level == "" {
		q.level = "Metadata"
	}
	if q.stage == "" {
		q.stage = "ResponseComplete"
	}
	if q.code == 0 {
		q.code = 200
	}
	status := obj{{"metadata", obj{}}}
	status = append(status, q.status...)
	status = append(status, kv{"code", q.code})
	ev := obj{
		{"kind", "Event"}, {"apiVersion", "audit.k8s.io/v1"}, {"level", q.level}, {"auditID", g.r.uuid()},
		{"stage", q.stage}, {"requestURI", q.uri}, {"verb", q.verb}, {"user", q.who.user},
		{"sourceIPs", []string{q.who.ip}}, {"userAgent", q.who.ua},
	}
	if q.ref != nil {
		ev = append(ev, kv{"objectRef", q.ref})
	}
	ev = append(ev, kv{"responseStatus", status})
	if q.reqObj != nil {
		ev = append(ev, kv{"requestObject", q.reqObj})
	}
	if q.respObj != nil {
		ev = append(ev, kv{"responseObject", q.respObj})
	}
	decision, reason := q.decision, q.who.reason
	if decision == "" {
		decision = "allow"
	}
	if decision == "forbid" {
		reason = ""
	}
	var ann obj
	if q.truncated {
		// The API server writes annotations in key order: audit.k8s.io/ sorts before authorization.k8s.io/.
		ann = obj{{"audit.k8s.io/truncated", "true"}}
	}
	ann = append(ann, kv{"authorization.k8s.io/decision", decision}, kv{"authorization.k8s.io/reason", reason})
	ann = append(ann, q.extraAnnotations...)
	ev = append(ev,
		kv{"requestReceivedTimestamp", g.stamp(received)}, kv{"stageTimestamp", g.stamp(g.now)},
		kv{"annotations", ann})
	return Event{Body: appendJSON(nil, ev)}
}

// ref builds an objectRef.
func ref(resource, ns, name, group, version, sub string) obj {
	o := obj{{"resource", resource}}
	if ns != "" {
		o = append(o, kv{"namespace", ns})
	}
	if name != "" {
		o = append(o, kv{"name", name})
	}
	if group != "" {
		o = append(o, kv{"apiGroup", group})
	}
	o = append(o, kv{"apiVersion", version})
	if sub != "" {
		o = append(o, kv{"subresource", sub})
	}
	return o
}

// uri builds a request URI for a namespaced or cluster-scoped resource.
func uri(group, version, ns, resource, name, sub string) string {
	u := "/api/" + version
	if group != "" {
		u = "/apis/" + group + "/" + version
	}
	if ns != "" {
		u += "/namespaces/" + ns
	}
	u += "/" + resource
	if name != "" {
		u += "/" + name
	}
	if sub != "" {
		u += "/" + sub
	}
	return u
}

func forbidden(verb, resource, group, ns, user string) obj {
	where := ""
	if ns != "" {
		where = fmt.Sprintf(" in the namespace %q", ns)
	}
	return obj{
		{"status", "Failure"},
		{"message", fmt.Sprintf("%s is forbidden: User %q cannot %s resource %q in API group %q%s",
			resource, user, verb, resource, group, where)},
		{"reason", "Forbidden"}, {"details", obj{{"kind", resource}}},
	}
}

// ConfigMapUpdate returns one event of about size bytes: a ConfigMap update carrying its data in the request and
// the response (RequestResponse level), the shape of the largest events of a real log. For worst-case benchmarks.
func ConfigMapUpdate(seed uint64, size int) Event {
	g := New(seed)
	cm := g.configMap("payments", "large-config", max(size/2-1500, 0))
	who := g.serviceAccount("argocd", "argocd-application-controller", "argocd-application-controller/v2.12.3")
	ev := g.event(req{level: "RequestResponse", verb: "update", who: who,
		uri: uri("", "v1", "payments", "configmaps", "large-config", ""), ref: ref("configmaps", "payments", "large-config", "", "v1", ""),
		reqObj: cm, respObj: cm})
	ev.Scenario = "configmap-update-large"
	return ev
}
