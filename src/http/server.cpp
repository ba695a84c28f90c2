#include "trueup/http/server.hpp"

#include <boost/asio.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>

#include <atomic>
#include <condition_variable>
#include <map>
#include <mutex>
#include <optional>
#include <random>
#include <thread>

#include "trueup/log/log.hpp"
#include "trueup/metrics/registry.hpp"

namespace trueup::http {

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace bhttp = boost::beast::http;
using tcp = asio::ip::tcp;
using Strand = asio::strand<asio::io_context::executor_type>;

namespace {

constexpr auto kTuple = asio::as_tuple(asio::use_awaitable);

std::string new_request_id() {
  thread_local std::mt19937_64 rng{std::random_device{}()};
  static constexpr char kHex[] = "0123456789abcdef";
  std::string id(16, '0');
  auto v = rng();
  for (auto& c : id) {
    c = kHex[v & 0xf];
    v >>= 4;
  }
  return id;
}

// A request id given by the caller is kept when it is short and printable.
bool acceptable_request_id(std::string_view id) {
  if (id.empty() || id.size() > 64) return false;
  for (char c : id)
    if (!(std::isalnum(static_cast<unsigned char>(c)) || c == '-' || c == '_' || c == '.')) return false;
  return true;
}

// Completes a handler's response, which may arrive from any thread, exactly
// once. When the handler answered synchronously no suspension is needed.
struct ResponseSlot {
  std::mutex mutex;
  std::optional<Response> ready;
  std::function<void(Response)> waiter;
  bool answered = false;
};

}  // namespace

class Server::Impl {
 public:
  Impl(ServerSettings settings, const Router& router, metrics::Registry& registry)
      : settings_(std::move(settings)),
        router_(router),
        registry_(registry),
        acceptor_strand_(asio::make_strand(*ioc_)),
        acceptor_(acceptor_strand_),
        active_(registry.gauge("trueup_http_connections_active", "Open HTTP connections.")),
        rejected_(registry.counter("trueup_http_connections_rejected_total",
                                   "Connections refused because http.max_connections was reached.")) {}

  ~Impl() {
    if (!threads_.empty()) drain(std::chrono::milliseconds(0));
  }

  Status start() {
    beast::error_code ec;
    auto address = asio::ip::make_address(settings_.address, ec);
    if (ec)
      return make_error(Errc::invalid_argument, "http.listen_address '" + settings_.address + "': " + ec.message());
    tcp::endpoint endpoint(address, settings_.port);
    acceptor_.open(endpoint.protocol(), ec);
    if (!ec) acceptor_.set_option(asio::socket_base::reuse_address(true), ec);
    if (!ec) acceptor_.bind(endpoint, ec);
    if (!ec) acceptor_.listen(asio::socket_base::max_listen_connections, ec);
    if (ec) {
      return make_error(Errc::unavailable, "cannot listen on " + settings_.address + ":" +
                                               std::to_string(settings_.port) + ": " + ec.message());
    }
    port_ = acceptor_.local_endpoint().port();
    asio::co_spawn(acceptor_strand_, accept_loop(), asio::detached);
    int n =
        settings_.threads > 0 ? settings_.threads : static_cast<int>(std::max(1u, std::thread::hardware_concurrency()));
    for (int i = 0; i < n; ++i) threads_.emplace_back([this] { ioc_->run(); });
    return Ok{};
  }

  std::uint16_t port() const { return port_; }

  bool drain(std::chrono::milliseconds grace) {
    if (threads_.empty()) return true;
    draining_.store(true);
    asio::post(acceptor_strand_, [this] {
      beast::error_code ec;
      acceptor_.close(ec);
    });
    close_sessions(/*idle_only=*/true);
    bool clean;
    {
      std::unique_lock lock(sessions_mutex_);
      clean = sessions_cv_.wait_for(lock, grace, [this] { return sessions_.empty(); });
    }
    if (!clean) {
      log::warn("http drain grace period over; closing the remaining connections",
                {{"open", std::to_string(open_sessions())}});
      close_sessions(/*idle_only=*/false);
      std::unique_lock lock(sessions_mutex_);
      sessions_cv_.wait_for(lock, std::chrono::seconds(2), [this] { return sessions_.empty(); });
    }
    ioc_->stop();
    for (auto& t : threads_) t.join();
    threads_.clear();
    return clean;
  }

 private:
  struct SessionEntry {
    Strand strand;
    beast::tcp_stream* stream;
    bool busy;
    std::shared_ptr<ResponseSlot> pending;  // the handler answer being awaited
  };

  std::size_t open_sessions() {
    std::lock_guard lock(sessions_mutex_);
    return sessions_.size();
  }

  void close_sessions(bool idle_only) {
    std::lock_guard lock(sessions_mutex_);
    for (auto& [id, entry] : sessions_) {
      if (idle_only && entry.busy) continue;
      // A handler that has not answered yet would keep the session (and its
      // socket) alive past the server: answer for it, and drop its late reply.
      if (!idle_only && entry.pending) abandon(*entry.pending);
      asio::post(entry.strand, [this, id = id] {
        std::lock_guard inner(sessions_mutex_);
        auto it = sessions_.find(id);
        if (it == sessions_.end()) return;
        beast::error_code ec;
        it->second.stream->socket().shutdown(tcp::socket::shutdown_both, ec);
        it->second.stream->socket().close(ec);
      });
    }
  }

  // The first answer wins (a handler answering twice, or the server giving up
  // on it); it goes to the waiting session, or waits in the slot for it.
  static void answer(ResponseSlot& slot, Response r) {
    std::unique_lock lock(slot.mutex);
    if (slot.answered) return;
    slot.answered = true;
    if (slot.waiter) {
      auto waiter = std::move(slot.waiter);
      lock.unlock();
      waiter(std::move(r));
    } else {
      slot.ready = std::move(r);
    }
  }

  static void abandon(ResponseSlot& slot) {
    answer(slot, problem(503, "/problems/shutting-down", "Service Unavailable", "the server is shutting down"));
  }

  asio::awaitable<void> accept_loop() {
    for (;;) {
      auto strand = asio::make_strand(*ioc_);
      auto [ec, socket] = co_await acceptor_.async_accept(strand, kTuple);
      if (ec) {
        if (ec == asio::error::operation_aborted || !acceptor_.is_open()) co_return;
        log::warn("http accept failed", {{"error", ec.message()}});
        continue;
      }
      if (draining_.load()) co_return;
      if (open_sessions() >= settings_.max_connections) {
        rejected_.inc();
        asio::co_spawn(strand, refuse(std::move(socket)), asio::detached);
        continue;
      }
      asio::co_spawn(strand, session(std::move(socket), strand), asio::detached);
    }
  }

  asio::awaitable<void> refuse(tcp::socket socket) {
    beast::tcp_stream stream(std::move(socket));
    auto p = problem(503, "/problems/too-many-connections", "Service Unavailable",
                     "the server has reached http.max_connections; retry later");
    bhttp::response<bhttp::string_body> res{bhttp::status::service_unavailable, 11};
    res.set(bhttp::field::content_type, p.content_type);
    res.set(bhttp::field::retry_after, "1");
    res.keep_alive(false);
    res.body() = std::move(p.body);
    res.prepare_payload();
    stream.expires_after(std::chrono::seconds(2));
    co_await bhttp::async_write(stream, res, kTuple);
    beast::error_code ec;
    stream.socket().shutdown(tcp::socket::shutdown_both, ec);
  }

  void set_busy(std::uint64_t id, bool busy) {
    std::lock_guard lock(sessions_mutex_);
    auto it = sessions_.find(id);
    if (it != sessions_.end()) it->second.busy = busy;
  }

  // Hands the request to the router; the answer lands in the returned slot,
  // now or later, from any thread.
  std::shared_ptr<ResponseSlot> dispatch(Request& request, std::uint64_t session_id) {
    auto slot = std::make_shared<ResponseSlot>();
    {
      std::lock_guard lock(sessions_mutex_);
      auto it = sessions_.find(session_id);
      if (it != sessions_.end()) it->second.pending = slot;
    }
    router_.dispatch(request, [slot](Response r) { answer(*slot, std::move(r)); });
    return slot;
  }

  static std::optional<Response> take_ready(ResponseSlot& slot) {
    std::lock_guard lock(slot.mutex);
    std::optional<Response> r = std::move(slot.ready);
    slot.ready.reset();
    return r;
  }

  // Suspends until the slot is answered. A plain function returning the
  // awaitable (not a coroutine) keeps GCC 12 away from its coroutine bugs.
  asio::awaitable<Response> wait_for(std::shared_ptr<ResponseSlot> slot) {
    return asio::async_initiate<decltype(asio::use_awaitable), void(Response)>(
        [slot, ctx = ioc_](auto handler) {
          auto ex = asio::get_associated_executor(handler);
          auto shared = std::make_shared<decltype(handler)>(std::move(handler));
          std::unique_lock lock(slot->mutex);
          if (slot->ready) {
            Response r = std::move(*slot->ready);
            slot->ready.reset();
            lock.unlock();
            asio::post(ex, [shared, r = std::move(r)]() mutable { (*shared)(std::move(r)); });
            return;
          }
          // The answering thread holds the executor; the io_context must
          // outlive that copy, so it is held too, and released last.
          struct Resumer {
            std::shared_ptr<asio::io_context> ctx;
            decltype(ex) executor;
            decltype(shared) completion;
          };
          auto resumer = std::make_shared<Resumer>(Resumer{ctx, ex, shared});
          slot->waiter = [resumer](Response r) {
            asio::post(resumer->executor,
                       [h = resumer->completion, r = std::move(r)]() mutable { (*h)(std::move(r)); });
          };
        },
        asio::use_awaitable);
  }

  static Request to_request(bhttp::request<bhttp::string_body>&& req, const std::string& remote) {
    Request r;
    r.method = std::string(req.method_string());
    r.target = std::string(req.target());
    auto q = r.target.find('?');
    r.path = r.target.substr(0, q);
    if (q != std::string::npos) r.query = r.target.substr(q + 1);
    for (const auto& field : req) {
      std::string name(field.name_string());
      for (auto& c : name) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
      auto [it, inserted] = r.headers.emplace(std::move(name), std::string(field.value()));
      if (!inserted) it->second += ", " + std::string(field.value());
    }
    r.body = std::move(req.body());
    r.remote = remote;
    const std::string* given = r.header("x-request-id");
    r.request_id = given != nullptr && acceptable_request_id(*given) ? *given : new_request_id();
    return r;
  }

  asio::awaitable<bool> write(beast::tcp_stream& stream, Response&& response, unsigned version, bool keep_alive,
                              const std::string& request_id) {
    bhttp::response<bhttp::string_body> res{static_cast<bhttp::status>(response.status), version};
    res.set(bhttp::field::content_type, response.content_type);
    for (auto& [k, v] : response.headers) res.set(k, v);
    if (!request_id.empty()) res.set("X-Request-Id", request_id);
    res.keep_alive(keep_alive);
    res.body() = std::move(response.body);
    res.prepare_payload();
    stream.expires_after(settings_.write_timeout);
    auto [ec, n] = co_await bhttp::async_write(stream, res, kTuple);
    co_return !ec;
  }

  void observe(const std::string& route, int status, std::chrono::steady_clock::time_point start) {
    double seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
    registry_
        .counter("trueup_http_requests_total", "HTTP requests by route and status class.",
                 {{"route", route}, {"status", status_class(status)}})
        .inc();
    registry_
        .histogram("trueup_http_request_duration_seconds", "HTTP request latency by route.", metrics::latency_buckets(),
                   {{"route", route}})
        .observe(seconds);
  }

  asio::awaitable<void> session(tcp::socket socket, Strand strand) {
    beast::tcp_stream stream(std::move(socket));
    std::string remote;
    {
      beast::error_code ec;
      auto ep = stream.socket().remote_endpoint(ec);
      if (!ec) remote = ep.address().to_string();
    }
    const std::uint64_t id = next_session_id_.fetch_add(1);
    {
      std::lock_guard lock(sessions_mutex_);
      sessions_.emplace(id, SessionEntry{strand, &stream, false, nullptr});
    }
    active_.inc();
    beast::flat_buffer buffer;
    bool first = true;
    for (;;) {
      set_busy(id, false);
      if (draining_.load()) break;
      bhttp::request_parser<bhttp::string_body> parser;
      parser.body_limit(settings_.max_body_bytes);
      parser.header_limit(static_cast<std::uint32_t>(settings_.max_header_bytes));
      stream.expires_after(first ? settings_.header_timeout : settings_.idle_timeout);
      auto [ec, n] = co_await bhttp::async_read_header(stream, buffer, parser, kTuple);
      const auto start = std::chrono::steady_clock::now();
      if (ec == bhttp::error::header_limit) {
        observe("unmatched", 431, start);
        co_await write(stream,
                       problem(431, "/problems/headers-too-large", "Request Header Fields Too Large",
                               "request headers exceed " + std::to_string(settings_.max_header_bytes) + " bytes"),
                       11, false, "");
        break;
      }
      if (ec != bhttp::error::body_limit) {
        if (ec) break;  // closed, timed out, or malformed: nothing more to say on this connection
        set_busy(id, true);
        stream.expires_after(settings_.read_timeout);
        if (!parser.is_done()) std::tie(ec, n) = co_await bhttp::async_read(stream, buffer, parser, kTuple);
      }
      // A declared Content-Length over the limit fails at the header already.
      if (ec == bhttp::error::body_limit) {
        observe("unmatched", 413, start);
        co_await write(stream,
                       problem(413, "/problems/body-too-large", "Content Too Large",
                               "request body exceeds http.max_body_bytes (" + std::to_string(settings_.max_body_bytes) +
                                   " bytes)"),
                       11, false, "");
        break;
      }
      if (ec) break;
      auto beast_request = parser.release();
      const unsigned version = beast_request.version();
      const bool wants_keep_alive = beast_request.keep_alive();
      Request request = to_request(std::move(beast_request), remote);
      auto slot = dispatch(request, id);
      std::optional<Response> answered = take_ready(*slot);
      if (!answered) answered.emplace(co_await wait_for(slot));
      Response response = std::move(*answered);
      slot.reset();
      {
        std::lock_guard lock(sessions_mutex_);
        auto it = sessions_.find(id);
        if (it != sessions_.end()) it->second.pending.reset();
      }
      const int status = response.status;
      const bool keep_alive = wants_keep_alive && !draining_.load();
      // Counted before the write so the figures are final when the client
      // has its answer; latency is until the response is ready to send.
      observe(request.route, status, start);
      bool written = co_await write(stream, std::move(response), version, keep_alive, request.request_id);
      if (settings_.access_log && log::enabled(log::Level::info)) {
        auto micros = std::chrono::duration_cast<std::chrono::microseconds>(std::chrono::steady_clock::now() - start);
        log::info("http request", {{"request_id", request.request_id},
                                   {"method", request.method},
                                   {"path", request.path},
                                   {"route", request.route},
                                   {"status", std::to_string(status)},
                                   {"duration_us", std::to_string(micros.count())},
                                   {"remote", request.remote}});
      }
      if (!written || !keep_alive) break;
      first = false;
    }
    beast::error_code ec;
    stream.socket().shutdown(tcp::socket::shutdown_send, ec);
    {
      std::lock_guard lock(sessions_mutex_);
      sessions_.erase(id);
    }
    active_.dec();
    sessions_cv_.notify_all();
  }

  ServerSettings settings_;
  const Router& router_;
  metrics::Registry& registry_;
  // Shared: a handler answering from another thread keeps it alive (see wait_for).
  std::shared_ptr<asio::io_context> ioc_ = std::make_shared<asio::io_context>();
  Strand acceptor_strand_;
  tcp::acceptor acceptor_;
  std::vector<std::thread> threads_;
  std::atomic<bool> draining_{false};
  std::uint16_t port_ = 0;
  std::atomic<std::uint64_t> next_session_id_{1};
  std::mutex sessions_mutex_;
  std::condition_variable sessions_cv_;
  std::map<std::uint64_t, SessionEntry> sessions_;
  metrics::Gauge& active_;
  metrics::Counter& rejected_;
};

Server::Server(ServerSettings settings, const Router& router, metrics::Registry& registry)
    : impl_(std::make_unique<Impl>(std::move(settings), router, registry)) {}
Server::~Server() = default;
Status Server::start() { return impl_->start(); }
std::uint16_t Server::port() const { return impl_->port(); }
bool Server::drain(std::chrono::milliseconds grace) { return impl_->drain(grace); }

}  // namespace trueup::http
