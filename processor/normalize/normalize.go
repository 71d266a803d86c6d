// Package normalize recognises the shapes Kubernetes audit events arrive in and hands the engine each event in the
// native audit.k8s.io/v1 Event form it reads: the API server's own JSON lines, the webhook backend's EventList
// batches, EKS control-plane logs in CloudWatch Logs (subscription envelopes or single log events), AKS diagnostic
// logs (`properties.log`, a JSON string or an object, alone or in a `records` batch) and GKE Cloud Audit Log entries,
// which are mapped field by field (gke.go). With each wrapped event it reports the cloud provenance the wrapper
// holds (cluster, account or project, region). It knows no pdata and no rule language.
//
// The native path costs a prefix comparison for events written by the API server, or a scan of the top-level keys
// up to the first one that decides the shape otherwise: a native event is never parsed here, only by the engine.
// Wrapped events are parsed once more than native ones.
package normalize

import (
	"bytes"
	"compress/gzip"
	"errors"
	"fmt"
	"strings"
	"sync"

	"github.com/valyala/fastjson"
)

// Format is a shape audit events arrive in.
type Format uint8

const (
	// Unknown is a JSON object of no known shape.
	Unknown Format = iota
	// Native is one audit.k8s.io Event, as the API server writes it to its log file.
	Native
	// EventList is an audit.k8s.io EventList, as the API server's webhook backend posts it.
	EventList
	// EKS is a CloudWatch Logs subscription message (DATA_MESSAGE envelope) or a single CloudWatch log event whose
	// message is an audit event.
	EKS
	// AKS is an Azure diagnostic-settings record of category kube-audit or kube-audit-admin, or a `records` batch
	// of them.
	AKS
	// GKE is a Cloud Logging LogEntry whose protoPayload is a Kubernetes Cloud Audit Log.
	GKE

	numFormats
)

var formatNames = [numFormats]string{"unknown", "native", "eventlist", "eks", "aks", "gke"}

func (f Format) String() string {
	if f < numFormats {
		return formatNames[f]
	}
	return "unknown"
}

// Formats is a set of accepted formats.
type Formats uint8

// AllFormats accepts every known shape.
const AllFormats = Formats(1<<Native | 1<<EventList | 1<<EKS | 1<<AKS | 1<<GKE)

// Has reports whether f is in the set.
func (s Formats) Has(f Format) bool { return f != Unknown && s&(1<<f) != 0 }

// FormatNames lists the names ParseFormats accepts, in a stable order.
func FormatNames() []string { return append([]string(nil), formatNames[Native:]...) }

// ParseFormats turns format names (case-insensitive) into a set; no names means every format.
func ParseFormats(names []string) (Formats, error) {
	if len(names) == 0 {
		return AllFormats, nil
	}
	var s Formats
	for _, n := range names {
		f := Unknown
		for i := Native; i < numFormats; i++ {
			if strings.EqualFold(n, formatNames[i]) {
				f = i
			}
		}
		if f == Unknown {
			return 0, fmt.Errorf("%q is not one of %s", n, strings.Join(FormatNames(), ", "))
		}
		s |= 1 << f
	}
	return s, nil
}

var (
	// ErrMalformed is returned for a body that is not a JSON object, or a wrapper that is not valid JSON.
	ErrMalformed = errors.New("not a JSON object")
	// ErrUnknown is returned for a JSON object of no known shape.
	ErrUnknown = errors.New("unknown audit event shape")
	// ErrNotAccepted is returned for a known shape left out of the accepted formats.
	ErrNotAccepted = errors.New("audit event shape not accepted")
	// ErrNoEvents is returned for a known wrapper that holds no audit event (a CloudWatch control message, an AKS
	// record of another log category, a GKE entry of another service, an empty EventList).
	ErrNoEvents = errors.New("no audit event in the record")
	// ErrTooLarge is returned for a wrapper larger than Config.MaxParseBytes: it is not parsed.
	ErrTooLarge = errors.New("wrapped record larger than the parse limit")
)

// Attribute names of the provenance a wrapper carries, as OpenTelemetry's semantic conventions name them: Splunk
// users search by them as they are (`k8s.cluster.name=prod cloud.region=eu-west-1`), and they match what the
// resourcedetection and k8sattributes processors write.
const (
	AttrCloudProvider   = "cloud.provider"          // aws, azure, gcp
	AttrCloudPlatform   = "cloud.platform"          // aws_eks, azure_aks, gcp_kubernetes_engine
	AttrCloudAccountID  = "cloud.account.id"        // AWS account, Azure subscription, GCP project
	AttrCloudRegion     = "cloud.region"            // region of the cluster
	AttrCloudZone       = "cloud.availability_zone" // zone of a zonal GKE cluster
	AttrCloudResourceID = "cloud.resource_id"       // Azure resource ID of the managed cluster
	AttrClusterName     = "k8s.cluster.name"
)

// Event is one audit event found in a record.
type Event struct {
	// Body is the event as native audit.k8s.io/v1 Event JSON. It is valid only during the callback.
	Body []byte
	// Provenance holds the attributes above that the wrapper carries, nil when it carries none. Events of one
	// wrapper share the map: read it, never change it.
	Provenance map[string]string
	// Again says the event is another stage of the entry the previous event was read from (a GKE one-entry watch or
	// session, read as ResponseStarted then ResponseComplete): the same request, one record.
	Again bool
}

// Config configures a Normalizer.
type Config struct {
	// Formats are the accepted shapes (zero: all).
	Formats Formats
	// MaxParseBytes bounds the wrappers that are parsed whole (EKS, AKS, GKE); 0 means no bound. Native events and
	// EventList batches are not parsed here, so it does not apply to them: bound their events in the callback.
	MaxParseBytes int
	// MaxGzipBytes bounds what a gzip EventList decompresses to, past MaxParseBytes (0: 64 MiB). It is held whole
	// while its items are read. Other gzip bodies are bounded by MaxParseBytes (64 MiB when that is unset).
	MaxGzipBytes int
}

// Normalizer finds the audit events in record bodies. It is safe for concurrent use.
type Normalizer struct {
	cfg     Config
	scratch sync.Pool
}

// scratch is one goroutine's parser and buffers for wrapped shapes.
type scratch struct {
	parser fastjson.Parser
	arena  fastjson.Arena
	buf    []byte
	// gz and unzipped decompress gzip bodies (gzip.go).
	gz       gzip.Reader
	unzipped []byte
}

// New returns a Normalizer.
func New(cfg Config) *Normalizer {
	if cfg.Formats == 0 {
		cfg.Formats = AllFormats
	}
	n := &Normalizer{cfg: cfg}
	n.scratch.New = func() any { return &scratch{} }
	return n
}

// Each finds the audit events in body and calls fn with each, in order, and returns the shape it recognised. A
// gzip-compressed body (a CloudWatch subscription message as Kinesis carries it) is decompressed first, to at most
// MaxParseBytes (64 MiB when unset), an EventList to MaxGzipBytes (ErrTooLarge past that); one that does not
// decompress is ErrMalformed. A native body, and an EventList item, is passed on as it is, unvalidated: the engine
// parses it. The error is nil when fn was called at least once; otherwise it is ErrMalformed, ErrUnknown,
// ErrNotAccepted, ErrNoEvents or ErrTooLarge (test with errors.Is). A body of no known shape is parsed once, so that
// broken JSON is told from an unknown shape.
func (n *Normalizer) Each(body []byte, fn func(Event)) (Format, error) {
	if IsGzip(body) {
		return n.eachGzip(body, fn)
	}
	return n.each(body, fn)
}

// eachGzip decompresses body and reads what it holds; the events' bodies point into the decompressed bytes, which
// stay valid until Each returns. An EventList may decompress past MaxParseBytes, to MaxGzipBytes: it is sliced, not
// parsed, and its items are bounded one by one, as a plain one's are. It is held whole while its items are read.
func (n *Normalizer) eachGzip(body []byte, fn func(Event)) (Format, error) {
	limit := n.cfg.MaxParseBytes
	if limit <= 0 {
		limit = defaultGzipBytes
	}
	s := n.scratch.Get().(*scratch)
	defer n.scratch.Put(s)
	head := Unknown
	var plain []byte
	var err error
	s.unzipped, plain, err = gunzip(s.unzipped, &s.gz, body, limit, func(b []byte) int {
		// Only the start is decompressed: an EventList whose kind comes after its items is not recognised here.
		head, _ = Detect(b)
		if head != EventList || !n.cfg.Formats.Has(EventList) {
			return 0
		}
		return n.maxGzipBytes()
	})
	switch {
	case errors.Is(err, ErrTooLarge) && head == EventList && !n.cfg.Formats.Has(EventList):
		return head, ErrNotAccepted // as a plain one is
	case err != nil:
		return head, err
	}
	return n.each(plain, fn)
}

// maxGzipBytes is the hard bound on what a gzip body decompresses to.
func (n *Normalizer) maxGzipBytes() int {
	if n.cfg.MaxGzipBytes > 0 {
		return n.cfg.MaxGzipBytes
	}
	return defaultGzipBytes
}

func (n *Normalizer) each(body []byte, fn func(Event)) (Format, error) {
	// Detect trims the byte order mark itself: one, as here. Trimmed before it as well, a second mark passed for the
	// first, and a body Detect refuses was read as native.
	f, err := Detect(body)
	body = trimBOM(body)
	if errors.Is(err, ErrUnknown) && !n.valid(body) {
		// Counted as what it is: a body that is not JSON, rather than an unknown shape.
		return f, ErrMalformed
	}
	if err != nil {
		return f, err
	}
	if !n.cfg.Formats.Has(f) {
		return f, ErrNotAccepted
	}
	switch f {
	case Native:
		fn(Event{Body: body})
		return f, nil
	case EventList:
		return f, eachItem(body, fn)
	}
	if n.cfg.MaxParseBytes > 0 && len(body) > n.cfg.MaxParseBytes {
		return f, ErrTooLarge
	}
	s := n.scratch.Get().(*scratch)
	defer n.scratch.Put(s)
	root, err := s.parser.ParseBytes(body)
	if err != nil {
		return f, fmt.Errorf("%w: %s: %v", ErrMalformed, f, err)
	}
	found := 0
	emit := func(ev Event) {
		found++
		fn(ev)
	}
	switch f {
	case EKS:
		s.eks(root, emit)
	case AKS:
		s.aks(root, emit)
	case GKE:
		s.gke(root, emit)
	}
	if found == 0 {
		return f, ErrNoEvents
	}
	return f, nil
}

// valid reports whether body is valid JSON (Detect reads only the top-level structure).
func (n *Normalizer) valid(body []byte) bool {
	if n.cfg.MaxParseBytes > 0 && len(body) > n.cfg.MaxParseBytes {
		return true // too large to check; counted as unknown
	}
	s := n.scratch.Get().(*scratch)
	defer n.scratch.Put(s)
	_, err := s.parser.ParseBytes(body)
	return err == nil
}

// Detect names the shape of body from its top-level keys, without parsing it: a body that starts as the API server
// writes its events (`{"kind":"Event",`) is recognised by that prefix; otherwise the top-level keys are scanned up to
// the first that decides (kind, auditID, verb, objectRef, requestURI, stage: native; protoPayload: GKE; properties or
// records: AKS; logEvents, or message with no deciding key: EKS). Key order does not matter for the answer.
func Detect(body []byte) (Format, error) {
	body = trimBOM(body)
	i := skipWS(body, 0)
	if i == len(body) || body[i] != '{' {
		return Unknown, ErrMalformed
	}
	switch {
	case bytes.HasPrefix(body[i:], prefixEvent):
		return Native, nil
	case bytes.HasPrefix(body[i:], prefixEventList):
		return EventList, nil
	}
	f, message := Unknown, false
	err := eachMember(body, i, func(key, val []byte) bool {
		switch string(key) {
		case "kind":
			switch string(val) {
			case `"Event"`:
				f = Native
			case `"EventList"`:
				f = EventList
			}
		case "auditID", "verb", "objectRef", "requestURI", "stage":
			f = Native
		case "protoPayload":
			f = GKE
		case "properties", "records":
			f = AKS
		case "logEvents":
			f = EKS
		case "message":
			message = true
		}
		return f == Unknown
	})
	switch {
	case f != Unknown:
		return f, nil
	case err != nil:
		return Unknown, err
	case message:
		return EKS, nil
	}
	return Unknown, ErrUnknown
}

var (
	prefixEvent     = []byte(`{"kind":"Event",`)
	prefixEventList = []byte(`{"kind":"EventList",`)
)

// isNative reports whether a wrapped message is itself one native audit event (EKS messages and AKS logs of other
// components are plain text, and are skipped).
func isNative(b []byte) bool {
	f, err := Detect(b)
	return err == nil && f == Native
}

// eachItem calls fn with every object in the top-level `items` array, sliced from body without copying.
func eachItem(body []byte, fn func(Event)) error {
	found := 0
	err := eachMember(body, skipWS(body, 0), func(key, val []byte) bool {
		if string(key) != "items" || len(val) == 0 || val[0] != '[' {
			return true
		}
		eachElement(val, func(el []byte) {
			if el[0] == '{' {
				found++
				fn(Event{Body: el})
			}
		})
		return false
	})
	switch {
	case found > 0:
		return nil
	case err != nil:
		return err
	}
	return ErrNoEvents
}

// utf8BOM is the UTF-8 byte order mark. The filelog receiver's utf-8 decoding keeps it, so the first record of a
// file written by a tool that starts its files with one (PowerShell's Out-File, some editors) starts with it.
var utf8BOM = []byte("\ufeff")

// trimBOM returns body without a leading byte order mark, which is not part of the JSON after it.
func trimBOM(body []byte) []byte {
	if len(body) >= 3 && body[0] == 0xef {
		return bytes.TrimPrefix(body, utf8BOM)
	}
	return body
}
