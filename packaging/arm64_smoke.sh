#!/usr/bin/env bash
# Smoke test of the arm64 agent package under qemu-user-static (tools/package --arm64 --smoke):
# the binary unpacked from sewage-agent_*_arm64.deb runs on this amd64 machine through
# qemu-aarch64-static with the arm64 libraries of build/arm64-sysroot:
#   1. --version
#   2. --check-config on the packaged /etc/sewage/agent.toml, with only its file paths moved to a
#      temp folder (the county CA it names does not exist here: a throw-away one is made)
#   3. a short run: a simulated device, a real mosquitto on a free loopback port; one telemetry
#      record must arrive and pass sewage-proto validate (the amd64 build's); SIGTERM by PID, exit 0
#   packaging/arm64_smoke.sh ARM64_BUILD_DIR PACKAGE_DIR
set -euo pipefail
root_dir="$(cd "$(dirname "$0")/.." && pwd)"
build=$(cd "${1:?usage: arm64_smoke.sh ARM64_BUILD_DIR PACKAGE_DIR}" && pwd)
pkgs=$(cd "${2:?usage: arm64_smoke.sh ARM64_BUILD_DIR PACKAGE_DIR}" && pwd)
sysroot=$(sed -n 's/^SEWAGE_ARM64_SYSROOT:[A-Z]*=//p' "$build/CMakeCache.txt")
[[ -n $sysroot ]] || sysroot="$root_dir/build/arm64-sysroot"
deb=$(ls "$pkgs"/sewage-agent_*_arm64.deb)
proto=$root_dir/build/package/tools/sewage-proto
started=$(date +%s)

tmp=$(mktemp -d "${TMPDIR:-/tmp}/sewage-arm64-smoke.XXXXXX")
broker_pid= agent_pid=
cleanup() {
  for pid in $agent_pid $broker_pid; do
    kill "$pid" 2>/dev/null || continue
    for _ in $(seq 50); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
    kill -9 "$pid" 2>/dev/null || true
    wait "$pid" 2>/dev/null || true
  done
  rm -rf "$tmp"
}
trap cleanup EXIT
fail() { echo "  FAIL $*" >&2; exit 1; }

dpkg-deb -x "$deb" "$tmp/pkg"
agent=$tmp/pkg/usr/bin/sewage-agent
file "$agent" | grep -q "ARM aarch64" || fail "$agent is not an arm64 executable: $(file "$agent")"
# qemu itself runs the agent (no wrapper function: a background job's $! is then qemu's PID, which
# is what gets stopped). -L: the sysroot is the guest's /, so its ld.so and libc (Debian's libc6
# arm64) come as a pair; the cross compiler's libc under /usr/aarch64-linux-gnu beside the
# sysroot's via LD_LIBRARY_PATH mixed two glibc builds and the agent hung creating its first thread.
qemu=(qemu-aarch64-static -L "$sysroot" "$agent")
run() { "${qemu[@]}" "$@"; }
echo "arm64 smoke test: $(basename "$deb") under $(qemu-aarch64-static --version | head -1)"

version=$(run --version) || fail "--version"
[[ $version == "sewage-agent "* ]] || fail "--version printed '$version'"
echo "  ok  --version: $version"

# 2. the packaged config, paths moved to $tmp
openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes -days 1 -subj "/CN=smoke CA" \
  -keyout "$tmp/ca.key" -out "$tmp/county-ca.crt" 2>/dev/null
sed -e "s|\"/etc/sewage/county-ca.crt\"|\"$tmp/county-ca.crt\"|" \
  -e "s|^# path = \"/var/lib/sewage-agent/queue.db\"|path = \"$tmp/queue/queue.db\"|" \
  "$tmp/pkg/etc/sewage/agent.toml" >"$tmp/agent.toml"
grep -q "$tmp/county-ca.crt" "$tmp/agent.toml" || fail "packaged agent.toml has no ca_file \"/etc/sewage/county-ca.crt\" to move"
out=$(run --config "$tmp/agent.toml" --check-config 2>&1) || fail "--check-config on the packaged agent.toml: $out"
echo "  ok  --check-config on the packaged agent.toml: ${out%%$'\n'*}"

# 3. a short run against a loopback broker
port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
mkdir -p "$tmp/broker"
{
  [[ $(id -u) == 0 ]] && echo "user root"
  echo "listener $port 127.0.0.1"
  echo "allow_anonymous true"
  echo "persistence false"
} >"$tmp/broker/mosquitto.conf"
mosquitto -c "$tmp/broker/mosquitto.conf" >"$tmp/broker/log" 2>&1 &
broker_pid=$!
for _ in $(seq 100); do (exec 3<>"/dev/tcp/127.0.0.1/$port") 2>/dev/null && break; sleep 0.1; done
(exec 3<>"/dev/tcp/127.0.0.1/$port") 2>/dev/null || fail "mosquitto did not start: $(cat "$tmp/broker/log")"
cat >"$tmp/run.toml" <<EOF
terminal_id = "ARM64-SMOKE"
poll_interval_s = 1
report_interval_s = 5
[mqtt]
uri = "tcp://127.0.0.1:$port"
allow_plaintext = true
[queue]
path = "$tmp/run-queue/queue.db"
[[device]]
name = "sim"
driver = "simulated"
[[device.point]]
quantity = "flow_rate"
profile = "series"
values = [1.5]
[[device.point]]
quantity = "turbidity"
profile = "sine"
base = 8
amplitude = 2
EOF
mosquitto_sub -h 127.0.0.1 -p "$port" -t sewage/v1/ARM64-SMOKE/telemetry -C 1 -W 60 >"$tmp/record.json" 2>"$tmp/sub.log" &
sub_pid=$!
sleep 0.5
"${qemu[@]}" --config "$tmp/run.toml" >"$tmp/agent.log" 2>&1 &
agent_pid=$!
if ! wait "$sub_pid"; then
  cat "$tmp/agent.log" >&2
  fail "no telemetry record from the arm64 agent within 60 s"
fi
[[ -x $proto ]] || fail "$proto missing (tools/package builds it)"
verdict=$("$proto" validate --topic sewage/v1/ARM64-SMOKE/telemetry "$tmp/record.json" 2>&1) ||
  fail "the arm64 agent's record is invalid: $verdict"$'\n'"$(cat "$tmp/record.json")"
echo "  ok  a telemetry record over MQTT from the arm64 agent, sewage-proto validate: $verdict"
kill -TERM "$agent_pid"
status=0
wait "$agent_pid" || status=$?
agent_pid=
[[ $status == 0 ]] || { cat "$tmp/agent.log" >&2; fail "SIGTERM: the agent exited $status"; }
echo "  ok  SIGTERM: exit 0"
echo "arm64 smoke test: PASS ($(( $(date +%s) - started )) s)"
