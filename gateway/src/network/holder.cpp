// Pipe network room: the current model and its reload (network/holder.hpp).
#include "sewage/gateway/network/holder.hpp"

#include <spdlog/spdlog.h>

namespace sewage::gateway::network {

reload_result holder::reload(const std::filesystem::path& path, const load_options& options) noexcept {
  reload_result r;
  try {
    auto m = std::make_shared<const network_model>(load_network(path, options));
    spdlog::info("network: {} loaded ({} nodes, {} segments, {:.3f} km)", path.string(), m->nodes().size(),
                 m->segments().size(), m->total_length_m() / 1000.0);
    set(std::move(m));
    r.ok = true;
  } catch (const network_error& e) {
    r.problems = e.problems();
  } catch (const std::exception& e) {  // e.g. std::bad_alloc: still keep the previous model
    r.problems.push_back({"(file)", e.what()});
  }
  if (!r.ok) {
    ++failures_;
    spdlog::error("network reload: {} refused with {} problem(s); keeping the previous network", path.string(),
                  r.problems.size());
    for (const auto& p : r.problems) spdlog::error("network reload: {}: {}", p.feature, p.reason);
  }
  return r;
}

}  // namespace sewage::gateway::network
