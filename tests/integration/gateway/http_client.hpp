#pragma once
// A blocking HTTP/1.1 client for tests (Boost.Beast, its own translation unit).
#include <string>

namespace sewage::gateway::test {

struct http_reply {
  int status{0};  ///< 0 = could not connect
  std::string body;
};

/// One request to 127.0.0.1:port. Never throws; a connection failure gives status 0.
http_reply http_call(int port, const std::string& method, const std::string& target, const std::string& body = {},
                     const std::string& bearer = {});

}  // namespace sewage::gateway::test
