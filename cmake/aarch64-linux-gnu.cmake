# Cross build for 64-bit ARM boards running Debian 12 arm64 or Raspberry Pi OS 64-bit (bookworm):
# Debian's cross compiler (crossbuild-essential-arm64; its libc and libstdc++ are in
# /usr/aarch64-linux-gnu) and the agent's arm64 libraries unpacked from Debian's arm64 packages
# into SEWAGE_ARM64_SYSROOT (packaging/arm64_sysroot.sh; nothing is installed on the build host,
# so its amd64 packages and headers are never upgraded to match). Header-only, architecture-free
# dependencies (nlohmann_json, CLI11, Boost headers) come from the host's /usr. Used by the
# package-arm64 preset (tools/package --arm64), which builds the agent only (SEWAGE_AGENT_ONLY).
set(CMAKE_SYSTEM_NAME Linux)
set(CMAKE_SYSTEM_PROCESSOR aarch64)
set(CMAKE_LIBRARY_ARCHITECTURE aarch64-linux-gnu)
set(CMAKE_C_COMPILER aarch64-linux-gnu-gcc)
set(CMAKE_CXX_COMPILER aarch64-linux-gnu-g++)

if(NOT SEWAGE_ARM64_SYSROOT)
  set(SEWAGE_ARM64_SYSROOT "${CMAKE_CURRENT_LIST_DIR}/../build/arm64-sysroot")
endif()
get_filename_component(SEWAGE_ARM64_SYSROOT "${SEWAGE_ARM64_SYSROOT}" ABSOLUTE)
if(NOT EXISTS "${SEWAGE_ARM64_SYSROOT}/usr/lib/aarch64-linux-gnu")
  message(FATAL_ERROR "SEWAGE_ARM64_SYSROOT ${SEWAGE_ARM64_SYSROOT} has no arm64 libraries: "
                      "run packaging/arm64_sysroot.sh (tools/package --arm64 does)")
endif()
# The unpacked arm64 packages first, then the host for architecture-independent headers and
# CMake configs; programs (help2man, gzip) always from the host.
set(CMAKE_FIND_ROOT_PATH "${SEWAGE_ARM64_SYSROOT};/")
set(CMAKE_FIND_ROOT_PATH_MODE_PROGRAM NEVER)
set(CMAKE_FIND_ROOT_PATH_MODE_LIBRARY ONLY)
set(CMAKE_FIND_ROOT_PATH_MODE_INCLUDE ONLY)
set(CMAKE_FIND_ROOT_PATH_MODE_PACKAGE ONLY)
# pkg-config (libmodbus): the arm64 .pc files, paths prefixed with the sysroot.
set(ENV{PKG_CONFIG_LIBDIR} "${SEWAGE_ARM64_SYSROOT}/usr/lib/aarch64-linux-gnu/pkgconfig:${SEWAGE_ARM64_SYSROOT}/usr/share/pkgconfig")
set(ENV{PKG_CONFIG_SYSROOT_DIR} "${SEWAGE_ARM64_SYSROOT}")
# The arm64 libraries' own dependencies (libssl3, libcap2, liblzma5, ...) are found by the linker
# here. Appended to CMAKE_EXE_LINKER_FLAGS (a normal variable over the cache entry) because the
# package presets set that entry (-z relro -z now), which makes CMAKE_EXE_LINKER_FLAGS_INIT unused.
set(sewage_rpath_link
  "-Wl,-rpath-link,${SEWAGE_ARM64_SYSROOT}/usr/lib/aarch64-linux-gnu -Wl,-rpath-link,${SEWAGE_ARM64_SYSROOT}/lib/aarch64-linux-gnu")
string(FIND "${CMAKE_EXE_LINKER_FLAGS}" "${sewage_rpath_link}" at)
if(at EQUAL -1)
  set(CMAKE_EXE_LINKER_FLAGS "${CMAKE_EXE_LINKER_FLAGS} ${sewage_rpath_link}")
endif()
# Run arm64 programs at build time (help2man's man pages) with qemu-user-static.
find_program(SEWAGE_QEMU_AARCH64 qemu-aarch64-static)
if(SEWAGE_QEMU_AARCH64)
  # The sysroot is the guest's /: its ld.so and libc (libc6:arm64) belong together.
  set(CMAKE_CROSSCOMPILING_EMULATOR "${SEWAGE_QEMU_AARCH64};-L;${SEWAGE_ARM64_SYSROOT}")
endif()
