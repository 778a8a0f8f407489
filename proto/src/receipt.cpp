#include "sewage/proto/receipt.hpp"

#include "detail/object_reader.hpp"
#include "sewage/proto/limits.hpp"
#include "sewage/proto/payload.hpp"
#include "sewage/proto/topic.hpp"

#include <algorithm>
#include <stdexcept>

namespace sewage::proto {
namespace {

using nlohmann::json;
using detail::object_reader;
using detail::presence_rule;

std::string dump(const json& j) { return j.dump(-1, ' ', false, json::error_handler_t::replace); }

/// A seq: a JSON unsigned integer >= 1 (1.0, -1 and strings are refused). Records a problem at
/// `path` and returns 0 otherwise.
std::uint64_t read_seq(const json& v, const std::string& path, std::vector<problem>& problems) {
  if (v.is_number_unsigned()) {
    const auto s = v.get<std::uint64_t>();
    if (s >= 1) return s;
    problems.push_back({path, problem_code::out_of_range, "must be >= 1"});
    return 0;
  }
  if (v.is_number_integer()) {
    problems.push_back({path, problem_code::out_of_range, "must be >= 1"});
  } else {
    problems.push_back({path, problem_code::wrong_type, "must be an unsigned integer (a seq)"});
  }
  return 0;
}

}  // namespace

std::string receipt_topic(std::string_view terminal_id) {
  if (!is_valid_terminal_id(terminal_id))
    throw std::invalid_argument("terminal id \"" + std::string(terminal_id) + "\" is not valid for a topic");
  return std::string(topic_root) + "/" + std::string(terminal_id) + "/receipt";
}

std::string encode(const receipt_message& m) {
  json j;
  j["epoch"] = m.epoch;
  json ranges = json::array();
  for (const auto& [first, last] : m.seqs) ranges.push_back(json::array({first, last}));
  j["seqs"] = std::move(ranges);
  return dump(j);
}

decoded<receipt_message> decode_receipt(std::string_view payload) {
  decoded<receipt_message> out;
  auto parsed = parse_payload(payload);
  if (!parsed.doc) {
    out.problems = std::move(parsed.problems);
    return out;
  }
  object_reader r(*parsed.doc, "", out.problems);
  const auto epoch = r.identifier("epoch", presence_rule::required, limits::max_epoch_length, &detail::is_id_char,
                                  "[A-Za-z0-9_-]{1,64}");
  receipt_message m;
  const auto it = parsed.doc->find("seqs");
  if (it == parsed.doc->end()) {
    out.problems.push_back({"/seqs", problem_code::missing, "required"});
  } else if (!it->is_array()) {
    out.problems.push_back({"/seqs", problem_code::wrong_type, "must be an array of [first, last] seq ranges"});
  } else if (it->empty() || it->size() > max_receipt_ranges) {
    out.problems.push_back({"/seqs", problem_code::out_of_range,
                            "must hold 1.." + std::to_string(max_receipt_ranges) + " ranges, has " +
                                std::to_string(it->size())});
  } else {
    std::uint64_t previous_last = 0;
    for (std::size_t i = 0; i < it->size(); ++i) {
      const auto& range = (*it)[i];
      const std::string path = "/seqs/" + std::to_string(i);
      if (!range.is_array() || range.size() != 2) {
        out.problems.push_back({path, problem_code::wrong_type, "must be a [first, last] pair of seqs"});
        continue;
      }
      const auto first = read_seq(range[0], path + "/0", out.problems);
      const auto last = read_seq(range[1], path + "/1", out.problems);
      if (first == 0 || last == 0) continue;
      if (last < first) {
        out.problems.push_back({path, problem_code::inconsistent,
                                "last " + std::to_string(last) + " is below first " + std::to_string(first)});
        continue;
      }
      if (i > 0 && previous_last != 0 && first <= previous_last + 1) {
        out.problems.push_back({path + "/0", problem_code::inconsistent,
                                "must be above the previous range's end + 1 (" + std::to_string(previous_last + 1) +
                                    "): ranges are ascending, disjoint and not adjacent"});
      }
      previous_last = last;
      m.seqs.emplace_back(first, last);
    }
  }
  if (!out.problems.empty()) return out;
  m.epoch = *epoch;
  out.value = std::move(m);
  return out;
}

std::vector<receipt_message> make_receipts(std::string epoch, std::vector<std::uint64_t> seqs) {
  std::vector<receipt_message> out;
  std::sort(seqs.begin(), seqs.end());
  seqs.erase(std::unique(seqs.begin(), seqs.end()), seqs.end());
  for (const auto s : seqs) {
    if (s == 0) continue;  // not a seq
    if (out.empty() || out.back().seqs.size() == max_receipt_ranges) out.push_back(receipt_message{epoch, {}});
    auto& ranges = out.back().seqs;
    if (!ranges.empty() && ranges.back().second + 1 == s) {
      ranges.back().second = s;
    } else {
      ranges.emplace_back(s, s);
    }
  }
  return out;
}

}  // namespace sewage::proto
