#include "receipt_book.hpp"

namespace sewage::gateway::ingest {

void receipt_book::note(const std::string& terminal_id, const std::string& epoch, std::uint64_t seq) {
  noted_[{terminal_id, epoch}].push_back(seq);
}

std::vector<receipt_book::outgoing> receipt_book::take() {
  std::vector<outgoing> out;
  for (auto& [key, seqs] : noted_) {
    const std::string topic = proto::receipt_topic(key.first);
    for (const auto& r : proto::make_receipts(key.second, std::move(seqs))) out.push_back({topic, proto::encode(r)});
  }
  noted_.clear();
  return out;
}

}  // namespace sewage::gateway::ingest
