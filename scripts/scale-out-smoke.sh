#!/usr/bin/env bash
# Two-tier smoke test of the scale-out example (config/scale-out/README.md) on this machine, loopback only:
# one agent (auditdetect in route mode → loadbalancing exporter) and two gateways (auditdetect → file exporter).
# 40 source addresses each send six anonymous 403s; every address must land on exactly one gateway, both gateways
# must get some, and the scanning rule must fire exactly once per address.
#
#   scripts/scale-out-smoke.sh BINARY
set -euo pipefail
binary=$(realpath "${1:?usage: $0 BINARY}")
dir=$(mktemp -d)
trap 'kill $(cat "$dir"/gw*.pid 2>/dev/null) 2>/dev/null || true; rm -rf "$dir"' EXIT

for ip in $(seq 0 39); do
	for i in 0 1 2 3 4 5; do
		printf '{"kind":"Event","auditID":"a-%d-%d","stage":"ResponseComplete","requestURI":"/api/v1/x%d","verb":"list","user":{"username":"system:anonymous","groups":["system:unauthenticated"]},"sourceIPs":["198.51.100.%d"],"responseStatus":{"code":403},"stageTimestamp":"2026-11-20T10:0%d:%02d.000000Z"}\n' \
			"$i" "$ip" "$i" "$ip" "$i" "$ip"
	done
done >"$dir/audit.log"

for g in 1 2; do
	cat >"$dir/gw$g.yaml" <<YAML
receivers: {otlp: {protocols: {grpc: {endpoint: 127.0.0.1:1431$g}}}}
processors: {auditdetect: {rules: [builtin]}}
exporters: {file: {path: $dir/gw$g.json}}
service:
  telemetry: {metrics: {level: none}, logs: {level: warn}}
  pipelines: {logs: {receivers: [otlp], processors: [auditdetect], exporters: [file]}}
YAML
	"$binary" --config "$dir/gw$g.yaml" >"$dir/gw$g.log" 2>&1 &
	echo $! >"$dir/gw$g.pid"
done
cat >"$dir/agent.yaml" <<YAML
receivers: {filelog: {include: [$dir/audit.log], start_at: beginning}}
processors: {auditdetect/route: {mode: route, rules: [builtin], routing_attribute: auditdetect.routing_key}}
exporters:
  loadbalancing:
    protocol: {otlp: {tls: {insecure: true}}}
    resolver: {static: {hostnames: ["127.0.0.1:14311", "127.0.0.1:14312"]}}
service:
  telemetry: {metrics: {level: none}, logs: {level: warn}}
  pipelines: {logs: {receivers: [filelog], processors: [auditdetect/route], exporters: [loadbalancing]}}
YAML
sleep 3
timeout --preserve-status -s TERM 8 "$binary" --config "$dir/agent.yaml" >"$dir/agent.log" 2>&1 || true
sleep 2
kill -TERM $(cat "$dir"/gw*.pid)
wait 2>/dev/null || true

keys() { grep -o '"key":"auditdetect.routing_key","value":{"stringValue":"[^"]*"' "$1" 2>/dev/null | sort -u || true; }
risks() { grep -o '"key":"risk_object"' "$1" 2>/dev/null | wc -l; }
k1=$(keys "$dir/gw1.json" | wc -l)
k2=$(keys "$dir/gw2.json" | wc -l)
both=$(comm -12 <(keys "$dir/gw1.json") <(keys "$dir/gw2.json") | wc -l)
r=$(($(risks "$dir/gw1.json") + $(risks "$dir/gw2.json")))
echo ">> keys on gateway 1: $k1, on gateway 2: $k2, on both: $both; scanning risk events: $r"
if [ "$((k1 + k2))" -ne 40 ] || [ "$both" -ne 0 ] || [ "$k1" -eq 0 ] || [ "$k2" -eq 0 ] || [ "$r" -ne 40 ]; then
	echo ">> FAIL: want 40 keys, none on both gateways, some on each, 40 risk events" >&2
	exit 1
fi
echo ">> scale-out routing OK"
