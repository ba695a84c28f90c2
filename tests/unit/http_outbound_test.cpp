// The shared outbound client against the project's own server over loopback
// (round trips, keep-alive, per-target concurrency, timeouts, refusals,
// limits, stop) and against a small TLS server with certificates made by the
// openssl CLI (verification with a CA file, the system store, a wrong host).
#include <arpa/inet.h>
#include <gtest/gtest.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <atomic>
#include <boost/asio.hpp>
#include <boost/asio/ssl.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>
#include <condition_variable>
#include <filesystem>
#include <mutex>
#include <thread>

#include "support/process.hpp"
#include "trueup/http/client.hpp"
#include "trueup/http/outbound.hpp"
#include "trueup/http/server.hpp"
#include "trueup/metrics/registry.hpp"

namespace trueup::http {
namespace {

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace bhttp = beast::http;
namespace ssl = asio::ssl;
using tcp = asio::ip::tcp;

constexpr auto kBound = std::chrono::seconds(30);  // how long a broken test may hang, not a timing claim

// Answers held by the test: the server counts requests that arrived and are
// not answered yet, and remembers the most it ever saw.
struct HeldRequests {
  std::mutex mutex;
  std::condition_variable cv;
  std::vector<Respond> held;
  std::size_t in_flight = 0;
  std::size_t max_in_flight = 0;
  bool released = false;

  void arrive(Respond respond) {
    std::unique_lock lock(mutex);
    max_in_flight = std::max(max_in_flight, ++in_flight);
    if (released) {
      --in_flight;
      lock.unlock();
      respond(Response::text(200, "released"));
      return;
    }
    held.push_back(std::move(respond));
    cv.notify_all();
  }
  std::size_t max_seen() {
    std::lock_guard lock(mutex);
    return max_in_flight;
  }
  bool wait_held(std::size_t n) {
    std::unique_lock lock(mutex);
    return cv.wait_for(lock, kBound, [&] { return held.size() >= n; });
  }
  void release() {
    std::vector<Respond> answer;
    {
      std::lock_guard lock(mutex);
      released = true;
      answer.swap(held);
      in_flight -= answer.size();
    }
    for (auto& respond : answer) respond(Response::text(200, "released"));
  }
};

// Results of send_async, in arrival order.
struct Replies {
  std::mutex mutex;
  std::condition_variable cv;
  std::vector<Result<OutboundReply>> results;

  OutboundClient::Callback collect() {
    return [this](Result<OutboundReply> r) {
      std::lock_guard lock(mutex);
      results.push_back(std::move(r));
      cv.notify_all();
    };
  }
  bool wait(std::size_t n) {
    std::unique_lock lock(mutex);
    return cv.wait_for(lock, kBound, [&] { return results.size() >= n; });
  }
};

OutboundRequest get(const std::string& url, std::string target = "") {
  OutboundRequest r;
  r.url = url;
  r.target = std::move(target);
  return r;
}

class OutboundClientTest : public ::testing::Test {
 protected:
  void SetUp() override {
    router_.add_sync("GET", "/hello", [](const Request& r) {
      auto res = Response::text(200, "hello " + r.query);
      res.headers.emplace_back("X-Seen-Agent", r.header("user-agent") ? *r.header("user-agent") : "");
      return res;
    });
    router_.add_sync("POST", "/echo", [](const Request& r) { return Response::json(201, r.body); });
    router_.add_sync("GET", "/big", [](const Request&) { return Response::text(200, std::string(4096, 'x')); });
    router_.add("GET", "/hold", [held = held_](Request&, Respond respond) { held->arrive(std::move(respond)); });
    // Never answers by itself: the test answers in TearDown.
    router_.add("GET", "/silent", [held = silent_](Request&, Respond respond) { held->arrive(std::move(respond)); });
    ServerSettings settings;
    settings.port = 0;
    settings.threads = 2;
    settings.access_log = false;
    server_ = std::make_unique<Server>(settings, router_, registry_);
    ASSERT_TRUE(server_->start().ok());
    base_ = "http://127.0.0.1:" + std::to_string(server_->port());
  }

  void TearDown() override {
    held_->release();
    silent_->release();
    client_.reset();
    server_->drain(std::chrono::seconds(5));
  }

  OutboundClient& client(OutboundSettings settings = {}) {
    client_ = std::make_unique<OutboundClient>(settings);
    return *client_;
  }

  Router router_;
  metrics::Registry registry_;
  std::unique_ptr<Server> server_;
  std::string base_;
  std::shared_ptr<HeldRequests> held_ = std::make_shared<HeldRequests>();
  std::shared_ptr<HeldRequests> silent_ = std::make_shared<HeldRequests>();
  std::unique_ptr<OutboundClient> client_;
};

TEST_F(OutboundClientTest, GetAndPostRoundTrip) {
  auto& c = client();
  auto got = c.send(get(base_ + "/hello?sku=A-1"));
  ASSERT_TRUE(got.ok()) << got.error().describe();
  EXPECT_EQ(got->status, 200);
  EXPECT_EQ(got->body, "hello sku=A-1");
  EXPECT_EQ(got->headers.get("content-type"), "text/plain; charset=utf-8");
  EXPECT_EQ(got->headers.get("X-SEEN-AGENT"), "trueup");

  OutboundRequest post;
  post.method = "POST";
  post.url = base_ + "/echo";
  post.headers.add("Content-Type", "application/json");
  post.body = R"({"sku":"A-1","quantity":"3"})";
  auto echoed = c.send(post);
  ASSERT_TRUE(echoed.ok()) << echoed.error().describe();
  EXPECT_EQ(echoed->status, 201);
  EXPECT_EQ(echoed->body, post.body);
  EXPECT_EQ(echoed->headers.get("Content-Type"), "application/json");

  auto missing = c.send(get(base_ + "/nope"));
  ASSERT_TRUE(missing.ok());
  EXPECT_EQ(missing->status, 404);
}

TEST_F(OutboundClientTest, KeepAliveReusesOneConnection) {
  auto& c = client();
  for (int i = 0; i < 3; ++i) {
    auto r = c.send(get(base_ + "/hello"));
    ASSERT_TRUE(r.ok()) << r.error().describe();
  }
  auto stats = c.stats();
  EXPECT_EQ(stats.connections_opened, 1u);
  EXPECT_EQ(stats.connections_reused, 2u);
  EXPECT_EQ(stats.idle_connections, 1u);
  EXPECT_EQ(registry_
                .counter("trueup_http_requests_total", "HTTP requests by route and status class.",
                         {{"route", "/hello"}, {"status", "2xx"}})
                .value(),
            3.0);
  EXPECT_EQ(registry_.gauge("trueup_http_connections_active", "Open HTTP connections.").value(), 1.0);
}

TEST_F(OutboundClientTest, ConnectionIdleLongerThanIdleTimeoutIsNotReused) {
  OutboundSettings settings;
  settings.idle_timeout = std::chrono::milliseconds(0);  // every idle connection has expired
  auto& c = client(settings);
  ASSERT_TRUE(c.send(get(base_ + "/hello")).ok());
  ASSERT_TRUE(c.send(get(base_ + "/hello")).ok());
  EXPECT_EQ(c.stats().connections_opened, 2u);
  EXPECT_EQ(c.stats().connections_reused, 0u);
}

TEST_F(OutboundClientTest, ConcurrencyCapPerTargetQueuesTheRest) {
  OutboundSettings settings;
  settings.threads = 2;
  auto& c = client(settings);
  c.set_target_limits("square-main", {.max_in_flight = 2, .max_queued = 10});
  Replies replies;
  for (int i = 0; i < 6; ++i) c.send_async(get(base_ + "/hold", "square-main"), replies.collect());
  ASSERT_TRUE(held_->wait_held(2));
  // Admission is decided inside send_async: the rest are queued, not sent.
  auto target = c.target_stats("square-main");
  EXPECT_EQ(target.in_flight, 2u);
  EXPECT_EQ(target.queued, 4u);
  held_->release();
  ASSERT_TRUE(replies.wait(6));
  for (auto& r : replies.results) {
    ASSERT_TRUE(r.ok()) << r.error().describe();
    EXPECT_EQ(r->status, 200);
  }
  EXPECT_EQ(held_->max_seen(), 2u);
  EXPECT_LE(c.stats().connections_opened, 2u);
  EXPECT_EQ(c.target_stats("square-main").in_flight, 0u);
}

TEST_F(OutboundClientTest, FullQueueIsOverloadedAndQueueingCountsAgainstTheTimeout) {
  auto& c = client();
  c.set_target_limits("erp", {.max_in_flight = 1, .max_queued = 1});
  Replies replies;
  c.send_async(get(base_ + "/hold", "erp"), replies.collect());
  ASSERT_TRUE(held_->wait_held(1));
  auto queued = get(base_ + "/hold", "erp");
  queued.timeout = std::chrono::milliseconds(200);
  c.send_async(queued, replies.collect());
  auto refused = c.send(get(base_ + "/hold", "erp"));
  ASSERT_FALSE(refused.ok());
  EXPECT_EQ(refused.error().code, Errc::overloaded);
  // The queued one gives up while the first still holds the only slot.
  ASSERT_TRUE(replies.wait(1));
  ASSERT_FALSE(replies.results[0].ok());
  EXPECT_EQ(replies.results[0].error().code, Errc::timeout);
  held_->release();
  ASSERT_TRUE(replies.wait(2));
  EXPECT_TRUE(replies.results[1].ok());
}

TEST_F(OutboundClientTest, SilentServerTimesOut) {
  auto& c = client();
  auto r = get(base_ + "/silent");
  r.timeout = std::chrono::milliseconds(200);
  auto reply = c.send(r);
  ASSERT_FALSE(reply.ok());
  EXPECT_EQ(reply.error().code, Errc::timeout);
  EXPECT_TRUE(reply.error().retryable());
}

TEST_F(OutboundClientTest, RefusedConnectionIsUnavailable) {
  // Bound but not listening: the kernel refuses connections to it.
  int fd = ::socket(AF_INET, SOCK_STREAM, 0);
  ASSERT_GE(fd, 0);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  ASSERT_EQ(::bind(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr), 0);
  socklen_t len = sizeof addr;
  ASSERT_EQ(::getsockname(fd, reinterpret_cast<sockaddr*>(&addr), &len), 0);
  auto reply = client().send(get("http://127.0.0.1:" + std::to_string(ntohs(addr.sin_port)) + "/"));
  ::close(fd);
  ASSERT_FALSE(reply.ok());
  EXPECT_EQ(reply.error().code, Errc::unavailable);
  EXPECT_NE(reply.error().message.find("connect"), std::string::npos) << reply.error().message;
}

TEST_F(OutboundClientTest, ResponseBodyOverTheLimitIsRefused) {
  OutboundSettings settings;
  settings.max_response_body_bytes = 1024;
  auto reply = client(settings).send(get(base_ + "/big"));
  ASSERT_FALSE(reply.ok());
  EXPECT_EQ(reply.error().code, Errc::unsupported);
  EXPECT_NE(reply.error().message.find("max_response_body_bytes"), std::string::npos) << reply.error().message;
}

TEST_F(OutboundClientTest, BadUrlIsInvalidArgument) {
  auto& c = client();
  for (std::string url : {"ftp://127.0.0.1/", "/relative", "https://user:secret@shop.example/"}) {
    auto reply = c.send(get(url));
    ASSERT_FALSE(reply.ok()) << url;
    EXPECT_EQ(reply.error().code, Errc::invalid_argument) << url;
  }
}

TEST_F(OutboundClientTest, StopFailsQueuedAndInFlightRequests) {
  auto& c = client();
  c.set_target_limits("pos", {.max_in_flight = 1, .max_queued = 4});
  Replies replies;
  c.send_async(get(base_ + "/hold", "pos"), replies.collect());
  c.send_async(get(base_ + "/hold", "pos"), replies.collect());
  ASSERT_TRUE(held_->wait_held(1));
  c.stop();
  ASSERT_EQ(replies.results.size(), 2u);  // stop() returns after every callback ran
  for (auto& r : replies.results) {
    ASSERT_FALSE(r.ok());
    EXPECT_EQ(r.error().code, Errc::unavailable);
  }
  auto after = c.send(get(base_ + "/hello"));
  ASSERT_FALSE(after.ok());
  EXPECT_EQ(after.error().code, Errc::unavailable);
}

TEST(ParseUrl, SchemesPortsAndTargets) {
  auto https = parse_url("https://shop.example/admin/api/orders.json?limit=50#frag");
  ASSERT_TRUE(https.ok());
  EXPECT_EQ(https->scheme, "https");
  EXPECT_EQ(https->host, "shop.example");
  EXPECT_EQ(https->port, 443);
  EXPECT_EQ(https->target, "/admin/api/orders.json?limit=50");
  auto http = parse_url("HTTP://10.0.0.5:8080?x=1");
  ASSERT_TRUE(http.ok());
  EXPECT_EQ(http->scheme, "http");
  EXPECT_EQ(http->port, 8080);
  EXPECT_EQ(http->target, "/?x=1");
  auto v6 = parse_url("http://[::1]:9000/a");
  ASSERT_TRUE(v6.ok());
  EXPECT_EQ(v6->host, "::1");
  EXPECT_EQ(v6->port, 9000);
  EXPECT_FALSE(parse_url("https://shop.example:0/").ok());
  EXPECT_FALSE(parse_url("https://shop.example:/").ok());
  EXPECT_FALSE(parse_http_url("https://shop.example/").ok());
}

TEST(HeaderFields, RepeatedNamesKeptAndLookupIgnoresCase) {
  HeaderFields h;
  h.add("Link", "<a>; rel=next");
  h.add("X-Shopify-Shop-Api-Call-Limit", "39/40");
  h.add("link", "<b>; rel=previous");
  EXPECT_EQ(h.get("LINK"), "<a>; rel=next");
  EXPECT_EQ(h.all("Link"), (std::vector<std::string>{"<a>; rel=next", "<b>; rel=previous"}));
  EXPECT_EQ(h.get("x-shopify-shop-api-call-limit"), "39/40");
  EXPECT_EQ(h.find("Retry-After"), nullptr);
}

// A one-connection-at-a-time server (plain or TLS) that answers the first
// request of a connection with repeated X-Trace headers, advertising
// keep-alive, and then either closes the connection at once (what a server
// with a shorter idle timeout than the client's does), or reads the next
// request and closes without answering it (the close racing a request).
class ClosingServer {
 public:
  enum class Ending { close_after_answer, drop_next_request };

  explicit ClosingServer(Ending ending = Ending::close_after_answer, const std::string& cert = "",
                         const std::string& key = "")
      : ending_(ending) {
    if (!cert.empty()) {
      tls_.emplace(ssl::context::tls_server);
      tls_->use_certificate_chain_file(cert);
      tls_->use_private_key_file(key, ssl::context::pem);
    }
    acceptor_.open(tcp::v4());
    acceptor_.bind({asio::ip::make_address("127.0.0.1"), 0});
    acceptor_.listen();
    thread_ = std::thread([this] { serve(); });
  }
  ~ClosingServer() {
    stopping_ = true;
    tcp::socket waker(ioc_);
    beast::error_code ec;
    waker.connect(acceptor_.local_endpoint(), ec);
    thread_.join();
  }
  std::uint16_t port() const { return acceptor_.local_endpoint().port(); }
  int accepted() const { return accepted_.load(); }
  int requests() const { return requests_.load(); }

 private:
  void serve() {
    for (;;) {
      tcp::socket socket(ioc_);
      beast::error_code ec;
      acceptor_.accept(socket, ec);
      if (stopping_) return;
      if (ec) continue;
      ++accepted_;
      if (!tls_) {
        answer(socket);
        continue;
      }
      ssl::stream<tcp::socket> stream(std::move(socket), *tls_);
      stream.handshake(ssl::stream_base::server, ec);
      if (!ec) answer(stream);
    }
  }
  template <class Stream>
  void answer(Stream& stream) {
    beast::flat_buffer buffer;
    bhttp::request<bhttp::string_body> req;
    beast::error_code ec;
    bhttp::read(stream, buffer, req, ec);
    if (ec) return;
    ++requests_;
    bhttp::response<bhttp::string_body> res{bhttp::status::ok, 11};
    res.insert("X-Trace", "first");
    res.insert("X-Trace", "second");
    res.keep_alive(true);
    res.body() = "closing " + std::string(req.target());
    res.prepare_payload();
    bhttp::write(stream, res, ec);
    if (ec || ending_ == Ending::close_after_answer) return;
    bhttp::request<bhttp::string_body> next;
    bhttp::read(stream, buffer, next, ec);
    if (!ec) ++requests_;
  }

  Ending ending_;
  asio::io_context ioc_;
  tcp::acceptor acceptor_{ioc_};
  std::optional<ssl::context> tls_;
  std::atomic<bool> stopping_{false};
  std::atomic<int> accepted_{0};
  std::atomic<int> requests_{0};  // read completely, answered or not
  std::thread thread_;
};

TEST(OutboundClientStale, ConnectionClosedByTheServerIsReplaced) {
  ClosingServer server;
  OutboundClient client({});
  const std::string url = "http://127.0.0.1:" + std::to_string(server.port()) + "/stock";
  for (int i = 0; i < 3; ++i) {
    auto r = client.send(get(url));
    ASSERT_TRUE(r.ok()) << r.error().describe();
    EXPECT_EQ(r->body, "closing /stock");
    EXPECT_EQ(r->headers.all("x-trace"), (std::vector<std::string>{"first", "second"}));
  }
  // Either dropped before reuse or, when the close raced the request, resent
  // once (GET is idempotent): each request got its own connection.
  EXPECT_EQ(client.stats().connections_opened, 3u);
  EXPECT_EQ(server.accepted(), 3);
}

// The server reads the second request on a kept-alive connection and closes
// without answering: a GET is sent again on a fresh connection, a POST is not
// (it may have been acted on).
TEST(OutboundClientStale, IdempotentRequestIsResentOnceAndPostIsNot) {
  ClosingServer server(ClosingServer::Ending::drop_next_request);
  OutboundClient client({});
  const std::string url = "http://127.0.0.1:" + std::to_string(server.port()) + "/stock";
  ASSERT_TRUE(client.send(get(url)).ok());
  auto resent = client.send(get(url));
  ASSERT_TRUE(resent.ok()) << resent.error().describe();
  EXPECT_EQ(resent->body, "closing /stock");
  EXPECT_EQ(client.stats().retries, 1u);
  EXPECT_EQ(client.stats().connections_opened, 2u);

  OutboundRequest post;
  post.method = "POST";
  post.url = url;
  post.body = R"({"quantity":"1"})";
  auto lost = client.send(post);  // on the connection kept from the resent GET
  ASSERT_FALSE(lost.ok());
  EXPECT_EQ(lost.error().code, Errc::unavailable);
  EXPECT_EQ(client.stats().retries, 1u);
  EXPECT_EQ(client.stats().connections_opened, 2u);
  client.stop();
  EXPECT_EQ(server.requests(), 4);  // GET, GET dropped, GET again, POST dropped
}

// A CA, a server certificate for 127.0.0.1/localhost and one for another
// name, all signed by that CA.
class OutboundTlsTest : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    dir_ = trueup::testing::make_temp_dir("trueup-outbound-tls-");
    openssl({"req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes", "-days", "2",
             "-subj", "/CN=Trueup Test CA", "-keyout", dir_ + "/ca.key", "-out", dir_ + "/ca.pem"});
    issue("server", "subjectAltName=IP:127.0.0.1,DNS:localhost");
    issue("wrong", "subjectAltName=DNS:wrong.example");
  }
  static void TearDownTestSuite() { std::filesystem::remove_all(dir_); }

  static void openssl(std::vector<std::string> args) {
    args.insert(args.begin(), "openssl");
    auto r = trueup::testing::run_process(args);
    ASSERT_EQ(r.exit_code, 0) << r.err;
  }
  static void issue(const std::string& name, const std::string& san) {
    trueup::testing::write_file(dir_ + "/" + name + ".ext", san + "\nextendedKeyUsage=serverAuth\n");
    openssl({"req", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes", "-subj", "/CN=" + name,
             "-keyout", dir_ + "/" + name + ".key", "-out", dir_ + "/" + name + ".csr"});
    openssl({"x509", "-req", "-in", dir_ + "/" + name + ".csr", "-CA", dir_ + "/ca.pem", "-CAkey", dir_ + "/ca.key",
             "-CAcreateserial", "-days", "2", "-extfile", dir_ + "/" + name + ".ext", "-out",
             dir_ + "/" + name + ".pem"});
  }
  static std::string path(const std::string& file) { return dir_ + "/" + file; }
  static OutboundSettings trusting_test_ca() {
    OutboundSettings s;
    s.ca_file = path("ca.pem");
    return s;
  }
  // One GET to a TLS server presenting `name`.pem.
  static Result<OutboundReply> fetch_from(const std::string& name, OutboundSettings settings,
                                          const std::string& host = "127.0.0.1") {
    ClosingServer server(ClosingServer::Ending::close_after_answer, path(name + ".pem"), path(name + ".key"));
    OutboundClient client(std::move(settings));
    return client.send(get("https://" + host + ":" + std::to_string(server.port()) + "/secure"));
  }
  static void expect_verification_failure(const Result<OutboundReply>& r) {
    ASSERT_FALSE(r.ok());
    EXPECT_EQ(r.error().code, Errc::unavailable);
    EXPECT_NE(r.error().message.find("certificate verification failed"), std::string::npos) << r.error().message;
  }

  static inline std::string dir_;
};

TEST_F(OutboundTlsTest, VerifiedWithTheConfiguredCa) {
  auto r = fetch_from("server", trusting_test_ca());
  ASSERT_TRUE(r.ok()) << r.error().describe();
  EXPECT_EQ(r->status, 200);
  EXPECT_EQ(r->body, "closing /secure");
  EXPECT_EQ(r->headers.all("X-Trace"), (std::vector<std::string>{"first", "second"}));
}

// A DNS name is checked against the DNS names of the certificate and sent as SNI.
TEST_F(OutboundTlsTest, VerifiedByDnsName) {
  auto r = fetch_from("server", trusting_test_ca(), "localhost");
  ASSERT_TRUE(r.ok()) << r.error().describe();
  EXPECT_EQ(r->status, 200);
}

TEST_F(OutboundTlsTest, UnknownCaFailsVerificationWithTheSystemStore) {
  expect_verification_failure(fetch_from("server", {}));
}

TEST_F(OutboundTlsTest, WrongHostNameFailsVerification) {
  expect_verification_failure(fetch_from("wrong", trusting_test_ca()));
}

TEST_F(OutboundTlsTest, InsecureSkipVerifyAcceptsAnyCertificate) {
  OutboundSettings settings;
  settings.insecure_skip_verify = true;
  auto r = fetch_from("wrong", settings);
  ASSERT_TRUE(r.ok()) << r.error().describe();
  EXPECT_EQ(r->status, 200);
}

TEST_F(OutboundTlsTest, UnreadableCaFileIsAStartUpError) {
  OutboundSettings settings;
  settings.ca_file = path("missing.pem");
  EXPECT_THROW(OutboundClient{settings}, std::runtime_error);
}

}  // namespace
}  // namespace trueup::http
