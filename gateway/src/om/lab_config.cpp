// The [om.lab] and [om.archive] tables (om/lab_settings.hpp) and the limits file they name.
#include "sewage/gateway/om/lab_settings.hpp"

#include "toml_reader.hpp"

namespace sewage::gateway {

namespace om {

std::uint32_t sampling_interval_days(std::string_view size_class, const lab_settings& s) noexcept {
  if (size_class == "small") return s.interval_small_days;
  if (size_class == "medium") return s.interval_medium_days;
  return s.interval_large_days;
}

std::filesystem::path default_limits_file() {
  std::error_code ec;
  const std::filesystem::path installed(SEWAGE_GATEWAY_LIMITS_INSTALLED);
  if (std::filesystem::is_regular_file(installed, ec)) return installed;
  return std::filesystem::path(SEWAGE_GATEWAY_LIMITS_SOURCE);
}

}  // namespace om

namespace detail {

void read_om_lab(const toml::table* lab, const toml::table* archive, om::lab_settings& out, om::archive_settings& arch,
                 const std::function<std::filesystem::path(const std::string&)>& resolve_path) {
  out.limits_file = om::default_limits_file();
  if (lab != nullptr) {
    toml_reader r(*lab, "om.lab");
    std::string file;
    r.read("limits_file", file);
    if (!file.empty()) out.limits_file = resolve_path(file);
    if (const auto* iv = r.sub_table("sampling_interval_days")) {
      toml_reader ir(*iv, "om.lab.sampling_interval_days");
      ir.read_int("small", out.interval_small_days, 1, 3660);
      ir.read_int("medium", out.interval_medium_days, 1, 3660);
      ir.read_int("large", out.interval_large_days, 1, 3660);
      ir.reject_unknown();
    }
    r.reject_unknown();
  }
  if (archive != nullptr) {
    toml_reader r(*archive, "om.archive");
    r.read_int("history_limit", arch.history_limit, 1, 10000);
    r.reject_unknown();
  }
  std::error_code ec;
  if (!std::filesystem::is_regular_file(out.limits_file, ec))
    throw config_error("om.lab.limits_file: cannot read '" + out.limits_file.string() + "'");
  // The file's own errors name the file and the key (om::load_limits).
  out.limits = std::make_shared<const om::limits_table>(om::load_limits(out.limits_file));
}

}  // namespace detail
}  // namespace sewage::gateway
