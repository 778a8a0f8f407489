#pragma once
/// \file
/// Gives back the mappings of read-only file pages (library and executable code, constants) that
/// the agent touched once, at start-up or during a TLS handshake, and will not touch again.
///
/// Why (issue 15 item 6, VmRSS <= 10 MB): VmRSS counts every page mapped into the process. On
/// kernels with large page-cache folios (measured on 6.18, ext4) the first touch of a library maps
/// a whole folio, so configuration parsing, SQLite's quick_check, OpenSSL's initialisation and the
/// certificate check of each TLS handshake leave most of libcrypto, libstdc++ and SQLite mapped,
/// although the steady state (poll, record, publish) runs a small part of them. madvise(2)
/// MADV_DONTNEED on such a mapping removes this process's page-table entries only: the pages stay
/// in the page cache (shared with every other process using the library), and the next access
/// maps them again from there (a minor fault, no disk read). Nothing the process wrote is dropped:
/// a mapping is released only if it is not writable and holds no private (copy-on-write) page —
/// smaps `Anonymous: 0 kB` — which excludes relocated data (RELRO: the GOT, vtables), the data
/// segments and any code page a debugger patched with a breakpoint.
#include <cstddef>
#include <cstdint>
#include <istream>
#include <string>
#include <vector>

namespace sewage::agent {

/// One mapping of smaps that release_code_pages() may give back.
struct releasable_mapping {
  std::uintptr_t start{0};  ///< first byte
  std::uintptr_t end{0};    ///< one past the last byte
  std::size_t rss_kib{0};   ///< smaps `Rss` of the mapping, KiB
  std::string path;         ///< the mapped file
};

/// What a reading of smaps found.
struct smaps_scan {
  std::vector<releasable_mapping> releasable;
  /// Read-only file mappings left alone because they hold private copies (smaps `Anonymous` > 0,
  /// e.g. RELRO: the GOT and vtables after relocation) or locked pages (`Locked` > 0).
  std::size_t kept{0};
};

/// Parses the text of /proc/PID/smaps (proc(5)): a header line per mapping
/// ("START-END PERMS OFFSET DEV INODE [PATH]", addresses in hex) followed by "Key: value kB"
/// lines. A mapping is releasable if its path starts with '/', its permissions have no 'w', and
/// its `Rss` is above 0 while `Anonymous` and `Locked` are 0. Lines it does not understand are
/// skipped. Never throws except std::bad_alloc. Pure; thread-safe.
smaps_scan scan_smaps(std::istream& smaps);

/// What release_code_pages() did.
struct trim_result {
  /// Mappings advised MADV_DONTNEED.
  std::size_t mappings_released{0};
  /// Their resident KiB just before (smaps `Rss`): an upper bound on what VmRSS lost.
  std::size_t released_kib{0};
  /// Read-only file mappings left alone (see smaps_scan::kept).
  std::size_t mappings_kept{0};
  /// madvise calls that failed; 0 normally.
  std::size_t failures{0};
  /// Empty, or the first problem: "/proc/self/smaps: cannot be read" or
  /// "madvise <path>: <strerror>".
  std::string error;
};

/// Reads /proc/self/smaps and advises MADV_DONTNEED on each releasable mapping (scan_smaps).
/// Never throws (an unreadable smaps or a failed madvise is reported in the result; an
/// allocation failure gives an empty result with `error` set). Cost: one read of smaps (~40
/// mappings for the agent) and one system call per mapping released; the pages are mapped again
/// at their next use (minor faults, no disk read while the page cache holds them). Thread-safe:
/// other threads may run the released code meanwhile (they fault it back in). Linux only.
trim_result release_code_pages() noexcept;

}  // namespace sewage::agent
