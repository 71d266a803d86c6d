#!/usr/bin/env bash
# Runs the collector on the demo config, stops it after SECONDS (0: runs until Ctrl-C), then says where the output
# is and summarises the risk events. Used by `make run` and, with REQUIRE_RISK_EVENTS=1, by `make test-binary`.
#
#   scripts/run-demo.sh BINARY CONFIG [SECONDS]
#
# The output paths below are the ones config/demo.yaml writes to; paths are relative to the repository root.
set -euo pipefail

if [ $# -lt 2 ]; then
	echo "usage: $0 BINARY CONFIG [SECONDS]" >&2
	exit 2
fi
binary=$1
config=$2
seconds=${3:-10}
risk_file=out/risk-events.json
all_file=out/all.json

cd "$(dirname "$0")/.."
mkdir -p out
# A stale file from an earlier run must not be mistaken for this run's output.
rm -f "$risk_file" "$all_file"

# Ctrl-C reaches the collector directly (it shares the terminal's process group) and makes it shut down cleanly;
# the trap only keeps this script alive to print the summary afterwards.
trap 'echo ">> interrupted"' INT

status=0
if [ "$seconds" = 0 ]; then
	echo ">> running $binary --config $config until Ctrl-C"
	"$binary" --config "$config" || status=$?
else
	echo ">> running $binary --config $config for ${seconds}s (Ctrl-C stops it earlier; RUN_SECONDS=0 runs until Ctrl-C)"
	# The filelog receiver tails its files forever, so the demo ends it with SIGTERM after a while; the collector
	# shuts down cleanly and flushes its exporters. --foreground keeps Ctrl-C working; --preserve-status reports the
	# collector's own exit status (0 after a clean shutdown), and --kill-after ends a shutdown that hangs.
	timeout --foreground --preserve-status --kill-after=20s "${seconds}s" "$binary" --config "$config" || status=$?
fi
if [ "$status" -ne 0 ]; then
	echo ">> the collector exited with status $status" >&2
	exit "$status"
fi

# The file exporter writes OTLP JSON: attributes appear as {"key":"NAME","value":{...}}. Every risk record carries
# risk_object, every record read by the filelog receiver log.file.name.
count() { # count FILE PATTERN
	if [ -s "$1" ]; then grep -o "$2" "$1" | wc -l; else echo 0; fi
}
risk_events=$(count "$risk_file" '"key":"risk_object"')
audit_events=$(count "$all_file" '"key":"log.file.name"')

echo
echo "== auditdetect demo"
echo "$audit_events audit log records read from testdata/audit/; all records, with the risk events: $all_file"
echo "$risk_events risk events: $risk_file"
if [ "$risk_events" -gt 0 ]; then
	grep -o '"key":"search_name","value":{"stringValue":"[^"]*"' "$risk_file" |
		sed 's/.*"stringValue":"//; s/"$//' | sort | uniq -c | sort -rn
fi

if [ "${REQUIRE_RISK_EVENTS:-0}" = 1 ] && [ "$risk_events" -eq 0 ]; then
	echo "FAIL: the demo wrote no risk event" >&2
	exit 1
fi
