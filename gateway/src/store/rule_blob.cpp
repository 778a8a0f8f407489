// The stores' fixed little-endian blobs (store/rule_blob.hpp).
#include "store/rule_blob.hpp"

#include <bit>
#include <cstdint>

namespace sewage::gateway::detail {
namespace {
constexpr std::size_t rule_blob_entry = 18;
constexpr std::size_t flow_normal_blob_cell = 21;

// `bytes` low bytes of v at p, least significant first.
void put_le(char* p, std::uint64_t v, int bytes) {
  for (int b = 0; b < bytes; ++b) p[b] = static_cast<char>((v >> (8 * b)) & 0xFF);
}
std::uint64_t get_le(const unsigned char* p, int bytes) {
  std::uint64_t v = 0;
  for (int b = 0; b < bytes; ++b) v |= std::uint64_t{p[b]} << (8 * b);
  return v;
}
}  // namespace

std::string rules_to_blob(const terminal_snapshot& t) {
  std::string out(t.rules.size() * rule_blob_entry, '\0');
  for (std::size_t i = 0; i < t.rules.size(); ++i) {
    auto* p = out.data() + i * rule_blob_entry;
    put_le(p, std::bit_cast<std::uint64_t>(t.rules[i].since_ms), 8);
    put_le(p + 8, std::bit_cast<std::uint64_t>(t.rules[i].aux), 8);
    p[16] = t.rules[i].active ? 1 : 0;
    p[17] = t.rules[i].pending ? 1 : 0;
  }
  return out;
}

void rules_from_blob(const std::string& blob, terminal_snapshot& t) {
  // Unknown layout: start afresh. A shorter blob was written before alert types were added at the
  // end of proto::all_alert_types (the energy rules): its entries keep their positions.
  if (blob.size() % rule_blob_entry != 0 || blob.size() > t.rules.size() * rule_blob_entry) return;
  for (std::size_t i = 0; i < blob.size() / rule_blob_entry; ++i) {
    const auto* p = reinterpret_cast<const unsigned char*>(blob.data() + i * rule_blob_entry);
    t.rules[i] = rule_state{std::bit_cast<std::int64_t>(get_le(p, 8)), std::bit_cast<double>(get_le(p + 8, 8)),
                            p[16] != 0, p[17] != 0};
  }
}

std::string flow_normal_to_blob(const flow_normal& n) {
  std::string out(n.cells.size() * flow_normal_blob_cell, '\0');
  for (std::size_t i = 0; i < n.cells.size(); ++i) {
    auto* p = out.data() + i * flow_normal_blob_cell;
    put_le(p, std::bit_cast<std::uint64_t>(n.cells[i].median_m3h), 8);
    put_le(p + 8, std::bit_cast<std::uint64_t>(n.cells[i].low_m3h), 8);
    put_le(p + 16, n.cells[i].days, 4);
    p[20] = n.cells[i].prior ? 1 : 0;
  }
  return out;
}

bool flow_normal_from_blob(std::string_view blob, flow_normal& n) {
  if (blob.size() != n.cells.size() * flow_normal_blob_cell) return false;
  for (std::size_t i = 0; i < n.cells.size(); ++i) {
    const auto* p = reinterpret_cast<const unsigned char*>(blob.data() + i * flow_normal_blob_cell);
    n.cells[i] = flow_normal_cell{std::bit_cast<double>(get_le(p, 8)), std::bit_cast<double>(get_le(p + 8, 8)),
                                  static_cast<std::uint32_t>(get_le(p + 16, 4)), p[20] != 0};
  }
  return true;
}

}  // namespace sewage::gateway::detail
