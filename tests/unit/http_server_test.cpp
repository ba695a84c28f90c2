// The HTTP server over a real loopback socket: routing, problem+json errors,
// limits, keep-alive, async handlers and graceful drain.
#include <gtest/gtest.h>

#include <future>
#include <nlohmann/json.hpp>
#include <thread>

#include "support/http_client.hpp"
#include "trueup/http/server.hpp"
#include "trueup/metrics/registry.hpp"

namespace trueup::http {
namespace {

using trueup::testing::HttpClient;

class HttpServerTest : public ::testing::Test {
 protected:
  void SetUp() override {
    router_.add_sync("GET", "/hello", [](const Request& r) {
      return Response::json(200, nlohmann::json{{"request_id", r.request_id}}.dump());
    });
    router_.add_sync("POST", "/echo", [](const Request& r) { return Response::text(200, r.body); });
    router_.add_sync("GET", "/items/{id}", [](const Request& r) { return Response::text(200, r.params.at("id")); });
    // Answers from another thread, as store-backed handlers do.
    router_.add("GET", "/async", [](Request&, Respond respond) {
      std::thread([respond = std::move(respond)] { respond(Response::text(202, "later")); }).detach();
    });
    // Answers only when the test releases it: an in-flight request.
    // The handler thread may outlive the fixture: it holds only shared state.
    auto started = std::make_shared<std::promise<void>>();
    slow_started_ = started->get_future();
    auto released = release_.get_future().share();
    router_.add("GET", "/slow", [started, released](Request&, Respond respond) {
      std::thread([started, released, respond = std::move(respond)] {
        started->set_value();
        released.wait();
        respond(Response::text(200, "finished"));
      }).detach();
    });
  }

  void start(ServerSettings settings = {}) {
    settings.port = 0;
    settings.threads = 2;
    settings.access_log = false;
    server_ = std::make_unique<Server>(settings, router_, registry_);
    ASSERT_TRUE(server_->start().ok());
  }

  void TearDown() override {
    if (server_) server_->drain(std::chrono::seconds(5));
  }

  Router router_;
  metrics::Registry registry_;
  std::unique_ptr<Server> server_;
  std::future<void> slow_started_;
  std::promise<void> release_;
};

TEST_F(HttpServerTest, RoutesAndKeepsConnectionsAlive) {
  start();
  HttpClient client("127.0.0.1", server_->port());
  auto a = client.get("/hello");
  ASSERT_TRUE(a);
  EXPECT_EQ(a->status, 200);
  EXPECT_EQ(a->header("content-type"), "application/json");
  auto id = nlohmann::json::parse(a->body)["request_id"].get<std::string>();
  EXPECT_EQ(a->header("x-request-id"), id);
  EXPECT_EQ(id.size(), 16u);
  auto b = client.request("GET", "/hello", "", {{"X-Request-Id", "given-id-1"}});
  ASSERT_TRUE(b);
  EXPECT_EQ(nlohmann::json::parse(b->body)["request_id"], "given-id-1");
  auto item = client.get("/items/42");
  ASSERT_TRUE(item);
  EXPECT_EQ(item->body, "42");
  auto echo = client.request("POST", "/echo", "payload");
  ASSERT_TRUE(echo);
  EXPECT_EQ(echo->body, "payload");
  auto later = client.get("/async");
  ASSERT_TRUE(later);
  EXPECT_EQ(later->status, 202);
  EXPECT_EQ(registry_.gauge("trueup_http_connections_active", "Open HTTP connections.").value(), 1.0);
}

TEST_F(HttpServerTest, UnknownRouteAndWrongMethodAreProblems) {
  start();
  HttpClient client("127.0.0.1", server_->port());
  auto nf = client.get("/nope");
  ASSERT_TRUE(nf);
  EXPECT_EQ(nf->status, 404);
  EXPECT_EQ(nf->header("content-type"), "application/problem+json");
  auto body = nlohmann::json::parse(nf->body);
  EXPECT_EQ(body["status"], 404);
  EXPECT_EQ(body["title"], "Not Found");
  EXPECT_TRUE(body.contains("type"));
  EXPECT_TRUE(body.contains("detail"));
  auto m = client.request("DELETE", "/hello");
  ASSERT_TRUE(m);
  EXPECT_EQ(m->status, 405);
  EXPECT_EQ(m->header("allow"), "GET");
  auto text = registry_.render();
  EXPECT_NE(text.find("trueup_http_requests_total{route=\"unmatched\",status=\"4xx\"} 2"), std::string::npos) << text;
}

TEST_F(HttpServerTest, BodyLimitAnswers413) {
  ServerSettings s;
  s.max_body_bytes = 1024;
  start(s);
  HttpClient client("127.0.0.1", server_->port());
  auto r = client.request("POST", "/echo", std::string(4096, 'x'));
  ASSERT_TRUE(r);
  EXPECT_EQ(r->status, 413);
  EXPECT_EQ(r->header("content-type"), "application/problem+json");
}

TEST_F(HttpServerTest, ConnectionLimitAnswers503) {
  ServerSettings s;
  s.max_connections = 1;
  start(s);
  HttpClient first("127.0.0.1", server_->port());
  ASSERT_TRUE(first.get("/hello"));
  HttpClient second("127.0.0.1", server_->port());
  auto r = second.get("/hello");
  ASSERT_TRUE(r);
  EXPECT_EQ(r->status, 503);
  EXPECT_EQ(registry_
                .counter("trueup_http_connections_rejected_total",
                         "Connections refused because http.max_connections was reached.")
                .value(),
            1.0);
}

TEST_F(HttpServerTest, DrainFinishesInFlightRequestsAndClosesIdleOnes) {
  start();
  HttpClient idle("127.0.0.1", server_->port());
  ASSERT_TRUE(idle.get("/hello"));  // now idle on keep-alive
  std::future<std::optional<trueup::testing::HttpReply>> inflight = std::async(std::launch::async, [this] {
    HttpClient c("127.0.0.1", server_->port());
    return c.get("/slow");
  });
  slow_started_.wait();
  std::future<bool> drained =
      std::async(std::launch::async, [this] { return server_->drain(std::chrono::seconds(30)); });
  // Drain has begun once the listener refuses new connections.
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(10);
  for (;;) {
    HttpClient probe("127.0.0.1", server_->port());
    if (!probe.connect() || std::chrono::steady_clock::now() > deadline) break;
    probe.close();
    std::this_thread::yield();
  }
  release_.set_value();
  auto reply = inflight.get();
  ASSERT_TRUE(reply);
  EXPECT_EQ(reply->status, 200);
  EXPECT_EQ(reply->body, "finished");
  EXPECT_EQ(reply->header("connection"), "close");
  EXPECT_TRUE(drained.get());
  server_.reset();
}

TEST_F(HttpServerTest, DrainGivesUpAfterTheGracePeriod) {
  start();
  std::future<std::optional<trueup::testing::HttpReply>> inflight = std::async(std::launch::async, [this] {
    HttpClient c("127.0.0.1", server_->port());
    return c.get("/slow");
  });
  slow_started_.wait();
  EXPECT_FALSE(server_->drain(std::chrono::milliseconds(50)));
  // The request was cut off: either the connection closed under it, or the
  // server answered 503 for the handler that had not answered.
  auto reply = inflight.get();
  if (reply) {
    EXPECT_EQ(reply->status, 503);
  }
  release_.set_value();
  server_.reset();
}

}  // namespace
}  // namespace trueup::http
