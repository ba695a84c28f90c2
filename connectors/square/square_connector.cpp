// The Square connector type: webhook ingress with x-square-hmacsha256-signature
// checked on the notification URL + raw body against the current and previous
// signature keys, dedupe on event_id, and mapping (square_mapping.hpp):
// inventory.count.updated -> count movements, refund.* -> restock movements.
// Registered as "square" under `connectors:`.
//
// Not built yet, and said so: order.* events carry only id/state/version, and
// the order must be fetched (GET /v2/orders/{id}); that outbound call is not
// built. Such a message is kept in the inbox and its workflow logs
// "inbound message not processed" with that reason; nothing is applied.
// Payments likewise (settlement is a later issue).

#include <nlohmann/json.hpp>

#include "square_mapping.hpp"
#include "square_payloads.hpp"
#include "trueup/connector/connector.hpp"
#include "trueup/connector/signature.hpp"
#include "trueup/core/digest.hpp"

namespace trueup::connectors::square {
namespace {

using connector::Canonical;
using connector::Inbound;
using connector::WebhookReceipt;
using connector::WebhookRequest;

class SquareConnector final : public connector::Connector {
 public:
  SquareConnector(std::string id, model::ChannelCode channel, connector::SecretSet keys, std::string notification_url)
      : Connector(std::move(id), "square"),
        channel_(std::move(channel)),
        keys_(std::move(keys)),
        notification_url_(std::move(notification_url)) {}

  Result<WebhookReceipt> receive_webhook(const WebhookRequest& request) override {
    const std::string& url = notification_url_.empty() ? request.url : notification_url_;
    const auto check =
        connector::verify_square_webhook(url, request.body, request.headers(connector::kSquareSignatureHeader), keys_);
    if (check != connector::SignatureCheck::ok)
      return make_error(Errc::unauthenticated, std::string("square webhook signature: ") +
                                                   std::string(connector::signature_check_name(check)) +
                                                   " (signed URL " + url + ")");
    // Only the envelope is read here. An authentic body without an event id
    // is still kept: keyed by its content, it goes on to quarantine.
    auto envelope = nlohmann::json::parse(request.body, nullptr, false);
    std::string event_id, type;
    if (envelope.is_object()) {
      if (envelope.contains("event_id") && envelope["event_id"].is_string()) event_id = envelope["event_id"];
      if (envelope.contains("type") && envelope["type"].is_string()) type = envelope["type"];
    }
    if (event_id.empty()) event_id = "sha256:" + sha256_hex(request.body);
    WebhookReceipt out;
    out.messages.push_back(Inbound{event_id, type.empty() ? "unknown" : type, std::string(request.body)});
    return out;
  }

  Mapped<Canonical> map(const Inbound& message, const IdResolver& resolver) override {
    auto event = decode_webhook_event(message.payload);
    if (!event) {
      if (event.error().message.rfind("unsupported_event_type", 0) == 0) return unsupported(event.error().message);
      return invalid_payload(event.error());
    }
    const MappingContext context{channel_, resolver};
    Canonical out;
    if (const auto* counts = std::get_if<std::vector<InventoryCount>>(&event->payload)) {
      auto mapped = to_count_movements(*counts, context);
      if (!mapped) return mapped.error();
      out.movements = std::move(mapped).value();
    } else if (const auto* refund = std::get_if<PaymentRefund>(&event->payload)) {
      auto mapped = to_refund(*refund, context);
      if (!mapped) return mapped.error();
      out.movements = connector::restock_movements(*mapped, kSystem);
    } else if (std::holds_alternative<OrderChange>(event->payload)) {
      return unsupported("square " + event->type +
                         ": the order must be fetched (GET /v2/orders/{id}); that call is not built yet");
    } else {
      return unsupported("square " + event->type + ": payments are not used for stock (settlement is not built yet)");
    }
    return out;
  }

 private:
  model::ChannelCode channel_;
  connector::SecretSet keys_;
  std::string notification_url_;
};

const connector::Registrar registrar{connector::ConnectorType{
    "square",
    "Square POS accounts: webhooks for inventory counts and refunds.",
    {
        config::required("channel", config::Type::string, "Canonical channel code of the stores' sales, e.g. pos."),
        config::required("signature_key", config::Type::secret,
                         "The webhook subscription's signature key: x-square-hmacsha256-signature is checked with it."),
        config::optional("previous_signature_key", config::Type::secret, "The key before a rotation, still accepted."),
        config::optional("notification_url", config::Type::string,
                         "The URL exactly as registered in the Square subscription (Square signs it). Default: "
                         "webhooks.public_base_url + /v1/webhooks/{id}."),
    },
    [](const std::string& id, const config::Section& settings,
       connector::Services&) -> Result<std::unique_ptr<connector::Connector>> {
      connector::SecretSet keys({settings.string("signature_key")});
      if (settings.present("previous_signature_key")) keys.add(settings.string("previous_signature_key"));
      return std::unique_ptr<connector::Connector>(std::make_unique<SquareConnector>(
          id, settings.string("channel"), std::move(keys),
          settings.present("notification_url") ? settings.string("notification_url") : std::string()));
    }}};

}  // namespace
}  // namespace trueup::connectors::square
