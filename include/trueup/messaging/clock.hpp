#pragma once
// The wall clock the messaging module reads, injectable so tests control
// expiry and lag. An empty Clock means std::chrono::system_clock::now.

#include <chrono>
#include <functional>

namespace trueup::messaging {

using Clock = std::function<std::chrono::system_clock::time_point()>;

inline std::chrono::system_clock::time_point now_of(const Clock& clock) {
  return clock ? clock() : std::chrono::system_clock::now();
}

}  // namespace trueup::messaging
