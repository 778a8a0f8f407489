#!/usr/bin/env bash
# Checks the sewage-proto command line: exit codes and output lines an operator relies on.
set -u
tool=$1
fails=0; passes=0
check() {  # name expected_rc expected_output_substring actual_rc actual_output
  if [[ $4 -eq $2 && "$5" == *"$3"* ]]; then passes=$((passes+1)); else
    echo "FAIL $1: rc=$4 (want $2), output: $5"; fails=$((fails+1)); fi
}
for kind in telemetry status alert command; do
  case $kind in
    telemetry) topic=sewage/v1/HY-WY-001/telemetry ;;
    status) topic=sewage/v1/HY-WY-001/status ;;
    alert) topic=sewage/v1/alerts/HY-WY-001/turbidity_high ;;
    command) topic=sewage/v1/HY-WY-001/cmd ;;
  esac
  out=$("$tool" example $kind | "$tool" validate --topic $topic -); check "example $kind validates" 0 ok $? "$out"
done
out=$("$tool" example pump_station | "$tool" validate --topic sewage/v1/HY-PS-012/telemetry -)
check "example pump_station validates" 0 ok $? "$out"
out=$("$tool" example pump_station); check "example pump_station has its section" 0 '"pump_station":{' $? "$out"
out=$("$tool" example pump_station | sed 's/"run_s":60/"run_s":61/' | "$tool" validate --topic sewage/v1/HY-PS-012/telemetry -)
check "pump run longer than the interval" 1 '/pump_station/pumps/0/run_s: must be an integer in [0, 60], got 61' $? "$out"
out=$("$tool" example telemetry | "$tool" validate --topic sewage/v1/HY-WY-002/telemetry -)
check "id mismatch" 1 '/terminal_id: names terminal "HY-WY-001" but the topic is for "HY-WY-002"' $? "$out"
out=$(printf '{"terminal_id":"HY-WY-001","seq":"1"}' | "$tool" validate --topic sewage/v1/HY-WY-001/telemetry -)
check "one line per problem" 1 '/seq: must be an unsigned 64-bit integer, got string "1"' $? "$out"
[[ $(printf '%s\n' "$out" | wc -l) -ge 5 ]] && passes=$((passes+1)) || { echo "FAIL expected >= 5 problem lines: $out"; fails=$((fails+1)); }
out=$(echo '{}' | "$tool" validate --topic 'sewage/v1/+/telemetry' -); check "wildcard topic" 1 "topic: wildcards" $? "$out"
out=$("$tool" validate --topic sewage/v1/a/telemetry /nonexistent/file 2>&1); check "missing file" 2 "cannot open" $? "$out"
out=$(printf '' | "$tool" validate --topic sewage/v1/alerts/a/no_flow -); check "empty alert clears" 0 ok $? "$out"
out=$(printf 'GIF89a' | "$tool" validate --topic sewage/v1/a/image -); check "image not jpeg" 1 "not a JPEG" $? "$out"
out=$("$tool" example nonsense 2>&1); check "unknown example" 2 "unknown example kind" $? "$out"
out=$("$tool" 2>&1); check "no subcommand" 2 "" $? "$out"
echo "$passes passed, $fails failed"
[[ $fails -eq 0 ]]
