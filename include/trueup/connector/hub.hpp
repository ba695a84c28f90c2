#pragma once
// The daemon's configured connector instances and what ties them to the
// durable core.
//
// Ingress: a webhook delivery that the connector accepts becomes inbox rows
// (source = the instance id, dedupe key = the delivery id) and one
// "connector_inbound" workflow per new message, committed before the sender
// gets 2xx (intake() gives the rows; the system API's group commit writes
// them).
//
// The workflow maps the message (Connector::map, ids through the crosswalk
// under the connector's crosswalk_system) and, in the transaction that
// completes it:
//   - mapped: starts the canonical workflows (inventory_movement per
//     movement, channel_order per order version) with their "accepted" events;
//   - unmapped_sku / unmapped_location: parks the message in the crosswalk
//     under its first unknown id and opens the exception (one per message,
//     listing every unknown id). Adding the mapping replays it; a message
//     still missing another id is parked again under that one; when it goes
//     through, the exception is resolved by "crosswalk";
//   - invalid_payload: keeps the raw payload in quarantine and opens
//     `malformed_payload`;
//   - unsupported: records nothing more (counted by topic in the log).
// A store error while resolving ids fails the step retryably.
//
// Thread-safety: add() and define() before the engine runs; the rest from
// any thread.

#include <functional>
#include <map>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "trueup/connector/connector.hpp"
#include "trueup/messaging/inbox.hpp"
#include "trueup/workflow/engine.hpp"

namespace trueup::messaging {
class Outbox;
}
namespace trueup::crosswalk {
class Crosswalk;
}

namespace trueup::connector {

inline constexpr const char* kInboundWorkflow = "connector_inbound";

struct HubDeps {
  store::Store& store;
  messaging::Inbox& inbox;
  messaging::Outbox& outbox;
  workflow::Engine& engine;
  workflow::ExceptionQueue& exceptions;
  crosswalk::Crosswalk& crosswalk;
  std::string event_source;  // ce_source of the events it emits
};

// The rows intake writes for one inbound message.
struct InboundIntake {
  messaging::InboxMessage message;
  workflow::StartRequest start;
};

class Hub {
 public:
  explicit Hub(HubDeps deps);
  ~Hub();

  // Errc::already_exists for a second instance with the same id. `metrics`
  // (the instance's, as given to its factory) counts its webhook deliveries.
  Status add(std::unique_ptr<Connector> connector, std::unique_ptr<ConnectorMetrics> metrics);
  ConnectorMetrics* metrics(std::string_view id) const;
  Connector* find(std::string_view id) const;
  std::vector<std::string> ids() const;

  // Defines the inbound workflow and the crosswalk replayers. Once, before
  // the engine runs.
  void define();

  static InboundIntake intake(const Connector& connector, const Inbound& message);

  // Starts a poller thread per instance whose poll_interval() is not 0. A
  // poll runs only while `leadership(instance id)` says this process holds
  // that instance's polling (one instance at a time across processes); its
  // messages (inbox rows + inbound workflows, deduplicated like webhooks) and
  // the new cursor (table connector_cursor) commit in one transaction, so a
  // crash repeats a poll, never skips one.
  using Leadership = std::function<std::function<bool()>(const std::string& instance_id)>;
  void start_polling(Leadership leadership);
  // Stops the pollers (a poll in flight finishes first). Idempotent.
  void stop();

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace trueup::connector
