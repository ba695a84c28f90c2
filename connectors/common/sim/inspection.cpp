#include "common/sim/inspection.hpp"

namespace trueup::connectors::sim {
namespace {

template <class Map>
std::uint64_t& slot(Map& map, std::string_view key) {
  auto it = map.find(key);
  if (it == map.end()) it = map.emplace(std::string(key), 0).first;
  return it->second;
}

template <class Log, class Entry>
void append_bounded(Log& log, Entry entry) {
  log.push_back(std::move(entry));
  if (log.size() > Inspection::kLogLimit) log.pop_front();
}

}  // namespace

void Inspection::count_request(std::string_view operation) {
  std::lock_guard lock(mu_);
  ++slot(requests_, operation);
}

void Inspection::record_write(std::string_view operation, nlohmann::json what) {
  std::lock_guard lock(mu_);
  ++slot(writes_, operation);
  append_bounded(write_log_, nlohmann::json{{"operation", operation}, {"body", std::move(what)}});
}

void Inspection::count_key(std::string_view family, std::string_view key) {
  std::lock_guard lock(mu_);
  auto it = keys_.find(family);
  if (it == keys_.end())
    it = keys_.emplace(std::string(family), std::map<std::string, std::uint64_t, std::less<>>{}).first;
  ++slot(it->second, key);
}

void Inspection::bump(std::uint64_t& counter) {
  std::lock_guard lock(mu_);
  ++counter;
}
void Inspection::count_throttled() { bump(throttled_); }
void Inspection::count_injected_error() { bump(injected_); }
void Inspection::count_timeout() { bump(timeouts_); }
void Inspection::count_unauthorized() { bump(unauthorized_); }
void Inspection::count_event_published() { bump(published_); }
void Inspection::count_event_dropped() { bump(dropped_); }
void Inspection::count_event_undeliverable() { bump(undeliverable_); }
void Inspection::record_attempt(DeliveryAttempt attempt) {
  std::lock_guard lock(mu_);
  append_bounded(attempts_, std::move(attempt));
}
void Inspection::count_delivery_done(bool delivered) { bump(delivered ? delivered_ : failed_); }

std::uint64_t Inspection::writes(std::string_view operation) const {
  std::lock_guard lock(mu_);
  auto it = writes_.find(operation);
  return it == writes_.end() ? 0 : it->second;
}

std::uint64_t Inspection::key_count(std::string_view family, std::string_view key) const {
  std::lock_guard lock(mu_);
  auto f = keys_.find(family);
  if (f == keys_.end()) return 0;
  auto k = f->second.find(key);
  return k == f->second.end() ? 0 : k->second;
}

std::uint64_t Inspection::read(const std::uint64_t& counter) const {
  std::lock_guard lock(mu_);
  return counter;
}
std::uint64_t Inspection::throttled() const { return read(throttled_); }
std::uint64_t Inspection::injected_errors() const { return read(injected_); }

nlohmann::json Inspection::to_json() const {
  std::lock_guard lock(mu_);
  nlohmann::json attempts = nlohmann::json::array();
  for (const auto& a : attempts_) {
    nlohmann::json j{{"delivery_id", a.delivery_id}, {"event_id", a.event_id},   {"topic", a.topic},
                     {"attempt", a.attempt},         {"duplicate", a.duplicate}, {"status", a.status},
                     {"sent_at", a.sent_at}};
    if (!a.error.empty()) j["error"] = a.error;
    attempts.push_back(std::move(j));
  }
  nlohmann::json keys = nlohmann::json::object();
  for (const auto& [family, counts] : keys_) {
    auto& out = keys[family] = nlohmann::json::object();
    for (const auto& [k, n] : counts) out[k] = n;
  }
  nlohmann::json requests = nlohmann::json::object(), writes = nlohmann::json::object();
  for (const auto& [op, n] : requests_) requests[op] = n;
  for (const auto& [op, n] : writes_) writes[op] = n;
  return nlohmann::json{{"requests", std::move(requests)},
                        {"writes", std::move(writes)},
                        {"write_log", nlohmann::json(write_log_)},
                        {"keys", std::move(keys)},
                        {"throttled_429", throttled_},
                        {"injected_5xx", injected_},
                        {"timeouts", timeouts_},
                        {"unauthorized", unauthorized_},
                        {"webhooks",
                         {{"published", published_},
                          {"dropped", dropped_},
                          {"undeliverable", undeliverable_},
                          {"delivered", delivered_},
                          {"failed", failed_},
                          {"attempts", std::move(attempts)}}}};
}

void Inspection::reset() {
  std::lock_guard lock(mu_);
  requests_.clear();
  writes_.clear();
  write_log_.clear();
  keys_.clear();
  throttled_ = injected_ = timeouts_ = unauthorized_ = 0;
  published_ = dropped_ = undeliverable_ = delivered_ = failed_ = 0;
  attempts_.clear();
}

}  // namespace trueup::connectors::sim
