// The embedded bus: Kafka's model (topics of partitions, consumer groups with
// committed offsets) in process memory, for `trueup dev`, single-instance
// installs and tests.
//
// - A topic is a fixed number of append-only partitions; a message's offset is
//   its index. A non-empty key picks the partition with Kafka's murmur2, an
//   empty key goes round-robin.
// - Everything is kept in memory for the life of the process: no retention,
//   nothing survives a restart (docs/bus.md says so).
// - Members of one group split the partitions of each topic they subscribe to
//   (partition p goes to the (p mod n)-th member by join order), like Kafka's
//   range/round-robin assignors. A join or leave moves partitions at once:
//   a partition's new owner resumes from the group's committed offset, and a
//   commit by the old owner fails with Errc::conflict.
// - Delivery callbacks run on one bus-owned thread in produce order.
//
// One mutex guards topics and groups; consumers wait on one condition
// variable that is notified on every append, join, leave, topic creation and
// stop.

#include <algorithm>
#include <chrono>
#include <compare>
#include <condition_variable>
#include <cstdint>
#include <deque>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <set>
#include <stdexcept>
#include <string>
#include <thread>
#include <utility>
#include <vector>

#include "delivery_wait.hpp"
#include "trueup/bus/bus.hpp"

namespace trueup::bus {
namespace {

using Clock = std::chrono::steady_clock;
using DeliveryCallback = std::function<void(Result<Delivery>)>;

std::string join_names(const std::vector<std::string>& names) {
  std::string out;
  for (const auto& n : names) {
    if (!out.empty()) out += ", ";
    out += n;
  }
  return out;
}

// Runs delivery callbacks one at a time, in the order they were posted, on its
// own thread. `stop` runs what is queued, then joins. The queue lives in a
// block the thread shares, so dropping the last owner inside a callback is safe.
class DeliveryThread {
 public:
  DeliveryThread() : queue_(std::make_shared<Queue>()), thread_([q = queue_] { q->run(); }) {}
  DeliveryThread(const DeliveryThread&) = delete;
  DeliveryThread& operator=(const DeliveryThread&) = delete;
  ~DeliveryThread() {
    if (on_this_thread()) {
      // The last owner went away inside a callback: the loop drains and ends
      // by itself, keeping its queue alive.
      queue_->request_stop();
      thread_.detach();
      return;
    }
    stop();
  }

  void post(DeliveryCallback callback, Result<Delivery> result) {
    if (auto rejected = queue_->post(std::move(callback), std::move(result)))
      rejected->first(std::move(rejected->second));  // after stop(): run here
  }

  bool on_this_thread() const { return std::this_thread::get_id() == thread_.get_id(); }

  // Whether every posted callback has returned by `deadline`.
  bool wait_idle(Clock::time_point deadline) { return queue_->wait_idle(deadline); }

  void stop() {
    queue_->request_stop();
    if (thread_.joinable()) thread_.join();
  }

 private:
  using Item = std::pair<DeliveryCallback, Result<Delivery>>;

  class Queue {
   public:
    // The item back when the queue no longer runs callbacks.
    std::optional<Item> post(DeliveryCallback callback, Result<Delivery> result) {
      std::lock_guard lock(mu_);
      if (stopping_) return Item(std::move(callback), std::move(result));
      items_.emplace_back(std::move(callback), std::move(result));
      ++pending_;
      work_cv_.notify_one();
      return std::nullopt;
    }

    bool wait_idle(Clock::time_point deadline) {
      std::unique_lock lock(mu_);
      return idle_cv_.wait_until(lock, deadline, [&] { return pending_ == 0; });
    }

    void request_stop() {
      std::lock_guard lock(mu_);
      stopping_ = true;
      work_cv_.notify_one();
    }

    void run() {
      std::unique_lock lock(mu_);
      for (;;) {
        work_cv_.wait(lock, [&] { return stopping_ || !items_.empty(); });
        if (items_.empty()) return;  // stopping and drained
        {
          Item item = std::move(items_.front());
          items_.pop_front();
          lock.unlock();
          item.first(std::move(item.second));
        }  // the callback's captures die before the lock is taken again
        lock.lock();
        if (--pending_ == 0) idle_cv_.notify_all();
      }
    }

   private:
    std::mutex mu_;
    std::condition_variable work_cv_;
    std::condition_variable idle_cv_;
    std::deque<Item> items_;
    std::size_t pending_ = 0;
    bool stopping_ = false;
  };

  std::shared_ptr<Queue> queue_;
  std::thread thread_;
};

struct TopicPartition {
  std::string topic;
  std::int32_t partition = 0;
  auto operator<=>(const TopicPartition&) const = default;
};

struct Topic {
  std::vector<std::vector<Message>> partitions;
  std::uint64_t next_unkeyed = 0;
};

struct Group {
  std::map<TopicPartition, std::int64_t> committed;
  // member id -> subscribed topics; ids grow, so map order is join order.
  std::map<std::uint64_t, std::vector<std::string>> members;
};

struct State {
  explicit State(EmbeddedSettings s) : settings(s) {
    if (settings.default_partitions < 1) settings.default_partitions = 1;
  }

  EmbeddedSettings settings;
  std::mutex mu;
  std::condition_variable changed;  // append, join, leave, new topic, stop
  std::map<std::string, Topic> topics;
  std::map<std::string, Group> groups;
  std::uint64_t next_member = 1;
  std::uint64_t assignment_epoch = 0;  // bumps when any assignment may change
  bool stopped = false;
  DeliveryThread deliveries;  // last: destroyed (joined) first
};

Error stopped_error() { return make_error(Errc::unavailable, "embedded bus is stopped"); }

class EmbeddedProducer final : public Producer {
 public:
  explicit EmbeddedProducer(std::shared_ptr<State> state) : state_(std::move(state)) {}

  void produce(Message message, DeliveryCallback on_delivery) override {
    if (!on_delivery) on_delivery = [](Result<Delivery>) {};
    std::unique_lock lock(state_->mu);
    if (state_->stopped) {
      lock.unlock();
      on_delivery(stopped_error());
      return;
    }
    auto it = state_->topics.find(message.topic);
    if (it == state_->topics.end()) {
      state_->deliveries.post(
          std::move(on_delivery),
          make_error(Errc::not_found, "topic '" + message.topic + "' does not exist (create it with ensure_topics)"));
      return;
    }
    Topic& topic = it->second;
    const auto count = static_cast<std::int32_t>(topic.partitions.size());
    const std::int32_t partition = message.key.empty()
                                       ? static_cast<std::int32_t>(topic.next_unkeyed++ % topic.partitions.size())
                                       : partition_for_key(message.key, count);
    auto& log = topic.partitions[static_cast<std::size_t>(partition)];
    message.partition = partition;
    message.offset = static_cast<std::int64_t>(log.size());
    Delivery delivery{message.topic, partition, message.offset};
    log.push_back(std::move(message));
    // Posted under the lock so reports follow offsets.
    state_->deliveries.post(std::move(on_delivery), std::move(delivery));
    lock.unlock();
    state_->changed.notify_all();
  }

  Result<Delivery> produce_sync(Message message, std::chrono::milliseconds timeout) override {
    if (state_->deliveries.on_this_thread())
      return make_error(Errc::invalid_argument, "produce_sync called from a delivery callback");
    return detail::produce_and_wait(*this, std::move(message), timeout);
  }

  Status flush(std::chrono::milliseconds timeout) override {
    if (state_->deliveries.on_this_thread())
      return make_error(Errc::invalid_argument, "flush called from a delivery callback");
    if (!state_->deliveries.wait_idle(Clock::now() + timeout))
      return make_error(Errc::timeout,
                        "delivery callbacks still running after " + std::to_string(timeout.count()) + " ms");
    return Ok{};
  }

 private:
  std::shared_ptr<State> state_;
};

class EmbeddedConsumer final : public Consumer {
 public:
  EmbeddedConsumer(std::shared_ptr<State> state, std::string group, std::vector<std::string> topics)
      : state_(std::move(state)), group_(std::move(group)), topics_(std::move(topics)) {
    std::sort(topics_.begin(), topics_.end());
    topics_.erase(std::unique(topics_.begin(), topics_.end()), topics_.end());
    {
      std::lock_guard lock(state_->mu);
      member_ = state_->next_member++;
      state_->groups[group_].members.emplace(member_, topics_);
      ++state_->assignment_epoch;
    }
    state_->changed.notify_all();
  }

  ~EmbeddedConsumer() override { close(); }

  Result<std::optional<Message>> poll(std::chrono::milliseconds timeout) override {
    if (closed_) return make_error(Errc::invalid_argument, "poll on a closed consumer");
    const auto deadline = Clock::now() + timeout;
    std::unique_lock lock(state_->mu);
    for (;;) {
      if (state_->stopped) return stopped_error();
      refresh_assignment();
      if (auto message = next_message()) return std::optional<Message>(std::move(*message));
      if (Clock::now() >= deadline) return std::optional<Message>();
      state_->changed.wait_until(lock, deadline);
    }
  }

  Status commit(const Message& message) override {
    if (closed_) return make_error(Errc::invalid_argument, "commit on a closed consumer");
    if (!std::binary_search(topics_.begin(), topics_.end(), message.topic))
      return make_error(Errc::invalid_argument,
                        "commit for topic '" + message.topic + "' this consumer is not subscribed to");
    std::lock_guard lock(state_->mu);
    if (state_->stopped) return stopped_error();
    refresh_assignment();
    TopicPartition tp{message.topic, message.partition};
    if (!positions_.contains(tp))
      return make_error(Errc::conflict, "partition " + message.topic + "/" + std::to_string(message.partition) +
                                            " is no longer assigned to this member of group '" + group_ +
                                            "' (the group rebalanced)");
    const auto& log = state_->topics.at(message.topic).partitions.at(static_cast<std::size_t>(message.partition));
    if (message.offset < 0 || message.offset >= static_cast<std::int64_t>(log.size()))
      return make_error(Errc::invalid_argument, "commit of offset " + std::to_string(message.offset) +
                                                    " that partition " + message.topic + "/" +
                                                    std::to_string(message.partition) + " never held");
    state_->groups[group_].committed[tp] = message.offset + 1;
    return Ok{};
  }

  void close() override {
    if (closed_) return;
    closed_ = true;
    {
      std::lock_guard lock(state_->mu);
      state_->groups[group_].members.erase(member_);
      ++state_->assignment_epoch;
    }
    state_->changed.notify_all();
  }

 private:
  // Recomputes which partitions this member owns when any assignment may have
  // changed. Kept partitions keep their position; new ones start at the
  // group's committed offset. Caller holds state_->mu.
  void refresh_assignment() {
    if (seen_epoch_ == state_->assignment_epoch) return;
    seen_epoch_ = state_->assignment_epoch;
    Group& group = state_->groups[group_];
    std::map<TopicPartition, std::int64_t> next;
    for (const auto& name : topics_) {
      auto topic = state_->topics.find(name);
      if (topic == state_->topics.end()) continue;
      std::vector<std::uint64_t> members;
      for (const auto& [id, subscribed] : group.members)
        if (std::binary_search(subscribed.begin(), subscribed.end(), name)) members.push_back(id);
      const auto me = std::find(members.begin(), members.end(), member_);
      if (me == members.end()) continue;
      const auto index = static_cast<std::size_t>(me - members.begin());
      for (std::size_t p = 0; p < topic->second.partitions.size(); ++p) {
        if (p % members.size() != index) continue;
        TopicPartition tp{name, static_cast<std::int32_t>(p)};
        if (auto kept = positions_.find(tp); kept != positions_.end()) {
          next.emplace(tp, kept->second);
        } else {
          auto committed = group.committed.find(tp);
          next.emplace(tp, committed == group.committed.end() ? 0 : committed->second);
        }
      }
    }
    positions_ = std::move(next);
  }

  // The next unread message among owned partitions, taking partitions in
  // turn so one busy partition does not starve the others.
  std::optional<Message> next_message() {
    if (positions_.empty()) return std::nullopt;
    const std::size_t count = positions_.size();
    for (std::size_t i = 0; i < count; ++i) {
      auto it = std::next(positions_.begin(), static_cast<std::ptrdiff_t>((cursor_ + i) % count));
      const auto& log = state_->topics.at(it->first.topic).partitions.at(static_cast<std::size_t>(it->first.partition));
      if (it->second < static_cast<std::int64_t>(log.size())) {
        Message message = log[static_cast<std::size_t>(it->second)];
        ++it->second;
        cursor_ = (cursor_ + i + 1) % count;
        return message;
      }
    }
    return std::nullopt;
  }

  std::shared_ptr<State> state_;
  std::string group_;
  std::vector<std::string> topics_;  // sorted, unique
  std::uint64_t member_ = 0;
  bool closed_ = false;
  std::uint64_t seen_epoch_ = ~std::uint64_t{0};
  std::map<TopicPartition, std::int64_t> positions_;  // owned partition -> next offset to read
  std::size_t cursor_ = 0;
};

class EmbeddedBus final : public Bus {
 public:
  explicit EmbeddedBus(const EmbeddedSettings& settings) : state_(std::make_shared<State>(settings)) {}
  ~EmbeddedBus() override {
    if (state_->deliveries.on_this_thread()) {
      // Destroyed inside a callback: the delivery thread drains by itself.
      mark_stopped();
      return;
    }
    stop();
  }

  std::string_view engine() const noexcept override { return "embedded"; }

  Status ensure_topics(const std::vector<TopicSpec>& topics, bool create) override {
    for (const auto& spec : topics)
      if (spec.name.empty()) return make_error(Errc::invalid_argument, "a topic name is empty");
    {
      std::lock_guard lock(state_->mu);
      if (state_->stopped) return stopped_error();
      std::vector<std::string> missing;
      for (const auto& spec : topics)
        if (!state_->topics.contains(spec.name) &&
            std::find(missing.begin(), missing.end(), spec.name) == missing.end())
          missing.push_back(spec.name);
      if (missing.empty()) return Ok{};
      if (!create) return make_error(Errc::not_found, "missing topics: " + join_names(missing));
      for (const auto& spec : topics) {
        if (state_->topics.contains(spec.name)) continue;
        const int partitions = spec.partitions > 0 ? spec.partitions : state_->settings.default_partitions;
        state_->topics[spec.name].partitions.resize(static_cast<std::size_t>(partitions));
      }
      ++state_->assignment_epoch;
    }
    state_->changed.notify_all();
    return Ok{};
  }

  Result<std::unique_ptr<Producer>> producer() override {
    std::lock_guard lock(state_->mu);
    if (state_->stopped) return stopped_error();
    return std::unique_ptr<Producer>(std::make_unique<EmbeddedProducer>(state_));
  }

  Result<std::unique_ptr<Consumer>> consumer(const std::string& group,
                                             const std::vector<std::string>& topics) override {
    if (group.empty()) return make_error(Errc::invalid_argument, "consumer group name is empty");
    if (topics.empty()) return make_error(Errc::invalid_argument, "consumer of group '" + group + "' has no topics");
    {
      std::lock_guard lock(state_->mu);
      if (state_->stopped) return stopped_error();
    }
    return std::unique_ptr<Consumer>(std::make_unique<EmbeddedConsumer>(state_, group, topics));
  }

  Status ping(std::chrono::milliseconds) override {
    std::lock_guard lock(state_->mu);
    if (state_->stopped) return stopped_error();
    return Ok{};
  }

  void stop() override {
    if (state_->deliveries.on_this_thread()) throw std::logic_error("Bus::stop called from a delivery callback");
    mark_stopped();
    // Every produce accepted before `stopped` was set is queued: run them all.
    state_->deliveries.stop();
  }

 private:
  void mark_stopped() {
    {
      std::lock_guard lock(state_->mu);
      state_->stopped = true;
    }
    state_->changed.notify_all();
  }

  std::shared_ptr<State> state_;
};

}  // namespace

std::unique_ptr<Bus> open_embedded(const EmbeddedSettings& settings) { return std::make_unique<EmbeddedBus>(settings); }

}  // namespace trueup::bus
