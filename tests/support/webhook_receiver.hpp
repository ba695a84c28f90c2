#pragma once
// An in-test HTTP endpoint (127.0.0.1, port 0) that records the webhooks a
// simulator sends it: headers (names lower-cased) and the raw body. Answers
// 500 to the first `fail_first` deliveries (to see retries), 200 after.
// With answer_validation_tokens, it also answers Business Central's
// subscription handshake (a POST with ?validationToken=...).
//
// Thread-safety: the server's thread records, the test thread waits.

#include <chrono>
#include <condition_variable>
#include <cstddef>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

#include <gtest/gtest.h>

#include "support/loopback_server.hpp"
#include "trueup/http/query.hpp"
#include "trueup/http/router.hpp"
#include "trueup/metrics/registry.hpp"

namespace trueup::testing {

class WebhookReceiver {
 public:
  struct Received {
    std::map<std::string, std::string, std::less<>> headers;
    std::string body;
  };

  explicit WebhookReceiver(int fail_first = 0) : fail_first_(fail_first) {
    router_.add_sync("POST", "/hooks", [this](const http::Request& r) {
      std::lock_guard lock(mu_);
      if (handshake_ != Handshake::off) {
        auto query = http::parse_query(r.query);
        if (query && query->contains("validationToken")) {
          ++handshakes_;
          return http::Response::text(200, handshake_ == Handshake::echo ? query->at("validationToken") : "no");
        }
      }
      received_.push_back(Received{r.headers, r.body});
      cv_.notify_all();
      if (static_cast<int>(received_.size()) <= fail_first_) return http::Response::text(500, "not now");
      return http::Response::text(200, "ok");
    });
    server_.start(router_);
  }
  WebhookReceiver(const WebhookReceiver&) = delete;
  WebhookReceiver& operator=(const WebhookReceiver&) = delete;

  // A POST with ?validationToken=<token> is answered 200 with the token as
  // the body (`echo`) or with something else (a failed handshake), counted
  // and not recorded.
  void answer_validation_tokens(bool echo) {
    std::lock_guard lock(mu_);
    handshake_ = echo ? Handshake::echo : Handshake::refuse;
  }
  int handshakes() {
    std::lock_guard lock(mu_);
    return handshakes_;
  }

  std::string url() const { return server_.url("/hooks"); }

  // Waits until `n` deliveries arrived (at most `bound`); returns them all.
  std::vector<Received> wait_for(std::size_t n, std::chrono::milliseconds bound = std::chrono::seconds(20)) {
    std::unique_lock lock(mu_);
    cv_.wait_for(lock, bound, [&] { return received_.size() >= n; });
    return received_;
  }

 private:
  enum class Handshake { off, echo, refuse };
  int fail_first_;
  Handshake handshake_ = Handshake::off;
  int handshakes_ = 0;
  std::mutex mu_;
  std::condition_variable cv_;
  std::vector<Received> received_;
  http::Router router_;
  LoopbackServer server_;  // last: drains before what the handlers use goes
};

}  // namespace trueup::testing
