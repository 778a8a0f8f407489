#include "sewage/gateway/durable_inbox.hpp"

#include <boost/crc.hpp>
#include <spdlog/spdlog.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <fstream>
#include <iterator>
#include <stdexcept>
#include <string>
#include <system_error>

#include <fcntl.h>
#include <sys/mman.h>
#include <unistd.h>

namespace sewage::gateway {
namespace {

constexpr std::size_t frame_header_bytes = 8;                    // u32 length + u32 crc
constexpr std::size_t body_fixed_bytes = 8 + 8 + 1 + 4;          // id, arrival, retained, topic length
constexpr std::uint32_t max_body_bytes = 256U << 20U;            // MQTT's own packet limit (256 MiB)
constexpr const char* segment_suffix = ".seg";

std::uint32_t crc32(const char* data, std::size_t n) {
  boost::crc_32_type crc;
  crc.process_bytes(data, n);
  return crc.checksum();
}

template <typename T>
T get(const char* p) {
  T v;
  std::memcpy(&v, p, sizeof(T));
  return v;
}

[[noreturn]] void fail(const std::string& what, const std::filesystem::path& p, int err) {
  throw std::runtime_error("inbox journal: " + what + " " + p.string() + ": " + std::strerror(err));
}

std::string segment_name(std::uint64_t first_id) {
  std::string digits = std::to_string(first_id);
  return std::string(20 - std::min<std::size_t>(20, digits.size()), '0') + digits + segment_suffix;
}

/// Calls `fn(id, message)` for each intact frame of the segment at `p`, in order; stops at the
/// first torn or corrupt frame (logged). Returns the last intact id (0 if none).
template <typename Fn>
std::uint64_t read_segment(const std::filesystem::path& p, Fn&& fn) {
  std::ifstream in(p, std::ios::binary);
  if (!in) fail("cannot read", p, errno);
  const std::string data((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  std::uint64_t last = 0;
  std::size_t pos = 0;
  while (pos < data.size()) {
    const std::size_t left = data.size() - pos;
    // Segments are created at full size and filled from the front: zeros mean "no more frames".
    if (left < 4 || get<std::uint32_t>(data.data() + pos) == 0) break;
    bool ok = left >= frame_header_bytes;
    std::uint32_t len = 0;
    if (ok) {
      len = get<std::uint32_t>(data.data() + pos);
      ok = len >= body_fixed_bytes && len <= max_body_bytes && len <= left - frame_header_bytes &&
           crc32(data.data() + pos + frame_header_bytes, len) == get<std::uint32_t>(data.data() + pos + 4);
    }
    const char* b = data.data() + pos + frame_header_bytes;
    const std::uint32_t topic_len = ok ? get<std::uint32_t>(b + 17) : 0;
    ok = ok && topic_len <= len - body_fixed_bytes;
    if (!ok) {
      spdlog::error("inbox journal {}: torn or corrupt frame at byte {} of {}; the {} bytes after it are ignored",
                    p.string(), pos, data.size(), data.size() - pos);
      break;
    }
    inbound_message m;
    const auto id = get<std::uint64_t>(b);
    m.arrival = proto::timestamp(std::chrono::milliseconds(get<std::int64_t>(b + 8)));
    m.retained = b[16] != 0;
    m.topic.assign(b + body_fixed_bytes, topic_len);
    m.payload.assign(b + body_fixed_bytes + topic_len, len - body_fixed_bytes - topic_len);
    fn(id, std::move(m));
    last = id;
    pos += frame_header_bytes + len;
  }
  return last;
}

}  // namespace

durable_inbox::durable_inbox(const std::filesystem::path& dir, std::uint64_t segment_bytes)
    : dir_(dir), segment_bytes_(std::max<std::uint64_t>(segment_bytes, 1)) {
  std::error_code ec;
  if (std::filesystem::exists(dir_, ec) && !std::filesystem::is_directory(dir_, ec))
    throw std::runtime_error("inbox journal: " + dir_.string() + " exists and is not a directory");
  std::filesystem::create_directory(dir_, ec);
  if (ec) throw std::runtime_error("inbox journal: cannot create directory " + dir_.string() + ": " + ec.message());

  const auto released_path = dir_ / "released";
  released_fd_ = ::open(released_path.c_str(), O_RDWR | O_CREAT | O_CLOEXEC, 0644);
  if (released_fd_ < 0) fail("cannot open", released_path, errno);
  char rec[12];
  if (::pread(released_fd_, rec, sizeof rec, 0) == static_cast<ssize_t>(sizeof rec)) {
    if (crc32(rec, 8) == get<std::uint32_t>(rec + 8)) {
      released_on_disk_ = get<std::uint64_t>(rec);
    } else {
      spdlog::error("inbox journal {}: corrupt; every message left in the journal will be replayed",
                    released_path.string());
    }
  }
  released_ = released_on_disk_;
  next_id_ = released_ + 1;

  std::vector<std::pair<std::uint64_t, std::filesystem::path>> found;
  for (const auto& e : std::filesystem::directory_iterator(dir_)) {
    const auto name = e.path().filename().string();
    if (e.is_regular_file() && name.size() == 20 + std::strlen(segment_suffix) && name.ends_with(segment_suffix))
      found.emplace_back(std::stoull(name.substr(0, 20)), e.path());
  }
  std::sort(found.begin(), found.end());
  for (const auto& [first, path] : found) {
    const auto last = read_segment(path, [](std::uint64_t, inbound_message&&) {});
    if (last == 0 || last <= released_on_disk_) {
      std::filesystem::remove(path);  // empty or fully released
      continue;
    }
    segments_.push_back({path, first, last});
    next_id_ = std::max(next_id_, last + 1);
  }
  open_active(next_id_);  // never append after a possibly torn tail of an old segment
}

durable_inbox::~durable_inbox() {
  unmap_active();
  if (released_fd_ >= 0) ::close(released_fd_);
}

void durable_inbox::unmap_active() noexcept {
  if (active_map_ != nullptr) ::munmap(active_map_, active_capacity_);
  active_map_ = nullptr;
  active_capacity_ = 0;
}

void durable_inbox::open_active(std::uint64_t first_id, std::uint64_t min_bytes) {
  unmap_active();
  const auto path = dir_ / segment_name(first_id);
  const int fd = ::open(path.c_str(), O_RDWR | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
  if (fd < 0) fail("cannot create", path, errno);
  const std::uint64_t capacity = std::max(segment_bytes_, min_bytes);
  // The file is allocated at full size (so that a full disk fails here, with an error, and never
  // as SIGBUS on a later write through the mapping) and mapped shared: an append is a memcpy into
  // the page cache, no system call, and survives the process being killed just like a write().
  void* map = MAP_FAILED;
  int err = ::posix_fallocate(fd, 0, static_cast<off_t>(capacity));
  if (err == 0) {
    map = ::mmap(nullptr, capacity, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
    if (map == MAP_FAILED) err = errno;
  }
  ::close(fd);
  if (map == MAP_FAILED) {
    std::error_code ec;
    std::filesystem::remove(path, ec);
    fail("cannot map", path, err);
  }
  active_map_ = static_cast<char*>(map);
  active_capacity_ = capacity;
  active_size_ = 0;
  segments_.push_back({path, first_id, 0});
}

std::uint64_t durable_inbox::append(const inbound_message& m) {
  const std::size_t len = body_fixed_bytes + m.topic.size() + m.payload.size();
  const std::size_t frame_bytes = frame_header_bytes + len;
  std::lock_guard lock(mutex_);
  const std::uint64_t id = next_id_;
  if (active_map_ == nullptr || active_size_ + frame_bytes > active_capacity_) open_active(id, frame_bytes);
  auto& seg = segments_.back();
  // The body is written straight into the mapping, then the header: a frame whose length is
  // visible is complete (its CRC checks it).
  char* const frame = active_map_ + active_size_;
  char* b = frame + frame_header_bytes;
  const auto copy = [&b](const void* p, std::size_t n) {
    std::memcpy(b, p, n);
    b += n;
  };
  const std::int64_t arrival_ms = m.arrival.time_since_epoch().count();
  const char retained = m.retained ? '\1' : '\0';
  const auto topic_len = static_cast<std::uint32_t>(m.topic.size());
  copy(&id, 8);
  copy(&arrival_ms, 8);
  copy(&retained, 1);
  copy(&topic_len, 4);
  copy(m.topic.data(), m.topic.size());
  copy(m.payload.data(), m.payload.size());
  const auto len32 = static_cast<std::uint32_t>(len);
  const std::uint32_t crc = crc32(frame + frame_header_bytes, len);
  std::memcpy(frame + 4, &crc, 4);
  std::memcpy(frame, &len32, 4);
  active_size_ += frame_bytes;
  seg.last_id = id;
  ++next_id_;
  return id;
}

std::vector<std::pair<std::uint64_t, inbound_message>> durable_inbox::pending() {
  std::lock_guard lock(mutex_);
  std::vector<std::pair<std::uint64_t, inbound_message>> out;
  const std::uint64_t skip_through = released_;
  for (const auto& seg : segments_) {
    if (seg.last_id == 0 || seg.last_id <= skip_through) continue;
    read_segment(seg.path, [&](std::uint64_t id, inbound_message&& m) {
      if (id > skip_through) out.emplace_back(id, std::move(m));
    });
  }
  return out;
}

void durable_inbox::write_released(std::uint64_t id) {
  char rec[12];
  std::memcpy(rec, &id, 8);
  const std::uint32_t crc = crc32(rec, 8);
  std::memcpy(rec + 8, &crc, 4);
  if (::pwrite(released_fd_, rec, sizeof rec, 0) != static_cast<ssize_t>(sizeof rec))
    fail("cannot write", dir_ / "released", errno);
}

void durable_inbox::release_through(std::uint64_t id) {
  std::lock_guard lock(mutex_);
  if (id <= released_) return;
  released_ = std::min(id, next_id_ - 1);
  // Closed segments whose every message is released go first: a crash between the two steps
  // below then leaves only released ids behind, which `released` skips.
  while (segments_.size() > 1 && segments_.front().last_id <= released_) {
    std::error_code ec;
    std::filesystem::remove(segments_.front().path, ec);
    if (ec) spdlog::error("inbox journal: cannot delete {}: {}", segments_.front().path.string(), ec.message());
    segments_.pop_front();
  }
  write_released(released_);
}

std::uint64_t durable_inbox::size() {
  std::lock_guard lock(mutex_);
  return next_id_ - 1 - released_;
}

}  // namespace sewage::gateway
