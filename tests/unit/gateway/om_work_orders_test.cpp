// Work orders (issue 12): the state machine as a table (every action from every state by every
// role), the evidence rules (check-in after dispatch, photo after check-in, cause and parts),
// check-in refusals (token, site, radius, accuracy), photo limits and EXIF-less metadata,
// auto-creation by policy exactly once, overdue escalation on a simulated clock, and figures on
// fixed data.
#include "sewage/gateway/auth/service.hpp"
#include "sewage/gateway/om/checkin.hpp"
#include "sewage/gateway/om/work_orders.hpp"
#include "sewage/gateway/sqlite_store.hpp"

#include <sewage/testing/process.hpp>

#include <gtest/gtest.h>

#include <cmath>
#include <map>

namespace sewage::gateway {
namespace {

using namespace std::chrono_literals;
constexpr std::int64_t hour_ms = 3'600'000;

auth::principal person(auth::role r, std::vector<std::string> towns = {}, std::string contractor = {}) {
  auth::principal p;
  p.kind = auth::actor_kind::user;
  p.name = std::string(auth::to_string(r)) + (towns.empty() ? "" : "-" + towns[0]) + (contractor.empty() ? "" : "-" + contractor);
  p.role = r;
  p.towns = std::move(towns);
  p.contractor = std::move(contractor);
  return p;
}

// A tiny JPEG header (SOI + APP0): enough for the type check; no EXIF.
std::string fake_jpeg() {
  static const char bytes[] = "\xFF\xD8\xFF\xE0\x00\x10JFIF\x00\x01\x01\x00\x00\x01\x00\x01\x00\x00\xFF\xD9";
  return std::string(bytes, sizeof bytes - 1);  // 22 bytes; the literal's own NUL is not part of it
}

class WorkOrders : public ::testing::Test {
 protected:
  WorkOrders() : dir_("om-wo"), clock_(proto::timestamp(std::chrono::milliseconds(1'764'547'200'000))), db_(dir_.path() / "gw.db", 100) {
    settings_.photo_dir = dir_.path() / "photos";
    settings_.contractors = {{"hy-water", "HY", {"Yuantong"}, {}}, {"clean-co", "Clean", {"Xitang"}, {}}};
    sites_["T1"] = {"T1", "Yuantong", 30.5, 120.9};
    sites_["T2"] = {"T2", "Xitang", 30.6, 121.0};
    ids_ = std::make_unique<auth::service>(dir_.path() / "gw.db", auth::settings{}, clock_);
    make();
  }
  void make() {
    wo_ = std::make_unique<om::work_orders>(
        dir_.path() / "gw.db", settings_, clock_,
        [this](const std::string& id) -> std::optional<om::site_ref> {
          auto it = sites_.find(id);
          return it == sites_.end() ? std::nullopt : std::optional<om::site_ref>(it->second);
        },
        ids_.get());
  }
  std::int64_t new_order(const std::string& site = "T1", severity sev = severity::warning) {
    om::new_work_order o;
    o.site_id = site;
    o.fault_type = "no_flow";
    o.sev = sev;
    o.title = "no flow";
    return wo_->create(o, county_);
  }
  void checkin_at(const std::string& site, const auth::principal& who) {
    om::checkin c;
    c.site_id = site;
    c.lat = sites_[site].latitude_deg;
    c.lon = sites_[site].longitude_deg;
    wo_->add_checkin(c, who);
  }
  /// Brings order `id` to state `s` the legitimate way.
  void bring(std::int64_t id, om::order_state s) {
    using om::order_action;
    using om::order_state;
    if (s == order_state::open) return;
    wo_->transition(id, order_action::dispatch, county_, {});
    if (s == order_state::dispatched) return;
    clock_.advance(1s);
    checkin_at("T1", crew_);
    wo_->transition(id, order_action::on_site, crew_, {});
    if (s == order_state::on_site) return;
    clock_.advance(1s);
    wo_->add_photo(id, fake_jpeg(), "image/jpeg", 30.5, 120.9, crew_);
    om::transition_args f;
    f.cause = "pump impeller blocked";
    f.parts_used = "none";
    wo_->transition(id, order_action::fixed, crew_, f);
    if (s == order_state::fixed) return;
    if (s == order_state::verified) {
      wo_->transition(id, order_action::verify, county_, {});
      return;
    }
    om::transition_args r;
    r.note = "still no flow";
    wo_->transition(id, order_action::reopen, county_, r);
  }

  testing::temp_dir dir_;
  manual_clock clock_;
  sqlite_store db_;
  om::settings settings_;
  std::map<std::string, om::site_ref> sites_;
  std::unique_ptr<auth::service> ids_;
  std::unique_ptr<om::work_orders> wo_;
  auth::principal county_ = person(auth::role::operator_);
  auth::principal crew_ = person(auth::role::contractor, {}, "hy-water");
};

TEST_F(WorkOrders, StateMachineTableEveryActionFromEveryStateByEveryRole) {
  using om::order_action;
  using om::order_state;
  const std::map<std::string, auth::principal> who{
      {"admin", person(auth::role::admin)},
      {"county_operator", county_},
      {"town_officer", person(auth::role::operator_, {"Yuantong"})},
      {"other_town_officer", person(auth::role::operator_, {"Xitang"})},
      {"viewer", person(auth::role::viewer)},
      {"crew", crew_},
      {"other_crew", person(auth::role::contractor, {}, "clean-co")},
  };
  // Allowed (state, action, caller); everything else must be refused.
  const std::set<std::tuple<order_state, order_action, std::string>> allowed = [] {
    std::set<std::tuple<order_state, order_action, std::string>> a;
    for (const char* op : {"admin", "county_operator", "town_officer"}) {
      a.insert({order_state::open, order_action::dispatch, op});
      a.insert({order_state::reopened, order_action::dispatch, op});
      a.insert({order_state::fixed, order_action::verify, op});
      a.insert({order_state::fixed, order_action::reopen, op});
      a.insert({order_state::verified, order_action::reopen, op});
    }
    a.insert({order_state::dispatched, order_action::on_site, "crew"});
    a.insert({order_state::on_site, order_action::fixed, "crew"});
    return a;
  }();
  const order_state states[] = {order_state::open, order_state::dispatched, order_state::on_site,
                                order_state::fixed, order_state::verified, order_state::reopened};
  const order_action actions[] = {order_action::dispatch, order_action::on_site, order_action::fixed, order_action::verify,
                                  order_action::reopen};
  int checked = 0;
  for (const auto s : states) {
    for (const auto a : actions) {
      for (const auto& [name, p] : who) {
        const auto id = new_order();
        bring(id, s);
        ASSERT_EQ(wo_->get(id)->state, s);
        checked++;
        // Evidence for the two field actions, so that only role and state decide.
        if (a == order_action::on_site) {
          clock_.advance(1s);
          checkin_at("T1", crew_);
          auto other = who.at("other_crew");
          checkin_at("T1", other);
        }
        om::transition_args args;
        args.note = "n";
        args.cause = "c";
        args.parts_used = "p";
        if (a == order_action::fixed) {
          clock_.advance(1s);
          try {
            wo_->add_photo(id, fake_jpeg(), "image/jpeg", std::nullopt, std::nullopt, crew_);
          } catch (const om::om_error&) {
          }
        }
        const bool want = allowed.count({s, a, name}) != 0;
        bool got = true;
        unsigned status = 0;
        try {
          const auto o = wo_->transition(id, a, p, args);
          EXPECT_NE(o.state, s) << "a successful action changes the state";
        } catch (const om::om_error& e) {
          got = false;
          status = e.status();
          EXPECT_TRUE(e.status() == 403 || e.status() == 409) << e.what();
        }
        EXPECT_EQ(got, want) << to_string(s) << " --" << to_string(a) << "--> by " << name << " status " << status;
        if (!want && !got && (name == "viewer" || name == "other_crew" || name == "other_town_officer")) {
          EXPECT_EQ(status, 403u) << to_string(s) << " " << to_string(a) << " " << name;
        }
      }
    }
  }
  EXPECT_EQ(checked, 6 * 5 * 7);
}

TEST_F(WorkOrders, TransitionsLeaveEventsAndAuditRowsWithWhoWhereAndNote) {
  const auto id = new_order();
  om::transition_args d;
  d.note = "go";
  d.lat = 30.1;
  d.lon = 120.1;
  wo_->transition(id, om::order_action::dispatch, county_, d);
  const auto ev = wo_->events(id);
  ASSERT_EQ(ev.size(), 2u);
  EXPECT_EQ(ev[0].to_state, "open");
  EXPECT_EQ(ev[1].from_state, "open");
  EXPECT_EQ(ev[1].to_state, "dispatched");
  EXPECT_EQ(ev[1].actor, county_.name);
  EXPECT_EQ(ev[1].note, "go");
  EXPECT_DOUBLE_EQ(*ev[1].lat, 30.1);
  auth::audit_query q;
  q.action = "work_order.dispatch";
  const auto rows = ids_->audit_rows(q);
  ASSERT_EQ(rows.size(), 1u);
  EXPECT_EQ(rows[0].actor, county_.name);
  EXPECT_EQ(rows[0].target, std::to_string(id));
  EXPECT_NE(rows[0].detail_json.find("\"lat\":30.1"), std::string::npos) << rows[0].detail_json;
  EXPECT_NE(rows[0].detail_json.find("\"note\":\"go\""), std::string::npos) << rows[0].detail_json;
  EXPECT_EQ(wo_->get(id)->contractor, "hy-water");
}

TEST_F(WorkOrders, DueTimeFollowsSeverity) {
  const auto now = clock_.now().time_since_epoch().count();
  EXPECT_EQ(wo_->get(new_order("T1", severity::critical))->due_ms, now + 4 * hour_ms);
  EXPECT_EQ(wo_->get(new_order("T1", severity::warning))->due_ms, now + 24 * hour_ms);
  EXPECT_EQ(wo_->get(new_order("T1", severity::info))->due_ms, now + 72 * hour_ms);
}

TEST_F(WorkOrders, OnSiteNeedsACheckInAfterTheDispatchByTheOrdersContractor) {
  const auto id = new_order();
  checkin_at("T1", crew_);  // before the dispatch: does not count
  clock_.advance(1s);
  wo_->transition(id, om::order_action::dispatch, county_, {});
  try {
    wo_->transition(id, om::order_action::on_site, crew_, {});
    FAIL() << "on_site without a check-in after dispatch";
  } catch (const om::om_error& e) {
    EXPECT_EQ(e.status(), 409u);
    EXPECT_EQ(e.code(), "checkin_required");
  }
  checkin_at("T2", crew_);  // another site
  checkin_at("T1", person(auth::role::contractor, {}, "clean-co"));  // another contractor
  EXPECT_THROW(wo_->transition(id, om::order_action::on_site, crew_, {}), om::om_error);
  checkin_at("T1", crew_);
  EXPECT_EQ(wo_->transition(id, om::order_action::on_site, crew_, {}).state, om::order_state::on_site);
}

TEST_F(WorkOrders, FixedNeedsAPhotoAfterTheCheckInAndCauseAndParts) {
  const auto id = new_order();
  bring(id, om::order_state::on_site);
  om::transition_args f;
  f.cause = "blocked";
  f.parts_used = "none";
  try {
    wo_->transition(id, om::order_action::fixed, crew_, f);
    FAIL() << "fixed without a photo";
  } catch (const om::om_error& e) {
    EXPECT_EQ(e.status(), 409u);
    EXPECT_EQ(e.code(), "photo_required");
    EXPECT_NE(std::string(e.what()).find("photo"), std::string::npos);
  }
  wo_->add_photo(id, fake_jpeg(), "image/jpeg", 30.5, 120.9, crew_);
  f.cause.clear();
  try {
    wo_->transition(id, om::order_action::fixed, crew_, f);
    FAIL() << "fixed without a cause";
  } catch (const om::om_error& e) {
    EXPECT_EQ(e.status(), 400u);
    EXPECT_NE(std::string(e.what()).find("cause"), std::string::npos) << e.what();
  }
  f.cause = "blocked";
  f.parts_used.clear();
  EXPECT_THROW(wo_->transition(id, om::order_action::fixed, crew_, f), om::om_error);
  f.parts_used = "1 impeller";
  const auto o = wo_->transition(id, om::order_action::fixed, crew_, f);
  EXPECT_EQ(o.state, om::order_state::fixed);
  EXPECT_EQ(o.cause, "blocked");
  EXPECT_EQ(o.parts_used, "1 impeller");
  const auto ph = wo_->photos_of(id);
  ASSERT_EQ(ph.size(), 1u);
  EXPECT_EQ(ph[0].taken_source, "upload");  // no EXIF: upload time ...
  EXPECT_EQ(ph[0].position_source, "phone");  // ... and the phone's position
  EXPECT_DOUBLE_EQ(*ph[0].lat, 30.5);
  EXPECT_TRUE(std::filesystem::exists(ph[0].path));
}

TEST_F(WorkOrders, PhotosAreBoundedAndMustBeImagesOfVisibleOrders) {
  const auto id = new_order();
  bring(id, om::order_state::dispatched);
  settings_.photo_max_bytes = 1024;
  make();
  auto status_of = [&](std::string_view bytes, std::string_view type, const auth::principal& p) {
    try {
      wo_->add_photo(id, bytes, type, std::nullopt, std::nullopt, p);
    } catch (const om::om_error& e) {
      return e.status();
    }
    return 201u;
  };
  EXPECT_EQ(status_of(std::string(2000, 'x'), "image/jpeg", crew_), 413u);
  EXPECT_EQ(status_of("GIF89a......", "image/gif", crew_), 400u);
  EXPECT_EQ(status_of(fake_jpeg(), "image/png", crew_), 400u);  // says png, is jpeg
  EXPECT_EQ(status_of(fake_jpeg(), "image/jpeg", person(auth::role::contractor, {}, "clean-co")), 403u);
  EXPECT_EQ(status_of(fake_jpeg(), "image/jpeg", person(auth::role::viewer)), 403u);
  EXPECT_EQ(status_of(fake_jpeg(), "image/jpeg", crew_), 201u);
  const auto open_id = new_order();
  try {
    wo_->add_photo(open_id, fake_jpeg(), "image/jpeg", std::nullopt, std::nullopt, crew_);
    FAIL();
  } catch (const om::om_error& e) {
    EXPECT_EQ(e.status(), 409u);  // not dispatched yet
  }
}

TEST_F(WorkOrders, CreateIsRefusedOutsideScopeAndForBadFields) {
  om::new_work_order o;
  o.site_id = "T1";
  o.fault_type = "complaint";
  o.source = "complaint";
  o.title = "smell";
  o.reporter_phone = "+86 138-0000-0000";
  EXPECT_GT(wo_->create(o, person(auth::role::operator_, {"Yuantong"})), 0);
  auto status = [&](const om::new_work_order& w, const auth::principal& p) {
    try {
      wo_->create(w, p);
    } catch (const om::om_error& e) {
      return e.status();
    }
    return 201u;
  };
  EXPECT_EQ(status(o, person(auth::role::operator_, {"Xitang"})), 403u);
  EXPECT_EQ(status(o, person(auth::role::viewer)), 403u);
  EXPECT_EQ(status(o, crew_), 403u);
  auto bad = o;
  bad.site_id = "nope";
  EXPECT_EQ(status(bad, county_), 404u);
  bad = o;
  bad.source = "rumour";
  EXPECT_EQ(status(bad, county_), 400u);
  bad = o;
  bad.title.clear();
  EXPECT_EQ(status(bad, county_), 400u);
  bad = o;
  bad.reporter_phone = "call me";
  EXPECT_EQ(status(bad, county_), 400u);
  bad = o;
  bad.contractor = "ghost";
  EXPECT_EQ(status(bad, county_), 400u);
}

TEST_F(WorkOrders, ListsShowOnlyWhatTheCallerMaySee) {
  new_order("T1");
  new_order("T2");
  EXPECT_EQ(wo_->list({}, county_).size(), 2u);
  EXPECT_EQ(wo_->list({}, person(auth::role::viewer, {"Xitang"})).size(), 1u);
  const auto mine = wo_->list({}, crew_);
  ASSERT_EQ(mine.size(), 1u);
  EXPECT_EQ(mine[0].site_id, "T1");
  EXPECT_TRUE(wo_->list({}, person(auth::role::contractor, {}, "nobody")).empty());
}

TEST(CheckIn, RefusedWithoutAValidTokenForAnotherSiteOrOutsideTheRadius) {
  testing::temp_dir dir("om-checkin");
  const auto key = om::load_or_create_site_key(dir.path() / "k");
  om::settings s;  // radius 100 m
  const om::site_ref t1{"T1", "Yuantong", 30.5, 120.9};
  om::checkin_request r;
  r.site_id = "T1";
  r.token = om::sign_site_token(key, "T1");
  r.lat = 30.5;
  r.lon = 120.9005;  // ~48 m east
  r.accuracy_m = 15;
  const auto ok = om::judge_checkin(r, t1, key, s);
  EXPECT_NEAR(ok.distance_m, 47.96, 0.5);
  auto refusal = [&](const om::checkin_request& q) -> std::string {
    try {
      (void)om::judge_checkin(q, t1, key, s);
    } catch (const om::om_error& e) {
      EXPECT_EQ(e.status(), 400u);
      return e.what();
    }
    return "accepted";
  };
  auto q = r;
  q.token.clear();
  EXPECT_NE(refusal(q).find("token: missing"), std::string::npos);
  q.token = "v1.T1.AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA";
  EXPECT_NE(refusal(q).find("token: not a valid site token"), std::string::npos);
  q.token = om::sign_site_token(key, "T2");
  EXPECT_NE(refusal(q).find("token: belongs to site 'T2'"), std::string::npos) << refusal(q);
  auto other_key = key;
  other_key.bytes[3] ^= 0x40;
  q.token = om::sign_site_token(other_key, "T1");
  EXPECT_NE(refusal(q).find("token:"), std::string::npos);
  q = r;
  q.lon = 120.9015;  // ~144 m
  const auto far = refusal(q);
  EXPECT_NE(far.find("position: 144 m from site 'T1', more than om.checkin_radius_m = 100 m"), std::string::npos) << far;
  q = r;
  q.lat.reset();
  EXPECT_NE(refusal(q).find("lat/lon"), std::string::npos);
  q = r;
  q.lat = 91;
  EXPECT_NE(refusal(q).find("lat: must be"), std::string::npos);
  q = r;
  q.accuracy_m = 500;
  EXPECT_NE(refusal(q).find("accuracy_m"), std::string::npos);
  // Exactly at the radius is accepted; the distance is geodesic (1 degree of latitude ~ 110.9 km here).
  EXPECT_NEAR(om::geodesic_distance_m(30.0, 120.0, 31.0, 120.0), 110'861.0, 50.0);
}

TEST_F(WorkOrders, AutoCreationByPolicyAfterTheDurationExactlyOnceAcrossRestarts) {
  settings_.work_orders.policies = {{"no_flow", severity::warning, 600}};
  make();
  const auto now = clock_.now().time_since_epoch().count();
  wo_->alert_raised({41, "T1", "no_flow", severity::warning, now});
  wo_->alert_raised({42, "T1", "turbidity_high", severity::critical, now});  // no policy
  wo_->alert_raised({43, "T2", "no_flow", severity::warning, now});
  wo_->alert_cleared(43);  // cleared before its duration: no order
  EXPECT_EQ(wo_->judge({}), 0u);
  clock_.advance(601s);
  wo_->alert_raised({41, "T1", "no_flow", severity::warning, now});  // replayed: same alert
  make();  // restart
  EXPECT_EQ(wo_->judge({}), 1u);
  EXPECT_EQ(wo_->judge({}), 0u);
  make();
  wo_->alert_raised({41, "T1", "no_flow", severity::warning, now});
  EXPECT_EQ(wo_->judge({}), 0u);
  const auto all = wo_->list({}, county_);
  ASSERT_EQ(all.size(), 1u);
  EXPECT_EQ(all[0].source, "alert");
  EXPECT_EQ(all[0].source_ref, "41");
  EXPECT_EQ(all[0].contractor, "hy-water");
  EXPECT_EQ(all[0].created_by, "sewage-gateway");
}

TEST_F(WorkOrders, OverdueOrdersEscalateToTownThenCountyOnceEachOnASimulatedClock) {
  settings_.work_orders.escalate_county_after_h = 24;
  make();
  const auto id = new_order("T1", severity::critical);  // due in 4 h
  const auto done = new_order("T1", severity::critical);
  bring(done, om::order_state::fixed);
  std::vector<std::pair<std::string, std::string>> sent;
  const om::escalation_sink sink = [&](const om::order_escalation& e) {
    sent.emplace_back(e.level, e.town);
    EXPECT_EQ(e.site_id, "T1");
    EXPECT_EQ(e.order_id, id);
    EXPECT_NE(e.text_en.find("work order " + std::to_string(id)), std::string::npos) << e.text_en;
    EXPECT_NE(e.text_zh.find("工单 " + std::to_string(id)), std::string::npos) << e.text_zh;
  };
  clock_.advance(3h + 59min);
  EXPECT_EQ(wo_->judge(sink), 0u);
  clock_.advance(2min);
  EXPECT_EQ(wo_->judge(sink), 1u);
  ASSERT_EQ(sent.size(), 1u);
  EXPECT_EQ(sent[0], (std::pair<std::string, std::string>{"town", "Yuantong"}));
  clock_.advance(1h);
  make();  // restart: not sent again
  EXPECT_EQ(wo_->judge(sink), 0u);
  clock_.advance(23h);
  EXPECT_EQ(wo_->judge(sink), 1u);
  ASSERT_EQ(sent.size(), 2u);
  EXPECT_EQ(sent[1].first, "county");
  clock_.advance(48h);
  EXPECT_EQ(wo_->judge(sink), 0u);
  EXPECT_EQ(wo_->get(id)->escalated_level, 2);
}

TEST_F(WorkOrders, FiguresOnFixedData) {
  // Order A (hy-water, T1, no_flow): dispatched after 1 h, fixed after 3 h (due 24 h): on time.
  // Order B (hy-water, T1, turbidity): dispatched after 2 h, fixed after 30 h: late, then reopened.
  // Order C (clean-co, T2): dispatched after 4 h, never fixed.
  const auto t0 = clock_.now();
  auto make_order = [&](const std::string& site, const std::string& fault) {
    om::new_work_order o;
    o.site_id = site;
    o.fault_type = fault;
    o.title = fault;
    return wo_->create(o, county_);
  };
  const auto a = make_order("T1", "no_flow");
  const auto b = make_order("T1", "turbidity_high");
  const auto c = make_order("T2", "no_flow");
  auto at = [&](std::chrono::milliseconds d) { clock_.set(t0 + d); };
  auto fix = [&](std::int64_t id) {
    checkin_at("T1", crew_);
    wo_->transition(id, om::order_action::on_site, crew_, {});
    wo_->add_photo(id, fake_jpeg(), "image/jpeg", std::nullopt, std::nullopt, crew_);
    om::transition_args f;
    f.cause = "x";
    f.parts_used = "y";
    wo_->transition(id, om::order_action::fixed, crew_, f);
  };
  at(1h);
  wo_->transition(a, om::order_action::dispatch, county_, {});
  at(2h);
  wo_->transition(b, om::order_action::dispatch, county_, {});
  at(3h);
  fix(a);
  at(4h);
  wo_->transition(c, om::order_action::dispatch, county_, {});
  at(30h);
  fix(b);
  om::transition_args r;
  r.note = "turbid again";
  wo_->transition(b, om::order_action::reopen, county_, r);
  wo_->transition(a, om::order_action::verify, county_, {});
  const auto from = t0.time_since_epoch().count() - 1, to = from + 100 * hour_ms;
  const auto by_c = wo_->figures(from, to, "contractor", county_);
  ASSERT_EQ(by_c.size(), 2u);
  const auto& cc = by_c[0];  // "clean-co" sorts first
  EXPECT_EQ(cc.key, "clean-co");
  EXPECT_EQ(cc.orders, 1);
  EXPECT_DOUBLE_EQ(*cc.mean_time_to_dispatch_h, 4.0);
  EXPECT_FALSE(cc.mean_time_to_fix_h);
  EXPECT_FALSE(cc.on_time_rate);
  const auto& hy = by_c[1];
  EXPECT_EQ(hy.key, "hy-water");
  EXPECT_EQ(hy.orders, 2);
  EXPECT_EQ(hy.dispatched, 2);
  EXPECT_DOUBLE_EQ(*hy.mean_time_to_dispatch_h, 1.5);
  EXPECT_EQ(hy.fixed, 2);
  EXPECT_DOUBLE_EQ(*hy.mean_time_to_fix_h, 16.5);  // (3 + 30) / 2
  EXPECT_EQ(hy.on_time, 1);
  EXPECT_DOUBLE_EQ(*hy.on_time_rate, 0.5);
  EXPECT_EQ(hy.reopened, 1);
  EXPECT_DOUBLE_EQ(*hy.reopen_rate, 0.5);
  EXPECT_EQ(hy.closed, 1);
  const auto by_f = wo_->figures(from, to, "fault_type", county_);
  ASSERT_EQ(by_f.size(), 2u);
  EXPECT_EQ(by_f[0].key, "no_flow");
  EXPECT_EQ(by_f[0].orders, 2);
  EXPECT_DOUBLE_EQ(*by_f[0].on_time_rate, 1.0);
  const auto by_t = wo_->figures(from, to, "town", person(auth::role::viewer, {"Xitang"}));
  ASSERT_EQ(by_t.size(), 1u);  // scope applies
  EXPECT_EQ(by_t[0].key, "Xitang");
  EXPECT_THROW((void)wo_->figures(from, to, "colour", county_), om::om_error);
}

}  // namespace
}  // namespace sewage::gateway
