// Giving back the mappings of code used only at start-up (issue 15 item 6): which smaps mappings
// qualify, and that the process keeps working after the real madvise.
#include "sewage/agent/resident_trim.hpp"

#include <gtest/gtest.h>

#include <fstream>
#include <functional>
#include <sstream>
#include <stdexcept>
#include <string>

namespace sewage::agent {
namespace {

// A trimmed /proc/PID/smaps with one mapping of each kind.
constexpr const char* sample_smaps =
    "55d0a0000000-55d0a0010000 r--p 00000000 fe:01 1234   /usr/bin/sewage-agent\n"
    "Size:                 64 kB\n"
    "Rss:                  64 kB\n"
    "Anonymous:             0 kB\n"
    "Locked:                0 kB\n"
    "VmFlags: rd mr mw me sd\n"
    "55d0a0010000-55d0a0100000 r-xp 00010000 fe:01 1234   /usr/bin/sewage-agent\n"
    "Rss:                 876 kB\n"
    "Anonymous:             0 kB\n"
    "Locked:                0 kB\n"
    "VmFlags: rd ex mr mw me sd\n"
    // RELRO after relocation: read-only now, but holds private copies -> kept
    "55d0a0100000-55d0a0104000 r--p 00100000 fe:01 1234   /usr/bin/sewage-agent\n"
    "Rss:                  16 kB\n"
    "Anonymous:            16 kB\n"
    "Locked:                0 kB\n"
    // data: writable -> neither released nor counted
    "55d0a0104000-55d0a0105000 rw-p 00104000 fe:01 1234   /usr/bin/sewage-agent\n"
    "Rss:                   4 kB\n"
    "Anonymous:             4 kB\n"
    // heap and an anonymous executable mapping: no file -> ignored
    "55d0a1000000-55d0a1200000 rw-p 00000000 00:00 0      [heap]\n"
    "Rss:                 800 kB\n"
    "Anonymous:           800 kB\n"
    "7f0000000000-7f0000001000 r-xp 00000000 00:00 0 \n"
    "Rss:                   4 kB\n"
    "Anonymous:             0 kB\n"
    // a locked library text -> kept (madvise would refuse it)
    "7f0000100000-7f0000200000 r-xp 00022000 fe:01 99     /usr/lib/x86_64-linux-gnu/libssl.so.3\n"
    "Rss:                 600 kB\n"
    "Anonymous:             0 kB\n"
    "Locked:              600 kB\n"
    // mapped but not resident -> nothing to give back
    "7f0000300000-7f0000400000 r-xp 00000000 fe:01 100    /usr/lib/x86_64-linux-gnu/libm.so.6\n"
    "Rss:                   0 kB\n"
    "Anonymous:             0 kB\n"
    "7ffd00000000-7ffd00002000 r-xp 00000000 00:00 0      [vdso]\n"
    "Rss:                   8 kB\n"
    "Anonymous:             0 kB\n"
    // a path with a blank, the last mapping of the file (no line after it)
    "7f0000500000-7f0000600000 r-xp 00000000 fe:01 101    /opt/sewage agent/lib/libx.so (deleted)\n"
    "Rss:                 120 kB\n"
    "Anonymous:             0 kB\n";

TEST(ScanSmaps, ReleasesOnlyResidentReadOnlyFileMappingsWithoutPrivateCopies) {
  std::istringstream in(sample_smaps);
  const auto scan = scan_smaps(in);
  ASSERT_EQ(scan.releasable.size(), 3U);
  EXPECT_EQ(scan.releasable[0].start, 0x55d0a0000000U);
  EXPECT_EQ(scan.releasable[0].end, 0x55d0a0010000U);
  EXPECT_EQ(scan.releasable[0].rss_kib, 64U);
  EXPECT_EQ(scan.releasable[0].path, "/usr/bin/sewage-agent");
  EXPECT_EQ(scan.releasable[1].start, 0x55d0a0010000U);
  EXPECT_EQ(scan.releasable[1].rss_kib, 876U);
  EXPECT_EQ(scan.releasable[2].path, "/opt/sewage agent/lib/libx.so (deleted)");
  EXPECT_EQ(scan.releasable[2].rss_kib, 120U);
  // RELRO (private copies) and the locked libssl text
  EXPECT_EQ(scan.kept, 2U);
}

TEST(ScanSmaps, SkipsLinesItDoesNotUnderstand) {
  std::istringstream in(
      "garbage\n"
      "Rss: 12 kB\n"  // before any header
      "zzzz-1000 r-xp 0 0 0 /lib/a.so\n"  // bad start address
      "2000-1000 r-xp 0 0 0 /lib/b.so\n"  // end before start
      "\n"
      "3000-4000 r-xp 00000000 fe:01 7 /lib/c.so\n"
      "Rss: lots kB\n"
      "Rss: 4 kB\n");
  const auto scan = scan_smaps(in);
  ASSERT_EQ(scan.releasable.size(), 1U);
  EXPECT_EQ(scan.releasable[0].path, "/lib/c.so");
  EXPECT_EQ(scan.releasable[0].rss_kib, 4U);
  EXPECT_EQ(scan.kept, 0U);
}

std::size_t rss_file_kib() {
  std::ifstream in("/proc/self/status");
  std::string key;
  std::size_t kib = 0;
  while (in >> key) {
    if (key == "RssFile:") {
      in >> kib;
      return kib;
    }
    in.ignore(1 << 20, '\n');
  }
  return 0;
}

int thrown_and_caught(int v) {
  try {
    throw std::runtime_error("x" + std::to_string(v));
  } catch (const std::exception& e) {
    return static_cast<int>(std::string(e.what()).size());
  }
}

TEST(ReleaseCodePages, GivesBackFilePagesAndTheProcessKeepsWorking) {
  // Touch some library code first, as start-up would.
  std::ostringstream warm;
  warm << 3.25 << ' ' << thrown_and_caught(7);
  const auto before_kib = rss_file_kib();
  ASSERT_GT(before_kib, 0U);

  const auto r = release_code_pages();
  EXPECT_TRUE(r.error.empty()) << r.error;
  EXPECT_EQ(r.failures, 0U);
  EXPECT_GT(r.mappings_released, 0U);
  EXPECT_GT(r.released_kib, 0U);
  // Every dynamically linked process has relocated read-only data (RELRO) with private copies:
  // dropping it would lose the relocations, so it must have been kept.
  EXPECT_GT(r.mappings_kept, 0U);
  const auto after_kib = rss_file_kib();
  EXPECT_LT(after_kib, before_kib);

  // Code, constants, vtables and the GOT still work: virtual calls into libstdc++, an
  // exception unwound through the released .eh_frame, a call through std::function.
  std::ostringstream out;
  out << 1.5 << '/' << thrown_and_caught(12345);
  const std::function<std::string(int)> f = [](int v) { return std::to_string(v * 2); };
  EXPECT_EQ(out.str() + ":" + f(21), "1.5/6:42");
  // Again, with everything mapped back in.
  EXPECT_EQ(release_code_pages().failures, 0U);
  EXPECT_EQ(thrown_and_caught(1), 2);
}

}  // namespace
}  // namespace sewage::agent
