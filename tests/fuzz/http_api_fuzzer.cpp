// libFuzzer target: the gateway's HTTP routing layer, api::handle (the function http_server calls
// for every request), over a real engine with a temporary SQLite store holding two terminals, a
// few records and one open alert.
//
// Input format (so seeds are readable; every byte sequence is still a valid input):
//   line 1: method, line 2: request target, then "Name: value" header lines up to an empty line,
//   the rest is the body. A missing part is empty.
// Properties checked besides crashes and sanitizer reports (std::abort marks a finding):
//   - no answer is a 500 (every 500 is a bug: an exception reached the last-resort handler);
//   - every status is 200..599 and every JSON answer parses as JSON and is valid UTF-8;
//   - a request holding invalid UTF-8 or control bytes in its method, headers or body gets 400.
#include "sewage/gateway/api.hpp"
#include "sewage/gateway/sqlite_store.hpp"

#include <sewage/proto/payload.hpp>
#include <sewage/proto/telemetry.hpp>
#include <sewage/proto/timestamp.hpp>
#include <sewage/proto/topic.hpp>

#include <nlohmann/json.hpp>
#include <spdlog/spdlog.h>

#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <memory>
#include <string>
#include <string_view>

namespace {

using namespace sewage::gateway;
namespace proto = sewage::proto;

class null_publisher final : public publisher {
 public:
  void publish(const std::string&, const std::string&, bool) noexcept override {}
};

terminal_info make_terminal(const std::string& id, const thresholds& t) {
  terminal_info i;
  i.id = id;
  i.name = "fuzz " + id;
  i.town = "Town";
  i.village = "Village";
  i.latitude_deg = 30.5;
  i.longitude_deg = 120.9;
  i.design_capacity_m3d = 24;
  i.discharge_grade = "grade_1";
  i.report_interval_s = 60;
  i.limits = t;
  return i;
}

/// One engine for the whole run (as in the gateway: state accumulates across requests).
struct world {
  std::filesystem::path dir;
  config cfg;
  manual_clock clock{*proto::parse_timestamp("2026-11-29T08:00:00Z")};
  null_publisher pub;
  std::unique_ptr<sqlite_store> db;
  std::unique_ptr<engine> eng;
  std::unique_ptr<api> routes;

  world() {
    spdlog::set_level(spdlog::level::off);
    char tmpl[] = "/tmp/http-api-fuzz-XXXXXX";
    const char* d = mkdtemp(tmpl);
    if (d == nullptr) std::abort();
    dir = d;
    cfg.http_public_read = true;  // no identity store here: reads open, changes answer 401
    cfg.defaults.turbidity_debounce_s = 0;
    db = std::make_unique<sqlite_store>(dir / "g.db", 100);
    eng = std::make_unique<engine>(cfg, registry({make_terminal("T1", cfg.defaults), make_terminal("T2", cfg.defaults)}),
                                   *db, clock, pub, default_rules());
    for (std::uint64_t seq = 1; seq <= 5; ++seq) {
      proto::telemetry_record r;
      r.terminal_id = "T1";
      r.epoch = "e1";
      r.seq = seq;
      r.ts = clock.now();
      r.interval_s = 60;
      r.flow = proto::flow_reading{proto::quantity_status::ok, 0.8, 1240.01 + static_cast<double>(seq), std::nullopt};
      r.turbidity = proto::turbidity_reading{proto::quantity_status::ok, seq == 5 ? 50.0 : 4.3, std::nullopt, std::nullopt,
                                             std::nullopt};
      eng->handle({proto::telemetry_topic("T1"), proto::encode(r), false, clock.now()});
      clock.advance(std::chrono::seconds(60));
    }
    eng->flush();
    link_status ls;
    ls.connected = [] { return true; };
    routes = std::make_unique<api>(*eng, ls);
  }
  ~world() {
    routes.reset();
    eng.reset();
    db.reset();
    std::error_code ec;
    std::filesystem::remove_all(dir, ec);
  }
};

world& the_world() {
  static world w;
  return w;
}

std::string_view next_line(std::string_view& in) {
  const auto nl = in.find('\n');
  const auto line = in.substr(0, nl);
  in.remove_prefix(nl == std::string_view::npos ? in.size() : nl + 1);
  return line;
}

bool clean(std::string_view s, text_rules rules) { return !text_problem(s, rules).has_value(); }

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  auto& w = the_world();
  std::string_view in(reinterpret_cast<const char*>(data), size);
  http_request req;
  req.method = std::string(next_line(in));
  req.target = std::string(next_line(in));
  bool bad_bytes = !clean(req.method, text_rules::single_line);
  while (!in.empty()) {
    const auto line = next_line(in);
    if (line.empty()) break;
    const auto colon = line.find(':');
    std::string name(line.substr(0, colon));
    std::string value(colon == std::string_view::npos ? std::string_view() : line.substr(colon + 1));
    if (!value.empty() && value.front() == ' ') value.erase(0, 1);
    bad_bytes = bad_bytes || !clean(name, text_rules::single_line) || !clean(value, text_rules::header_value);
    if (name == "Authorization") req.authorization = value;
    req.headers.emplace_back(std::move(name), std::move(value));
  }
  req.body = std::string(in);
  bad_bytes = bad_bytes || !clean(req.body, text_rules::multi_line);

  const http_response r = w.routes->handle(req);
  if (r.status < 200 || r.status > 599) std::abort();
  if (r.status == 500) {
    std::fprintf(stderr, "500 answer: %s\n", r.body.c_str());
    std::abort();
  }
  if (bad_bytes && r.status != 400) {
    std::fprintf(stderr, "bad bytes answered %u: %s\n", r.status, r.body.c_str());
    std::abort();
  }
  if (r.content_type.rfind("application/", 0) == 0 && r.content_type.find("json") != std::string::npos) {
    if (!proto::is_valid_utf8(r.body) || !nlohmann::json::accept(r.body)) {
      std::fprintf(stderr, "not JSON: %s\n", r.body.c_str());
      std::abort();
    }
  }
  // Let time pass now and then so day boundaries and offline judgement are exercised too.
  if (size % 7 == 0 && w.clock.now() < *proto::parse_timestamp("2027-06-01T00:00:00Z")) {
    w.clock.advance(std::chrono::minutes(37));
    w.eng->tick();
  }
  return 0;
}
