#pragma once
// The daemon's configured connector instances and what ties them to the
// durable core.
//
// Outbound: request() starts a "connector_outbound" workflow in the caller's
// transaction (so a state change and the calls it causes commit together);
// its one step, "perform", calls Connector::perform with the step's stable
// idempotency key and keeps the answer in the workflow's context. Retryable
// errors wait and retry (retry policy "connector_outbound.perform",
// overridable in `workflow.retry`); others fail the workflow, which opens a
// workflow exception with the target's message.
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

#include <chrono>
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
inline constexpr const char* kOutboundWorkflow = "connector_outbound";
// The outbound step's timeout (a call's in-call retries and rate-limit waits
// included); past it the attempt counts as a retryable timeout.
inline constexpr std::chrono::milliseconds kOutboundStepTimeout{180000};

// One outbound operation to run (Hub::request).
struct OutboundRequest {
  std::string connector;        // instance id
  std::string operation;        // one of its OperationSpec names
  nlohmann::json input;         // the operation's input
  std::string dedupe_key;       // a second request with the same key is the same workflow
  std::string correlation_key;  // for listing and signals; default "<connector>:<operation>"
};

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

  // Crosswalk lookups for connectors (Services::ids).
  ExternalIds& external_ids();
  // The spec of `operation` on instance `connector_id`: not_found names what
  // is missing (and lists the instance's operations).
  Result<OperationSpec> operation(std::string_view connector_id, std::string_view operation) const;
  // Starts the outbound workflow (see above). not_found for an unknown
  // instance or operation; created=false when `dedupe_key` was seen.
  Result<workflow::Started> request(store::Transaction& tx, const OutboundRequest& request);

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
