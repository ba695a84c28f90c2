#include "trueup/connector/target.hpp"

#include <cctype>
#include <thread>

#include "trueup/connector/headers.hpp"

namespace trueup::connector {
namespace {

using Clock = std::chrono::steady_clock;

// Sleeps `wait` unless that passes `deadline`.
Status pause(std::chrono::nanoseconds wait, SteadyTime deadline, const std::string& what) {
  if (Clock::now() + wait > deadline)
    return make_error(Errc::timeout, what + ": waiting " + std::to_string(wait.count() / 1000000) +
                                         " ms more would pass the call's deadline");
  std::this_thread::sleep_for(wait);
  return Ok{};
}

}  // namespace

Target::Target(TargetSettings settings, BudgetRegistry& budgets, http::OutboundClient& http, ConnectorMetrics& metrics)
    : settings_(std::move(settings)),
      budget_(budgets.obtain(settings_.name, settings_.budget)),
      http_(http),
      metrics_(metrics),
      backoff_(settings_.backoff),
      breaker_(settings_.breaker) {}

Result<http::OutboundReply> Target::send(const TargetCall& call) {
  const SteadyTime deadline = call.deadline.value_or(Clock::now() + std::chrono::minutes(2));
  const std::string what = settings_.name + " " + call.operation;
  Error last = make_error(Errc::unavailable, what + ": not tried");
  const int attempts = settings_.attempts < 1 ? 1 : settings_.attempts;
  for (int attempt = 0; attempt < attempts; ++attempt) {
    auto allowed = breaker_.allow(Clock::now());
    metrics_.set_breaker_state(breaker_.state(Clock::now()));
    if (!allowed.granted)
      return make_error(Errc::unavailable, what + ": circuit open after repeated failures (" + last.message +
                                               "); next try in " + std::to_string(allowed.wait.count() / 1000000) +
                                               " ms");
    for (;;) {
      auto admission = budget_.try_acquire(Clock::now(), call.cost);
      if (admission.granted) break;
      if (auto st = pause(admission.wait, deadline, what + " (rate limit)"); !st) return std::move(st).error();
    }
    http::OutboundRequest request;
    request.method = call.method;
    request.url = call.path.rfind("http://", 0) == 0 || call.path.rfind("https://", 0) == 0
                      ? call.path
                      : settings_.base_url + call.path;
    request.target = settings_.name;
    request.timeout = settings_.timeout;
    for (const auto& [name, value] : settings_.headers.fields()) request.headers.add(name, value);
    for (const auto& [name, value] : call.headers.fields()) request.headers.add(name, value);
    request.body = call.body;
    const auto started = Clock::now();
    auto reply = http_.send(request);
    const auto now = Clock::now();
    metrics_.record_request(call.operation, reply ? reply->status : 0, now - started);
    std::optional<std::chrono::milliseconds> asked;
    if (!reply) {
      last = make_error(Errc::unavailable, what + ": " + reply.error().message);
      breaker_.record_failure(now);
    } else {
      budget_.observe(reply->status, header_lookup(reply->headers), now, std::chrono::system_clock::now());
      metrics_.set_budget_remaining(budget_.snapshot(now).remaining);
      if (reply->status != 429 && reply->status < 500) {
        breaker_.record_success(now);
        metrics_.set_breaker_state(breaker_.state(now));
        return reply;
      }
      last = http_error(call.operation, *reply);
      last.message = settings_.name + " " + last.message;
      // A 429 is the budget's business (it pauses); only failures open the breaker.
      if (reply->status >= 500) breaker_.record_failure(now);
      if (const std::string* value = reply->headers.find("retry-after"))
        asked = parse_retry_after(*value, std::chrono::system_clock::now());
    }
    metrics_.set_breaker_state(breaker_.state(now));
    if (attempt + 1 < attempts)
      if (auto st = pause(backoff_.delay(attempt, asked), deadline, what + " (backoff)"); !st) return last;
  }
  return last;
}

Error http_error(std::string_view operation, const http::OutboundReply& reply) {
  Errc code = Errc::invalid_argument;
  if (reply.status == 404)
    code = Errc::not_found;
  else if (reply.status == 409 || reply.status == 412)
    code = Errc::conflict;
  else if (reply.status == 401 || reply.status == 403)
    code = Errc::unauthenticated;
  else if (reply.status == 429 || reply.status >= 500)
    code = Errc::unavailable;
  std::string body = reply.body.substr(0, 300);
  for (char& c : body)
    if (static_cast<unsigned char>(c) < 0x20) c = ' ';
  return make_error(code, std::string(operation) + ": HTTP " + std::to_string(reply.status) +
                              (body.empty() ? std::string() : " " + body));
}

std::string query_escape(std::string_view text) {
  static const char* hex = "0123456789ABCDEF";
  std::string out;
  for (unsigned char ch : text) {
    if (std::isalnum(ch) != 0 || ch == '-' || ch == '.' || ch == '_' || ch == '~') {
      out.push_back(static_cast<char>(ch));
    } else {
      out.push_back('%');
      out.push_back(hex[ch >> 4]);
      out.push_back(hex[ch & 15]);
    }
  }
  return out;
}

}  // namespace trueup::connector
