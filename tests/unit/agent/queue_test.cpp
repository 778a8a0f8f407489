// Durable queue: seq and epoch survive reopening, order, bounds with drop-oldest, set-aside of
// oversize records, and a corrupt file moved aside.
#include "sewage/agent/durable_queue.hpp"
#include "sewage/agent/rate_limit.hpp"

#include "sewage/testing/process.hpp"

#include <gtest/gtest.h>
#include <sqlite3.h>
#include <unistd.h>

#include <atomic>
#include <fstream>

namespace sewage::agent {
namespace {

durable_queue::options opts(const std::filesystem::path& p, std::uint64_t records = 1000, std::uint64_t bytes = 1 << 20) {
  return durable_queue::options{p, records, bytes, 1024};
}

std::string payload(std::uint64_t seq) { return "record-" + std::to_string(seq); }

TEST(DurableQueue, SeqAndEpochSurviveReopeningAndOrderIsKept) {
  testing::temp_dir dir("queue");
  const auto path = dir.path() / "q.db";
  std::string epoch;
  {
    durable_queue q(opts(path));
    epoch = q.epoch();
    EXPECT_EQ(epoch.size(), 16U);
    EXPECT_EQ(epoch.find_first_not_of("0123456789abcdef"), std::string::npos);
    for (int i = 0; i < 5; ++i) EXPECT_EQ(q.append(payload).seq, static_cast<std::uint64_t>(i + 1));
    EXPECT_EQ(q.remove({1, 2}), 2U);
  }
  durable_queue q(opts(path));
  EXPECT_EQ(q.epoch(), epoch);
  EXPECT_EQ(q.depth(), 3U);
  EXPECT_EQ(q.next_seq(), 6U);
  const auto all = q.peek_after(0, 100);
  ASSERT_EQ(all.size(), 3U);
  EXPECT_EQ(all[0].seq, 3U);
  EXPECT_EQ(all[0].payload, "record-3");
  EXPECT_EQ(all[2].seq, 5U);
  EXPECT_EQ(q.peek_after(3, 1).at(0).seq, 4U);
  // Emptying the queue does not reset seq.
  EXPECT_EQ(q.remove({3, 4, 5, 99}), 3U);
  EXPECT_EQ(q.depth(), 0U);
  EXPECT_EQ(q.bytes(), 0U);
  EXPECT_EQ(q.append(payload).seq, 6U);
}

// Issue 15 item 5: an insert does not store the next seq (one b-tree page less per commit on
// the SD card); the outbox's highest seq gives it at open, and a delete stores it.
TEST(DurableQueue, InsertsDoNotStoreTheNextSeqYetNoSeqIsReused) {
  testing::temp_dir dir("queue");
  const auto path = dir.path() / "q.db";
  const auto stored_next = [&] {
    sqlite3* db = nullptr;
    EXPECT_EQ(sqlite3_open(path.c_str(), &db), SQLITE_OK);
    sqlite3_stmt* st = nullptr;
    std::string v;
    if (sqlite3_prepare_v2(db, "SELECT value FROM meta WHERE key = 'next_seq'", -1, &st, nullptr) == SQLITE_OK &&
        sqlite3_step(st) == SQLITE_ROW)
      v = reinterpret_cast<const char*>(sqlite3_column_text(st, 0));
    sqlite3_finalize(st);
    sqlite3_close(db);
    return v;
  };
  {
    durable_queue q(opts(path));
    for (int i = 0; i < 3; ++i) q.append(payload);
  }
  EXPECT_EQ(stored_next(), "1") << "inserts left the stored next seq alone";
  {
    durable_queue q(opts(path));
    EXPECT_EQ(q.next_seq(), 4U);  // from the outbox
    EXPECT_EQ(q.remove({1, 2, 3}), 3U);
  }
  EXPECT_EQ(stored_next(), "4") << "the delete that emptied the outbox stored it";
  durable_queue q(opts(path));
  EXPECT_EQ(q.depth(), 0U);
  EXPECT_EQ(q.append(payload).seq, 4U);
}

TEST(DurableQueue, FullQueueDropsTheOldestAndCountsIt) {
  testing::temp_dir dir("queue");
  durable_queue q(opts(dir.path() / "q.db", 3));
  for (int i = 0; i < 5; ++i) q.append(payload);
  EXPECT_EQ(q.depth(), 3U);
  EXPECT_EQ(q.dropped(), 2U);
  const auto all = q.peek_after(0, 10);
  ASSERT_EQ(all.size(), 3U);
  EXPECT_EQ(all[0].seq, 3U);
  EXPECT_EQ(all[2].seq, 5U);
}

TEST(DurableQueue, ByteBoundDropsTheOldest) {
  testing::temp_dir dir("queue");
  durable_queue q(opts(dir.path() / "q.db", 1000, 4096));
  const std::string big(1000, 'x');
  for (int i = 0; i < 6; ++i) q.append([&](std::uint64_t) { return big; });
  EXPECT_LE(q.bytes(), 4096U);
  EXPECT_EQ(q.depth(), 4U);
  EXPECT_EQ(q.dropped(), 2U);
}

// Issue 17 (chaos): a record whose PUBACK came waits in the file for the batched delete
// (queue.delete_batch, delete_after_s). The bounds pushing it out lose nothing: before, it was
// counted in `dropped`, which every following record carries, and the gateway raised a false
// queue_overflow. Both bounds, and records never delivered still counted.
TEST(DurableQueue, ADeliveredRecordPushedOutByTheBoundsIsNotALoss) {
  testing::temp_dir dir("queue");
  durable_queue q(opts(dir.path() / "q.db", 3));
  for (int i = 0; i < 3; ++i) q.append(payload);
  q.delivered(1);
  q.delivered(2);
  EXPECT_EQ(q.delivered_count(), 2U);
  EXPECT_EQ(q.append(payload).dropped, 0U);  // pushes out 1: delivered
  EXPECT_EQ(q.append(payload).dropped, 0U);  // pushes out 2: delivered
  EXPECT_EQ(q.delivered_count(), 0U);
  EXPECT_EQ(q.dropped(), 0U);
  EXPECT_EQ(q.append(payload).dropped, 1U);  // pushes out 3: never delivered, lost
  EXPECT_EQ(q.dropped(), 1U);
  // The batched delete of records already pushed out finds nothing and forgets them.
  q.delivered(4);
  EXPECT_EQ(q.remove({1, 2, 4}), 1U);
  EXPECT_EQ(q.delivered_count(), 0U);
  EXPECT_EQ(q.depth(), 2U);
  // A seq never handed out is ignored, and so is the PUBACK of one already pushed out (it was in
  // flight when the bounds took it: counted then, and not a delivered record in the file now).
  q.delivered(99);
  q.delivered(3);
  EXPECT_EQ(q.delivered_count(), 0U);
  EXPECT_EQ(q.append(payload).dropped, 0U);  // 7: room, 4 was removed
  EXPECT_EQ(q.append(payload).dropped, 1U);  // 8: pushes out 5, never delivered
  EXPECT_EQ(q.dropped(), 2U);

  testing::temp_dir dir2("queue");
  durable_queue b(opts(dir2.path() / "q.db", 1000, 4096));
  const std::string big(1000, 'x');
  for (int i = 0; i < 4; ++i) b.append([&](std::uint64_t) { return big; });
  for (std::uint64_t seq = 1; seq <= 4; ++seq) b.delivered(seq);
  for (int i = 0; i < 4; ++i) b.append([&](std::uint64_t) { return big; });
  EXPECT_EQ(b.depth(), 4U);
  EXPECT_EQ(b.dropped(), 0U);
  b.append([&](std::uint64_t) { return big; });  // pushes out 5: never delivered
  EXPECT_EQ(b.dropped(), 1U);
}

TEST(DurableQueue, OversizeRecordIsSetAsideNotQueued) {
  testing::temp_dir dir("queue");
  durable_queue q(opts(dir.path() / "q.db"));
  q.append(payload);
  const auto a = q.append([](std::uint64_t) { return std::string(2000, 'y'); });
  EXPECT_TRUE(a.set_aside);
  EXPECT_EQ(a.seq, 2U);
  EXPECT_EQ(q.depth(), 1U);
  EXPECT_EQ(q.set_aside(), 1U);
  EXPECT_EQ(q.append(payload).seq, 3U);  // the seq is used, so the gap is visible and explained
}

TEST(DurableQueue, CorruptFileIsMovedAsideAndAFreshEpochStarts) {
  testing::temp_dir dir("queue");
  const auto path = dir.path() / "q.db";
  std::string epoch;
  {
    durable_queue q(opts(path));
    epoch = q.epoch();
    for (int i = 0; i < 50; ++i) q.append(payload);
  }
  {
    // Overwrite the middle of the file with garbage.
    std::fstream f(path, std::ios::in | std::ios::out | std::ios::binary);
    f.seekp(100);
    const std::string junk(3000, '\x5a');
    f.write(junk.data(), static_cast<std::streamsize>(junk.size()));
  }
  durable_queue q(opts(path));
  ASSERT_TRUE(q.moved_aside().has_value());
  EXPECT_TRUE(std::filesystem::exists(*q.moved_aside()));
  EXPECT_NE(q.epoch(), epoch);
  EXPECT_EQ(q.depth(), 0U);
  EXPECT_EQ(q.append(payload).seq, 1U);
}

TEST(DurableQueue, TruncatedFileIsMovedAside) {
  testing::temp_dir dir("queue");
  const auto path = dir.path() / "q.db";
  {
    durable_queue q(opts(path));
    for (int i = 0; i < 200; ++i) q.append(payload);
  }
  std::filesystem::remove(path.string() + "-wal");
  std::filesystem::resize_file(path, 1500);
  durable_queue q(opts(path));
  EXPECT_TRUE(q.moved_aside().has_value());
  EXPECT_EQ(q.append(payload).seq, 1U);
}

TEST(DurableQueue, UnwritableLocationThrows) {
  EXPECT_THROW(durable_queue(opts("/proc/definitely/not/here.db")), queue_error);
}

// ---- one process per queue (issue 9 §6) ----

TEST(DurableQueue, ASecondOpenerIsRefusedNamingTheHoldersPid) {
  testing::temp_dir dir("queue");
  const auto path = dir.path() / "q.db";
  {
    durable_queue first(opts(path));
    first.append(payload);
    try {
      durable_queue second(opts(path));
      ADD_FAILURE() << "a second queue on the same file was opened";
    } catch (const queue_locked& e) {
      EXPECT_EQ(e.holder_pid(), static_cast<long>(::getpid()));
      const std::string what = e.what();
      EXPECT_NE(what.find("PID " + std::to_string(::getpid())), std::string::npos) << what;
      EXPECT_NE(what.find(path.string()), std::string::npos) << what;
    }
    // The holder is untouched by the refused opener.
    EXPECT_EQ(first.append(payload).seq, 2U);
  }
  // Released with the object: the next opener gets it and continues the same epoch.
  durable_queue again(opts(path));
  EXPECT_EQ(again.next_seq(), 3U);
}

// ---- storage that refuses writes (issue 9 §10) ----
//
// A VFS shim made the default for the test: it forwards everything to the real "unix" VFS and,
// while `refuse` is set, fails every write and truncate with SQLITE_IOERR_WRITE - what SQLite sees
// from a card remounted read-only or a dying card. It exercises the same code paths as a real
// storage fault (the error comes from the OS layer, under SQLite). A full disk (ENOSPC) is
// tested for real on a small tmpfs in tests/integration/agent (agent_faults_test.cpp).
struct refusing_vfs {
  static inline std::atomic<bool> refuse{false};
  static inline sqlite3_vfs* real = nullptr;
  static inline sqlite3_vfs vfs{};
  struct file {
    sqlite3_file base;
    sqlite3_file* real;
  };
  static inline sqlite3_io_methods methods{};

  static sqlite3_file* r(sqlite3_file* f) { return reinterpret_cast<file*>(f)->real; }
  static int x_close(sqlite3_file* f) { return r(f)->pMethods->xClose(r(f)); }
  static int x_read(sqlite3_file* f, void* b, int n, sqlite3_int64 o) { return r(f)->pMethods->xRead(r(f), b, n, o); }
  static int x_write(sqlite3_file* f, const void* b, int n, sqlite3_int64 o) {
    if (refuse) return SQLITE_IOERR_WRITE;
    return r(f)->pMethods->xWrite(r(f), b, n, o);
  }
  static int x_truncate(sqlite3_file* f, sqlite3_int64 n) {
    if (refuse) return SQLITE_IOERR_TRUNCATE;
    return r(f)->pMethods->xTruncate(r(f), n);
  }
  static int x_sync(sqlite3_file* f, int fl) { return r(f)->pMethods->xSync(r(f), fl); }
  static int x_size(sqlite3_file* f, sqlite3_int64* s) { return r(f)->pMethods->xFileSize(r(f), s); }
  static int x_lock(sqlite3_file* f, int l) { return r(f)->pMethods->xLock(r(f), l); }
  static int x_unlock(sqlite3_file* f, int l) { return r(f)->pMethods->xUnlock(r(f), l); }
  static int x_check(sqlite3_file* f, int* o) { return r(f)->pMethods->xCheckReservedLock(r(f), o); }
  static int x_fcntl(sqlite3_file* f, int op, void* a) { return r(f)->pMethods->xFileControl(r(f), op, a); }
  static int x_sector(sqlite3_file* f) { return r(f)->pMethods->xSectorSize(r(f)); }
  static int x_dev(sqlite3_file* f) { return r(f)->pMethods->xDeviceCharacteristics(r(f)); }
  static int x_shm_map(sqlite3_file* f, int pg, int sz, int ext, void volatile** p) {
    return r(f)->pMethods->xShmMap(r(f), pg, sz, ext, p);
  }
  static int x_shm_lock(sqlite3_file* f, int o, int n, int fl) { return r(f)->pMethods->xShmLock(r(f), o, n, fl); }
  static void x_shm_barrier(sqlite3_file* f) { r(f)->pMethods->xShmBarrier(r(f)); }
  static int x_shm_unmap(sqlite3_file* f, int d) { return r(f)->pMethods->xShmUnmap(r(f), d); }
  static int x_fetch(sqlite3_file* f, sqlite3_int64 o, int n, void** p) { return r(f)->pMethods->xFetch(r(f), o, n, p); }
  static int x_unfetch(sqlite3_file* f, sqlite3_int64 o, void* p) { return r(f)->pMethods->xUnfetch(r(f), o, p); }

  static int x_open(sqlite3_vfs*, sqlite3_filename name, sqlite3_file* f, int flags, int* out) {
    auto* w = reinterpret_cast<file*>(f);
    w->real = reinterpret_cast<sqlite3_file*>(w + 1);
    const int rc = real->xOpen(real, name, w->real, flags, out);
    w->base.pMethods = rc == SQLITE_OK && w->real->pMethods != nullptr ? &methods : nullptr;
    return rc;
  }

  static void install() {
    if (real != nullptr) return;
    real = sqlite3_vfs_find(nullptr);
    vfs = *real;
    vfs.zName = "refusing";
    vfs.szOsFile = static_cast<int>(sizeof(file)) + real->szOsFile;
    vfs.xOpen = &x_open;
    methods = sqlite3_io_methods{3,       &x_close, &x_read,  &x_write,   &x_truncate,   &x_sync,
                                 &x_size, &x_lock,  &x_unlock, &x_check,  &x_fcntl,      &x_sector,
                                 &x_dev,  &x_shm_map, &x_shm_lock, &x_shm_barrier, &x_shm_unmap, &x_fetch,
                                 &x_unfetch};
    ASSERT_EQ(sqlite3_vfs_register(&vfs, 1), SQLITE_OK);  // the default for every later open
  }
};

struct refusing_storage : ::testing::Test {
  void SetUp() override {
    refusing_vfs::install();
    refusing_vfs::refuse = false;
  }
  void TearDown() override { refusing_vfs::refuse = false; }
};

TEST_F(refusing_storage, RefusedWritesThrowWithoutWipingTheQueueAndRecoverWhenWritesWork) {
  testing::temp_dir dir("queue");
  const auto path = dir.path() / "q.db";
  durable_queue q(opts(path));
  ASSERT_TRUE(q.reserve_present());
  for (int i = 0; i < 40; ++i) q.append(payload);
  EXPECT_FALSE(q.storage_fault().has_value());

  refusing_vfs::refuse = true;
  EXPECT_THROW(q.append(payload), queue_error);
  ASSERT_TRUE(q.storage_fault().has_value());
  // Read-only storage: deletes fail too, so nothing was dropped and nothing is lost on disk.
  EXPECT_EQ(q.depth(), 40U);
  EXPECT_EQ(q.dropped(), 0U);
  EXPECT_FALSE(q.reserve_present());  // released to make room
  // The caller publishes the refused record from memory under the next seq.
  EXPECT_EQ(q.skip_seq(), 41U);
  EXPECT_THROW(q.append(payload), queue_error);
  EXPECT_EQ(q.skip_seq(), 42U);
  // Deleting acknowledged records fails as well, and says so.
  EXPECT_THROW(q.remove({1, 2}), queue_error);
  EXPECT_EQ(q.depth(), 40U);
  // Reads still work: the backlog can still be sent.
  EXPECT_EQ(q.peek_after(0, 100).size(), 40U);

  // Writes work again: the next record takes a seq after the skipped ones, the reserve comes
  // back and the fault clears.
  refusing_vfs::refuse = false;
  EXPECT_EQ(q.append(payload).seq, 43U);
  EXPECT_TRUE(q.reserve_present());
  EXPECT_EQ(q.remove({1, 2}), 2U);
  EXPECT_EQ(q.append(payload).seq, 44U);
  EXPECT_FALSE(q.storage_fault().has_value());
  EXPECT_EQ(q.depth(), 40U);
}

TEST_F(refusing_storage, SkippedSeqsAreNeverReusedAfterAReopen) {
  testing::temp_dir dir("queue");
  const auto path = dir.path() / "q.db";
  {
    durable_queue q(opts(path));
    q.append(payload);
    refusing_vfs::refuse = true;
    EXPECT_THROW(q.append(payload), queue_error);
    EXPECT_EQ(q.skip_seq(), 2U);
    refusing_vfs::refuse = false;
    EXPECT_EQ(q.append(payload).seq, 3U);  // persists next_seq = 4
  }
  durable_queue q(opts(path));
  EXPECT_EQ(q.next_seq(), 4U);
  const auto all = q.peek_after(0, 10);
  ASSERT_EQ(all.size(), 2U);
  EXPECT_EQ(all[0].seq, 1U);
  EXPECT_EQ(all[1].seq, 3U);
}

TEST(RateLimit, FirstEventAtOnceThenOneSummaryPerPeriod) {
  rate_limit lim(std::chrono::seconds(60));
  const auto t0 = rate_limit::clock::time_point{} + std::chrono::hours(1);
  EXPECT_EQ(lim.note(t0), 1U);
  std::uint64_t reported = 0;
  int lines = 0;
  // 1,335 events (the count) at one per second for 1,335 s: 1 + 22 lines, every event counted.
  for (int i = 1; i <= 1334; ++i) {
    if (const auto n = lim.note(t0 + std::chrono::seconds(i))) {
      reported += n;
      ++lines;
    }
  }
  EXPECT_EQ(lines, 22);
  EXPECT_EQ(reported + lim.pending(), 1334U);
  lim.reset();
  EXPECT_EQ(lim.note(t0 + std::chrono::seconds(1336)), 1U);
}

// Issue 15 item 6: the page cache is bounded (options::page_cache_kib). quick_check at open reads
// every page; with SQLite's default cache (2,000 KiB) a reopened 2.4 MiB queue kept ~2 MiB of
// pages in the heap.
TEST(DurableQueue, PageCacheStaysBoundedAfterOpeningALargeQueue) {
  EXPECT_EQ(durable_queue::options{}.page_cache_kib, 128U);
  testing::temp_dir dir("queue");
  const auto path = dir.path() / "q.db";
  auto o = opts(path, 10000, 64ULL << 20);
  o.max_record_bytes = 8192;
  const std::string big(4000, 'x');
  {
    durable_queue q(o);
    for (int i = 0; i < 600; ++i) q.append([&](std::uint64_t) { return big; });
  }
  ASSERT_GT(std::filesystem::file_size(path), 2U << 20);
  durable_queue q(o);
  EXPECT_EQ(q.depth(), 600U);
  EXPECT_EQ(q.peek_after(0, 1000).size(), 600U);
  const auto used = sqlite3_memory_used();
  EXPECT_GT(used, 0);                   // SQLite counts its memory (SQLITE_DEFAULT_MEMSTATUS)
  EXPECT_LT(used, 1024 * 1024) << used;  // page cache (128 KiB) + schema + statements
}

}  // namespace
}  // namespace sewage::agent
