#include "trueup/http/outbound.hpp"

#include <openssl/ssl.h>
#include <openssl/x509v3.h>
#include <sys/socket.h>

#include <algorithm>
#include <atomic>
#include <boost/asio.hpp>
#include <boost/asio/ssl.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>
#include <boost/beast/ssl.hpp>
#include <cerrno>
#include <condition_variable>
#include <deque>
#include <future>
#include <map>
#include <mutex>
#include <optional>
#include <set>
#include <stdexcept>
#include <thread>
#include <tuple>

#include "trueup/http/client.hpp"
#include "trueup/log/log.hpp"

namespace trueup::http {

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace bhttp = beast::http;
namespace ssl = asio::ssl;
using tcp = asio::ip::tcp;
using Strand = asio::strand<asio::io_context::executor_type>;
using Clock = std::chrono::steady_clock;

namespace {

constexpr auto kTuple = asio::as_tuple(asio::use_awaitable);

bool iequals(std::string_view a, std::string_view b) { return beast::iequals(a, b); }

// RFC 9110 section 9.2.2.
bool idempotent(std::string_view method) {
  for (std::string_view m : {"GET", "HEAD", "OPTIONS", "TRACE", "PUT", "DELETE"})
    if (method == m) return true;
  return false;
}

bool is_ip_literal(const std::string& host) {
  beast::error_code ec;
  asio::ip::make_address(host, ec);
  return !ec;
}

// Errors that mean the peer closed or reset the connection under us: the
// signature of a pooled connection the server had already given up on.
bool connection_lost(const beast::error_code& ec) {
  return ec == asio::error::eof || ec == asio::error::connection_reset || ec == asio::error::broken_pipe ||
         ec == asio::error::connection_aborted || ec == asio::error::not_connected ||
         ec == bhttp::error::end_of_stream || ec == ssl::error::stream_truncated;
}

struct PoolKey {
  std::string scheme;
  std::string host;
  std::uint16_t port = 0;
  auto operator<=>(const PoolKey&) const = default;
  std::string origin() const {
    const bool v6 = host.find(':') != std::string::npos;
    return scheme + "://" + (v6 ? "[" + host + "]" : host) + ":" + std::to_string(port);
  }
  // The Host header: the port only when it is not the scheme's default.
  std::string host_header() const {
    std::string h = host.find(':') != std::string::npos ? "[" + host + "]" : host;
    const bool default_port = (scheme == "https" && port == 443) || (scheme == "http" && port == 80);
    return default_port ? h : h + ":" + std::to_string(port);
  }
};

// One TCP (and maybe TLS) connection. Every operation on it runs on its
// strand: the exchange coroutine that uses it is spawned there, and closes
// from other threads are posted there.
struct Connection {
  Connection(Strand s, PoolKey k) : strand(std::move(s)), key(std::move(k)) {}

  beast::tcp_stream& lowest() { return secure ? beast::get_lowest_layer(*secure) : *plain; }
  bool is_open() {
    if (!plain && !secure) return false;
    return lowest().socket().is_open();
  }
  void close() {
    if (stop_resolving) std::exchange(stop_resolving, nullptr)();
    if (plain || secure) lowest().close();
  }
  // An idle connection must have nothing to read: data or end-of-stream
  // means the server closed it (or sent a TLS close_notify).
  bool looks_alive() {
    if (!is_open()) return false;
    char byte;
    ssize_t n = ::recv(lowest().socket().native_handle(), &byte, 1, MSG_PEEK | MSG_DONTWAIT);
    return n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK);
  }

  Strand strand;
  PoolKey key;
  std::optional<beast::tcp_stream> plain;
  std::optional<beast::ssl_stream<beast::tcp_stream>> secure;
  std::function<void()> stop_resolving;  // while resolving: ends the wait with operation_aborted
  beast::flat_buffer buffer;
  bool reusable = false;  // the last response allowed keep-alive and was read completely
  Clock::time_point idle_since;
};

using Endpoints = tcp::resolver::results_type;

// Resolves the connection's host on its strand, completing at the first of:
// the answer, the deadline (error::timeout), or conn.close()
// (operation_aborted). getaddrinfo cannot be interrupted, so a lookup that
// hangs is left to finish on Asio's resolver thread and its answer dropped.
// A plain function returning the awaitable, like the server's wait_for.
asio::awaitable<std::tuple<beast::error_code, Endpoints>> resolve(Connection& conn, Clock::time_point deadline) {
  return asio::async_initiate<decltype(kTuple), void(beast::error_code, Endpoints)>(
      [&conn, deadline](auto handler) {
        auto resolver = std::make_shared<tcp::resolver>(conn.strand);
        auto timer = std::make_shared<asio::steady_timer>(conn.strand, deadline);
        auto waiting = std::make_shared<decltype(handler)>(std::move(handler));
        auto done = std::make_shared<bool>(false);
        // Runs on the strand; resumes the coroutine through a post so that no
        // caller is still inside this function when it goes on.
        auto complete = [strand = conn.strand, resolver, timer, waiting, done](beast::error_code ec,
                                                                               Endpoints endpoints) {
          if (std::exchange(*done, true)) return;
          resolver->cancel();
          timer->cancel();
          asio::post(strand, [waiting, ec, endpoints = std::move(endpoints)]() mutable {
            (*waiting)(ec, std::move(endpoints));
          });
        };
        conn.stop_resolving = [complete] { complete(asio::error::operation_aborted, {}); };
        resolver->async_resolve(conn.key.host, std::to_string(conn.key.port),
                                asio::bind_executor(conn.strand, complete));
        timer->async_wait(asio::bind_executor(conn.strand, [complete](beast::error_code ec) {
          if (!ec) complete(beast::error::timeout, {});
        }));
      },
      kTuple);
}

struct Exchange {
  OutboundRequest request;
  ParsedUrl url;
  PoolKey key;
  OutboundClient::Callback done;
  Clock::time_point started;
  Clock::time_point deadline;
  std::chrono::milliseconds timeout{0};
  std::string target;
  std::optional<asio::steady_timer> queue_timer;  // guarded by the client's mutex
  std::shared_ptr<Connection> connection;         // guarded by the client's mutex
  bool queued = false;                            // guarded by the client's mutex
};

struct TargetState {
  OutboundTargetLimits limits;
  std::size_t in_flight = 0;
  std::deque<std::shared_ptr<Exchange>> queue;
};

// The outcome of one attempt; `resend_safe` when it failed in a way that a
// fresh connection may cure and the request may be sent again (see header).
struct Attempt {
  Result<OutboundReply> result;
  bool resend_safe = false;
};

void deliver(const OutboundClient::Callback& done, Result<OutboundReply> result) {
  try {
    done(std::move(result));
  } catch (const std::exception& e) {
    log::error("outbound request callback threw", {{"error", e.what()}});
  } catch (...) {
    log::error("outbound request callback threw");
  }
}

// "GET https://host:443/path"; the query is left out, as it may carry a token.
std::string describe_request(const Exchange& ex) {
  return ex.request.method + " " + ex.key.origin() + ex.url.target.substr(0, ex.url.target.find('?'));
}

}  // namespace

class OutboundClient::Impl {
 public:
  explicit Impl(OutboundSettings settings) : settings_(std::move(settings)), tls_(ssl::context::tls_client) {
    configure_tls();
    if (settings_.threads < 1) settings_.threads = 1;
    settings_.default_limits.max_in_flight = std::max<std::size_t>(settings_.default_limits.max_in_flight, 1);
    schedule_sweep();
    for (int i = 0; i < settings_.threads; ++i) threads_.emplace_back([this] { ioc_.run(); });
  }

  ~Impl() { stop(); }

  void set_target_limits(const std::string& target, OutboundTargetLimits limits) {
    limits.max_in_flight = std::max<std::size_t>(limits.max_in_flight, 1);
    std::lock_guard lock(mutex_);
    targets_[target].limits = limits;
  }

  bool on_io_thread() { return ioc_.get_executor().running_in_this_thread(); }

  void submit(OutboundRequest request, Callback done) {
    auto ex = std::make_shared<Exchange>();
    ex->started = Clock::now();
    ex->timeout = request.timeout.count() > 0 ? request.timeout : settings_.request_timeout;
    ex->deadline = ex->started + ex->timeout;
    ex->done = std::move(done);
    auto url = parse_url(request.url);
    if (!url) return deliver(ex->done, std::move(url).error());
    ex->url = std::move(url).value();
    ex->key = PoolKey{ex->url.scheme, ex->url.host, ex->url.port};
    ex->target = request.target.empty() ? ex->key.origin() : request.target;
    ex->request = std::move(request);

    std::unique_lock lock(mutex_);
    if (stopped_) {
      lock.unlock();
      return deliver(ex->done, make_error(Errc::unavailable, describe_request(*ex) + ": the client is stopped"));
    }
    auto& target = target_state(ex->target);
    if (target.in_flight < target.limits.max_in_flight) {
      ++target.in_flight;
      start(ex);
      return;
    }
    if (target.queue.size() >= target.limits.max_queued) {
      const auto text = describe_request(*ex) + ": target '" + ex->target + "' has " +
                        std::to_string(target.in_flight) + " requests in flight and " +
                        std::to_string(target.queue.size()) + " queued; retry later or raise its max_queued";
      lock.unlock();
      return deliver(ex->done, make_error(Errc::overloaded, text));
    }
    ex->queued = true;
    target.queue.push_back(ex);
    ex->queue_timer.emplace(ioc_);
    ex->queue_timer->expires_at(ex->deadline);
    ex->queue_timer->async_wait([this, ex](beast::error_code ec) {
      if (!ec) expire_queued(ex);
    });
  }

  OutboundStats stats() const {
    OutboundStats s;
    s.connections_opened = opened_.load();
    s.connections_reused = reused_.load();
    s.retries = retries_.load();
    std::lock_guard lock(mutex_);
    for (const auto& [key, list] : idle_) s.idle_connections += list.size();
    return s;
  }

  OutboundTargetStats target_stats(const std::string& name) const {
    std::lock_guard lock(mutex_);
    auto it = targets_.find(name);
    if (it == targets_.end()) return {};
    return {it->second.in_flight, it->second.queue.size()};
  }

  void stop() {
    std::vector<std::shared_ptr<Exchange>> refused;
    {
      std::unique_lock lock(mutex_);
      if (threads_.empty()) return;
      stopped_ = true;
      for (auto& [name, target] : targets_) {
        for (auto& ex : target.queue) {
          ex->queued = false;
          ex->queue_timer->cancel();
          refused.push_back(ex);
        }
        target.queue.clear();
      }
      for (auto& ex : running_) close_later(ex->connection);
      for (auto& [key, list] : idle_)
        for (auto& conn : list) close_later(conn);
      idle_.clear();
      asio::post(sweep_strand_, [this] { sweep_timer_.cancel(); });
    }
    for (auto& ex : refused)
      deliver(ex->done, make_error(Errc::unavailable, describe_request(*ex) + ": the client stopped"));
    {
      std::unique_lock lock(mutex_);
      idle_cv_.wait(lock, [this] { return running_.empty(); });
    }
    work_.reset();
    for (auto& t : threads_) t.join();
    threads_.clear();
  }

 private:
  void configure_tls() {
    tls_.set_options(ssl::context::default_workarounds | ssl::context::no_sslv2 | ssl::context::no_sslv3 |
                     ssl::context::no_tlsv1 | ssl::context::no_tlsv1_1);
    beast::error_code ec;
    if (settings_.insecure_skip_verify) {
      log::warn(
          "outbound TLS certificate verification is OFF (insecure_skip_verify): any server can impersonate any "
          "host; never use this in production");
      tls_.set_verify_mode(ssl::verify_none);
      return;
    }
    tls_.set_verify_mode(ssl::verify_peer);
    if (settings_.ca_file.empty() && settings_.ca_dir.empty()) {
      tls_.set_default_verify_paths(ec);
      if (ec) throw std::runtime_error("cannot load the system TLS trust store: " + ec.message() + "; set ca_file");
      return;
    }
    if (!settings_.ca_file.empty()) {
      tls_.load_verify_file(settings_.ca_file, ec);
      if (ec) throw std::runtime_error("TLS ca_file '" + settings_.ca_file + "' cannot be loaded: " + ec.message());
    }
    if (!settings_.ca_dir.empty()) {
      tls_.add_verify_path(settings_.ca_dir, ec);
      if (ec) throw std::runtime_error("TLS ca_dir '" + settings_.ca_dir + "' cannot be used: " + ec.message());
    }
  }

  TargetState& target_state(const std::string& name) {
    auto [it, inserted] = targets_.try_emplace(name);
    if (inserted) it->second.limits = settings_.default_limits;
    return it->second;
  }

  // Closes on the connection's strand, where its coroutine (if any) runs.
  static void close_later(const std::shared_ptr<Connection>& conn) {
    if (conn) asio::post(conn->strand, [conn] { conn->close(); });
  }

  // Caller holds mutex_. Picks a pooled connection or a new one and spawns
  // the exchange on that connection's strand.
  void start(const std::shared_ptr<Exchange>& ex) {
    std::shared_ptr<Connection> conn = checkout(ex->key);
    if (conn) {
      reused_.fetch_add(1);
    } else {
      conn = std::make_shared<Connection>(asio::make_strand(ioc_), ex->key);
    }
    ex->connection = conn;
    running_.insert(ex);
    asio::co_spawn(conn->strand, run(ex), asio::detached);
  }

  // Caller holds mutex_.
  std::shared_ptr<Connection> checkout(const PoolKey& key) {
    auto it = idle_.find(key);
    if (it == idle_.end()) return nullptr;
    auto& list = it->second;
    const auto now = Clock::now();
    while (!list.empty()) {
      auto conn = std::move(list.back());
      list.pop_back();
      if (now - conn->idle_since < settings_.idle_timeout && conn->looks_alive()) return conn;
      close_later(conn);
    }
    return nullptr;
  }

  void expire_queued(const std::shared_ptr<Exchange>& ex) {
    {
      std::lock_guard lock(mutex_);
      if (!ex->queued) return;  // started (or refused by stop) meanwhile
      ex->queued = false;
      auto& queue = targets_[ex->target].queue;
      std::erase(queue, ex);
    }
    deliver(ex->done, make_error(Errc::timeout, describe_request(*ex) + ": still queued behind target '" + ex->target +
                                                    "' after " + std::to_string(ex->timeout.count()) + " ms"));
  }

  asio::awaitable<void> run(std::shared_ptr<Exchange> ex) {
    bhttp::request<bhttp::string_body> message = build(*ex);
    std::shared_ptr<Connection> conn = ex->connection;
    bool reused = conn->is_open();
    Attempt attempt = co_await send_on(*ex, *conn, message);
    if (!attempt.result.ok() && reused && attempt.resend_safe && !stopped_.load()) {
      retries_.fetch_add(1);
      conn->close();
      conn = std::make_shared<Connection>(conn->strand, conn->key);
      {
        std::lock_guard lock(mutex_);
        ex->connection = conn;
      }
      attempt = co_await send_on(*ex, *conn, message);
    }
    finish(ex, std::move(attempt.result));
  }

  bhttp::request<bhttp::string_body> build(const Exchange& ex) const {
    bhttp::request<bhttp::string_body> message;
    message.version(11);
    message.method_string(ex.request.method);
    message.target(ex.url.target);
    for (const auto& [name, value] : ex.request.headers.fields()) message.insert(name, value);
    if (message.find(bhttp::field::host) == message.end()) message.set(bhttp::field::host, ex.key.host_header());
    if (message.find(bhttp::field::user_agent) == message.end() && !settings_.user_agent.empty())
      message.set(bhttp::field::user_agent, settings_.user_agent);
    message.body() = ex.request.body;
    message.prepare_payload();  // HTTP/1.1 keeps the connection alive unless the caller sent Connection: close
    return message;
  }

  Error failure(const Exchange& ex, const beast::error_code& ec, std::string_view phase) const {
    if (stopped_.load()) return make_error(Errc::unavailable, describe_request(ex) + ": the client stopped");
    if (ec == beast::error::timeout)
      return make_error(Errc::timeout, describe_request(ex) + ": " + std::string(phase) + " timed out (timeout " +
                                           std::to_string(ex.timeout.count()) + " ms, connect_timeout " +
                                           std::to_string(settings_.connect_timeout.count()) + " ms)");
    return make_error(Errc::unavailable, describe_request(ex) + ": " + std::string(phase) + " failed: " + ec.message());
  }

  asio::awaitable<Attempt> send_on(Exchange& ex, Connection& conn, bhttp::request<bhttp::string_body>& message) {
    if (stopped_.load())
      co_return Attempt{make_error(Errc::unavailable, describe_request(ex) + ": the client stopped")};
    if (!conn.is_open()) {
      auto opened = co_await open(ex, conn);
      if (!opened) co_return Attempt{std::move(opened).error(), false};
    }
    if (conn.secure) co_return co_await exchange(*conn.secure, ex, conn, message);
    co_return co_await exchange(*conn.plain, ex, conn, message);
  }

  // Resolve, connect, and for https the TLS handshake with verification.
  asio::awaitable<Status> open(Exchange& ex, Connection& conn) {
    const auto deadline = std::min(ex.deadline, Clock::now() + settings_.connect_timeout);
    const std::string where = ex.key.host + ":" + std::to_string(ex.key.port);
    auto [rec, endpoints] = co_await resolve(conn, deadline);
    conn.stop_resolving = nullptr;
    if (rec) {
      if (stopped_.load() || rec == beast::error::timeout) co_return failure(ex, rec, "resolve " + ex.key.host);
      co_return make_error(Errc::unavailable,
                           describe_request(ex) + ": cannot resolve " + ex.key.host + ": " + rec.message());
    }
    if (ex.key.scheme == "https") {
      conn.secure.emplace(beast::tcp_stream(conn.strand), tls_);
    } else {
      conn.plain.emplace(conn.strand);
    }
    auto& low = conn.lowest();
    low.expires_at(deadline);
    auto [cec, endpoint] = co_await low.async_connect(endpoints, kTuple);
    if (cec) co_return failure(ex, cec, "connect to " + where);
    opened_.fetch_add(1);
    if (!conn.secure) co_return Ok{};

    SSL* ssl = conn.secure->native_handle();
    const bool ip = is_ip_literal(ex.key.host);
    if (!settings_.insecure_skip_verify) {
      X509_VERIFY_PARAM* param = SSL_get0_param(ssl);
      X509_VERIFY_PARAM_set_hostflags(param, X509_CHECK_FLAG_NO_PARTIAL_WILDCARDS);
      const int set = ip ? X509_VERIFY_PARAM_set1_ip_asc(param, ex.key.host.c_str())
                         : X509_VERIFY_PARAM_set1_host(param, ex.key.host.c_str(), ex.key.host.size());
      if (set != 1) co_return make_error(Errc::internal, "cannot set the TLS host name to verify: " + ex.key.host);
    }
    // SNI carries DNS names only (RFC 6066 section 3).
    if (!ip) SSL_set_tlsext_host_name(ssl, ex.key.host.c_str());
    low.expires_at(deadline);
    auto [hec] = co_await conn.secure->async_handshake(ssl::stream_base::client, kTuple);
    if (hec) {
      const long verify = SSL_get_verify_result(ssl);
      if (verify != X509_V_OK && !stopped_.load())
        co_return make_error(Errc::unavailable, "TLS certificate verification failed for " + where + ": " +
                                                    X509_verify_cert_error_string(verify));
      co_return failure(ex, hec, "TLS handshake with " + where);
    }
    co_return Ok{};
  }

  template <class Stream>
  asio::awaitable<Attempt> exchange(Stream& stream, Exchange& ex, Connection& conn,
                                    bhttp::request<bhttp::string_body>& message) {
    conn.reusable = false;
    conn.lowest().expires_at(ex.deadline);
    auto [wec, written] = co_await bhttp::async_write(stream, message, kTuple);
    if (wec)
      co_return Attempt{failure(ex, wec, "send"),
                        connection_lost(wec) && (written == 0 || idempotent(ex.request.method))};
    bhttp::response_parser<bhttp::string_body> parser;
    parser.body_limit(settings_.max_response_body_bytes);
    parser.header_limit(static_cast<std::uint32_t>(settings_.max_response_header_bytes));
    if (ex.request.method == "HEAD") parser.skip(true);
    auto [rec, received] = co_await bhttp::async_read(stream, conn.buffer, parser, kTuple);
    if (rec == bhttp::error::body_limit || rec == bhttp::error::header_limit) {
      const bool body = rec == bhttp::error::body_limit;
      const std::string setting = body ? "max_response_body_bytes" : "max_response_header_bytes";
      const std::size_t limit = body ? settings_.max_response_body_bytes : settings_.max_response_header_bytes;
      co_return Attempt{make_error(Errc::unsupported, describe_request(ex) + ": response " +
                                                          (body ? "body" : "headers") + " larger than " + setting +
                                                          " (" + std::to_string(limit) + " bytes)")};
    }
    // Nothing of the response arrived: the classic stale keep-alive close.
    if (rec) {
      const bool nothing_arrived = received == 0 && conn.buffer.size() == 0;
      co_return Attempt{failure(ex, rec, "read"),
                        connection_lost(rec) && nothing_arrived && idempotent(ex.request.method)};
    }
    auto& response = parser.get();
    OutboundReply reply;
    reply.status = static_cast<int>(response.result_int());
    for (const auto& field : response) reply.headers.add(std::string(field.name_string()), std::string(field.value()));
    reply.body = std::move(response.body());
    reply.elapsed = std::chrono::duration_cast<std::chrono::microseconds>(Clock::now() - ex.started);
    // Bytes beyond the response would be read as the next one's start.
    conn.reusable = response.keep_alive() && parser.is_done() && conn.buffer.size() == 0;
    co_return Attempt{std::move(reply), false};
  }

  // Runs on the connection's strand: pools or closes the connection, frees
  // the target slot (starting the next queued request), then answers.
  void finish(const std::shared_ptr<Exchange>& ex, Result<OutboundReply> result) {
    std::shared_ptr<Connection> conn;
    bool pooled = false;
    {
      std::lock_guard lock(mutex_);
      conn = std::move(ex->connection);
      if (result.ok() && conn->reusable && conn->is_open() && !stopped_) {
        auto& list = idle_[conn->key];
        if (list.size() < settings_.max_idle_per_host) {
          conn->lowest().expires_never();
          conn->idle_since = Clock::now();
          list.push_back(conn);
          pooled = true;
        }
      }
      auto& target = targets_[ex->target];
      --target.in_flight;
      while (!target.queue.empty() && target.in_flight < target.limits.max_in_flight && !stopped_) {
        auto next = std::move(target.queue.front());
        target.queue.pop_front();
        next->queued = false;
        next->queue_timer->cancel();
        ++target.in_flight;
        start(next);
      }
    }
    if (!pooled) conn->close();
    deliver(ex->done, std::move(result));
    {
      std::lock_guard lock(mutex_);
      running_.erase(ex);
    }
    idle_cv_.notify_all();
  }

  void schedule_sweep() {
    const auto period = std::clamp<std::chrono::milliseconds>(settings_.idle_timeout / 2, std::chrono::milliseconds(50),
                                                              std::chrono::milliseconds(5000));
    sweep_timer_.expires_after(period);
    sweep_timer_.async_wait(asio::bind_executor(sweep_strand_, [this](beast::error_code ec) {
      if (ec || stopped_.load()) return;
      sweep();
      schedule_sweep();
    }));
  }

  // Closes idle connections past idle_timeout or closed by their server.
  void sweep() {
    std::lock_guard lock(mutex_);
    const auto now = Clock::now();
    for (auto it = idle_.begin(); it != idle_.end();) {
      std::erase_if(it->second, [&](const std::shared_ptr<Connection>& conn) {
        if (now - conn->idle_since < settings_.idle_timeout && conn->looks_alive()) return false;
        close_later(conn);
        return true;
      });
      it = it->second.empty() ? idle_.erase(it) : std::next(it);
    }
  }

  OutboundSettings settings_;
  ssl::context tls_;
  asio::io_context ioc_;
  asio::executor_work_guard<asio::io_context::executor_type> work_{ioc_.get_executor()};
  Strand sweep_strand_{asio::make_strand(ioc_)};
  asio::steady_timer sweep_timer_{sweep_strand_};
  std::vector<std::thread> threads_;

  mutable std::mutex mutex_;
  std::condition_variable idle_cv_;  // running_ became smaller
  std::atomic<bool> stopped_{false};
  std::map<std::string, TargetState> targets_;
  std::map<PoolKey, std::vector<std::shared_ptr<Connection>>> idle_;
  std::set<std::shared_ptr<Exchange>> running_;

  std::atomic<std::uint64_t> opened_{0};
  std::atomic<std::uint64_t> reused_{0};
  std::atomic<std::uint64_t> retries_{0};
};

const std::string* HeaderFields::find(std::string_view name) const {
  for (const auto& [k, v] : fields_)
    if (iequals(k, name)) return &v;
  return nullptr;
}

std::string HeaderFields::get(std::string_view name) const {
  const std::string* v = find(name);
  return v == nullptr ? std::string() : *v;
}

std::vector<std::string> HeaderFields::all(std::string_view name) const {
  std::vector<std::string> out;
  for (const auto& [k, v] : fields_)
    if (iequals(k, name)) out.push_back(v);
  return out;
}

OutboundClient::OutboundClient(OutboundSettings settings) : impl_(std::make_unique<Impl>(std::move(settings))) {}
OutboundClient::~OutboundClient() = default;

void OutboundClient::set_target_limits(const std::string& target, OutboundTargetLimits limits) {
  impl_->set_target_limits(target, limits);
}

Result<OutboundReply> OutboundClient::send(const OutboundRequest& request) {
  if (impl_->on_io_thread())
    return make_error(Errc::internal, "OutboundClient::send called on the client's own I/O thread; use send_async");
  auto promise = std::make_shared<std::promise<Result<OutboundReply>>>();
  auto future = promise->get_future();
  impl_->submit(request, [promise](Result<OutboundReply> r) { promise->set_value(std::move(r)); });
  return future.get();
}

void OutboundClient::send_async(OutboundRequest request, Callback done) {
  impl_->submit(std::move(request), std::move(done));
}

OutboundStats OutboundClient::stats() const { return impl_->stats(); }
OutboundTargetStats OutboundClient::target_stats(const std::string& target) const {
  return impl_->target_stats(target);
}
void OutboundClient::stop() { impl_->stop(); }

}  // namespace trueup::http
