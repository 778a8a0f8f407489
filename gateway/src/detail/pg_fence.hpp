#pragma once
// The commit fence of a PostgreSQL connection (store.hpp commit_fence, standby/leader_lease.hpp):
// the last statement of a fenced write transaction, shared by the store and the rooms that keep
// their state in the shared database.

#include "sewage/gateway/store.hpp"

#include <pqxx/pqxx>

#include <string>

namespace sewage::gateway::detail {

/// Throws store_fenced (naming `where`, the lease key and both terms) unless gateway_leader holds
/// `fence.term` for `fence.lease_key`; the caller's transaction then rolls back, nothing of it
/// written. Run it in `t` just before t.commit(). Throws what libpqxx throws on a failed query.
inline void check_commit_fence(pqxx::transaction_base& t, const commit_fence& fence, const std::string& where) {
  const auto r = t.exec_params("SELECT term FROM gateway_leader WHERE lease_key = $1::bigint", fence.lease_key);
  if (r.empty())
    throw store_fenced(where + ": commit refused: gateway_leader has no row for lease key " +
                       std::to_string(fence.lease_key) + " (this gateway led with term " + std::to_string(fence.term) +
                       "); nothing of it was written");
  const auto term = r[0][0].as<std::int64_t>();
  if (term != fence.term)
    throw store_fenced(where + ": commit refused: another gateway leads (term " + std::to_string(term) +
                       ", this gateway's " + std::to_string(fence.term) + "); nothing of it was written");
}

}  // namespace sewage::gateway::detail
