#include "sewage/gateway/read_pool.hpp"

#include <spdlog/spdlog.h>

#include <sys/resource.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

namespace sewage::gateway {

read_pool::read_pool(const connection_factory& open, read_pool_options opt) : opt_(opt) {
  const std::size_t n = std::max<std::size_t>(1, opt_.threads);
  for (std::size_t i = 0; i < n; ++i) connections_.push_back(open());
  for (std::size_t i = 0; i < n; ++i) {
    store& db = *connections_[i];
    workers_.emplace_back([this, &db] { run(db); });
  }
}

read_pool::~read_pool() { stop(); }

bool read_pool::try_submit(job j) {
  {
    const std::lock_guard lock(mutex_);
    if (stopping_ || queue_.size() >= opt_.queue_max) return false;
    queue_.push_back(std::move(j));
  }
  wake_.notify_one();
  return true;
}

std::size_t read_pool::queued() const {
  const std::lock_guard lock(mutex_);
  return queue_.size();
}

std::uint64_t read_pool::completed() const {
  const std::lock_guard lock(mutex_);
  return completed_;
}

void read_pool::stop() {
  std::deque<job> dropped;
  {
    const std::lock_guard lock(mutex_);
    stopping_ = true;
    dropped.swap(queue_);
  }
  wake_.notify_all();
  for (auto& t : workers_)
    if (t.joinable()) t.join();
  dropped.clear();  // outside the lock: a job's destructor may do anything (close a connection)
}

void read_pool::run(store& db) {
  if (opt_.nice != 0) {
    // Linux: a thread's nice value is per thread (setpriority on its tid). Raising it needs no
    // privilege; failing to is harmless (logged).
    const auto tid = static_cast<id_t>(::syscall(SYS_gettid));
    if (::setpriority(PRIO_PROCESS, tid, ::getpriority(PRIO_PROCESS, tid) + opt_.nice) != 0)
      spdlog::debug("reader thread: setpriority failed: {}", std::strerror(errno));
  }
  for (;;) {
    job j;
    {
      std::unique_lock lock(mutex_);
      wake_.wait(lock, [this] { return stopping_ || !queue_.empty(); });
      if (stopping_) return;
      j = std::move(queue_.front());
      queue_.pop_front();
    }
    try {
      if (opt_.job_cpu_limit.count() > 0) db.set_cpu_limit(opt_.job_cpu_limit);
      j(db);
    } catch (const std::exception& e) {
      spdlog::error("read job failed: {}", e.what());
    } catch (...) {
      spdlog::error("read job failed: unknown exception");
    }
    try {
      db.set_cpu_limit(std::nullopt);
    } catch (...) {
    }
    j = nullptr;  // release what the job holds (a connection's session) before counting it done
    const std::lock_guard lock(mutex_);
    ++completed_;
  }
}

}  // namespace sewage::gateway
