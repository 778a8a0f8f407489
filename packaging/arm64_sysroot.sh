#!/usr/bin/env bash
# Unpacks the arm64 libraries the terminal agent builds and runs against into a folder (default
# build/arm64-sysroot) for the cross build (cmake/aarch64-linux-gnu.cmake) and the qemu smoke test.
# The packages are downloaded with `apt-get download` (dpkg --add-architecture arm64 makes apt
# see them) and unpacked with dpkg-deb -R: nothing is installed, so the host's amd64 packages are
# never upgraded to match arm64 versions (Multi-Arch: same would upgrade e.g. libssl-dev and
# linux-libc-dev, and every build on the machine would recompile). Each package keeps its control
# files under <dir>/.debs/<package>/DEBIAN for dpkg-shlibdeps (Depends of the arm64 .deb).
#   packaging/arm64_sysroot.sh [DIR]
set -euo pipefail
root_dir="$(cd "$(dirname "$0")/.." && pwd)"
dir=${1:-$root_dir/build/arm64-sysroot}
# -dev packages: headers, .so links, CMake and pkg-config files; then the runtime libraries they
# and their libraries need. The cross compiler brings its own libc, libstdc++ and libgcc.
packages=(
  libpaho-mqttpp-dev libpaho-mqtt-dev libssl-dev libmodbus-dev libsqlite3-dev
  libspdlog-dev libfmt-dev libtomlplusplus-dev
  libpaho-mqttpp3-1 libpaho-mqtt1.3 libssl3 libmodbus5 libsqlite3-0
  libspdlog1.1 libfmt9 libtomlplusplus3
  # Debian's names in Depends (their shlibs/symbols files), and the guest's / for qemu -L (its
  # ld.so and libc together)
  libc6 libstdc++6 libgcc-s1
)
stamp="$dir/.complete"
want=$(printf '%s\n' "${packages[@]}")
if [[ -f $stamp && $(cat "$stamp") == "$want" ]]; then
  exit 0
fi
if ! dpkg --print-foreign-architectures | grep -qx arm64; then
  echo "arm64-sysroot: run 'dpkg --add-architecture arm64 && apt-get update' first (tools/install-deps --arm64 does)" >&2
  exit 1
fi
rm -rf "$dir"
mkdir -p "$dir/.debs"
(cd "$dir/.debs" && apt-get download -q "${packages[@]/%/:arm64}" >/dev/null)
for deb in "$dir"/.debs/*.deb; do
  name=$(dpkg-deb -f "$deb" Package)
  dpkg-deb -R "$deb" "$dir/.debs/$name"
  cp -a "$dir/.debs/$name/." "$dir/"
  rm -rf "$dir/DEBIAN"
done
echo "$want" >"$stamp"
echo "arm64-sysroot: ${#packages[@]} arm64 packages unpacked in $dir"
