#pragma once
// A PostgreSQL LISTEN/NOTIFY listener: one dedicated connection on its own
// thread, LISTENing on fixed channels, calling back for each notification.
//
// When the connection breaks it reconnects with a growing delay (100 ms up to
// `max_reconnect_delay`) and calls `on_connected` again after each (re)connect:
// notifications sent while it was away are lost, so the owner should treat
// that call as "something may have happened" and look for work.
//
// Thread-safety: callbacks run on the listener's thread, one at a time; they
// must be quick and must not throw. stop() is safe from any thread but the
// listener's, idempotent, and returns within about a second (waits are bounded
// and woken by stop).

#include <chrono>
#include <functional>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "trueup/core/error.hpp"
#include "trueup/store/store.hpp"

namespace trueup::store {

struct PgListenerSettings {
  PostgresSettings connection;        // url and connect_timeout are used
  std::vector<std::string> channels;  // lower-case identifiers
  std::chrono::milliseconds max_reconnect_delay{5000};
  std::chrono::milliseconds health_check_interval{10000};  // SELECT 1 when idle, to find dead links
};

using NotificationHandler = std::function<void(std::string_view channel, std::string_view payload)>;

class PgListener {
 public:
  virtual ~PgListener() = default;
  virtual void stop() = 0;
  // Whether the connection is up and listening now.
  virtual bool connected() const = 0;
};

// Connects and LISTENs before returning (unavailable when the server cannot be
// reached; invalid_argument for bad settings or channel names), then keeps
// listening on its own thread until stop() or destruction.
Result<std::unique_ptr<PgListener>> start_pg_listener(PgListenerSettings settings, NotificationHandler on_notify,
                                                      std::function<void()> on_connected = {});

}  // namespace trueup::store
