#pragma once
// Identities for the gateway unit tests that are not about identity: an identity store on the
// fixture's database with one whole-county operator token (what `http.ack_token` was before
// issue 11). Tests about identity itself are in auth_test.cpp.
#include "sewage/gateway/auth/secrets.hpp"
#include "sewage/gateway/auth/service.hpp"

#include <filesystem>
#include <string>

namespace sewage::gateway::test {

class identities {
 public:
  /// `db` must already hold the store's tables (open a sqlite_store on it first).
  identities(const std::filesystem::path& db, const clock_source& clock)
      : ids(db, auth::settings{}, clock),
        token_name("ops-" + auth::random_token(6)),  // a fixture may reopen the same database
        operator_token(ids.add_token(token_name, auth::role::operator_, {})) {}
  /// The tests' old shared header "Bearer tok" becomes the operator token; anything else is kept.
  [[nodiscard]] std::string authorization(const std::string& header) const {
    return header == "Bearer tok" ? "Bearer " + operator_token : header;
  }
  auth::service ids;
  std::string token_name;
  std::string operator_token;
};

}  // namespace sewage::gateway::test
