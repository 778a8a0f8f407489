#pragma once
/// \file
/// Effluent limits (issue 12 item 4): the laboratory parameters the county samples, their units,
/// and the limits of each discharge grade, read from a TOML file (`[om.lab] limits_file`, shipped
/// as gateway/data/effluent_limits.toml and installed beside the web application). Every limit
/// carries its source; a limit that could not be checked against the standard's text is marked
/// `provisional` with a note, and every verdict made with it says so (gateway/README.md "Lab
/// results"). Immutable once loaded: safe to read from any thread.

#include <cstdint>
#include <filesystem>
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace sewage::gateway::om {

/// The lab parameters of DB33/973-2021 and GB 18918-2002 the county samples.
enum class lab_parameter { cod, nh3_n, tn, tp, ss, ph, faecal_coliforms };

/// Every parameter, in display order.
inline constexpr lab_parameter all_lab_parameters[] = {lab_parameter::cod, lab_parameter::nh3_n, lab_parameter::tn,
                                                       lab_parameter::tp,  lab_parameter::ss,    lab_parameter::ph,
                                                       lab_parameter::faecal_coliforms};

/// "cod", "nh3_n", "tn", "tp", "ss", "ph", "faecal_coliforms" (the `parameter` column). Never throws.
std::string_view to_string(lab_parameter p) noexcept;
/// Inverse of to_string; also accepts the usual spellings "COD", "NH3-N", "TN", "TP", "SS", "pH",
/// "faecal coliforms", "fecal_coliforms" (case-insensitive). std::nullopt otherwise. Never throws.
std::optional<lab_parameter> parse_lab_parameter(std::string_view s) noexcept;
/// The unit results are stored and judged in: "mg/L" for COD, NH3-N, TN, TP, SS; "pH" (dimensionless)
/// for pH; "MPN/L" for faecal coliforms (GB 18918-2002 counts them per litre, 个/L). Never throws.
std::string_view canonical_unit(lab_parameter p) noexcept;
/// The canonical unit of `p` when `unit` names it ("mg/L", "mg/l"; "pH", "" for pH; "MPN/L", "个/L",
/// "CFU/L" for faecal coliforms); std::nullopt for any other unit, which is refused (no conversion
/// is guessed: a result per 100 mL must be converted by the lab). Never throws.
std::optional<std::string_view> accepted_unit(lab_parameter p, std::string_view unit) noexcept;
/// Why `value` cannot be a result of `p` ("must be finite", "must be >= 0", "pH must be in [0, 14]");
/// std::nullopt when it can. Never throws.
std::optional<std::string> value_problem(lab_parameter p, double value);

/// One parameter's limit within a grade: `low` and/or `high` (both inclusive bounds of compliance).
struct parameter_limit {
  std::optional<double> low;   ///< pH only: the lowest compliant value
  std::optional<double> high;  ///< the highest compliant value, in canonical_unit()
  std::string source;          ///< where the value comes from (standard, table, secondary source)
  bool provisional{false};     ///< not checked against the standard's own text
  std::string note;            ///< why provisional, footnotes (temperature, date of construction)
};

/// One discharge grade (the registry's `discharge_grade`).
struct grade_limits {
  std::string grade;     ///< registry key: "grade_1", "grade_2", "grade_1a", "grade_1b", "grade_3"
  std::string standard;  ///< "DB33/973-2021", "GB 18918-2002"
  std::string label;     ///< the grade as the standard names it ("一级", "一级 A")
  std::map<lab_parameter, parameter_limit> limits;  ///< parameters without a limit in this grade are absent
};

/// The verdict on one result.
struct verdict {
  std::optional<double> limit_low;
  std::optional<double> limit_high;
  /// true within the limits, false outside, std::nullopt when not judged (`reason` says why:
  /// the site has no grade, the grade is not in the table, or it sets no limit for the parameter).
  std::optional<bool> compliant;
  bool provisional{false};  ///< judged against a provisional limit
  std::string source;
  std::string reason;       ///< "" when judged
};

/// The limits table. Copyable value; immutable after load.
class limits_table {
 public:
  limits_table() = default;
  explicit limits_table(std::vector<grade_limits> grades) : grades_(std::move(grades)) {}
  /// The grade named `grade`, or nullptr. Never throws.
  [[nodiscard]] const grade_limits* find(std::string_view grade) const noexcept;
  [[nodiscard]] const std::vector<grade_limits>& grades() const noexcept { return grades_; }
  /// Judges `value` (in canonical_unit(p)) for a site of `grade`. Never throws except bad_alloc.
  [[nodiscard]] verdict judge(std::string_view grade, lab_parameter p, double value) const;
  std::filesystem::path source_file;  ///< the file it was read from (messages, /api/effluent-limits)

 private:
  std::vector<grade_limits> grades_;
};

/// Reads a limits file:
///   [grade.<name>]  standard = "...", label = "...",
///   [grade.<name>.<parameter>]  max = <number>, min = <number> (pH), unit = "<canonical unit>",
///                               source = "...", provisional = true|false, note = "..."
/// Every limit needs `unit` equal to the canonical unit and a non-empty `source`; a provisional
/// limit needs a `note`; min <= max. Throws config_error naming the file and key
/// ("effluent_limits.toml: grade.grade_1.cod.max: must be a number >= 0").
limits_table load_limits(const std::filesystem::path& path);

}  // namespace sewage::gateway::om
