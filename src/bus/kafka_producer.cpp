#include "kafka_producer.hpp"

#include <spdlog/spdlog.h>

#include <stdexcept>
#include <string>
#include <utility>

#include "delivery_wait.hpp"
#include "kafka_support.hpp"

namespace trueup::bus::kafka {
namespace {
using Clock = std::chrono::steady_clock;

Error stopped_error() { return make_error(Errc::unavailable, "kafka producer is stopped"); }

void invoke(DeliveryCallback& callback, Result<Delivery> result) {
  // Delivery callbacks run on a C callback path: an exception must not cross it.
  try {
    callback(std::move(result));
  } catch (const std::exception& e) {
    spdlog::default_logger()->error("kafka delivery callback threw: {}", e.what());
  } catch (...) {
    spdlog::default_logger()->error("kafka delivery callback threw a non-exception");
  }
}
}  // namespace

Result<std::shared_ptr<ProducerCore>> ProducerCore::start(const KafkaSettings& settings) {
  auto conf = make_conf(settings, Role::producer);
  if (!conf) return std::move(conf).error();
  std::shared_ptr<ProducerCore> core(new ProducerCore(settings.request_timeout));
  rd_kafka_conf_set_opaque(conf->get(), core.get());
  rd_kafka_conf_set_dr_msg_cb(conf->get(), &ProducerCore::on_delivery_report);
  auto rk = new_handle(RD_KAFKA_PRODUCER, std::move(*conf));
  if (!rk) return std::move(rk).error();
  core->rk_ = *rk;
  core->poller_ = std::thread([c = core.get()] { c->poll_loop(); });
  return core;
}

ProducerCore::~ProducerCore() { stop(stop_timeout_); }

bool ProducerCore::on_delivery_thread() const noexcept { return std::this_thread::get_id() == poller_.get_id(); }

void ProducerCore::produce(Message message, DeliveryCallback on_delivery) {
  if (!on_delivery) on_delivery = [](Result<Delivery>) {};
  std::shared_lock client(client_mu_);
  if (stopped_) {
    client.unlock();
    on_delivery(stopped_error());
    return;
  }
  auto* tracked = new InFlight{std::move(on_delivery), message.topic};
  {
    std::lock_guard lock(mu_);
    in_flight_.insert(tracked);
    ++pending_;
  }

  // An empty key goes as a null key: librdkafka spreads those randomly.
  void* key = message.key.empty() ? nullptr : message.key.data();
  rd_kafka_resp_err_t err;
  if (message.headers.empty()) {
    err = rd_kafka_producev(rk_, RD_KAFKA_V_TOPIC(message.topic.c_str()), RD_KAFKA_V_KEY(key, message.key.size()),
                            RD_KAFKA_V_VALUE(message.value.data(), message.value.size()),
                            RD_KAFKA_V_MSGFLAGS(RD_KAFKA_MSG_F_COPY), RD_KAFKA_V_OPAQUE(tracked), RD_KAFKA_V_END);
  } else {
    rd_kafka_headers_t* headers = rd_kafka_headers_new(message.headers.size());
    for (const auto& h : message.headers)
      rd_kafka_header_add(headers, h.name.data(), static_cast<ssize_t>(h.name.size()), h.value.data(),
                          static_cast<ssize_t>(h.value.size()));
    err = rd_kafka_producev(rk_, RD_KAFKA_V_TOPIC(message.topic.c_str()), RD_KAFKA_V_KEY(key, message.key.size()),
                            RD_KAFKA_V_VALUE(message.value.data(), message.value.size()),
                            RD_KAFKA_V_MSGFLAGS(RD_KAFKA_MSG_F_COPY), RD_KAFKA_V_HEADERS(headers),
                            RD_KAFKA_V_OPAQUE(tracked), RD_KAFKA_V_END);
    if (err != RD_KAFKA_RESP_ERR_NO_ERROR) rd_kafka_headers_destroy(headers);  // librdkafka took them only on success
  }
  if (err != RD_KAFKA_RESP_ERR_NO_ERROR) {
    std::string context = "produce to topic '" + message.topic + "'";
    if (err == RD_KAFKA_RESP_ERR__QUEUE_FULL)
      context += " (the local queue is full: slow down or raise queue.buffering.max.messages)";
    defer(tracked, error_from(err, context));
  }
}

void ProducerCore::defer(InFlight* message, Error error) {
  {
    std::lock_guard lock(mu_);
    deferred_.emplace_back(message, std::move(error));
  }
  rd_kafka_yield(rk_);  // wake the delivery thread's poll
}

void ProducerCore::on_delivery_report(rd_kafka_t*, const rd_kafka_message_t* message, void* opaque) {
  auto* core = static_cast<ProducerCore*>(opaque);
  auto* tracked = static_cast<InFlight*>(message->_private);
  if (message->err == RD_KAFKA_RESP_ERR_NO_ERROR) {
    core->finish(tracked, Delivery{tracked->topic, message->partition, message->offset});
    return;
  }
  std::string context = "delivery to topic '" + tracked->topic + "' failed";
  if (rd_kafka_message_status(message) == RD_KAFKA_MSG_STATUS_POSSIBLY_PERSISTED)
    context += " (the broker may have stored it: producing it again can duplicate it)";
  core->finish(tracked, error_from(message->err, context));
}

void ProducerCore::finish(InFlight* message, Result<Delivery> result) {
  {
    std::lock_guard lock(mu_);
    if (in_flight_.erase(message) == 0) return;  // already finished (cannot happen; never twice)
  }
  invoke(message->callback, std::move(result));
  delete message;
  std::lock_guard lock(mu_);
  if (--pending_ == 0) idle_cv_.notify_all();
}

void ProducerCore::run_deferred() {
  std::deque<std::pair<InFlight*, Error>> ready;
  {
    std::lock_guard lock(mu_);
    ready.swap(deferred_);
  }
  for (auto& [message, error] : ready) finish(message, std::move(error));
}

void ProducerCore::poll_loop() {
  while (!stop_polling_.load()) {
    rd_kafka_poll(rk_, 100);
    run_deferred();
  }
  rd_kafka_poll(rk_, 0);
  run_deferred();
}

bool ProducerCore::wait_idle(Clock::time_point deadline) {
  std::unique_lock lock(mu_);
  return idle_cv_.wait_until(lock, deadline, [&] { return pending_ == 0; });
}

Status ProducerCore::flush(std::chrono::milliseconds timeout) {
  if (on_delivery_thread()) return make_error(Errc::invalid_argument, "flush called from a delivery callback");
  // Not rd_kafka_flush: it would serve callbacks on this thread. The delivery
  // thread keeps polling; linger.ms only delays, so this waits at most that
  // long more than the broker needs.
  if (wait_idle(Clock::now() + timeout)) return Ok{};
  std::size_t left = 0;
  {
    std::lock_guard lock(mu_);
    left = pending_;
  }
  return make_error(Errc::timeout, std::to_string(left) + " messages still without a delivery report after " +
                                       std::to_string(timeout.count()) + " ms");
}

Status ProducerCore::with_client(const std::function<Status(rd_kafka_t*)>& request) {
  std::shared_lock client(client_mu_);
  if (stopped_) return stopped_error();
  return request(rk_);
}

void ProducerCore::stop(std::chrono::milliseconds timeout) {
  if (on_delivery_thread()) throw std::logic_error("kafka bus stopped from a delivery callback");
  {
    std::unique_lock client(client_mu_);  // waits for produce()/with_client() in progress
    if (stopped_) return;
    stopped_ = true;
  }
  if (rk_ == nullptr) return;  // start() failed before the client existed
  if (!wait_idle(Clock::now() + timeout)) {
    spdlog::default_logger()->warn(
        "kafka producer stopping with messages still without a delivery report after {} ms; failing them",
        timeout.count());
    rd_kafka_purge(rk_, RD_KAFKA_PURGE_F_QUEUE | RD_KAFKA_PURGE_F_INFLIGHT);
    (void)wait_idle(Clock::now() + std::chrono::seconds(2));  // the purged reports come through the poll loop
  }
  stop_polling_ = true;
  if (poller_.joinable()) poller_.join();
  rd_kafka_destroy(rk_);
  rk_ = nullptr;
  // Whatever librdkafka did not report (it reports nothing after destroy)
  // fails here, so every callback still runs exactly once.
  std::unordered_set<InFlight*> left;
  {
    std::lock_guard lock(mu_);
    left = in_flight_;
  }
  for (auto* message : left)
    finish(message, make_error(Errc::unavailable,
                               "kafka producer stopped before the delivery report for topic '" + message->topic + "'"));
}

void KafkaProducer::produce(Message message, DeliveryCallback on_delivery) {
  core_->produce(std::move(message), std::move(on_delivery));
}

Result<Delivery> KafkaProducer::produce_sync(Message message, std::chrono::milliseconds timeout) {
  if (core_->on_delivery_thread())
    return make_error(Errc::invalid_argument, "produce_sync called from a delivery callback");
  return detail::produce_and_wait(*this, std::move(message), timeout);
}

Status KafkaProducer::flush(std::chrono::milliseconds timeout) { return core_->flush(timeout); }

}  // namespace trueup::bus::kafka
