// Kafka's murmur2 partitioner (org.apache.kafka.common.utils.Utils.murmur2,
// librdkafka's rd_murmur2): the same key lands on the same partition number in
// the embedded bus, in librdkafka (partitioner=murmur2_random) and in the
// Java clients.

#include <cstdint>
#include <string_view>

#include "trueup/bus/bus.hpp"

namespace trueup::bus {
namespace {

std::uint32_t murmur2(std::string_view data) noexcept {
  constexpr std::uint32_t seed = 0x9747b28c;
  constexpr std::uint32_t m = 0x5bd1e995;
  constexpr int r = 24;
  const auto length = static_cast<std::uint32_t>(data.size());
  const auto* bytes = reinterpret_cast<const unsigned char*>(data.data());

  std::uint32_t h = seed ^ length;
  const std::uint32_t blocks = length / 4;
  for (std::uint32_t i = 0; i < blocks; ++i) {
    const unsigned char* p = bytes + i * 4;
    std::uint32_t k =
        std::uint32_t{p[0]} | (std::uint32_t{p[1]} << 8) | (std::uint32_t{p[2]} << 16) | (std::uint32_t{p[3]} << 24);
    k *= m;
    k ^= k >> r;
    k *= m;
    h *= m;
    h ^= k;
  }
  const unsigned char* tail = bytes + blocks * 4;
  switch (length % 4) {
    case 3:
      h ^= std::uint32_t{tail[2]} << 16;
      [[fallthrough]];
    case 2:
      h ^= std::uint32_t{tail[1]} << 8;
      [[fallthrough]];
    case 1:
      h ^= std::uint32_t{tail[0]};
      h *= m;
      break;
    default:
      break;
  }
  h ^= h >> 13;
  h *= m;
  h ^= h >> 15;
  return h;
}

}  // namespace

std::int32_t partition_for_key(std::string_view key, std::int32_t partitions) noexcept {
  if (partitions <= 0) return 0;
  // Kafka's Utils.toPositive: clear the sign bit, not abs().
  const auto positive = static_cast<std::int32_t>(murmur2(key) & 0x7fffffffU);
  return positive % partitions;
}

}  // namespace trueup::bus
