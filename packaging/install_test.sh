#!/usr/bin/env bash
# Install test of the Debian packages (tools/package --install-test): in a throw-away Debian 12 root
# (a copy of a debootstrap'd minimal bookworm, entered with chroot; no container needed, root is),
# install the amd64 packages with apt (their Depends come from the Debian mirror), check files,
# users, permissions and units, run the gateway and fetch the web application's Debian JavaScript,
# upgrade to the same packages rebuilt with a bumped Debian revision keeping an edited conffile and
# the state, remove, purge. Every check prints one line; the first failure stops the test (exit 1).
#   packaging/install_test.sh PACKAGE_DIR [BUILD_DIR]
# PACKAGE_DIR holds sewage-{agent,gateway,tools}_*_amd64.deb; BUILD_DIR (default build/package)
# is the tree cpack rebuilds them from with the bumped revision.
# The minimal root is made once (about 2 minutes, 300 MB) in $SEWAGE_INSTALL_BASE (default
# /var/tmp/sewage-install-base) and copied for every run; the copy is removed at the end.
set -euo pipefail
root_dir="$(cd "$(dirname "$0")/.." && pwd)"
pkgs=$(cd "${1:?usage: packaging/install_test.sh PACKAGE_DIR [BUILD_DIR]}" && pwd)
build=$(cd "${2:-$root_dir/build/package}" && pwd)
base=${SEWAGE_INSTALL_BASE:-/var/tmp/sewage-install-base}
mirror=${SEWAGE_DEBIAN_MIRROR:-http://deb.debian.org/debian}
started=$(date +%s)

if [[ $(id -u) -ne 0 ]]; then
  echo "install-test: needs root (debootstrap, chroot, dpkg inside the root)" >&2
  exit 1
fi
for p in agent gateway tools; do
  ls "$pkgs"/sewage-${p}_*_amd64.deb >/dev/null 2>&1 || { echo "install-test: no sewage-${p}_*_amd64.deb in $pkgs" >&2; exit 1; }
done

if [[ ! -x $base/usr/bin/dpkg ]]; then
  echo "install-test: making the minimal Debian 12 root $base (debootstrap, once)"
  rm -rf "$base.tmp"
  debootstrap --variant=minbase --include=adduser,systemd,ca-certificates bookworm "$base.tmp" "$mirror" \
    >"$base.log" 2>&1 || { tail -20 "$base.log" >&2; exit 1; }
  mv "$base.tmp" "$base"
fi

root=$(mktemp -d /var/tmp/sewage-install-root.XXXXXX)
gateway_pid=
cleanup() {
  [[ -n $gateway_pid ]] && kill "$gateway_pid" 2>/dev/null || true
  mountpoint -q "$root/proc" && umount "$root/proc"
  [[ -n ${SEWAGE_KEEP_INSTALL_ROOT:-} ]] && { echo "install-test: kept $root" >&2; return; }
  rm -rf "$root"
}
trap cleanup EXIT
cp -a "$base/." "$root/"
cp /etc/resolv.conf "$root/etc/resolv.conf"
mount -t proc proc "$root/proc"
mkdir -p "$root/tmp/debs" "$root/tmp/debs2"
cp "$pkgs"/sewage-{agent,gateway,tools}_*_amd64.deb "$root/tmp/debs/"
in_root() { chroot "$root" env -i PATH=/usr/sbin:/usr/bin:/sbin:/bin LC_ALL=C.UTF-8 DEBIAN_FRONTEND=noninteractive "$@"; }

checks=0
ok() { checks=$((checks + 1)); echo "  ok  $*"; }
fail() { echo "  FAIL $*" >&2; exit 1; }
check() {  # check DESCRIPTION COMMAND...   (the command runs on the host; paths under $root)
  local what=$1; shift
  if "$@"; then ok "$what"; else fail "$what"; fi
}

echo "install-test: root $root"
# ---- install ----
in_root apt-get update -qq >/dev/null
in_root_paths() { (cd "$root" && for f in "$@"; do echo "/$f"; done); }  # host glob -> paths in the root
mapfile -t debs < <(cd "$root" && in_root_paths tmp/debs/*.deb)
in_root apt-get install -y -qq --no-install-recommends "${debs[@]}" >"$root/tmp/install.log" 2>&1 ||
  { cat "$root/tmp/install.log" >&2; fail "apt-get install of the three packages"; }
ok "apt-get install sewage-agent sewage-gateway sewage-tools (Depends from the mirror)"
# Keep the downloaded dependencies for the next run (the base root is otherwise untouched).
cp -n "$root"/var/cache/apt/archives/*.deb "$base/var/cache/apt/archives/" 2>/dev/null || true
v1=$(in_root dpkg-query -W -f='${Version}' sewage-agent)
for p in sewage-agent sewage-gateway sewage-tools; do
  check "$p is installed ($(in_root dpkg-query -W -f='${Version}' $p))" \
    test "$(in_root dpkg-query -W -f='${db:Status-Status}' $p)" = installed
done
for f in /usr/bin/sewage-agent /usr/bin/sewage-gateway /usr/bin/sewage-proto /usr/bin/sewage-provision; do
  check "$f executable" test -x "$root$f"
done
for f in /lib/systemd/system/sewage-agent.service /lib/systemd/system/sewage-gateway.service \
  /etc/sewage/agent.toml /etc/sewage/gateway.toml /etc/sewage/registry.toml /etc/mosquitto/conf.d/sewage.conf \
  /usr/share/sewage-gateway/web/index.html /usr/share/sewage-gateway/effluent_limits.toml \
  /usr/share/man/man1/sewage-agent.1.gz /usr/share/man/man1/sewage-gateway.1.gz \
  /usr/share/man/man1/sewage-proto.1.gz /usr/share/man/man1/sewage-provision.1.gz \
  /usr/share/doc/sewage-agent/copyright /usr/share/doc/sewage-gateway/copyright /usr/share/doc/sewage-tools/copyright \
  /usr/share/javascript/leaflet/leaflet.min.js /usr/share/javascript/leaflet/leaflet.markercluster.min.js \
  /usr/share/javascript/chart.js/chart.min.js; do
  check "$f" test -f "$root$f"
done
check "nothing under /usr/local" test -z "$(find "$root/usr/local" -name 'sewage*' -print -quit)"
# ---- users, groups, permissions (stat inside the root: its user names, not the host's) ----
for u in sewage-agent sewage-gateway; do
  pw=$(in_root getent passwd $u) || fail "system user $u exists"
  IFS=: read -r _ _ uid _ _ home shell <<<"$pw"
  check "system user $u (uid $uid < 1000, home $home, shell $shell)" \
    test "$uid" -lt 1000 -a "$home" = /var/lib/$u -a "$shell" = /usr/sbin/nologin
  check "/var/lib/$u owned by $u, mode 750" test "$(in_root stat -c '%U:%G %a' /var/lib/$u)" = "$u:$u 750"
done
check "sewage-agent is in group dialout (RS-485)" grep -q "^dialout:.*sewage-agent" "$root/etc/group"
check "/etc/sewage/agent.toml root:sewage-agent 640 (broker password)" \
  test "$(in_root stat -c '%U:%G %a' /etc/sewage/agent.toml)" = "root:sewage-agent 640"
check "/etc/sewage/gateway.toml root:sewage-gateway 640" \
  test "$(in_root stat -c '%U:%G %a' /etc/sewage/gateway.toml)" = "root:sewage-gateway 640"
# ---- units ----
for u in sewage-agent sewage-gateway; do
  check "$u.service enabled (multi-user.target.wants)" test -L "$root/etc/systemd/system/multi-user.target.wants/$u.service"
  verify=$(in_root systemd-analyze verify --man=no /lib/systemd/system/$u.service 2>&1) ||
    fail "systemd-analyze verify $u.service: $verify"
  check "systemd-analyze verify $u.service (inside the root)${verify:+: $verify}" true
done
# ---- the programs run in the root, as their users ----
for prog in sewage-agent sewage-gateway; do
  version=$(in_root $prog --version)
  check "$prog --version: $version" test "${version%% *}" = $prog
done
out=$(in_root runuser -u sewage-agent -- sewage-agent --config /etc/sewage/agent.toml --check-config 2>&1) && 
  fail "the shipped agent.toml needs editing, yet --check-config passed: $out"
check "shipped agent.toml refused until edited (names the key: ${out%%$'\n'*})" grep -q "mqtt.ca_file" <<<"$out"
out=$(in_root runuser -u sewage-gateway -- sewage-gateway --config /etc/sewage/gateway.toml --check-config 2>&1) ||
  fail "sewage-gateway --check-config on the shipped config: $out"
ok "sewage-gateway --check-config on the shipped gateway.toml: ${out%%$'\n'*}"
# The gateway as its user, on a free loopback port, serving Leaflet and Chart.js from Debian's paths.
port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
sed "s|^# listen = \"127.0.0.1:8080\"|listen = \"127.0.0.1:$port\"|" "$root/etc/sewage/gateway.toml" >"$root/tmp/gw.toml"
cp "$root/etc/sewage/registry.toml" "$root/tmp/registry.toml"
chmod 644 "$root/tmp/gw.toml"
chroot "$root" runuser -u sewage-gateway -- /usr/bin/sewage-gateway --config /tmp/gw.toml >"$root/tmp/gw.log" 2>&1 &
gateway_pid=$!
for _ in $(seq 100); do curl -fsS -o /dev/null "http://127.0.0.1:$port/" 2>/dev/null && break; sleep 0.2; done
for path in / /vendor/leaflet/leaflet.min.js /vendor/leaflet/leaflet.markercluster.min.js /vendor/chart.js/chart.min.js; do
  code=$(curl -s -o /dev/null -w '%{http_code}' "http://127.0.0.1:$port$path" || true)
  [[ $code == 200 ]] || { cat "$root/tmp/gw.log" >&2; fail "installed gateway serves $path (HTTP $code)"; }
  ok "installed gateway serves $path (HTTP 200)"
done
kill "$gateway_pid"
wait "$gateway_pid" 2>/dev/null || true
gateway_pid=
check "the gateway made its store in its state folder" test -f "$root/var/lib/sewage-gateway/gateway.db"

# ---- upgrade: the same packages rebuilt with the next Debian revision ----
release=$(sed -n 's/^set(CPACK_DEBIAN_PACKAGE_RELEASE "\(.*\)")$/\1/p' "$build/CPackConfig.cmake")
next=$((release + 1))
(cd "$build" && cpack -G DEB --config CPackConfig.cmake -D CPACK_DEBIAN_PACKAGE_RELEASE=$next \
  -D CPACK_PACKAGE_DIRECTORY="$root/tmp/debs2" >/dev/null)
echo "# local edit before the upgrade" >>"$root/etc/sewage/agent.toml"
echo "# local edit before the upgrade" >>"$root/etc/mosquitto/conf.d/sewage.conf"
mapfile -t debs < <(cd "$root" && in_root_paths tmp/debs2/*.deb)
in_root dpkg -i --force-confdef --force-confold "${debs[@]}" >"$root/tmp/upgrade.log" 2>&1 ||
  { cat "$root/tmp/upgrade.log" >&2; fail "dpkg -i of the -$next packages"; }
v2=$(in_root dpkg-query -W -f='${Version}' sewage-agent)
check "upgraded $v1 -> $v2" test "$v2" != "$v1" -a "$v2" = "${v1%-*}-$next"
check "edited /etc/sewage/agent.toml kept" grep -q "local edit before the upgrade" "$root/etc/sewage/agent.toml"
check "edited /etc/mosquitto/conf.d/sewage.conf kept" grep -q "local edit before the upgrade" "$root/etc/mosquitto/conf.d/sewage.conf"
check "no .dpkg-new/.dpkg-dist beside them" test -z "$(find "$root/etc/sewage" "$root/etc/mosquitto" -name '*.dpkg-*' -print -quit)"
check "the gateway's store survived the upgrade" test -f "$root/var/lib/sewage-gateway/gateway.db"
check "agent.toml still root:sewage-agent 640" test "$(in_root stat -c '%U:%G %a' /etc/sewage/agent.toml)" = "root:sewage-agent 640"

# ---- remove: programs go, configuration, state and users stay ----
in_root dpkg -r sewage-agent sewage-gateway sewage-tools >"$root/tmp/remove.log" 2>&1 ||
  { cat "$root/tmp/remove.log" >&2; fail "dpkg -r"; }
check "removed: /usr/bin/sewage-agent gone" test ! -e "$root/usr/bin/sewage-agent"
check "removed: sewage-gateway.service gone" test ! -e "$root/lib/systemd/system/sewage-gateway.service"
check "removed: package state 'config-files'" test "$(in_root dpkg-query -W -f='${db:Status-Status}' sewage-agent)" = config-files
check "removed: conffiles kept" test -f "$root/etc/sewage/agent.toml" -a -f "$root/etc/sewage/gateway.toml"
check "removed: state kept" test -f "$root/var/lib/sewage-gateway/gateway.db"
check "removed: users kept" test "$(in_root getent passwd sewage-agent sewage-gateway | wc -l)" = 2

# ---- purge: nothing of ours is left ----
in_root dpkg -P sewage-agent sewage-gateway sewage-tools >"$root/tmp/purge.log" 2>&1 ||
  { cat "$root/tmp/purge.log" >&2; fail "dpkg -P"; }
check "purged: dpkg knows none of the packages" test -z "$(in_root dpkg-query -W -f='${Package} ${db:Status-Status}\n' 'sewage-*' 2>/dev/null | grep -v ' not-installed$' || true)"
check "purged: /etc/sewage gone" test ! -e "$root/etc/sewage"
check "purged: /etc/mosquitto/conf.d/sewage.conf gone" test ! -e "$root/etc/mosquitto/conf.d/sewage.conf"
check "purged: /var/lib/sewage-agent and /var/lib/sewage-gateway gone" test ! -e "$root/var/lib/sewage-agent" -a ! -e "$root/var/lib/sewage-gateway"
check "purged: users and groups gone" test -z "$(grep -h '^sewage-' "$root/etc/passwd" "$root/etc/group" || true)"
check "purged: no unit symlinks left" test -z "$(find "$root/etc/systemd" -name 'sewage-*' -print -quit)"

echo "install-test: PASS ($checks checks, $(( $(date +%s) - started )) s)"
