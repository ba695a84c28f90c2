#include "trueup/http/client.hpp"

#include <boost/asio.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>
#include <charconv>

namespace trueup::http {

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace bhttp = beast::http;
using tcp = asio::ip::tcp;

struct BlockingClient::Impl {
  std::string host;
  std::uint16_t port = 0;
  std::chrono::milliseconds timeout;
  asio::io_context ioc;
  std::optional<beast::tcp_stream> stream;
  beast::flat_buffer buffer;
};

BlockingClient::BlockingClient(std::string host, std::uint16_t port, std::chrono::milliseconds timeout)
    : impl_(std::make_unique<Impl>()) {
  impl_->host = std::move(host);
  impl_->port = port;
  impl_->timeout = timeout;
}

BlockingClient::~BlockingClient() { close(); }

Status BlockingClient::connect() {
  if (impl_->stream) return Ok{};
  beast::error_code ec;
  tcp::resolver resolver(impl_->ioc);
  auto endpoints = resolver.resolve(impl_->host, std::to_string(impl_->port), ec);
  if (ec) return make_error(Errc::unavailable, "cannot resolve " + impl_->host + ": " + ec.message());
  impl_->stream.emplace(impl_->ioc);
  impl_->stream->expires_after(impl_->timeout);
  impl_->stream->socket().connect(*endpoints.begin(), ec);
  if (ec) {
    impl_->stream.reset();
    return make_error(Errc::unavailable,
                      "cannot connect to " + impl_->host + ":" + std::to_string(impl_->port) + ": " + ec.message());
  }
  return Ok{};
}

void BlockingClient::close() {
  if (!impl_->stream) return;
  beast::error_code ec;
  impl_->stream->socket().shutdown(tcp::socket::shutdown_both, ec);
  impl_->stream->socket().close(ec);
  impl_->stream.reset();
  impl_->buffer.clear();
}

Result<ClientReply> BlockingClient::request(const std::string& method, const std::string& target,
                                            const std::string& body,
                                            const std::map<std::string, std::string>& headers) {
  for (int attempt = 0; attempt < 2; ++attempt) {
    const bool reused = impl_->stream.has_value();
    if (auto st = connect(); !st) return std::move(st).error();
    auto& stream = *impl_->stream;
    bhttp::request<bhttp::string_body> req{bhttp::string_to_verb(method), target, 11};
    req.set(bhttp::field::host, impl_->host);
    for (const auto& [k, v] : headers) req.set(k, v);
    req.body() = body;
    req.prepare_payload();
    req.keep_alive(true);
    beast::error_code ec;
    stream.expires_after(impl_->timeout);
    // tcp_stream's timeouts apply to its async operations; the blocking
    // socket calls use a socket-level timeout instead.
    timeval tv{static_cast<time_t>(impl_->timeout.count() / 1000),
               static_cast<suseconds_t>((impl_->timeout.count() % 1000) * 1000)};
    ::setsockopt(stream.socket().native_handle(), SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
    ::setsockopt(stream.socket().native_handle(), SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof tv);
    bhttp::write(stream.socket(), req, ec);
    bhttp::response<bhttp::string_body> res;
    if (!ec) {
      bhttp::response_parser<bhttp::string_body> parser;
      parser.body_limit(256 * 1024 * 1024);
      bhttp::read(stream.socket(), impl_->buffer, parser, ec);
      if (!ec) res = parser.release();
    }
    if (ec) {
      close();
      if (reused && ec != asio::error::would_block && ec != asio::error::try_again) continue;  // stale keep-alive
      if (ec == asio::error::would_block || ec == asio::error::try_again)
        return make_error(Errc::timeout, method + " " + target + ": no answer in time");
      return make_error(Errc::unavailable, method + " " + target + ": " + ec.message());
    }
    ClientReply reply;
    reply.status = static_cast<int>(res.result_int());
    for (const auto& f : res) {
      std::string name(f.name_string());
      for (auto& c : name) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
      reply.headers[name] = std::string(f.value());
    }
    reply.body = std::move(res.body());
    if (!res.keep_alive()) close();
    return reply;
  }
  return make_error(Errc::unavailable, method + " " + target + ": connection closed");
}

Result<ParsedUrl> parse_http_url(const std::string& url) {
  const std::string scheme = "http://";
  if (url.rfind(scheme, 0) != 0) return make_error(Errc::invalid_argument, "expected an http:// URL, got " + url);
  ParsedUrl out;
  std::string rest = url.substr(scheme.size());
  auto slash = rest.find('/');
  std::string authority = rest.substr(0, slash);
  out.target = slash == std::string::npos ? "/" : rest.substr(slash);
  auto colon = authority.rfind(':');
  if (colon != std::string::npos && authority.find(']') == std::string::npos) {
    out.host = authority.substr(0, colon);
    unsigned port = 0;
    auto portText = authority.substr(colon + 1);
    auto [p, ec] = std::from_chars(portText.data(), portText.data() + portText.size(), port);
    if (ec != std::errc() || p != portText.data() + portText.size() || port == 0 || port > 65535)
      return make_error(Errc::invalid_argument, "bad port in " + url);
    out.port = static_cast<std::uint16_t>(port);
  } else {
    out.host = authority;
  }
  if (out.host.empty()) return make_error(Errc::invalid_argument, "no host in " + url);
  return out;
}

}  // namespace trueup::http
