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

Result<ParsedUrl> parse_url(const std::string& url) {
  ParsedUrl out;
  auto sep = url.find("://");
  if (sep != std::string::npos) out.scheme = url.substr(0, sep);
  for (auto& c : out.scheme) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  if (sep == std::string::npos || (out.scheme != "http" && out.scheme != "https"))
    return make_error(Errc::invalid_argument, "expected an http:// or https:// URL, got " + url);
  out.port = out.scheme == "https" ? 443 : 80;
  std::string rest = url.substr(sep + 3);
  rest = rest.substr(0, rest.find('#'));
  auto end = rest.find_first_of("/?");
  std::string authority = rest.substr(0, end);
  if (end != std::string::npos) out.target = rest[end] == '/' ? rest.substr(end) : "/" + rest.substr(end);
  if (authority.find('@') != std::string::npos)
    return make_error(Errc::invalid_argument, "credentials in a URL are not supported; send an Authorization header");
  std::string port_text;
  if (!authority.empty() && authority.front() == '[') {
    auto close = authority.find(']');
    if (close == std::string::npos) return make_error(Errc::invalid_argument, "bad IPv6 literal in " + url);
    out.host = authority.substr(1, close - 1);
    if (close + 1 < authority.size()) {
      if (authority[close + 1] != ':') return make_error(Errc::invalid_argument, "bad authority in " + url);
      port_text = authority.substr(close + 2);
    }
  } else if (auto colon = authority.rfind(':'); colon != std::string::npos) {
    out.host = authority.substr(0, colon);
    port_text = authority.substr(colon + 1);
  } else {
    out.host = authority;
  }
  if (!port_text.empty() || (!authority.empty() && authority.back() == ':')) {
    unsigned port = 0;
    auto [p, ec] = std::from_chars(port_text.data(), port_text.data() + port_text.size(), port);
    if (ec != std::errc() || p != port_text.data() + port_text.size() || port == 0 || port > 65535)
      return make_error(Errc::invalid_argument, "bad port in " + url);
    out.port = static_cast<std::uint16_t>(port);
  }
  if (out.host.empty()) return make_error(Errc::invalid_argument, "no host in " + url);
  return out;
}

Result<ParsedUrl> parse_http_url(const std::string& url) {
  if (url.rfind("http://", 0) != 0) return make_error(Errc::invalid_argument, "expected an http:// URL, got " + url);
  return parse_url(url);
}

}  // namespace trueup::http
