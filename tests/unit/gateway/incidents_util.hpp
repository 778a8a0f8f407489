#pragma once
// Helpers of the incidents tests: a small network and a listener that records what reaches it.
//
//   C1 (Dongcun, 40) -s4-> W2 -s3-> PS1 =s2=> W1 -s1-> T1
//   C2 (Beicun, 25)  -s7-> PS2 =s6=> W3 -s5-> W1
//   C3 (Nancun, 10)  -s9-> PS3 =s8=> T2                       (= pressure main, - gravity sewer)
// Nodes ~0.001 degrees apart (about 96 m east-west, 111 m north-south at 30.5 N). T1, PS1, PS2
// are in town "A", T2 and PS3 in town "B".
#include "sewage/gateway/engine.hpp"

#include <nlohmann/json.hpp>

#include <string>
#include <vector>

namespace sewage::gateway::test {

inline std::string incident_network() {
  using nlohmann::json;
  struct pt {
    const char* id;
    const char* kind;
    double east, north;  // thousandths of a degree from (120.9, 30.5)
    json extra;
  };
  const std::vector<pt> nodes{
      {"T1", "terminal", 0, 0, {{"town", "A"}}},
      {"W1", "inspection_well", 1, 0, json::object()},
      {"PS1", "pump_station", 2, 0, {{"town", "A"}, {"name", "Dongcun station"}}},
      {"W2", "inspection_well", 3, 0, json::object()},
      {"C1", "collection_point", 4, 0, {{"village", "Dongcun"}, {"households", 40}}},
      {"W3", "inspection_well", 1, 1, json::object()},
      {"PS2", "pump_station", 1, 2, {{"town", "A"}}},
      {"C2", "collection_point", 1, 3, {{"village", "Beicun"}, {"households", 25}}},
      {"T2", "terminal", 50, 0, {{"town", "B"}}},
      {"PS3", "pump_station", 51, 0, {{"town", "B"}}},
      {"C3", "collection_point", 52, 0, {{"village", "Nancun"}, {"households", 10}}},
  };
  const std::vector<std::array<const char*, 4>> segments{
      {"s1", "W1", "T1", "gravity"},   {"s2", "PS1", "W1", "pressure"}, {"s3", "W2", "PS1", "gravity"},
      {"s4", "C1", "W2", "gravity"},   {"s5", "W3", "W1", "gravity"},   {"s6", "PS2", "W3", "pressure"},
      {"s7", "C2", "PS2", "gravity"},  {"s8", "PS3", "T2", "pressure"}, {"s9", "C3", "PS3", "gravity"},
  };
  json features = json::array();
  std::map<std::string, json> where;
  for (const auto& n : nodes) {
    const json xy = {120.9 + n.east / 1000.0, 30.5 + n.north / 1000.0};
    where[n.id] = xy;
    json props = {{"id", n.id}, {"kind", n.kind}};
    props.update(n.extra);
    features.push_back({{"type", "Feature"}, {"geometry", {{"type", "Point"}, {"coordinates", xy}}}, {"properties", props}});
  }
  for (const auto& [id, from, to, flow] : segments)
    features.push_back({{"type", "Feature"},
                        {"geometry", {{"type", "LineString"}, {"coordinates", {where.at(from), where.at(to)}}}},
                        {"properties", {{"id", id}, {"kind", "segment"}, {"from", from}, {"to", to}, {"diameter_mm", 200},
                                        {"material", "PVC-U"}, {"flow", flow}}}});
  return json{{"type", "FeatureCollection"}, {"features", features}}.dump();
}

/// The listener after the correlator (the discipline in the gateway): records every transition.
class capture final : public alert_listener {
 public:
  /// Records `a`; appends one notification row for it (as the notifier would) when `notify` is set.
  void on_transition(const proto::alert_message& a, const terminal_info*, std::vector<notification_row>& rows) noexcept override {
    seen.push_back(a);
    if (notify) {
      notification_row r;
      r.subject_id = a.alert_id;
      r.event = a.state == proto::alert_state::raised ? "raise" : a.state == proto::alert_state::cleared ? "clear" : "ack";
      rows.push_back(std::move(r));
    }
  }
  [[nodiscard]] std::size_t raises() const {
    std::size_t n = 0;
    for (const auto& a : seen) n += a.state == proto::alert_state::raised ? 1 : 0;
    return n;
  }
  std::vector<proto::alert_message> seen;
  bool notify{false};
};

}  // namespace sewage::gateway::test
