// PostgreSQL LISTEN/NOTIFY on a dedicated libpqxx connection and thread.
//
// The thread waits with poll(2) on the connection's socket and an eventfd
// that stop() signals, so every wait is bounded (health-check interval) and
// stoppable at once.

#include "trueup/store/pg_listener.hpp"

#include <poll.h>
#include <sys/eventfd.h>
#include <unistd.h>

#include <pqxx/pqxx>

#include <algorithm>
#include <atomic>
#include <cctype>
#include <mutex>
#include <thread>

#include "postgres_conninfo.hpp"

namespace trueup::store {
namespace {

bool valid_channel(std::string_view c) {
  if (c.empty() || c.size() > 63) return false;
  if (!(std::islower(static_cast<unsigned char>(c[0])) || c[0] == '_')) return false;
  return std::all_of(c.begin(), c.end(), [](char ch) {
    return std::islower(static_cast<unsigned char>(ch)) || std::isdigit(static_cast<unsigned char>(ch)) || ch == '_';
  });
}

class Receiver final : public pqxx::notification_receiver {
 public:
  Receiver(pqxx::connection_base& c, const std::string& channel, const NotificationHandler& handler)
      : pqxx::notification_receiver(c, channel), handler_(handler) {}
  void operator()(const std::string& payload, int) override {
    if (handler_) handler_(channel(), payload);
  }

 private:
  const NotificationHandler& handler_;
};

class Listener final : public PgListener {
 public:
  Listener(PgListenerSettings settings, detail::Conninfo info, NotificationHandler on_notify,
           std::function<void()> on_connected, int wake_fd)
      : settings_(std::move(settings)),
        info_(std::move(info)),
        on_notify_(std::move(on_notify)),
        on_connected_(std::move(on_connected)),
        wake_fd_(wake_fd) {}

  ~Listener() override {
    stop();
    ::close(wake_fd_);
  }

  // Connects and LISTENs; the error when it cannot.
  Status connect() {
    receivers_.clear();
    connection_.reset();
    try {
      connection_ = std::make_unique<pqxx::connection>(info_.conninfo);
      // Receivers issue LISTEN when the connection is idle; one round trip
      // makes sure they did before we report being connected.
      for (const auto& c : settings_.channels)
        receivers_.push_back(std::make_unique<Receiver>(*connection_, c, on_notify_));
      pqxx::nontransaction tx(*connection_);
      tx.exec("SELECT 1");
    } catch (const std::exception& e) {
      receivers_.clear();
      connection_.reset();
      connected_ = false;
      return make_error(Errc::unavailable,
                        "cannot LISTEN on PostgreSQL at " + info_.redacted + ": " + detail::scrub(e.what(), info_));
    }
    connected_ = true;
    return Ok{};
  }

  void start_thread() {
    thread_ = std::thread([this] { loop(); });
  }

  void stop() override {
    std::lock_guard lock(stop_mutex_);
    if (stopped_) return;
    stopped_ = true;
    stopping_ = true;
    std::uint64_t one = 1;
    [[maybe_unused]] auto n = ::write(wake_fd_, &one, sizeof one);
    if (thread_.joinable()) thread_.join();
    receivers_.clear();
    connection_.reset();
    connected_ = false;
  }

  bool connected() const override { return connected_; }

 private:
  // Waits up to `timeout` for the socket (or stop). True when the socket is readable.
  bool wait(int socket, std::chrono::milliseconds timeout) {
    pollfd fds[2] = {{wake_fd_, POLLIN, 0}, {socket, POLLIN, 0}};
    const int n = ::poll(fds, socket >= 0 ? 2 : 1, static_cast<int>(timeout.count()));
    return n > 0 && socket >= 0 && (fds[1].revents & (POLLIN | POLLERR | POLLHUP)) != 0;
  }

  void loop() {
    if (on_connected_) on_connected_();
    std::chrono::milliseconds delay{100};
    auto last_check = std::chrono::steady_clock::now();
    while (!stopping_) {
      if (!connected_) {
        wait(-1, delay);
        if (stopping_) break;
        if (connect()) {
          delay = std::chrono::milliseconds{100};
          last_check = std::chrono::steady_clock::now();
          if (on_connected_) on_connected_();
        } else {
          delay = std::min(delay * 2, settings_.max_reconnect_delay);
        }
        continue;
      }
      try {
        const bool readable = wait(connection_->sock(), settings_.health_check_interval);
        if (stopping_) break;
        if (readable) {
          connection_->get_notifs();  // reads the socket and calls the receivers
        }
        const auto now = std::chrono::steady_clock::now();
        if (now - last_check >= settings_.health_check_interval) {
          last_check = now;
          pqxx::nontransaction tx(*connection_);
          tx.exec("SELECT 1");
        }
        if (!connection_->is_open()) throw pqxx::broken_connection("connection closed");
      } catch (const std::exception&) {
        receivers_.clear();
        connection_.reset();
        connected_ = false;
      }
    }
  }

  PgListenerSettings settings_;
  detail::Conninfo info_;
  NotificationHandler on_notify_;
  std::function<void()> on_connected_;
  int wake_fd_;
  std::unique_ptr<pqxx::connection> connection_;
  std::vector<std::unique_ptr<Receiver>> receivers_;
  std::atomic<bool> connected_{false};
  std::atomic<bool> stopping_{false};
  std::mutex stop_mutex_;
  bool stopped_ = false;
  std::thread thread_;
};

}  // namespace

Result<std::unique_ptr<PgListener>> start_pg_listener(PgListenerSettings settings, NotificationHandler on_notify,
                                                      std::function<void()> on_connected) {
  if (settings.channels.empty()) return make_error(Errc::invalid_argument, "pg listener: no channels to LISTEN on");
  for (const auto& c : settings.channels)
    if (!valid_channel(c))
      return make_error(Errc::invalid_argument,
                        "pg listener: channel '" + c + "' must be lower-case letters, digits and '_'");
  if (settings.health_check_interval.count() <= 0 || settings.max_reconnect_delay.count() <= 0)
    return make_error(Errc::invalid_argument, "pg listener: intervals must be positive");
  // The listener needs no search_path; LISTEN channels are per database.
  settings.connection.schema.clear();
  auto info = detail::make_conninfo(settings.connection);
  if (!info) return std::move(info).error();
  const int fd = ::eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
  if (fd < 0) return make_error(Errc::internal, "pg listener: eventfd failed");
  auto listener = std::make_unique<Listener>(std::move(settings), std::move(*info), std::move(on_notify),
                                             std::move(on_connected), fd);
  if (auto s = listener->connect(); !s) return std::move(s).error();
  listener->start_thread();
  return std::unique_ptr<PgListener>(std::move(listener));
}

}  // namespace trueup::store
