// A session advisory lock on a dedicated connection, polled by one thread.

#include "trueup/store/pg_singleton.hpp"

#include <openssl/evp.h>

#include <pqxx/pqxx>

#include <atomic>
#include <mutex>
#include <optional>
#include <thread>

#include "postgres_conninfo.hpp"

namespace trueup::store {
namespace {

class PgSingletonImpl final : public PgSingleton {
 public:
  PgSingletonImpl(PgSingletonSettings settings, detail::Conninfo info)
      : settings_(std::move(settings)),
        info_(std::move(info)),
        key_(pg_singleton_key(settings_.postgres.schema, settings_.name)) {
    thread_ = std::thread([this] { run(); });
  }
  ~PgSingletonImpl() override { stop(); }

  bool held() const noexcept override { return held_.load(std::memory_order_acquire); }

  bool wait_until_held(std::chrono::milliseconds timeout) const override {
    std::unique_lock lock(mu_);
    return changed_.wait_for(lock, timeout, [&] { return held_.load(std::memory_order_acquire); });
  }

  void stop() override {
    {
      std::lock_guard lock(mu_);
      stopping_ = true;
    }
    wake_.notify_all();
    std::lock_guard join_lock(join_mu_);
    if (thread_.joinable()) thread_.join();
  }

  std::int64_t key() const noexcept override { return key_; }

  std::string last_error() const override {
    std::lock_guard lock(mu_);
    return last_error_;
  }

 private:
  void set_held(bool held) {
    const bool before = held_.exchange(held, std::memory_order_acq_rel);
    if (before == held) return;
    {
      std::lock_guard lock(mu_);  // pairs with wait_until_held's predicate check
    }
    changed_.notify_all();
    if (settings_.on_change) settings_.on_change(held);
  }

  // One step: connect if needed, then try the lock or check the connection.
  void step() {
    try {
      if (!connection_ || !connection_->is_open()) {
        connection_.reset();
        set_held(false);
        connection_ = std::make_unique<pqxx::connection>(info_.conninfo);
      }
      pqxx::nontransaction tx(*connection_);
      if (held()) {
        tx.exec("SELECT 1");
      } else {
        auto r = tx.exec("SELECT pg_try_advisory_lock(" + std::to_string(key_) + ")");
        if (!r.empty() && r[0][0].as<bool>()) set_held(true);
      }
      std::lock_guard lock(mu_);
      last_error_.clear();
    } catch (const std::exception& e) {
      // The session (and with it the lock, if we had it) is gone or unusable.
      connection_.reset();
      set_held(false);
      std::lock_guard lock(mu_);
      last_error_ = "PostgreSQL at " + info_.redacted + ": " + detail::scrub(detail::one_line(e.what()), info_);
    }
  }

  void run() {
    for (;;) {
      step();
      std::unique_lock lock(mu_);
      wake_.wait_for(lock, settings_.check_interval, [&] { return stopping_; });
      if (stopping_) break;
    }
    if (connection_ && held()) {
      try {
        pqxx::nontransaction tx(*connection_);
        tx.exec("SELECT pg_advisory_unlock(" + std::to_string(key_) + ")");
      } catch (const std::exception&) {
        // Closing the connection below frees it anyway.
      }
    }
    set_held(false);
    connection_.reset();
  }

  PgSingletonSettings settings_;
  detail::Conninfo info_;
  const std::int64_t key_;
  std::unique_ptr<pqxx::connection> connection_;  // only touched by thread_
  std::string last_error_;                        // guarded by mu_
  std::mutex join_mu_;
  std::atomic<bool> held_{false};
  mutable std::mutex mu_;
  mutable std::condition_variable changed_;
  std::condition_variable wake_;
  bool stopping_ = false;
  std::thread thread_;
};

}  // namespace

std::int64_t pg_singleton_key(std::string_view schema, std::string_view name) {
  std::string text = "trueup:";
  text.append(schema).append(":").append(name);
  unsigned char digest[EVP_MAX_MD_SIZE];
  unsigned int size = 0;
  EVP_Digest(text.data(), text.size(), digest, &size, EVP_sha256(), nullptr);
  std::uint64_t v = 0;
  for (int i = 0; i < 8; ++i) v = (v << 8) | digest[i];
  return static_cast<std::int64_t>(v);
}

Result<std::unique_ptr<PgSingleton>> start_pg_singleton(PgSingletonSettings settings) {
  if (settings.name.empty()) return make_error(Errc::invalid_argument, "singleton name is empty");
  if (settings.check_interval.count() <= 0)
    return make_error(Errc::invalid_argument, "singleton " + settings.name + ": check_interval must be positive");
  auto info = detail::make_conninfo(settings.postgres);
  if (!info) return std::move(info).error();
  return std::unique_ptr<PgSingleton>(std::make_unique<PgSingletonImpl>(std::move(settings), std::move(*info)));
}

}  // namespace trueup::store
