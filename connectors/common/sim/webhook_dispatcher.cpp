#include "common/sim/webhook_dispatcher.hpp"

#include <algorithm>

#include "trueup/core/time.hpp"

namespace trueup::connectors::sim {
namespace {

constexpr const char* kTarget = "sim-webhooks";

Error invalid(const std::string& at, std::string_view what) {
  return make_error(Errc::invalid_argument, at + ": " + std::string(what));
}

}  // namespace

struct WebhookDispatcher::Delivery {
  WebhookEvent event;  // shared by a duplicate pair through the copy
  std::string delivery_id;
  bool duplicate = false;
  int attempt = 0;
};

Result<DeliverySettings> apply_delivery_json(const DeliverySettings& base, const nlohmann::json& patch,
                                             std::string_view pointer) {
  DeliverySettings s = base;
  const std::string at(pointer);
  if (!patch.is_object()) return invalid(at.empty() ? "/" : at, "expected an object");
  auto millis = [&](const nlohmann::json& v, const std::string& where, std::chrono::milliseconds& out, std::int64_t min,
                    std::int64_t max) -> Status {
    if (!v.is_number_integer() || v.get<std::int64_t>() < min || v.get<std::int64_t>() > max)
      return invalid(where, "expected milliseconds between " + std::to_string(min) + " and " + std::to_string(max));
    out = std::chrono::milliseconds(v.get<std::int64_t>());
    return Ok{};
  };
  for (const auto& [name, v] : patch.items()) {
    const std::string where = at + "/" + name;
    Status st = Ok{};
    if (name == "url") {
      if (!v.is_string()) return invalid(where, "expected a URL (text)");
      s.url = v.get<std::string>();
    } else if (name == "timeout_ms") {
      st = millis(v, where, s.timeout, 1, 600000);
    } else if (name == "retry_delay_ms") {
      st = millis(v, where, s.retry_delay, 0, 3600000);
    } else if (name == "max_retry_delay_ms") {
      st = millis(v, where, s.max_retry_delay, 0, 24LL * 3600000);
    } else if (name == "max_attempts") {
      if (!v.is_number_integer() || v.get<int>() < 1 || v.get<int>() > 20)
        return invalid(where, "expected an integer between 1 and 20");
      s.max_attempts = v.get<int>();
    } else {
      return invalid(where, "unknown member");
    }
    if (!st) return st.error();
  }
  return s;
}

WebhookDispatcher::WebhookDispatcher(DeliverySettings settings, WebhookSigner signer, FaultInjector& faults,
                                     Inspection& inspection, TaskScheduler& scheduler, http::OutboundClient& client)
    : settings_(std::move(settings)),
      signer_(std::move(signer)),
      faults_(faults),
      inspection_(inspection),
      scheduler_(scheduler),
      client_(client) {
  // One delivery at a time, so the receiver sees the order the faults made.
  client_.set_target_limits(kTarget, http::OutboundTargetLimits{1, settings_.max_pending});
}

WebhookDispatcher::~WebhookDispatcher() { stop(); }

void WebhookDispatcher::set_url(std::string url) {
  std::lock_guard lock(mu_);
  settings_.url = std::move(url);
}

std::string WebhookDispatcher::url() const {
  std::lock_guard lock(mu_);
  return settings_.url;
}

std::size_t WebhookDispatcher::pending() const {
  std::lock_guard lock(mu_);
  return pending_;
}

bool WebhookDispatcher::wait_idle(std::chrono::milliseconds bound) const {
  std::unique_lock lock(mu_);
  return idle_.wait_for(lock, bound, [this] { return pending_ == 0; });
}

void WebhookDispatcher::stop() {
  std::lock_guard lock(mu_);
  stopped_ = true;
  if (held_) {
    held_.reset();
    --pending_;
    inspection_.count_delivery_done(false);
  }
  idle_.notify_all();
}

void WebhookDispatcher::finish(bool delivered) {
  inspection_.count_delivery_done(delivered);
  std::lock_guard lock(mu_);
  --pending_;
  if (pending_ == 0) idle_.notify_all();
}

void WebhookDispatcher::publish(WebhookEvent event) {
  inspection_.count_event_published();
  const DeliveryFault fault = faults_.next_delivery();
  auto first = std::make_shared<Delivery>();
  first->delivery_id = faults_.next_uuid();
  const std::string second_id = fault.new_id_for_duplicate ? faults_.next_uuid() : first->delivery_id;
  first->event = std::move(event);
  {
    std::lock_guard lock(mu_);
    if (settings_.url.empty()) {
      inspection_.count_event_undeliverable();
      return;
    }
    const std::size_t copies = fault.duplicate ? 2 : 1;
    if (fault.drop || stopped_ || pending_ + copies > settings_.max_pending) {
      inspection_.count_event_dropped();
      return;
    }
    pending_ += copies;
  }
  // The copy is made before the first goes out (sending changes its attempt count).
  std::shared_ptr<Delivery> second;
  if (fault.duplicate) {
    second = std::make_shared<Delivery>(*first);
    second->delivery_id = second_id;
    second->duplicate = true;
  }
  schedule(first, fault.delay, fault.out_of_order);
  if (second) schedule(second, fault.delay, fault.out_of_order);
}

void WebhookDispatcher::schedule(std::shared_ptr<Delivery> d, std::chrono::milliseconds delay, bool out_of_order) {
  if (delay.count() == 0) {
    release(std::move(d), out_of_order);
    return;
  }
  if (!scheduler_.post_after(delay, [this, d, out_of_order] { release(d, out_of_order); })) finish(false);
}

void WebhookDispatcher::release(std::shared_ptr<Delivery> d, bool out_of_order) {
  if (!out_of_order) {
    send(std::move(d));
    return;
  }
  std::shared_ptr<Delivery> overtaken;
  std::uint64_t generation = 0;
  {
    std::lock_guard lock(mu_);
    if (held_) {
      overtaken = std::move(held_);
      held_.reset();
    } else {
      held_ = d;
      generation = ++held_generation_;
    }
  }
  if (overtaken) {
    // The newer delivery first, then the one that waited for it.
    send(std::move(d));
    send(std::move(overtaken));
    return;
  }
  const bool posted = scheduler_.post_after(settings_.reorder_window, [this, generation] {
    std::shared_ptr<Delivery> alone;
    {
      std::lock_guard lock(mu_);
      if (!held_ || held_generation_ != generation) return;
      alone = std::move(held_);
      held_.reset();
    }
    send(std::move(alone));
  });
  if (!posted) {
    std::shared_ptr<Delivery> alone;
    {
      std::lock_guard lock(mu_);
      if (held_ && held_generation_ == generation) alone = std::move(held_), held_.reset();
    }
    if (alone) finish(false);
  }
}

void WebhookDispatcher::send(std::shared_ptr<Delivery> d) {
  http::OutboundRequest request;
  {
    std::lock_guard lock(mu_);
    if (stopped_) {
      // finish() takes the lock itself.
      request.url.clear();
    } else {
      request.url = settings_.url;
    }
  }
  if (request.url.empty() || scheduler_.stopping()) {
    finish(false);
    return;
  }
  ++d->attempt;
  request.method = "POST";
  request.headers = signer_(d->event, d->delivery_id);
  request.body = d->event.body;
  request.timeout = settings_.timeout;
  request.target = kTarget;
  client_.send_async(std::move(request), [this, d](Result<http::OutboundReply> reply) {
    DeliveryAttempt a;
    a.delivery_id = d->delivery_id;
    a.event_id = d->event.event_id;
    a.topic = d->event.topic;
    a.attempt = d->attempt;
    a.duplicate = d->duplicate;
    a.sent_at = format_utc(std::chrono::system_clock::now());
    if (reply) {
      a.status = reply->status;
    } else {
      a.error = reply.error().describe();
    }
    const bool delivered = reply && reply->status / 100 == 2;
    inspection_.record_attempt(std::move(a));
    if (delivered || d->attempt >= settings_.max_attempts) {
      finish(delivered);
      return;
    }
    auto delay = settings_.retry_delay;
    for (int i = 1; i < d->attempt && delay < settings_.max_retry_delay; ++i) delay *= 2;
    delay = std::min(delay, settings_.max_retry_delay);
    if (!scheduler_.post_after(delay, [this, d] { send(d); })) finish(false);
  });
}

}  // namespace trueup::connectors::sim
