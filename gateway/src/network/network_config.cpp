// Pipe network room: the [network] table of the gateway config (config.hpp network_file).
#include "toml_reader.hpp"

namespace sewage::gateway::detail {

void read_network(const toml::table& t, std::filesystem::path& network_file,
                  const std::function<std::filesystem::path(const std::string&)>& resolve_path) {
  toml_reader r(t, "network");
  std::string file;
  r.read("file", file);
  if (r.raw("file") != nullptr && file.empty()) r.fail("file", "must not be empty (leave the key out for no network)");
  if (!file.empty()) network_file = resolve_path(file);
  r.reject_unknown();
}

}  // namespace sewage::gateway::detail
