#pragma once
// The Kafka engine's producer: one idempotent librdkafka producer per bus,
// shared by every Producer the bus hands out, with a thread that serves
// delivery reports (rd_kafka_poll) so each callback runs exactly once on it.
// The bus also runs its metadata and admin requests on this client.

#include <librdkafka/rdkafka.h>

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <deque>
#include <functional>
#include <memory>
#include <mutex>
#include <shared_mutex>
#include <thread>
#include <unordered_set>

#include "trueup/bus/bus.hpp"

namespace trueup::bus::kafka {

using DeliveryCallback = std::function<void(Result<Delivery>)>;

class ProducerCore {
 public:
  // Creates the client and starts the delivery thread. Does not contact the
  // brokers.
  static Result<std::shared_ptr<ProducerCore>> start(const KafkaSettings& settings);

  ProducerCore(const ProducerCore&) = delete;
  ProducerCore& operator=(const ProducerCore&) = delete;
  // Stops with the settings' request timeout when nobody did.
  ~ProducerCore();

  void produce(Message message, DeliveryCallback on_delivery);
  Status flush(std::chrono::milliseconds timeout);
  bool on_delivery_thread() const noexcept;

  // Runs `request` with the client unless stopped (Errc::unavailable then);
  // stop() waits for it to return.
  Status with_client(const std::function<Status(rd_kafka_t*)>& request);

  // Waits up to `timeout` for outstanding delivery reports, purges what is
  // left (their callbacks get Errc::unavailable), joins the delivery thread
  // and destroys the client. Idempotent. Throws std::logic_error when called
  // from a delivery callback.
  void stop(std::chrono::milliseconds timeout);

 private:
  struct InFlight {
    DeliveryCallback callback;
    std::string topic;
  };

  explicit ProducerCore(std::chrono::milliseconds stop_timeout) : stop_timeout_(stop_timeout) {}

  static void on_delivery_report(rd_kafka_t* rk, const rd_kafka_message_t* message, void* opaque);
  void finish(InFlight* message, Result<Delivery> result);
  void defer(InFlight* message, Error error);
  void poll_loop();
  void run_deferred();
  bool wait_idle(std::chrono::steady_clock::time_point deadline);

  const std::chrono::milliseconds stop_timeout_;
  rd_kafka_t* rk_ = nullptr;

  std::shared_mutex client_mu_;  // shared: produce/with_client; unique: stop
  bool stopped_ = false;

  std::mutex mu_;  // guards what follows
  std::condition_variable idle_cv_;
  std::unordered_set<InFlight*> in_flight_;
  std::deque<std::pair<InFlight*, Error>> deferred_;  // failed before reaching librdkafka
  std::size_t pending_ = 0;                           // callbacks that have not returned yet

  std::atomic<bool> stop_polling_{false};
  std::thread poller_;
};

class KafkaProducer final : public Producer {
 public:
  explicit KafkaProducer(std::shared_ptr<ProducerCore> core) : core_(std::move(core)) {}
  void produce(Message message, DeliveryCallback on_delivery) override;
  Result<Delivery> produce_sync(Message message, std::chrono::milliseconds timeout) override;
  Status flush(std::chrono::milliseconds timeout) override;

 private:
  std::shared_ptr<ProducerCore> core_;
};

}  // namespace trueup::bus::kafka
