package normalize

import (
	"strings"

	"github.com/valyala/fastjson"
)

// eks reads a CloudWatch Logs subscription message ({"messageType":"DATA_MESSAGE","owner","logGroup","logEvents":
// [{"id","timestamp","message"}]}, what a subscription filter hands to Firehose, Kinesis or Lambda) or a single
// CloudWatch log event ({"timestamp","message",...}, as `aws logs filter-log-events` and most forwarders write it).
// Messages that are not audit events (the authenticator's and other control-plane logs share the log group) are
// skipped.
func (s *scratch) eks(root *fastjson.Value, fn func(Event)) {
	var prov map[string]string
	if group := string(root.GetStringBytes("logGroup")); group != "" || root.Exists("owner") {
		prov = provenance(
			AttrCloudProvider, "aws",
			AttrCloudPlatform, "aws_eks",
			AttrCloudAccountID, string(root.GetStringBytes("owner")),
			AttrClusterName, EKSClusterFromLogGroup(group),
		)
	}
	emit := func(ev *fastjson.Value) {
		if msg := ev.GetStringBytes("message"); isNative(msg) {
			fn(Event{Body: msg, Provenance: prov})
		}
	}
	if events := root.Get("logEvents"); events != nil {
		// A CONTROL_MESSAGE (sent once, to check the destination) carries no log events of the cluster.
		if string(root.GetStringBytes("messageType")) == "CONTROL_MESSAGE" {
			return
		}
		for _, ev := range events.GetArray() {
			emit(ev)
		}
		return
	}
	emit(root)
}

// EKSClusterFromLogGroup returns the cluster name of an EKS control-plane log group (/aws/eks/<cluster>/cluster), or
// "" for another group.
func EKSClusterFromLogGroup(group string) string {
	rest, ok := strings.CutPrefix(group, "/aws/eks/")
	if !ok {
		return ""
	}
	name, ok := strings.CutSuffix(rest, "/cluster")
	if !ok || name == "" || strings.Contains(name, "/") {
		return ""
	}
	return name
}

// aks reads an Azure diagnostic-settings record ({"category":"kube-audit","resourceId",...,"properties":{"log":...}})
// or a batch of them under "records", as Event Hubs and storage exports deliver them. properties.log holds the audit
// event as a JSON string (real exports) or as an object (some pipelines re-parse it). Records of other categories
// (kube-apiserver, guard, ...) hold text logs and are skipped.
func (s *scratch) aks(root *fastjson.Value, fn func(Event)) {
	records := []*fastjson.Value{root}
	if batch := root.Get("records"); batch != nil {
		records = batch.GetArray()
	}
	var lastID string
	var prov map[string]string
	for _, rec := range records {
		log := rec.Get("properties", "log")
		if log == nil {
			continue
		}
		var body []byte
		switch log.Type() {
		case fastjson.TypeString:
			body, _ = log.StringBytes()
		case fastjson.TypeObject:
			s.buf = log.MarshalTo(s.buf[:0])
			body = s.buf
		}
		if !isNative(body) {
			continue
		}
		// Records of one batch nearly always come from one cluster: build its provenance once.
		if id := string(rec.GetStringBytes("resourceId")); prov == nil || id != lastID {
			lastID, prov = id, aksProvenance(id, string(rec.GetStringBytes("location")))
		}
		fn(Event{Body: body, Provenance: prov})
	}
}

// aksProvenance reads subscription and cluster name from a managed cluster's resource ID,
// /SUBSCRIPTIONS/<id>/RESOURCEGROUPS/<group>/PROVIDERS/MICROSOFT.CONTAINERSERVICE/MANAGEDCLUSTERS/<name> (Azure
// writes it in capitals in diagnostic logs; the values are kept as written).
func aksProvenance(resourceID, location string) map[string]string {
	var sub, cluster string
	parts := strings.Split(strings.Trim(resourceID, "/"), "/")
	for i := 0; i+1 < len(parts); i += 2 {
		switch strings.ToLower(parts[i]) {
		case "subscriptions":
			sub = parts[i+1]
		case "managedclusters":
			cluster = parts[i+1]
		}
	}
	return provenance(
		AttrCloudProvider, "azure",
		AttrCloudPlatform, "azure_aks",
		AttrCloudAccountID, sub,
		AttrCloudRegion, location,
		AttrCloudResourceID, resourceID,
		AttrClusterName, cluster,
	)
}

// provenance builds an attribute map from name/value pairs, leaving out empty values.
func provenance(kv ...string) map[string]string {
	m := make(map[string]string, len(kv)/2)
	for i := 0; i+1 < len(kv); i += 2 {
		if kv[i+1] != "" {
			m[kv[i]] = kv[i+1]
		}
	}
	return m
}

// ResourceProvenance derives provenance from the resource attributes of a record, for receivers that unwrap the
// events themselves and keep the wrapper on the resource: the awscloudwatch receiver puts each EKS audit event in the
// body and the log group and region in `cloudwatch.log.group.name` and `aws.region`. attr looks an attribute up. It
// returns nil when the resource says nothing about a managed cluster.
func ResourceProvenance(attr func(name string) (string, bool)) map[string]string {
	group, _ := attr("cloudwatch.log.group.name")
	cluster := EKSClusterFromLogGroup(group)
	if cluster == "" {
		return nil
	}
	region, _ := attr("aws.region")
	return provenance(
		AttrCloudProvider, "aws",
		AttrCloudPlatform, "aws_eks",
		AttrCloudRegion, region,
		AttrClusterName, cluster,
	)
}
