// The Shopify connector type: webhook ingress (orders/create, orders/updated,
// refunds/create, inventory_levels/update) with X-Shopify-Hmac-Sha256 checked
// on the raw body against the current and previous app secrets, dedupe on
// X-Shopify-Webhook-Id, and mapping to the canonical model
// (shopify_mapping.hpp). Registered as "shopify" under `connectors:`.

#include <array>

#include "shopify_mapping.hpp"
#include "shopify_payloads.hpp"
#include "trueup/connector/connector.hpp"
#include "trueup/connector/signature.hpp"

namespace trueup::connectors::shopify {
namespace {

using connector::Canonical;
using connector::Inbound;
using connector::WebhookOutcome;
using connector::WebhookRequest;

constexpr std::array<std::string_view, 4> kTopics{"orders/create", "orders/updated", "refunds/create",
                                                  "inventory_levels/update"};

// The one resource of a webhook body, or invalid_payload.
template <class T>
Mapped<T> single(Result<std::vector<T>> decoded, std::string_view what) {
  if (!decoded) return invalid_payload(decoded.error());
  if (decoded->size() != 1) return invalid_payload(std::string("expected one ") + std::string(what) + " resource");
  return std::move(decoded->front());
}

class ShopifyConnector final : public connector::Connector {
 public:
  ShopifyConnector(std::string id, model::ChannelCode channel, connector::SecretSet secrets)
      : Connector(std::move(id), "shopify"), channel_(std::move(channel)), secrets_(std::move(secrets)) {}

  Result<WebhookOutcome> receive_webhook(const WebhookRequest& request) override {
    const auto check =
        connector::verify_shopify_webhook(request.body, connector::shopify_hmac_header(request.headers), secrets_);
    if (check != connector::SignatureCheck::ok)
      return make_error(Errc::unauthenticated, std::string("shopify webhook signature: ") +
                                                   std::string(connector::signature_check_name(check)));
    const auto topic = connector::shopify_header(request.headers, "topic");
    const auto delivery = connector::shopify_header(request.headers, "webhook-id");
    if (!topic || topic->empty() || !delivery || delivery->empty())
      return make_error(Errc::invalid_argument, "a Shopify webhook needs X-Shopify-Topic and X-Shopify-Webhook-Id");
    WebhookOutcome out;
    for (auto t : kTopics)
      if (*topic == t)
        out.messages.push_back(Inbound{std::string(*delivery), std::string(t), std::string(request.body)});
    return out;
  }

  Mapped<Canonical> map(const Inbound& message, const IdResolver& resolver) override {
    const MappingContext context{channel_, resolver};
    Canonical out;
    if (message.topic == "orders/create" || message.topic == "orders/updated") {
      auto order = single(decode_orders(message.payload), "order");
      if (!order) return order.error();
      auto mapped = to_order(*order, context);
      if (!mapped) return mapped.error();
      out.orders.push_back(std::move(mapped).value());
    } else if (message.topic == "refunds/create") {
      auto refund = single(decode_refunds(message.payload), "refund");
      if (!refund) return refund.error();
      auto mapped = to_refund(*refund, context);
      if (!mapped) return mapped.error();
      out.movements = connector::restock_movements(*mapped, kSystem);
    } else if (message.topic == "inventory_levels/update") {
      auto level = single(decode_inventory_levels(message.payload), "inventory_level");
      if (!level) return level.error();
      auto mapped = to_count_movement(*level, context);
      if (!mapped) return mapped.error();
      out.movements.push_back(std::move(mapped).value());
    } else {
      return unsupported("topic " + message.topic + " is not taken by the shopify connector");
    }
    return out;
  }

 private:
  model::ChannelCode channel_;
  connector::SecretSet secrets_;
};

const connector::Registrar registrar{connector::ConnectorType{
    "shopify",
    "Shopify shops: webhooks for orders, refunds and inventory levels.",
    {
        config::required("channel", config::Type::string,
                         "Canonical channel code of this shop (orders and availability are per channel)."),
        config::required("webhook_secret", config::Type::secret,
                         "The app's client secret: X-Shopify-Hmac-Sha256 is checked with it."),
        config::optional("previous_webhook_secret", config::Type::secret,
                         "The secret before a rotation, still accepted (Shopify signs with it up to an hour)."),
    },
    [](const std::string& id, const config::Section& settings,
       connector::Services&) -> Result<std::unique_ptr<connector::Connector>> {
      connector::SecretSet secrets({settings.string("webhook_secret")});
      if (settings.present("previous_webhook_secret")) secrets.add(settings.string("previous_webhook_secret"));
      return std::unique_ptr<connector::Connector>(
          std::make_unique<ShopifyConnector>(id, settings.string("channel"), std::move(secrets)));
    }}};

}  // namespace
}  // namespace trueup::connectors::shopify
