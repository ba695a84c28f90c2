#include "support/http_client.hpp"

#include <boost/asio.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>

namespace trueup::testing {

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace bhttp = beast::http;
using tcp = asio::ip::tcp;

struct HttpClient::Impl {
  std::string host;
  std::uint16_t port;
  asio::io_context ioc;
  std::optional<beast::tcp_stream> stream;
  beast::flat_buffer buffer;
};

HttpClient::HttpClient(std::string host, std::uint16_t port) : impl_(std::make_unique<Impl>()) {
  impl_->host = std::move(host);
  impl_->port = port;
}

HttpClient::~HttpClient() { close(); }

bool HttpClient::connect() {
  if (impl_->stream) return true;
  beast::error_code ec;
  impl_->stream.emplace(impl_->ioc);
  impl_->stream->expires_after(std::chrono::seconds(10));
  tcp::endpoint ep(asio::ip::make_address(impl_->host), impl_->port);
  impl_->stream->socket().connect(ep, ec);
  if (ec) {
    impl_->stream.reset();
    return false;
  }
  return true;
}

void HttpClient::close() {
  if (!impl_->stream) return;
  beast::error_code ec;
  impl_->stream->socket().shutdown(tcp::socket::shutdown_both, ec);
  impl_->stream->socket().close(ec);
  impl_->stream.reset();
  impl_->buffer.clear();
}

std::optional<HttpReply> HttpClient::request(const std::string& method, const std::string& target,
                                             const std::string& body, const std::map<std::string, std::string>& headers) {
  for (int attempt = 0; attempt < 2; ++attempt) {
    const bool reused = impl_->stream.has_value();
    if (!connect()) return std::nullopt;
    bhttp::request<bhttp::string_body> req{bhttp::string_to_verb(method), target, 11};
    req.set(bhttp::field::host, impl_->host);
    for (const auto& [k, v] : headers) req.set(k, v);
    req.body() = body;
    req.prepare_payload();
    req.keep_alive(true);
    beast::error_code ec;
    bhttp::write(impl_->stream->socket(), req, ec);
    bhttp::response<bhttp::string_body> res;
    if (!ec) {
      bhttp::response_parser<bhttp::string_body> parser;
      parser.body_limit(64 * 1024 * 1024);
      bhttp::read(impl_->stream->socket(), impl_->buffer, parser, ec);
      if (!ec) res = parser.release();
    }
    if (ec) {
      close();
      if (reused) continue;  // the server closed an idle keep-alive connection
      return std::nullopt;
    }
    HttpReply reply;
    reply.status = static_cast<int>(res.result_int());
    for (const auto& f : res) {
      std::string name(f.name_string());
      for (auto& c : name) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
      reply.headers[name] = std::string(f.value());
    }
    reply.body = res.body();
    if (!res.keep_alive()) close();
    return reply;
  }
  return std::nullopt;
}

std::uint16_t free_port() {
  asio::io_context ioc;
  tcp::acceptor a(ioc, tcp::endpoint(asio::ip::make_address("127.0.0.1"), 0));
  return a.local_endpoint().port();
}

}  // namespace trueup::testing
