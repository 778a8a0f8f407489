// The rules' resume state blob (store/rule_blob.hpp), shared by both stores.
#include "store/rule_blob.hpp"

#include <bit>
#include <cstdint>

namespace sewage::gateway::detail {
namespace {
constexpr std::size_t rule_blob_entry = 18;
}  // namespace

std::string rules_to_blob(const terminal_snapshot& t) {
  std::string out(t.rules.size() * rule_blob_entry, '\0');
  for (std::size_t i = 0; i < t.rules.size(); ++i) {
    auto* p = out.data() + i * rule_blob_entry;
    const auto since = std::bit_cast<std::uint64_t>(t.rules[i].since_ms);
    const auto aux = std::bit_cast<std::uint64_t>(t.rules[i].aux);
    for (int b = 0; b < 8; ++b) {
      p[b] = static_cast<char>((since >> (8 * b)) & 0xFF);
      p[8 + b] = static_cast<char>((aux >> (8 * b)) & 0xFF);
    }
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
    std::uint64_t since = 0, aux = 0;
    for (int b = 0; b < 8; ++b) {
      since |= std::uint64_t{p[b]} << (8 * b);
      aux |= std::uint64_t{p[8 + b]} << (8 * b);
    }
    t.rules[i] = rule_state{std::bit_cast<std::int64_t>(since), std::bit_cast<double>(aux), p[16] != 0, p[17] != 0};
  }
}

}  // namespace sewage::gateway::detail
