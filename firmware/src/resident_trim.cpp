#include "sewage/agent/resident_trim.hpp"

#include <sys/mman.h>

#include <cerrno>
#include <charconv>
#include <cstring>
#include <fstream>
#include <optional>
#include <string_view>

namespace sewage::agent {

namespace {

std::optional<std::uintptr_t> parse_hex(std::string_view s) {
  std::uintptr_t v = 0;
  const auto [p, ec] = std::from_chars(s.data(), s.data() + s.size(), v, 16);
  if (ec != std::errc{} || p != s.data() + s.size() || s.empty()) return std::nullopt;
  return v;
}

/// Splits off the next blank-separated token of `rest`.
std::string_view next_token(std::string_view& rest) {
  const auto b = rest.find_first_not_of(' ');
  if (b == std::string_view::npos) {
    rest = {};
    return {};
  }
  rest.remove_prefix(b);
  const auto e = rest.find(' ');
  const auto tok = rest.substr(0, e);
  rest = e == std::string_view::npos ? std::string_view{} : rest.substr(e);
  return tok;
}

struct mapping_state {
  releasable_mapping m;
  bool candidate{false};  // file-backed, not writable
  bool has_rss{false};
  bool private_copies{false};
  bool locked{false};
};

void finish(std::optional<mapping_state>& cur, smaps_scan& out) {
  if (!cur || !cur->candidate) return;
  if (cur->private_copies || cur->locked) ++out.kept;
  else if (cur->has_rss) out.releasable.push_back(std::move(cur->m));
  cur.reset();
}

}  // namespace

smaps_scan scan_smaps(std::istream& smaps) {
  smaps_scan out;
  std::optional<mapping_state> cur;
  std::string line;
  while (std::getline(smaps, line)) {
    std::string_view rest = line;
    const auto first = next_token(rest);
    if (first.empty()) continue;
    if (first.back() == ':') {  // "Key: value kB" of the current mapping
      if (!cur) continue;
      const auto value_tok = next_token(rest);
      std::size_t kib = 0;
      const auto [p, ec] = std::from_chars(value_tok.data(), value_tok.data() + value_tok.size(), kib);
      if (ec != std::errc{} || p != value_tok.data() + value_tok.size()) continue;  // e.g. VmFlags
      if (first == "Rss:") {
        cur->m.rss_kib = kib;
        cur->has_rss = kib > 0;
      } else if (first == "Anonymous:") {
        cur->private_copies = kib > 0;
      } else if (first == "Locked:") {
        cur->locked = kib > 0;
      }
      continue;
    }
    // A header: START-END PERMS OFFSET DEV INODE [PATH]
    const auto dash = first.find('-');
    if (dash == std::string_view::npos) continue;
    const auto start = parse_hex(first.substr(0, dash));
    const auto end = parse_hex(first.substr(dash + 1));
    const auto perms = next_token(rest);
    next_token(rest);  // offset
    next_token(rest);  // device
    next_token(rest);  // inode
    if (!start || !end || *end <= *start || perms.size() < 4) continue;
    finish(cur, out);
    cur.emplace();
    cur->m.start = *start;
    cur->m.end = *end;
    const auto b = rest.find_first_not_of(' ');
    cur->m.path = b == std::string_view::npos ? std::string{} : std::string(rest.substr(b));
    cur->candidate = !cur->m.path.empty() && cur->m.path.front() == '/' && perms[1] != 'w';
  }
  finish(cur, out);
  return out;
}

trim_result release_code_pages() noexcept {
  trim_result r;
  try {
    std::ifstream in("/proc/self/smaps");
    if (!in) {
      r.error = "/proc/self/smaps: cannot be read";
      return r;
    }
    const auto scan = scan_smaps(in);
    r.mappings_kept = scan.kept;
    for (const auto& m : scan.releasable) {
      // NOLINTNEXTLINE(performance-no-int-to-ptr): an address read from smaps
      if (::madvise(reinterpret_cast<void*>(m.start), m.end - m.start, MADV_DONTNEED) == 0) {
        ++r.mappings_released;
        r.released_kib += m.rss_kib;
      } else {
        const int err = errno;
        if (r.failures++ == 0) r.error = "madvise " + m.path + ": " + std::strerror(err);
      }
    }
  } catch (...) {
    r.error = "out of memory while reading /proc/self/smaps";
  }
  return r;
}

}  // namespace sewage::agent
