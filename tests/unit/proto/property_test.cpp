// Property: decode(encode(r)) == r for 10,000 random valid telemetry records, and every one
// passes validation. The generator covers absent quantities, faulty statuses without values,
// extreme but valid numbers, millisecond timestamps and the whole uint64 range of seq.
#include "sewage/proto/limits.hpp"
#include "sewage/proto/resolution.hpp"
#include "sewage/proto/telemetry.hpp"

#include <gtest/gtest.h>

#include <algorithm>
#include <random>

namespace sewage::proto {
namespace {

class record_generator {
 public:
  explicit record_generator(std::uint64_t seed) : rng_(seed) {}

  telemetry_record next() {
    telemetry_record r;
    r.terminal_id = id(1, 32);
    r.epoch = id(1, 64);
    r.seq = pick<std::uint64_t>(0, std::numeric_limits<std::uint64_t>::max());
    r.ts = timestamp{std::chrono::milliseconds{pick<std::int64_t>(0, 4'102'444'800'000LL)}};
    r.interval_s = pick<std::uint32_t>(limits::min_interval_s, limits::max_interval_s);
    if (coin()) r.flow = flow();
    if (coin()) r.turbidity = turbidity();
    if (coin()) r.sludge = sludge();
    r.queue_depth = pick<std::uint64_t>(0, 1'000'000);
    r.dropped = coin() ? 0 : pick<std::uint64_t>(0, std::numeric_limits<std::uint64_t>::max());
    return r;
  }

 private:
  template <class T>
  T pick(T lo, T hi) {
    return std::uniform_int_distribution<T>(lo, hi)(rng_);
  }
  bool coin() { return pick<int>(0, 1) == 1; }
  /// A value at the resolution of `u` (what the wire carries, proto/resolution.hpp).
  double real(double lo, double hi, unit u) {
    switch (pick<int>(0, 9)) {
      case 0: return lo;
      case 1: return hi;
      default: return std::clamp(round_to(std::uniform_real_distribution<double>(lo, hi)(rng_), u), lo, hi);
    }
  }
  std::string id(std::size_t min_len, std::size_t max_len) {
    static constexpr std::string_view chars =
        "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789_-";
    std::string s(pick<std::size_t>(min_len, max_len), 'x');
    for (auto& c : s) c = chars[pick<std::size_t>(0, chars.size() - 1)];
    return s;
  }
  quantity_status status() {
    return coin() ? quantity_status::ok
                  : std::array{quantity_status::fault, quantity_status::out_of_range,
                               quantity_status::stale}[pick<int>(0, 2)];
  }
  std::optional<std::string> reason() {
    if (coin()) return std::nullopt;
    return std::string("汚泥 sensor reason ") + id(0, 40);
  }
  flow_reading flow() {
    flow_reading f;
    f.status = status();
    if (f.status == quantity_status::ok || coin()) f.rate_m3h = real(0, limits::max_flow_m3h, unit::m3_per_h);
    if (coin()) f.total_m3 = real(0, limits::max_total_m3, unit::m3);
    f.reason = reason();
    return f;
  }
  turbidity_reading turbidity() {
    turbidity_reading t;
    t.status = status();
    if (t.status == quantity_status::ok || coin()) {
      t.ntu = real(0, limits::max_turbidity_ntu, unit::ntu);
      if (coin()) t.min_ntu = real(0, *t.ntu, unit::ntu);
      if (coin()) t.max_ntu = real(*t.ntu, limits::max_turbidity_ntu, unit::ntu);
    }
    t.reason = reason();
    return t;
  }
  sludge_reading sludge() {
    sludge_reading s;
    s.status = status();
    const int which = pick<int>(0, 2);
    if (which != 1) s.level_m = real(0, limits::max_sludge_level_m, unit::m);
    if (which != 0) s.cleanout_required = coin();
    s.reason = reason();
    return s;
  }

  std::mt19937_64 rng_;
};

TEST(TelemetryProperty, EncodeDecodeIsIdentityOn10000RandomRecords) {
  record_generator gen(20261129);
  for (int i = 0; i < 10'000; ++i) {
    const auto r = gen.next();
    const auto text = encode(r);
    const auto d = decode_telemetry(text, r.terminal_id);
    ASSERT_TRUE(d.ok()) << "record " << i << ": " << d.problems.at(0).to_string() << "\n" << text;
    ASSERT_EQ(*d.value, r) << "record " << i << "\n" << text;
    ASSERT_EQ(encode(*d.value), text) << "record " << i;
  }
}

}  // namespace
}  // namespace sewage::proto
