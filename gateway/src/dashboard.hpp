#pragma once
// Internal: the static dashboard page (HTML + a script that reads the JSON API).
#include <string_view>

namespace sewage::gateway::detail {
/// The page served at "/". Never throws.
std::string_view dashboard_html() noexcept;
}  // namespace sewage::gateway::detail
