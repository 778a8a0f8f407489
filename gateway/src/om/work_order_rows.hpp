#pragma once
// Internal: the work orders room's rows as both of its stores read them (om/work_order_db.hpp):
// the column lists of each table and one reader per row kind, over any row type that has the
// column getters of detail/sqlite_stmt.hpp (text, i64, f64, opt_i64, opt_f64; 0-based columns).

#include "sewage/gateway/om/work_orders.hpp"

#include <cstdint>
#include <string>

namespace sewage::gateway::om::detail {

inline severity parse_sev(const std::string& s) {
  return s == "critical" ? severity::critical : s == "info" ? severity::info : severity::warning;
}

inline constexpr const char* order_columns =
    "id, site_id, town, source, source_ref, fault_type, severity, title, description, contractor, state, created_ms, "
    "dispatched_ms, on_site_ms, fixed_ms, verified_ms, due_ms, reopen_count, cause, parts_used, created_by, "
    "reporter_phone, escalated_level";
inline constexpr const char* event_columns = "id, order_id, ts_ms, actor, from_state, to_state, lat, lon, note";
inline constexpr const char* checkin_columns =
    "id, site_id, order_id, inspection_id, actor, contractor, ts_ms, lat, lon, accuracy_m, distance_m";
inline constexpr const char* photo_columns =
    "id, order_id, inspection_id, site_id, path, sha256, bytes, content_type, taken_ms, taken_source, uploaded_ms, lat, lon, "
    "position_source, actor";
inline constexpr const char* alert_seen_columns = "alert_id, site_id, type, severity, raised_ms";

template <class Row>
work_order read_order(Row& s) {  // order_columns
  work_order o;
  o.id = s.i64(0);
  o.site_id = s.text(1);
  o.town = s.text(2);
  o.source = s.text(3);
  o.source_ref = s.text(4);
  o.fault_type = s.text(5);
  o.sev = parse_sev(s.text(6));
  o.title = s.text(7);
  o.description = s.text(8);
  o.contractor = s.text(9);
  o.state = parse_order_state(s.text(10)).value_or(order_state::open);
  o.created_ms = s.i64(11);
  o.dispatched_ms = s.opt_i64(12);
  o.on_site_ms = s.opt_i64(13);
  o.fixed_ms = s.opt_i64(14);
  o.verified_ms = s.opt_i64(15);
  o.due_ms = s.i64(16);
  o.reopen_count = s.i64(17);
  o.cause = s.text(18);
  o.parts_used = s.text(19);
  o.created_by = s.text(20);
  o.reporter_phone = s.text(21);
  o.escalated_level = static_cast<int>(s.i64(22));
  return o;
}

template <class Row>
order_event read_event(Row& s) {  // event_columns
  return {s.i64(0), s.i64(1), s.i64(2), s.text(3), s.text(4), s.text(5), s.opt_f64(6), s.opt_f64(7), s.text(8)};
}

template <class Row>
checkin read_checkin(Row& s) {  // checkin_columns
  return {s.i64(0), s.text(1), s.opt_i64(2), s.opt_i64(3), s.text(4), s.text(5),
          s.i64(6), s.f64(7),  s.f64(8),     s.opt_f64(9), s.f64(10)};
}

template <class Row>
photo read_photo(Row& s) {  // photo_columns
  photo p;
  p.id = s.i64(0);
  p.order_id = s.opt_i64(1);
  p.inspection_id = s.opt_i64(2);
  p.site_id = s.text(3);
  p.path = s.text(4);
  p.sha256 = s.text(5);
  p.bytes = s.i64(6);
  p.content_type = s.text(7);
  p.taken_ms = s.i64(8);
  p.taken_source = s.text(9);
  p.uploaded_ms = s.i64(10);
  p.lat = s.opt_f64(11);
  p.lon = s.opt_f64(12);
  p.position_source = s.text(13);
  p.actor = s.text(14);
  return p;
}

template <class Row>
alert_seen read_alert_seen(Row& s) {  // alert_seen_columns
  return {s.i64(0), s.text(1), s.text(2), parse_sev(s.text(3)), s.i64(4)};
}

}  // namespace sewage::gateway::om::detail
