#!/usr/bin/env bash
# Fast checks of the Debian packages (issue 15), run by ctest on the build tree it was given: cpack
# builds sewage-agent, sewage-gateway and sewage-tools into a temp folder from this tree's install
# step, and dpkg-deb shows what they hold: control fields and Depends, conffiles, maintainer
# scripts, units, file paths. Also: systemd-analyze verify on the packaged units, and the mosquitto
# drop-in read by a real mosquitto beside a Debian-like mosquitto.conf (free loopback port, stopped
# by PID). The full install/upgrade/purge test is tools/package --install-test (needs root, slow).
#   tests/packaging/package_layout_test.sh BUILD_DIR
set -euo pipefail
build=$(cd "${1:?usage: package_layout_test.sh BUILD_DIR}" && pwd)
tmp=$(mktemp -d "${TMPDIR:-/tmp}/sewage-pkg-test.XXXXXX")
broker_pid=
cleanup() {
  [[ -n $broker_pid ]] && kill "$broker_pid" 2>/dev/null && wait "$broker_pid" 2>/dev/null
  rm -rf "$tmp"
}
trap cleanup EXIT
checks=0
fail() { echo "FAIL: $*" >&2; exit 1; }
ok() { checks=$((checks + 1)); }
has() {  # has WHAT HAYSTACK NEEDLE
  grep -qF -- "$3" <<<"$2" || fail "$1: '$3' missing in:"$'\n'"$2"
  ok
}
hasnt() {
  ! grep -qF -- "$3" <<<"$2" || fail "$1: '$3' must not be there:"$'\n'"$(grep -F -- "$3" <<<"$2")"
  ok
}

start=$(date +%s)
# gzip -1 and no strip: the sanitizer build's binaries are large, the layout is what counts here.
(cd "$build" && cpack -G DEB --config CPackConfig.cmake -D CPACK_PACKAGE_DIRECTORY="$tmp/out" \
  -D CPACK_DEBIAN_COMPRESSION_TYPE=gzip -D CPACK_STRIP_FILES=OFF >"$tmp/cpack.log" 2>&1) ||
  { cat "$tmp/cpack.log" >&2; fail "cpack -G DEB"; }
debs=$(cd "$tmp/out" && ls *.deb)
[[ $(wc -l <<<"$debs") == 3 ]] || fail "expected exactly three packages, got:"$'\n'"$debs"
ok
deb() { ls "$tmp/out"/"$1"_*.deb; }

# ---- per package: control, conffiles, scripts, files ----
check_service_package() {  # PKG CONFFILES... ; the unit and the scripts of a service
  local pkg=$1; shift
  local f; f=$(deb "$pkg")
  local control; control=$(dpkg-deb -f "$f")
  has "$pkg control" "$control" "Package: $pkg"
  has "$pkg control" "$control" "Architecture: $(dpkg --print-architecture)"
  has "$pkg Depends" "$(dpkg-deb -f "$f" Depends)" "adduser"
  has "$pkg Depends (shlibdeps)" "$(dpkg-deb -f "$f" Depends)" "libc6"
  has "$pkg Depends (shlibdeps)" "$(dpkg-deb -f "$f" Depends)" "libpaho-mqttpp3-1"
  # The sd_notify protocol is sent without libsystemd (service/CMakeLists.txt, issue 15 item 6).
  [[ $(dpkg-deb -f "$f" Depends) != *libsystemd0* ]] || fail "$pkg Depends: libsystemd0 (service/ sends sd_notify itself)"
  mkdir -p "$tmp/ctrl/$pkg"
  dpkg-deb -e "$f" "$tmp/ctrl/$pkg"
  local want; want=$(printf '%s\n' "$@" | sort)
  [[ $(sort "$tmp/ctrl/$pkg/conffiles") == "$want" ]] ||
    fail "$pkg conffiles: expected"$'\n'"$want"$'\n'"got"$'\n'"$(cat "$tmp/ctrl/$pkg/conffiles")"
  ok
  for s in postinst prerm postrm; do
    [[ -f $tmp/ctrl/$pkg/$s && $(stat -c %a "$tmp/ctrl/$pkg/$s") == 755 ]] || fail "$pkg $s missing or not mode 755"
    sh -n "$tmp/ctrl/$pkg/$s" || fail "$pkg $s: shell syntax"
    ok
  done
  has "$pkg postinst" "$(cat "$tmp/ctrl/$pkg/postinst")" "adduser --system --group --quiet --home /var/lib/$pkg"
  has "$pkg postinst" "$(cat "$tmp/ctrl/$pkg/postinst")" "deb-systemd-helper enable \"\$unit\""
  has "$pkg postrm" "$(cat "$tmp/ctrl/$pkg/postrm")" "deluser --quiet --system $pkg"
  has "$pkg postrm" "$(cat "$tmp/ctrl/$pkg/postrm")" "rm -rf /var/lib/$pkg"
  mkdir -p "$tmp/root/$pkg"
  dpkg-deb -x "$f" "$tmp/root/$pkg"
  local unit="$tmp/root/$pkg/lib/systemd/system/$pkg.service"
  [[ -f $unit ]] || fail "$pkg: /lib/systemd/system/$pkg.service missing"
  local u; u=$(cat "$unit")
  for line in "Type=notify" "WatchdogSec=" "Restart=on-failure" "RestartSec=" "StartLimitIntervalSec=" \
    "StartLimitBurst=" "User=$pkg" "StateDirectory=$pkg" "ReadWritePaths=/var/lib/$pkg" "ProtectSystem=strict" \
    "NoNewPrivileges=yes" "PrivateTmp=yes" "ProtectHome=yes" "ExecStart=/usr/bin/$pkg --config /etc/sewage/" \
    "WantedBy=multi-user.target"; do
    has "$pkg.service" "$u" "$line"
  done
  # The config the unit starts with is one of the package's conffiles.
  local cfg; cfg=$(sed -n 's|^ExecStart=/usr/bin/[a-z-]* --config \([^ ]*\).*|\1|p' "$unit")
  grep -qx "$cfg" "$tmp/ctrl/$pkg/conffiles" || fail "$pkg.service starts with $cfg, which is not a conffile"
  ok
}
check_service_package sewage-agent /etc/sewage/agent.toml
check_service_package sewage-gateway /etc/sewage/gateway.toml /etc/sewage/registry.toml /etc/mosquitto/conf.d/sewage.conf
has "sewage-agent.service" "$(cat "$tmp/root/sewage-agent/lib/systemd/system/sewage-agent.service")" "SupplementaryGroups=dialout"
has "sewage-gateway.service" "$(cat "$tmp/root/sewage-gateway/lib/systemd/system/sewage-gateway.service")" 'ExecReload=/bin/kill -HUP $MAINPID'
has "sewage-agent postinst" "$(cat "$tmp/ctrl/sewage-agent/postinst")" 'for g in dialout; do'
# Depends: the agent's runtime libraries, the gateway's JavaScript from Debian; spdlog/fmt/toml++
# are compiled into the agent (firmware/CMakeLists.txt), so no Depends on them.
agent_dep=$(dpkg-deb -f "$(deb sewage-agent)" Depends)
for d in libpaho-mqttpp3-1 libpaho-mqtt1.3 libmodbus5 libsqlite3-0; do has "sewage-agent Depends" "$agent_dep" "$d"; done
for d in libspdlog libfmt libtomlplusplus; do hasnt "sewage-agent Depends" "$agent_dep" "$d"; done
gw_dep=$(dpkg-deb -f "$(deb sewage-gateway)" Depends)
for d in "libjs-leaflet," "libjs-leaflet.markercluster" "libjs-chart.js" "tzdata" "procps" "libsodium23" "libcurl4" "libsqlite3-0" "libpqxx-6.4"; do
  has "sewage-gateway Depends" "$gw_dep" "$d"
done
has "sewage-gateway Recommends" "$(dpkg-deb -f "$(deb sewage-gateway)" Recommends)" "mosquitto"
has "sewage-tools control" "$(dpkg-deb -f "$(deb sewage-tools)")" "Package: sewage-tools"

# ---- file paths ----
files() { dpkg-deb -c "$(deb "$1")" | awk '{print $6}' | sed 's|^\./|/|'; }
for p in sewage-agent sewage-gateway sewage-tools; do
  list=$(files $p)
  stray=$(grep -v -e '^/usr/bin/' -e '^/usr/share/' -e '^/lib/systemd/system/' -e '^/etc/sewage/' \
    -e '^/etc/mosquitto/conf.d/' -e '^/$' -e '^/usr/$' -e '^/lib/$' -e '^/lib/systemd/$' -e '^/etc/$' \
    -e '^/etc/mosquitto/$' <<<"$list" || true)
  [[ -z $stray ]] || fail "$p ships files outside its folders:"$'\n'"$stray"
  ok
  has "$p files" "$list" "/usr/share/doc/$p/copyright"
  has "$p files" "$list" "/usr/share/doc/$p/changelog.Debian.gz"
done
a=$(files sewage-agent); g=$(files sewage-gateway); t=$(files sewage-tools)
for x in /usr/bin/sewage-agent /etc/sewage/agent.toml /usr/share/man/man1/sewage-agent.1.gz; do has "sewage-agent files" "$a" "$x"; done
for x in /usr/bin/sewage-gateway /usr/share/sewage-gateway/web/index.html /usr/share/sewage-gateway/effluent_limits.toml \
  /etc/sewage/gateway.toml /etc/sewage/registry.toml /etc/mosquitto/conf.d/sewage.conf /usr/share/man/man1/sewage-gateway.1.gz; do
  has "sewage-gateway files" "$g" "$x"
done
for x in /usr/bin/sewage-proto /usr/bin/sewage-provision /usr/share/man/man1/sewage-proto.1.gz \
  /usr/share/man/man1/sewage-provision.1.gz; do
  has "sewage-tools files" "$t" "$x"
done
hasnt "sewage-gateway files" "$g" "/usr/bin/sewage-agent"
hasnt "sewage-agent files" "$a" "/usr/share/sewage-gateway"
# The packaged gateway config keeps its store in the state folder, not beside itself in /etc.
has "/etc/sewage/gateway.toml" "$(cat "$tmp/root/sewage-gateway/etc/sewage/gateway.toml")" \
  'path = "/var/lib/sewage-gateway/gateway.db"'
man=$(zcat "$tmp/root/sewage-agent/usr/share/man/man1/sewage-agent.1.gz")
has "sewage-agent.1 (from --help)" "$man" '\-\-check\-config'

# ---- units: systemd-analyze verify in a root of both packages (their binaries exist there), the
# host's units (the targets ours name) and /bin/kill (ExecReload) ----
vroot="$tmp/verify-root"
mkdir -p "$vroot/lib/systemd" "$vroot/bin"
cp -a /lib/systemd/system "$vroot/lib/systemd/"
cp /bin/kill "$vroot/bin/"
for p in sewage-agent sewage-gateway; do cp -a "$tmp/root/$p/." "$vroot/"; done
for p in sewage-agent sewage-gateway; do
  out=$(systemd-analyze verify --man=no --root="$vroot" "/lib/systemd/system/$p.service" 2>&1) ||
    fail "systemd-analyze verify $p.service:"$'\n'"$out"
  [[ -z $out ]] || fail "systemd-analyze verify $p.service reports:"$'\n'"$out"
  ok
done

# ---- the mosquitto drop-in beside a Debian-like mosquitto.conf (mosquitto 2.0 rejects duplicates) ----
m="$tmp/mosquitto"
mkdir -p "$m/conf.d" "$m/data"
cp "$tmp/root/sewage-gateway/etc/mosquitto/conf.d/sewage.conf" "$m/conf.d/"
port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
printf 'listener %s 127.0.0.1\nallow_anonymous true\n' "$port" >"$m/conf.d/test-listener.conf"
# Debian's lines, in temp paths; as root mosquitto would drop to user mosquitto, who cannot write here.
[[ $(id -u) == 0 ]] && echo "user root" >"$m/conf.d/test-user.conf"
cat >"$m/mosquitto.conf" <<EOF
pid_file $m/mosquitto.pid
persistence true
persistence_location $m/data/
log_dest file $m/mosquitto.log
include_dir $m/conf.d
EOF
mosquitto -c "$m/mosquitto.conf" >"$m/stderr.log" 2>&1 &
broker_pid=$!
for _ in $(seq 100); do
  (exec 3<>"/dev/tcp/127.0.0.1/$port") 2>/dev/null && break
  kill -0 "$broker_pid" 2>/dev/null || break
  sleep 0.1
done
(exec 3<>"/dev/tcp/127.0.0.1/$port") 2>/dev/null ||
  fail "mosquitto did not start with /etc/mosquitto/conf.d/sewage.conf:"$'\n'"$(cat "$m/stderr.log" "$m/mosquitto.log" 2>/dev/null)"
ok
kill "$broker_pid"; wait "$broker_pid" 2>/dev/null || true; broker_pid=

sizes=$(cd "$tmp/out" && for f in *.deb; do printf '%s %s KiB; ' "$f" $(( $(stat -c %s "$f") / 1024 )); done)
echo "package layout: PASS ($checks checks, $(( $(date +%s) - start )) s; $sizes)"
