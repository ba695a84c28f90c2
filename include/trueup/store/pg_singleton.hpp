#pragma once
// Leadership for singleton jobs (the outbox relay, pollers) across trueup
// instances that share one PostgreSQL database: a session-level advisory lock
// (`pg_try_advisory_lock`) held on a dedicated connection.
//
// A PgSingleton owns one thread and one libpqxx connection, separate from the
// store's pool. The thread connects, tries the lock every `check_interval`
// while it is free elsewhere, and once held checks the connection with a
// round trip every `check_interval`. When the check fails (connection lost,
// server restarted, the session was terminated) `held()` turns false at once
// and the thread reconnects and tries again. PostgreSQL frees a session lock
// when its session ends, so a crashed holder's lock passes to another instance
// as soon as the server notices the dead connection (at once for a killed
// process, after TCP keepalive for a vanished host).
//
// Honest limit: between two checks the lock may already be gone without this
// process knowing, so for up to `check_interval` two holders can both believe
// they lead. Jobs guarded by it must tolerate that (the relay does: it is
// at-least-once, see docs/messaging.md); it is not a fence.
//
// The lock key is derived from (schema, name): instances on the same schema
// compete, tests on separate schemas do not.
//
// SQLite needs no such lock: one process owns the file (docs/messaging.md).
//
// Thread-safety: all members are safe from any thread. `on_change` is called
// on the singleton's thread, must not block and must not call stop().

#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <string_view>

#include "trueup/core/error.hpp"
#include "trueup/store/store.hpp"

namespace trueup::store {

struct PgSingletonSettings {
  // url, connect_timeout and schema are used; pool_size and queue_capacity
  // are not (the singleton has one connection of its own).
  PostgresSettings postgres;
  std::string name;  // what is guarded, e.g. "outbox-relay"
  std::chrono::milliseconds check_interval{500};
  std::function<void(bool held)> on_change;  // optional
};

class PgSingleton {
 public:
  virtual ~PgSingleton() = default;
  // Whether this process holds the lock, as of the last check.
  virtual bool held() const noexcept = 0;
  // Waits until held (true) or until `timeout` passed (false).
  virtual bool wait_until_held(std::chrono::milliseconds timeout) const = 0;
  // Releases the lock (pg_advisory_unlock) and closes the connection; held()
  // is false afterwards. Idempotent; the destructor stops too.
  virtual void stop() = 0;
  virtual std::int64_t key() const noexcept = 0;
  // Why the last attempt to connect, lock or check failed (redacted URL, no
  // password); empty after a successful one. For logs and health checks.
  virtual std::string last_error() const = 0;
};

// Starts the thread and returns at once (it does not wait for the lock nor
// for the server). Errc::invalid_argument for bad settings (empty url or name,
// bad schema, check_interval <= 0).
Result<std::unique_ptr<PgSingleton>> start_pg_singleton(PgSingletonSettings settings);

// The advisory lock key for `name` in `schema`: the first 8 bytes of
// SHA-256("trueup:" + schema + ":" + name), as a signed 64-bit integer.
std::int64_t pg_singleton_key(std::string_view schema, std::string_view name);

}  // namespace trueup::store
