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

/// Sends `request_bytes` as they are (hostile requests a well-behaved client would refuse to
/// build) to 127.0.0.1:port and reads one response with Beast. Never throws; status 0 when there
/// was no response.
http_reply raw_http_exchange(int port, const std::string& request_bytes);

}  // namespace sewage::gateway::test
