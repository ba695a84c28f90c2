#include "simulator.hpp"

#include <algorithm>
#include <cctype>
#include <charconv>
#include <deque>
#include <map>
#include <mutex>
#include <optional>
#include <set>
#include <utility>
#include <variant>
#include <vector>

#include "business_central_payloads.hpp"
#include "common/exact_json.hpp"
#include "common/sim/config_document.hpp"
#include "trueup/core/digest.hpp"
#include "trueup/core/money.hpp"
#include "trueup/core/time.hpp"
#include "trueup/http/query.hpp"
#include "trueup/model/timestamp.hpp"

namespace trueup::connectors::business_central {
namespace {

using nlohmann::json;
using WallClock = std::function<std::chrono::system_clock::time_point()>;

constexpr const char* kZeroGuid = "00000000-0000-0000-0000-000000000000";
constexpr const char* kODataContentType = "application/json; odata.metadata=minimal; odata.streaming=true";

// ---- Answers ---------------------------------------------------------------

http::Response odata(int status, const json& body) {
  http::Response r = http::Response::json(status, dump_exact(body));
  r.content_type = kODataContentType;
  r.headers.emplace_back("OData-Version", "4.0");
  return r;
}

// BC's error body: {"error": {"code": "...", "message": "..."}}.
http::Response bc_error(int status, std::string_view code, std::string_view message) {
  http::Response r = odata(status, json{{"error", {{"code", code}, {"message", message}}}});
  return r;
}
http::Response bad_request(std::string_view message) { return bc_error(400, "BadRequest", message); }
http::Response not_found(std::string_view message) { return bc_error(404, "BadRequest_NotFound", message); }
http::Response record_not_found(std::string_view table, std::string_view fields) {
  return bc_error(
      404, "Internal_RecordNotFound",
      "The " + std::string(table) + " does not exist. Identification fields and values: " + std::string(fields));
}
http::Response dialog_error(std::string_view message) { return bc_error(400, "Application_DialogException", message); }

Error invalid(const std::string& at, std::string_view what) {
  return make_error(Errc::invalid_argument, (at.empty() ? "/" : at) + ": " + std::string(what));
}

// ---- Decimals --------------------------------------------------------------
// Quantities and amounts are Quantity values (5 decimals, exact); amounts are
// rounded to 2 decimals half away from zero as BC's default rounding does.

std::optional<Quantity> decimal_of(const json& j) {
  auto text = number_text(j);
  if (!text) return std::nullopt;
  auto q = Quantity::parse(*text);
  return q ? std::optional<Quantity>(*q) : std::nullopt;
}

json number(const Quantity& q) { return decimal_text(q.to_string()); }

// a * b / divisor rounded to `decimals` (0..5) decimals.
Quantity multiply_round(const Quantity& a, const Quantity& b, std::int64_t divisor, int decimals) {
  using I = __int128;
  const I product = static_cast<I>(a.scaled()) * b.scaled();  // scale 10
  I unit = divisor;
  for (int i = 0; i < 10 - decimals; ++i) unit *= 10;
  I q = product / unit;
  const I r = product % unit;
  if (2 * (r < 0 ? -r : r) >= unit) q += product < 0 ? -1 : 1;
  for (int i = 0; i < 5 - decimals; ++i) q *= 10;
  return Quantity::from_scaled(static_cast<std::int64_t>(q));
}
Quantity plus(const Quantity& a, const Quantity& b) { return Quantity::from_scaled(a.scaled() + b.scaled()); }
Quantity minus(const Quantity& a) { return Quantity::from_scaled(-a.scaled()); }
const Quantity kOne = Quantity::from_scaled(Quantity::kScale);

// ---- Ids, etags, time --------------------------------------------------------

std::string guid_from(std::string_view seed) {
  const std::string h = sha256_hex(seed);
  return h.substr(0, 8) + "-" + h.substr(8, 4) + "-" + h.substr(12, 4) + "-" + h.substr(16, 4) + "-" + h.substr(20, 12);
}

std::string lower(std::string s) {
  for (auto& c : s) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return s;
}

bool is_guid(std::string_view s) {
  if (s.size() != 36) return false;
  for (std::size_t i = 0; i < s.size(); ++i) {
    const bool dash = i == 8 || i == 13 || i == 18 || i == 23;
    if (dash ? s[i] != '-' : !std::isxdigit(static_cast<unsigned char>(s[i]))) return false;
  }
  return true;
}

// W/"<base64>" as BC writes it; a new one for every version of a record.
std::string etag_of(std::string_view id, std::uint64_t version) {
  const std::string digest = base64_encode(sha256(std::string(id) + ":" + std::to_string(version)));
  return "W/\"" + base64_encode("'" + std::to_string(digest.size()) + ";" + digest + "1;00;'") + "\"";
}

// The text between "name(" and ")" of a path segment, quotes removed.
std::optional<std::string> key_in(std::string_view segment, std::string_view name) {
  if (!segment.starts_with(name) || segment.size() < name.size() + 2 || segment[name.size()] != '(' ||
      segment.back() != ')')
    return std::nullopt;
  std::string key(segment.substr(name.size() + 1, segment.size() - name.size() - 2));
  if (key.size() >= 2 && key.front() == '\'' && key.back() == '\'') key = key.substr(1, key.size() - 2);
  return key;
}

// "items(<id>)" -> {"items", "<id>"}; "items" -> {"items", nullopt}.
std::pair<std::string, std::optional<std::string>> split_segment(std::string_view segment) {
  const auto paren = segment.find('(');
  if (paren == std::string_view::npos) return {std::string(segment), std::nullopt};
  const std::string name(segment.substr(0, paren));
  return {name, key_in(segment, name)};
}

// ---- $filter ---------------------------------------------------------------

struct Token {
  enum class Kind { word, string, open, close, comma, end } kind = Kind::end;
  std::string text;
};

Result<std::vector<Token>> tokenize(std::string_view s) {
  std::vector<Token> out;
  std::size_t i = 0;
  while (i < s.size()) {
    const char c = s[i];
    if (c == ' ' || c == '\t') {
      ++i;
    } else if (c == '(' || c == ')' || c == ',') {
      out.push_back({c == '(' ? Token::Kind::open : c == ')' ? Token::Kind::close : Token::Kind::comma, {}});
      ++i;
    } else if (c == '\'') {
      std::string text;
      ++i;
      bool closed = false;
      while (i < s.size()) {
        if (s[i] == '\'') {
          if (i + 1 < s.size() && s[i + 1] == '\'') {
            text += '\'';
            i += 2;
            continue;
          }
          ++i;
          closed = true;
          break;
        }
        text += s[i++];
      }
      if (!closed) return make_error(Errc::invalid_argument, "unterminated string literal in $filter");
      out.push_back({Token::Kind::string, std::move(text)});
    } else {
      const std::size_t start = i;
      while (i < s.size() && s[i] != ' ' && s[i] != '\t' && s[i] != '(' && s[i] != ')' && s[i] != ',') ++i;
      out.push_back({Token::Kind::word, std::string(s.substr(start, i - start))});
    }
  }
  out.push_back({Token::Kind::end, {}});
  return out;
}

struct Literal {
  bool quoted = false;
  std::string text;  // unquoted: a number, true/false/null, a date, a datetime or a GUID
};

struct FilterNode {
  enum class Kind { compare, function, all, any, negate } kind = Kind::compare;
  std::string field;
  std::string op;  // eq ne gt ge lt le | contains startswith endswith
  Literal literal;
  std::vector<FilterNode> children;
};

class FilterParser {
 public:
  FilterParser(std::vector<Token> tokens, const std::set<std::string>& fields, std::string_view type)
      : tokens_(std::move(tokens)), fields_(fields), type_(type) {}

  Result<FilterNode> parse() {
    auto node = parse_or();
    if (!node) return node;
    if (peek().kind != Token::Kind::end) return fail("unexpected '" + peek().text + "'");
    return node;
  }

 private:
  const Token& peek() const { return tokens_[pos_]; }
  Token next() { return tokens_[pos_ < tokens_.size() - 1 ? pos_++ : pos_]; }
  bool word(std::string_view w) const { return peek().kind == Token::Kind::word && lower(peek().text) == w; }
  Error fail(const std::string& what) const { return make_error(Errc::invalid_argument, "$filter: " + what); }

  Result<FilterNode> parse_or() { return parse_chain("or", FilterNode::Kind::any, &FilterParser::parse_and); }
  Result<FilterNode> parse_and() { return parse_chain("and", FilterNode::Kind::all, &FilterParser::parse_unary); }
  // operand (<word> operand)*: one node of `kind` when the word occurs.
  Result<FilterNode> parse_chain(std::string_view joiner, FilterNode::Kind kind,
                                 Result<FilterNode> (FilterParser::*operand)()) {
    auto first = (this->*operand)();
    if (!first || !word(joiner)) return first;
    FilterNode chain;
    chain.kind = kind;
    chain.children.push_back(std::move(*first));
    while (word(joiner)) {
      next();
      auto more = (this->*operand)();
      if (!more) return more;
      chain.children.push_back(std::move(*more));
    }
    return chain;
  }
  Result<FilterNode> parse_unary() {
    if (word("not")) {
      next();
      auto inner = parse_unary();
      if (!inner) return inner;
      FilterNode n;
      n.kind = FilterNode::Kind::negate;
      n.children.push_back(std::move(*inner));
      return n;
    }
    if (peek().kind == Token::Kind::open) {
      next();
      auto inner = parse_or();
      if (!inner) return inner;
      if (next().kind != Token::Kind::close) return fail("expected ')'");
      return inner;
    }
    if (peek().kind != Token::Kind::word) return fail("expected a property name");
    Token name = next();
    const std::string fn = lower(name.text);
    if ((fn == "contains" || fn == "startswith" || fn == "endswith") && peek().kind == Token::Kind::open) {
      next();
      if (peek().kind != Token::Kind::word) return fail("expected a property name in " + fn);
      FilterNode n;
      n.kind = FilterNode::Kind::function;
      n.op = fn;
      n.field = next().text;
      if (auto st = check_field(n.field); !st) return st.error();
      if (next().kind != Token::Kind::comma) return fail("expected ',' in " + fn);
      if (peek().kind != Token::Kind::string) return fail(fn + " needs a string literal");
      n.literal = Literal{true, next().text};
      if (next().kind != Token::Kind::close) return fail("expected ')'");
      return n;
    }
    if (auto st = check_field(name.text); !st) return st.error();
    if (peek().kind != Token::Kind::word) return fail("expected an operator after " + name.text);
    const std::string op = lower(next().text);
    static const std::set<std::string> ops{"eq", "ne", "gt", "ge", "lt", "le"};
    if (!ops.contains(op)) return fail("unknown operator '" + op + "'");
    const Token value = next();
    if (value.kind != Token::Kind::string && value.kind != Token::Kind::word) return fail("expected a value");
    FilterNode n;
    n.field = name.text;
    n.op = op;
    n.literal = Literal{value.kind == Token::Kind::string, value.text};
    return n;
  }
  Status check_field(const std::string& field) const {
    if (fields_.contains(field)) return Ok{};
    return make_error(Errc::not_found, "Could not find a property named '" + field + "' on type 'Microsoft.NAV." +
                                           std::string(type_) + "'.");
  }

  std::vector<Token> tokens_;
  std::size_t pos_ = 0;
  const std::set<std::string>& fields_;
  std::string_view type_;
};

// -1, 0, 1, or nullopt when the two cannot be compared.
std::optional<int> compare_value(const json& value, const Literal& literal) {
  auto sign = [](auto a, auto b) { return a < b ? -1 : (b < a ? 1 : 0); };
  if (value.is_null()) return literal.quoted || literal.text != "null" ? std::nullopt : std::optional<int>(0);
  if (value.is_boolean()) {
    if (literal.quoted || (literal.text != "true" && literal.text != "false")) return std::nullopt;
    return sign(value.get<bool>(), literal.text == "true");
  }
  if (auto text = number_text(value)) {
    if (literal.quoted) return std::nullopt;
    auto a = Quantity::parse(*text);
    auto b = Quantity::parse(literal.text);
    if (a && b) return sign(*a, *b);
    return std::nullopt;
  }
  if (!value.is_string()) return std::nullopt;
  const std::string& s = value.get_ref<const std::string&>();
  if (!literal.quoted) {
    // Dates and datetimes are unquoted in OData; compare instants when both parse.
    auto a = model::Timestamp::parse(s);
    auto b = model::Timestamp::parse(literal.text);
    if (a && b) {
      auto c = a->compare_instant(*b);
      return c < 0 ? -1 : (c > 0 ? 1 : 0);
    }
    if (literal.text == "null") return std::nullopt;
    return sign(lower(s), lower(literal.text));  // GUIDs and dates (YYYY-MM-DD) compare as text
  }
  // Enum values are stored XML-escaped; a filter may name either form.
  if (s == literal.text || decode_enum_value(s) == literal.text) return 0;
  return sign(s, literal.text);
}

bool matches(const FilterNode& n, const json& row) {
  switch (n.kind) {
    case FilterNode::Kind::all:
      return std::all_of(n.children.begin(), n.children.end(), [&](const FilterNode& c) { return matches(c, row); });
    case FilterNode::Kind::any:
      return std::any_of(n.children.begin(), n.children.end(), [&](const FilterNode& c) { return matches(c, row); });
    case FilterNode::Kind::negate:
      return !matches(n.children.front(), row);
    case FilterNode::Kind::function: {
      auto it = row.find(n.field);
      if (it == row.end() || !it->is_string()) return false;
      const std::string s = lower(it->get<std::string>());
      const std::string t = lower(n.literal.text);
      if (n.op == "contains") return s.find(t) != std::string::npos;
      if (n.op == "startswith") return s.starts_with(t);
      return s.ends_with(t);
    }
    case FilterNode::Kind::compare:
      break;
  }
  auto it = row.find(n.field);
  const json value = it == row.end() ? json() : *it;
  auto c = compare_value(value, n.literal);
  if (!c) return n.op == "ne";
  if (n.op == "eq") return *c == 0;
  if (n.op == "ne") return *c != 0;
  if (n.op == "gt") return *c > 0;
  if (n.op == "ge") return *c >= 0;
  if (n.op == "lt") return *c < 0;
  return *c <= 0;
}

// Orders two values of one property (numbers as numbers, the rest as text).
bool value_less(const json& a, const json& b) {
  auto an = number_text(a), bn = number_text(b);
  if (an && bn) {
    auto x = Quantity::parse(*an), y = Quantity::parse(*bn);
    if (x && y) return *x < *y;
  }
  auto text = [](const json& j) { return j.is_string() ? j.get<std::string>() : dump_exact(j); };
  return text(a) < text(b);
}

// ---- Paging ----------------------------------------------------------------

// The raw query without `name` (kept encoded as sent).
std::string query_without(std::string_view query, std::string_view name) {
  std::string out;
  while (!query.empty()) {
    const auto amp = query.find('&');
    const std::string_view pair = query.substr(0, amp);
    query = amp == std::string_view::npos ? std::string_view{} : query.substr(amp + 1);
    const auto eq = pair.find('=');
    auto key = http::percent_decode(pair.substr(0, eq));
    if (key && *key == name) continue;
    if (pair.empty()) continue;
    if (!out.empty()) out += '&';
    out += pair;
  }
  return out;
}

std::optional<std::size_t> parse_count(const std::string& text) {
  std::size_t v = 0;
  auto r = std::from_chars(text.data(), text.data() + text.size(), v);
  if (r.ec != std::errc() || r.ptr != text.data() + text.size()) return std::nullopt;
  return v;
}

// Prefer: odata.maxpagesize=N
std::optional<std::size_t> preferred_page_size(const http::Request& request) {
  const std::string* prefer = request.header("prefer");
  if (prefer == nullptr) return std::nullopt;
  const auto at = prefer->find("odata.maxpagesize=");
  if (at == std::string::npos) return std::nullopt;
  std::string digits;
  for (std::size_t i = at + 18; i < prefer->size() && std::isdigit(static_cast<unsigned char>((*prefer)[i])); ++i)
    digits += (*prefer)[i];
  auto n = parse_count(digits);
  return n && *n > 0 ? n : std::nullopt;
}

// ---- Seed readers ----------------------------------------------------------

Result<std::string> required_text(const json& object, std::string_view name, const std::string& at,
                                  std::size_t max_length = 250) {
  auto it = object.find(name);
  if (it == object.end() || !it->is_string() || it->get_ref<const std::string&>().empty())
    return invalid(at + "/" + std::string(name), "expected a non-empty string");
  if (it->get_ref<const std::string&>().size() > max_length)
    return invalid(at + "/" + std::string(name), "longer than " + std::to_string(max_length) + " characters");
  return it->get<std::string>();
}

Result<Quantity> optional_decimal(const json& object, std::string_view name, const std::string& at, Quantity fallback) {
  auto it = object.find(name);
  if (it == object.end()) return fallback;
  auto q = decimal_of(*it);
  if (!q) return invalid(at + "/" + std::string(name), "expected a JSON number with at most 5 decimals");
  return *q;
}

Status only_members(const json& object, const std::set<std::string>& members, const std::string& at) {
  if (!object.is_object()) return invalid(at, "expected an object");
  for (const auto& [name, value] : object.items())
    if (!members.contains(name)) return invalid(at + "/" + name, "unknown member");
  return Ok{};
}

// Per-user concurrency: BC processes 5 requests of a user at once and queues
// 95 more; beyond that 429, and a queued request that waits longer than the
// queue timeout is answered 503.
struct Waiting {
  http::Request request;
  http::Respond respond;
  bool started = false;
  bool timed_out = false;
};

}  // namespace

class BusinessCentralSimulator::ConcurrencyLimit {
 public:
  ConcurrencyLimit(const BusinessCentralSimulatorSettings& s, sim::SimulatorCore& core)
      : max_running_(std::max<std::size_t>(1, s.max_concurrent)),
        max_queued_(s.max_queued),
        queue_timeout_(s.queue_timeout),
        core_(core) {}

  http::Handler wrap(http::Handler inner) {
    auto shared = std::make_shared<http::Handler>(std::move(inner));
    return [this, shared](http::Request& request, http::Respond respond) {
      std::unique_lock lock(mu_);
      if (running_ < max_running_) {
        ++running_;
        lock.unlock();
        run(*shared, request, std::move(respond), shared);
        return;
      }
      if (queue_.size() >= max_queued_) {
        lock.unlock();
        core_.inspection().count_throttled();
        core_.inspection().count_key("concurrency", "rejected_429");
        respond(bc_error(429, "Application_TooManyRequests",
                         "Too many requests reached. Actual (" + std::to_string(max_running_ + max_queued_ + 1) +
                             "). Maximum (" + std::to_string(max_running_ + max_queued_) + ")."));
        return;
      }
      auto waiting = std::make_shared<Waiting>();
      waiting->request = request;
      waiting->respond = std::move(respond);
      queue_.push_back({waiting, shared});
      lock.unlock();
      core_.scheduler().post_after(queue_timeout_, [this, waiting] {
        {
          std::lock_guard guard(mu_);
          if (waiting->started) return;
          waiting->timed_out = true;
          std::erase_if(queue_, [&](const auto& entry) { return entry.first == waiting; });
        }
        core_.inspection().count_key("concurrency", "queue_timeout_503");
        waiting->respond(bc_error(503, "Application_ServiceUnavailable",
                                  "The request waited too long in the queue of the service. Please try again."));
      });
    };
  }

 private:
  void run(const http::Handler& handler, http::Request& request, http::Respond respond,
           std::shared_ptr<http::Handler> keep) {
    handler(request, [this, respond = std::move(respond), keep](http::Response r) {
      respond(std::move(r));
      release();
    });
  }

  void release() {
    std::shared_ptr<Waiting> next;
    std::shared_ptr<http::Handler> handler;
    {
      std::lock_guard lock(mu_);
      while (!queue_.empty()) {
        auto [w, h] = queue_.front();
        queue_.pop_front();
        if (w->timed_out) continue;
        w->started = true;
        next = w;
        handler = h;
        break;
      }
      if (!next) {
        --running_;
        return;
      }
    }
    run(*handler, next->request, next->respond, handler);
  }

  const std::size_t max_running_;
  const std::size_t max_queued_;
  const std::chrono::milliseconds queue_timeout_;
  sim::SimulatorCore& core_;
  std::mutex mu_;
  std::size_t running_ = 0;
  std::deque<std::pair<std::shared_ptr<Waiting>, std::shared_ptr<http::Handler>>> queue_;
};

namespace {

enum class DocumentKind { invoice, order, credit_memo };

struct Record {
  std::string id;
  json data;  // the API members (numbers as exact decimal text), without @odata.etag
  std::uint64_t version = 0;
};

struct Line {
  Record record;
  std::string location_code;  // "" = none
  std::string item_id;        // "" for comment lines
};

struct Document {
  DocumentKind kind = DocumentKind::invoice;
  Record record;
  std::vector<Line> lines;
  int posts = 0;
  std::int64_t next_sequence = 10000;
};

struct WebhookSubscription {
  std::string id;
  std::string notification_url;
  std::string resource;  // as given
  std::string entity_set;
  std::string client_state;
  std::chrono::system_clock::time_point expires;
  std::string created_at, modified_at;
  std::uint64_t version = 0;
};

struct PendingNotification {
  std::string subscription_id;
  std::string resource;
  std::string change_type;
  std::string last_modified;
};

// What waits for the notification delay, per notification URL.
struct PendingBatch {
  std::vector<PendingNotification> entries;
  std::map<std::string, std::size_t> index;             // subscription + resource -> entry
  std::map<std::string, std::size_t> per_subscription;  // changes in this window
  std::map<std::string, std::string> window_start;      // subscription -> first change time
};

const std::set<std::string> kWebhookSets{"items", "customers", "salesInvoices", "salesOrders", "salesCreditMemos"};

// The names of each kind of sales document in the API.
struct DocumentNames {
  DocumentKind kind;
  const char* set;
  const char* lines;
  const char* type;
  const char* date;
  const char* post_action;
};
constexpr DocumentNames kDocuments[] = {
    {DocumentKind::invoice, "salesInvoices", "salesInvoiceLines", "salesInvoice", "invoiceDate", "Microsoft.NAV.post"},
    {DocumentKind::order, "salesOrders", "salesOrderLines", "salesOrder", "orderDate", "Microsoft.NAV.shipAndInvoice"},
    {DocumentKind::credit_memo, "salesCreditMemos", "salesCreditMemoLines", "salesCreditMemo", "creditMemoDate",
     "Microsoft.NAV.post"}};

const DocumentNames& names_of(DocumentKind k) { return kDocuments[static_cast<int>(k)]; }
std::string set_name(DocumentKind k) { return names_of(k).set; }
std::string lines_name(DocumentKind k) { return names_of(k).lines; }
std::string type_name(DocumentKind k) { return names_of(k).type; }
std::string date_member(DocumentKind k) { return names_of(k).date; }
// The kind whose entity set (or, with `lines`, whose line set) is `name`.
std::optional<DocumentKind> kind_of(std::string_view name, bool lines = false) {
  for (const auto& d : kDocuments)
    if (name == (lines ? d.lines : d.set)) return d.kind;
  return std::nullopt;
}

// Next number of a series: "S-INV1001" -> "S-INV1002".
std::string next_in_series(std::string& series) {
  const std::string current = series;
  std::size_t digits = series.size();
  while (digits > 0 && std::isdigit(static_cast<unsigned char>(series[digits - 1]))) --digits;
  std::string tail = series.substr(digits);
  if (tail.empty()) tail = "0";
  std::string incremented = tail;
  int i = static_cast<int>(incremented.size()) - 1;
  while (i >= 0) {
    if (incremented[i] == '9') {
      incremented[i] = '0';
      --i;
    } else {
      ++incremented[i];
      break;
    }
  }
  if (i < 0) incremented = "1" + incremented;
  series = series.substr(0, digits) + incremented;
  return current;
}

}  // namespace

// The company's state and what the endpoints do with it. Members marked
// "locked" run under mu_; notifications are queued under it and sent later.
class BusinessCentralSimulator::Company {
 public:
  Company(const BusinessCentralSimulatorSettings& settings, sim::SimulatorCore& core, http::OutboundClient& client)
      : settings_(settings), core_(core), client_(client) {}
  ~Company() { stop_dispatchers(); }

  Status load(const json& seed);
  const std::string& id() const { return company_id_; }

  std::mutex mu_;

  // locked
  http::Response list_companies(const http::Request& r);
  http::Response get_company(const http::Request& r);
  http::Response list_set(const http::Request& r, const std::string& set);
  http::Response get_entity(const http::Request& r);
  http::Response patch_entity(const http::Request& r);
  http::Response delete_entity(const http::Request& r);
  http::Response create_document(const http::Request& r, DocumentKind kind);
  http::Response entity_action(const http::Request& r);
  http::Response entity_navigation(const http::Request& r);

  // not locked: the handshake runs outside the lock
  http::Response list_subscriptions(const http::Request& r);
  http::Response create_subscription(const http::Request& r);
  http::Response subscription_by_key(const http::Request& r);

  // admin (locked)
  http::Response admin_ledger_entry(const http::Request& r);
  http::Response admin_set_inventory(const http::Request& r);
  http::Response admin_inventory(const http::Request& r);
  http::Response admin_documents(const http::Request& r);
  http::Response admin_clock(const http::Request& r);

  void flush();
  bool wait_idle(std::chrono::milliseconds bound);
  void stop_dispatchers();

 private:
  std::chrono::system_clock::time_point now() const {
    return (settings_.wall_clock ? settings_.wall_clock() : std::chrono::system_clock::now()) + clock_offset_;
  }
  std::string now_text() const { return format_utc(now(), 3); }
  std::string today() const { return format_utc(now(), 0).substr(0, 10); }
  std::string new_id(std::string_view kind) {
    return guid_from(company_id_ + "/" + std::string(kind) + "/" + std::to_string(++id_counter_));
  }
  std::uint64_t bump() { return ++version_counter_; }

  // The request's company segment names ours; else the 404 to answer.
  std::optional<http::Response> check_company(const http::Request& r) const;
  std::string context_url(const http::Request& r, const std::string& fragment) const;

  json render(const Record& rec) const {
    json out = rec.data;
    out["@odata.etag"] = etag_of(rec.id, rec.version);
    return out;
  }
  json render_item(const Record& rec) const;
  json render_ledger(const Record& rec) const;
  json render_document(const Document& d, bool expand) const;
  std::vector<json> rows_of(const std::string& set, const std::string& expand) const;
  std::set<std::string> fields_of(const std::string& set) const;
  std::string type_of(const std::string& set) const;

  http::Response page(const http::Request& r, const std::string& set, std::vector<json> rows,
                      const std::string& default_order);

  Record* item_by_number(const std::string& number);
  Record* item_by_id(const std::string& id);
  Record* location_by_code(const std::string& code);
  Record* location_by_id(const std::string& id);
  Record* customer_by_number(const std::string& number);
  Record* customer_by_id(const std::string& id);
  Document* document(DocumentKind kind, const std::string& id);

  Status load_location(const json& spec, const std::string& at);
  Status load_item(const json& spec, const std::string& at);
  Status load_customer(const json& spec, const std::string& at);

  // Writes one item ledger entry; returns it.
  Record& write_ledger_entry(const std::string& item_number, const std::string& location_code, Quantity quantity,
                             const std::string& entry_type, const std::string& document_type,
                             const std::string& document_number, const std::string& posting_date,
                             const std::string& source_type, const std::string& source_number, Quantity sales_amount,
                             Quantity cost_amount);
  Quantity inventory_of(const std::string& item_number, const std::string* location_code) const;

  // Applies header members of a POST/PATCH body; an error answer or nullopt.
  std::optional<http::Response> apply_header(Document& d, const json& body, bool creating);
  // Builds a line from a POST body (deep insert or lines POST).
  std::optional<http::Response> add_line(Document& d, const json& body);
  void recompute(Document& d);
  http::Response post_document(Document& d);
  // shipAndInvoice of an order: the posted invoice replaces it.
  http::Response invoice_order(Document& order, const std::string& invoice_number, const std::string& shipment_number,
                               const std::vector<json>& entries);

  void changed(const std::string& set, const std::string& id, const std::string& change_type);
  void schedule_flush();
  sim::WebhookDispatcher& dispatcher(const std::string& url);

  // Subscriptions.
  Result<std::string> subscription_set(const std::string& resource) const;
  // Runs the handshake (no lock held); an error answer or nullopt.
  std::optional<http::Response> handshake(const std::string& notification_url, const std::string& token);
  std::string new_token() { return guid_from(company_id_ + "/validation/" + std::to_string(++id_counter_)); }
  json render_subscription(const WebhookSubscription& s) const;

  const BusinessCentralSimulatorSettings& settings_;
  sim::SimulatorCore& core_;
  http::OutboundClient& client_;

  std::string company_id_;
  std::string company_name_ = "CRONUS USA, Inc.";
  std::string currency_ = "USD";
  std::string default_location_code_;
  std::string invoice_series_ = "S-INV1001";
  std::string posted_invoice_series_ = "PS-INV103001";
  std::string order_series_ = "S-ORD101001";
  std::string posted_shipment_series_ = "PS-SHPT102001";
  std::string credit_memo_series_ = "S-CR1001";
  std::string posted_credit_memo_series_ = "PS-CR104001";
  std::chrono::seconds clock_offset_{0};
  std::uint64_t id_counter_ = 0;
  std::uint64_t version_counter_ = 0;
  std::int64_t next_entry_number_ = 1;

  std::map<std::string, Record> items_, locations_, customers_;  // by id
  std::map<std::string, Quantity> tax_percent_;                  // item id -> percent
  std::vector<Record> ledger_;                                   // by entryNumber
  std::map<std::string, std::string> ledger_location_;           // entry id -> location code
  std::map<std::string, Document> documents_;                    // by id
  std::map<std::string, WebhookSubscription> subscriptions_;

  std::map<std::string, PendingBatch> pending_;  // notification URL -> batch
  bool flush_scheduled_ = false;
  std::mutex dispatch_mu_;
  std::map<std::string, std::unique_ptr<sim::WebhookDispatcher>> dispatchers_;
  bool dispatchers_stopped_ = false;
};

// ---- Seed ------------------------------------------------------------------

Status BusinessCentralSimulator::Company::load(const json& seed) {
  if (auto st =
          only_members(seed, {"company", "locations", "items", "customers", "number_series", "ledger_entries"}, "");
      !st)
    return st;
  company_id_ = guid_from("trueup-sim-company");
  if (auto c = seed.find("company"); c != seed.end()) {
    if (auto st = only_members(*c, {"id", "name", "currency", "default_location_code"}, "/company"); !st) return st;
    if (c->contains("id")) {
      auto id = required_text(*c, "id", "/company");
      if (!id) return id.error();
      if (!is_guid(*id)) return invalid("/company/id", "expected a GUID");
      company_id_ = lower(*id);
    }
    if (c->contains("name")) {
      auto name = required_text(*c, "name", "/company");
      if (!name) return name.error();
      company_name_ = *name;
    }
    if (c->contains("currency")) {
      auto code = required_text(*c, "currency", "/company");
      if (!code || !Currency::from_code(*code)) return invalid("/company/currency", "expected an ISO 4217 code");
      currency_ = *code;
    }
    if (c->contains("default_location_code")) {
      auto code = required_text(*c, "default_location_code", "/company", 10);
      if (!code) return code.error();
      default_location_code_ = *code;
    }
  }
  if (auto s = seed.find("number_series"); s != seed.end()) {
    if (auto st = only_members(*s,
                               {"sales_invoice", "posted_sales_invoice", "sales_order", "posted_sales_shipment",
                                "sales_credit_memo", "posted_sales_credit_memo"},
                               "/number_series");
        !st)
      return st;
    for (auto [name, target] : {std::pair<const char*, std::string*>{"sales_invoice", &invoice_series_},
                                {"posted_sales_invoice", &posted_invoice_series_},
                                {"sales_order", &order_series_},
                                {"posted_sales_shipment", &posted_shipment_series_},
                                {"sales_credit_memo", &credit_memo_series_},
                                {"posted_sales_credit_memo", &posted_credit_memo_series_}}) {
      if (!s->contains(name)) continue;
      auto v = required_text(*s, name, "/number_series", 20);
      if (!v) return v.error();
      *target = *v;
    }
  }
  auto each = [&seed](const char* name, const auto& load_one) -> Status {
    return sim::for_each_seed_entry(seed, name, load_one);
  };
  if (auto st = each("locations", [this](const json& j, const std::string& at) { return load_location(j, at); }); !st)
    return st;
  if (!default_location_code_.empty() && !location_by_code(default_location_code_))
    return invalid("/company/default_location_code", "no location has this code");
  if (auto st = each("customers", [this](const json& j, const std::string& at) { return load_customer(j, at); }); !st)
    return st;
  if (auto st = each("items", [this](const json& j, const std::string& at) { return load_item(j, at); }); !st)
    return st;
  return each("ledger_entries", [this](const json& j, const std::string& at) -> Status {
    if (auto st = only_members(
            j, {"itemNumber", "locationCode", "quantity", "entryType", "documentNumber", "postingDate"}, at);
        !st)
      return st;
    auto item = required_text(j, "itemNumber", at);
    if (!item) return item.error();
    if (!item_by_number(*item)) return invalid(at + "/itemNumber", "no item has this number");
    std::string location;
    if (j.contains("locationCode")) {
      auto code = required_text(j, "locationCode", at);
      if (!code) return code.error();
      if (!location_by_code(*code)) return invalid(at + "/locationCode", "no location has this code");
      location = *code;
    }
    auto quantity = optional_decimal(j, "quantity", at, Quantity());
    if (!quantity) return quantity.error();
    if (quantity->is_zero()) return invalid(at + "/quantity", "expected a non-zero JSON number");
    const std::string type = j.value("entryType", quantity->is_negative() ? "Negative Adjmt." : "Positive Adjmt.");
    write_ledger_entry(*item, location, *quantity, type, " ", j.value("documentNumber", "START"),
                       j.value("postingDate", today()), " ", "", Quantity(), Quantity());
    return Ok{};
  });
}

Status BusinessCentralSimulator::Company::load_location(const json& spec, const std::string& at) {
  if (auto st = only_members(spec, {"id", "code", "displayName", "city", "country", "addressLine1", "postalCode"}, at);
      !st)
    return st;
  auto code = required_text(spec, "code", at, 10);
  if (!code) return code.error();
  if (location_by_code(*code)) return invalid(at + "/code", "a location with this code exists");
  Record rec;
  rec.id = spec.contains("id") ? lower(spec.value("id", "")) : new_id("location");
  if (!is_guid(rec.id)) return invalid(at + "/id", "expected a GUID");
  rec.data = json{{"id", rec.id},
                  {"code", *code},
                  {"displayName", spec.value("displayName", *code)},
                  {"contact", ""},
                  {"addressLine1", spec.value("addressLine1", "")},
                  {"addressLine2", ""},
                  {"city", spec.value("city", "")},
                  {"state", ""},
                  {"country", spec.value("country", "US")},
                  {"postalCode", spec.value("postalCode", "")},
                  {"phoneNumber", ""},
                  {"email", ""},
                  {"website", ""}};
  rec.version = bump();
  locations_[rec.id] = std::move(rec);
  return Ok{};
}

Status BusinessCentralSimulator::Company::load_customer(const json& spec, const std::string& at) {
  if (auto st = only_members(spec, {"id", "number", "displayName", "currencyCode", "email", "city", "country"}, at);
      !st)
    return st;
  auto number = required_text(spec, "number", at, 20);
  if (!number) return number.error();
  if (customer_by_number(*number)) return invalid(at + "/number", "a customer with this number exists");
  Record rec;
  rec.id = spec.contains("id") ? lower(spec.value("id", "")) : new_id("customer");
  if (!is_guid(rec.id)) return invalid(at + "/id", "expected a GUID");
  rec.data = json{{"id", rec.id},
                  {"number", *number},
                  {"displayName", spec.value("displayName", "Customer " + *number)},
                  {"type", "Company"},
                  {"addressLine1", ""},
                  {"addressLine2", ""},
                  {"city", spec.value("city", "")},
                  {"state", ""},
                  {"country", spec.value("country", "US")},
                  {"postalCode", ""},
                  {"phoneNumber", ""},
                  {"email", spec.value("email", "")},
                  {"website", ""},
                  {"taxLiable", false},
                  {"taxAreaId", kZeroGuid},
                  {"taxAreaDisplayName", ""},
                  {"taxRegistrationNumber", ""},
                  {"currencyId", kZeroGuid},
                  {"currencyCode", spec.value("currencyCode", currency_)},
                  {"paymentTermsId", kZeroGuid},
                  {"shipmentMethodId", kZeroGuid},
                  {"paymentMethodId", kZeroGuid},
                  {"blocked", " "},
                  {"lastModifiedDateTime", now_text()}};
  rec.version = bump();
  customers_[rec.id] = std::move(rec);
  return Ok{};
}

Status BusinessCentralSimulator::Company::load_item(const json& spec, const std::string& at) {
  if (auto st = only_members(spec,
                             {"id", "number", "displayName", "type", "unitPrice", "unitCost", "taxPercent",
                              "baseUnitOfMeasureCode", "gtin", "blocked", "itemCategoryCode", "inventory"},
                             at);
      !st)
    return st;
  auto item_number = required_text(spec, "number", at, 20);
  if (!item_number) return item_number.error();
  if (item_by_number(*item_number)) return invalid(at + "/number", "an item with this number exists");
  auto price = optional_decimal(spec, "unitPrice", at, Quantity());
  if (!price) return price.error();
  auto cost = optional_decimal(spec, "unitCost", at, Quantity());
  if (!cost) return cost.error();
  auto tax = optional_decimal(spec, "taxPercent", at, Quantity());
  if (!tax) return tax.error();
  const std::string type = spec.value("type", "Inventory");
  if (type != "Inventory" && type != "Service" && type != "Non-Inventory")
    return invalid(at + "/type", "Inventory, Service or Non-Inventory");
  Record rec;
  rec.id = spec.contains("id") ? lower(spec.value("id", "")) : new_id("item");
  if (!is_guid(rec.id)) return invalid(at + "/id", "expected a GUID");
  const std::string uom = spec.value("baseUnitOfMeasureCode", "PCS");
  rec.data = json{{"id", rec.id},
                  {"number", *item_number},
                  {"displayName", spec.value("displayName", "Item " + *item_number)},
                  {"displayName2", ""},
                  {"type", type == "Non-Inventory" ? "Non_x002D_Inventory" : type},
                  {"itemCategoryId", kZeroGuid},
                  {"itemCategoryCode", spec.value("itemCategoryCode", "")},
                  {"blocked", spec.value("blocked", false)},
                  {"gtin", spec.value("gtin", "")},
                  {"unitPrice", number(*price)},
                  {"priceIncludesTax", false},
                  {"unitCost", number(*cost)},
                  {"taxGroupId", kZeroGuid},
                  {"taxGroupCode", ""},
                  {"baseUnitOfMeasureId", guid_from(company_id_ + "/uom/" + uom)},
                  {"baseUnitOfMeasureCode", uom},
                  {"generalProductPostingGroupId", kZeroGuid},
                  {"generalProductPostingGroupCode", ""},
                  {"inventoryPostingGroupId", kZeroGuid},
                  {"inventoryPostingGroupCode", ""},
                  {"lastModifiedDateTime", now_text()}};
  rec.version = bump();
  tax_percent_[rec.id] = *tax;
  items_[rec.id] = rec;
  // Opening stock: one positive adjustment per location.
  if (auto inv = spec.find("inventory"); inv != spec.end()) {
    if (!inv->is_object()) return invalid(at + "/inventory", "expected {\"<location code>\": quantity}");
    for (const auto& [code, value] : inv->items()) {
      const std::string where = at + "/inventory/" + code;
      if (!location_by_code(code)) return invalid(where, "no location has this code");
      auto q = decimal_of(value);
      if (!q) return invalid(where, "expected a JSON number with at most 5 decimals");
      if (q->is_zero()) continue;
      write_ledger_entry(*item_number, code, *q, q->is_negative() ? "Negative Adjmt." : "Positive Adjmt.", " ", "START",
                         today(), " ", "", Quantity(), multiply_round(*q, *cost, 1, 2));
    }
  }
  return Ok{};
}

// ---- Lookups ----------------------------------------------------------------

namespace {
template <class Map>
Record* find_by(Map& records, std::string_view member, const std::string& value) {
  for (auto& [id, rec] : records)
    if (rec.data.value(std::string(member), "") == value) return &rec;
  return nullptr;
}
template <class Map>
Record* find_id(Map& records, const std::string& id) {
  auto it = records.find(lower(id));
  return it == records.end() ? nullptr : &it->second;
}
}  // namespace

Record* BusinessCentralSimulator::Company::item_by_number(const std::string& n) { return find_by(items_, "number", n); }
Record* BusinessCentralSimulator::Company::item_by_id(const std::string& id) { return find_id(items_, id); }
Record* BusinessCentralSimulator::Company::location_by_code(const std::string& c) {
  return find_by(locations_, "code", c);
}
Record* BusinessCentralSimulator::Company::location_by_id(const std::string& id) { return find_id(locations_, id); }
Record* BusinessCentralSimulator::Company::customer_by_number(const std::string& n) {
  return find_by(customers_, "number", n);
}
Record* BusinessCentralSimulator::Company::customer_by_id(const std::string& id) { return find_id(customers_, id); }
Document* BusinessCentralSimulator::Company::document(DocumentKind kind, const std::string& id) {
  auto it = documents_.find(lower(id));
  return it == documents_.end() || it->second.kind != kind ? nullptr : &it->second;
}

// ---- Ledger ----------------------------------------------------------------

namespace {
// "Positive Adjmt." -> "Positive_x0020_Adjmt_x002E_": the XML-escaped enum
// names BC writes (space, '.', '-').
std::string escape_enum(std::string_view value) {
  std::string out;
  for (char c : value) {
    if (c == ' ')
      out += "_x0020_";
    else if (c == '.')
      out += "_x002E_";
    else if (c == '-')
      out += "_x002D_";
    else
      out += c;
  }
  return out;
}
}  // namespace

Record& BusinessCentralSimulator::Company::write_ledger_entry(
    const std::string& item_number, const std::string& location_code, Quantity quantity, const std::string& entry_type,
    const std::string& document_type, const std::string& document_number, const std::string& posting_date,
    const std::string& source_type, const std::string& source_number, Quantity sales_amount, Quantity cost_amount) {
  Record rec;
  const std::int64_t entry_number = next_entry_number_++;
  rec.id = new_id("item-ledger-entry");
  rec.data = json{{"id", rec.id},
                  {"entryNumber", entry_number},
                  {"itemNumber", item_number},
                  {"postingDate", posting_date},
                  {"entryType", escape_enum(entry_type)},
                  {"sourceNumber", source_number},
                  {"sourceType", escape_enum(source_type)},
                  {"documentNumber", document_number},
                  {"documentType", escape_enum(document_type)},
                  {"description", ""},
                  {"quantity", number(quantity)},
                  {"salesAmountActual", number(sales_amount)},
                  {"costAmountActual", number(cost_amount)},
                  {"lastModifiedDateTime", now_text()}};
  rec.version = bump();
  ledger_location_[rec.id] = location_code;
  ledger_.push_back(std::move(rec));
  core_.inspection().record_write("itemLedgerEntries", json{{"entryNumber", entry_number},
                                                            {"itemNumber", item_number},
                                                            {"locationCode", location_code},
                                                            {"quantity", quantity.to_string()},
                                                            {"entryType", entry_type},
                                                            {"documentNumber", document_number}});
  return ledger_.back();
}

Quantity BusinessCentralSimulator::Company::inventory_of(const std::string& item_number,
                                                         const std::string* location_code) const {
  Quantity sum;
  for (const auto& e : ledger_) {
    if (e.data["itemNumber"] != item_number) continue;
    if (location_code != nullptr && ledger_location_.at(e.id) != *location_code) continue;
    sum = plus(sum, *decimal_of(e.data["quantity"]));
  }
  return sum;
}

json BusinessCentralSimulator::Company::render_item(const Record& rec) const {
  json out = render(rec);
  out["inventory"] = number(inventory_of(rec.data["number"].get<std::string>(), nullptr));
  return out;
}

json BusinessCentralSimulator::Company::render_ledger(const Record& rec) const {
  json out = render(rec);
  if (settings_.ledger_location_code) out["locationCode"] = ledger_location_.at(rec.id);
  return out;
}

json BusinessCentralSimulator::Company::render_document(const Document& d, bool expand) const {
  json out = render(d.record);
  if (expand) {
    json lines = json::array();
    for (const auto& l : d.lines) lines.push_back(render(l.record));
    out[lines_name(d.kind)] = std::move(lines);
  }
  return out;
}

// ---- Collections -------------------------------------------------------------

std::string BusinessCentralSimulator::Company::type_of(const std::string& set) const {
  if (set == "items") return "item";
  if (set == "locations") return "location";
  if (set == "customers") return "customer";
  if (set == "itemLedgerEntries") return "itemLedgerEntry";
  if (auto kind = kind_of(set)) return type_name(*kind);
  if (auto kind = kind_of(set, true)) return type_name(*kind) + "Line";
  return set;
}

std::vector<json> BusinessCentralSimulator::Company::rows_of(const std::string& set, const std::string& expand) const {
  std::vector<json> rows;
  if (set == "items") {
    for (const auto& [id, rec] : items_) rows.push_back(render_item(rec));
  } else if (set == "locations") {
    for (const auto& [id, rec] : locations_) rows.push_back(render(rec));
  } else if (set == "customers") {
    for (const auto& [id, rec] : customers_) rows.push_back(render(rec));
  } else if (set == "itemLedgerEntries") {
    for (const auto& rec : ledger_) rows.push_back(render_ledger(rec));
  } else if (auto document_kind = kind_of(set)) {
    const DocumentKind kind = *document_kind;
    for (const auto& [id, d] : documents_)
      if (d.kind == kind) rows.push_back(render_document(d, expand == lines_name(kind)));
  }
  return rows;
}

std::set<std::string> BusinessCentralSimulator::Company::fields_of(const std::string& set) const {
  static const std::map<std::string, std::vector<std::string>> kFields{
      {"items",
       {"id",
        "number",
        "displayName",
        "displayName2",
        "type",
        "itemCategoryId",
        "itemCategoryCode",
        "blocked",
        "gtin",
        "inventory",
        "unitPrice",
        "priceIncludesTax",
        "unitCost",
        "taxGroupId",
        "taxGroupCode",
        "baseUnitOfMeasureId",
        "baseUnitOfMeasureCode",
        "generalProductPostingGroupId",
        "generalProductPostingGroupCode",
        "inventoryPostingGroupId",
        "inventoryPostingGroupCode",
        "lastModifiedDateTime"}},
      {"locations",
       {"id", "code", "displayName", "contact", "addressLine1", "addressLine2", "city", "state", "country",
        "postalCode", "phoneNumber", "email", "website"}},
      {"customers",
       {"id",
        "number",
        "displayName",
        "type",
        "addressLine1",
        "addressLine2",
        "city",
        "state",
        "country",
        "postalCode",
        "phoneNumber",
        "email",
        "website",
        "taxLiable",
        "taxAreaId",
        "taxAreaDisplayName",
        "taxRegistrationNumber",
        "currencyId",
        "currencyCode",
        "paymentTermsId",
        "shipmentMethodId",
        "paymentMethodId",
        "blocked",
        "lastModifiedDateTime"}},
      {"itemLedgerEntries",
       {"id", "entryNumber", "itemNumber", "postingDate", "entryType", "sourceNumber", "sourceType", "documentNumber",
        "documentType", "description", "quantity", "salesAmountActual", "costAmountActual", "lastModifiedDateTime"}},
  };
  std::set<std::string> out;
  if (auto it = kFields.find(set); it != kFields.end()) out.insert(it->second.begin(), it->second.end());
  if (set == "itemLedgerEntries" && settings_.ledger_location_code) out.insert("locationCode");
  if (auto kind = kind_of(set)) {
    // Every member of a document (they all have the same members).
    for (const auto& [id, d] : documents_)
      if (set_name(d.kind) == set)
        for (const auto& [name, value] : d.record.data.items()) out.insert(name);
    for (const char* name : {"id", "number", "externalDocumentNumber", "postingDate", "customerId", "customerNumber",
                             "currencyCode", "status", "lastModifiedDateTime", "totalAmountIncludingTax"})
      out.insert(name);
    out.insert(date_member(*kind));
  }
  return out;
}

std::string BusinessCentralSimulator::Company::context_url(const http::Request& r, const std::string& fragment) const {
  const std::string* host = r.header("host");
  const std::string prefix = r.path.substr(0, r.path.find("/api/v2.0/") + 9);
  return "http://" + (host ? *host : std::string("127.0.0.1")) + prefix + "/$metadata#" + fragment;
}

std::optional<http::Response> BusinessCentralSimulator::Company::check_company(const http::Request& r) const {
  auto key = key_in(r.params.at("company"), "companies");
  if (!key) return not_found("No HTTP resource was found that matches the request URI '" + r.path + "'.");
  if (lower(*key) != company_id_) return record_not_found("Company", "Id='" + *key + "'");
  return std::nullopt;
}

http::Response BusinessCentralSimulator::Company::page(const http::Request& r, const std::string& set,
                                                       std::vector<json> rows, const std::string& default_order) {
  auto query = http::parse_query(r.query);
  if (!query) return bad_request("The query string is malformed.");
  static const std::set<std::string> options{"$filter", "$orderby", "$top",   "$skip",  "$skiptoken",
                                             "$select", "$expand",  "$count", "company"};
  for (const auto& [name, value] : *query)
    if (name.starts_with("$") && !options.contains(name))
      return bad_request("The query parameter '" + name + "' is not supported.");
  const std::set<std::string> fields = fields_of(set);
  const std::string type = type_of(set);
  if (auto f = query->find("$filter"); f != query->end()) {
    auto tokens = tokenize(f->second);
    if (!tokens) return bad_request(tokens.error().message);
    auto filter = FilterParser(std::move(*tokens), fields, type).parse();
    if (!filter) return bad_request(filter.error().message);
    std::erase_if(rows, [&](const json& row) { return !matches(*filter, row); });
  }
  std::string order_field = default_order;
  bool descending = false;
  if (auto o = query->find("$orderby"); o != query->end()) {
    auto tokens = tokenize(o->second);
    if (!tokens || tokens->size() < 2 || (*tokens)[0].kind != Token::Kind::word)
      return bad_request("$orderby: expected a property name");
    order_field = (*tokens)[0].text;
    if (!fields.contains(order_field))
      return bad_request("Could not find a property named '" + order_field + "' on type 'Microsoft.NAV." + type + "'.");
    if ((*tokens)[1].kind == Token::Kind::word) {
      const std::string dir = lower((*tokens)[1].text);
      if (dir != "asc" && dir != "desc") return bad_request("$orderby: expected asc or desc");
      descending = dir == "desc";
    }
  }
  std::stable_sort(rows.begin(), rows.end(), [&](const json& a, const json& b) {
    const json va = a.value(order_field, json()), vb = b.value(order_field, json());
    return descending ? value_less(vb, va) : value_less(va, vb);
  });
  std::size_t skip = 0, offset = 0;
  std::optional<std::size_t> top;
  for (auto [name, target] : {std::pair<const char*, std::size_t*>{"$skip", &skip}, {"$skiptoken", &offset}}) {
    if (auto it = query->find(name); it != query->end()) {
      auto n = parse_count(it->second);
      if (!n) return bad_request(std::string("The value of ") + name + " is not valid.");
      *target = *n;
    }
  }
  if (auto it = query->find("$top"); it != query->end()) {
    top = parse_count(it->second);
    if (!top) return bad_request("The value of $top is not valid.");
  }
  const std::size_t page_size = std::min(settings_.page_size, preferred_page_size(r).value_or(settings_.page_size));
  const std::size_t total = rows.size();
  const std::size_t begin = std::min(total, skip + offset);
  std::size_t end = top ? std::min(total, skip + *top) : total;
  end = std::max(end, begin);
  const std::size_t stop = std::min(end, begin + page_size);
  json value = json::array();
  std::optional<std::vector<std::string>> select;
  if (auto s = query->find("$select"); s != query->end()) {
    select.emplace();
    std::string part;
    for (char c : s->second + ",") {
      if (c == ',') {
        part.erase(std::remove(part.begin(), part.end(), ' '), part.end());
        if (!part.empty()) {
          if (!fields.contains(part))
            return bad_request("Could not find a property named '" + part + "' on type 'Microsoft.NAV." + type + "'.");
          select->push_back(part);
        }
        part.clear();
      } else {
        part += c;
      }
    }
  }
  for (std::size_t i = begin; i < stop; ++i) {
    if (!select) {
      value.push_back(std::move(rows[i]));
      continue;
    }
    json picked{{"@odata.etag", rows[i]["@odata.etag"]}};
    for (const auto& f : *select) picked[f] = rows[i].value(f, json());
    value.push_back(std::move(picked));
  }
  json body{{"@odata.context", context_url(r, "companies(" + company_id_ + ")/" + set)}};
  if (auto c = query->find("$count"); c != query->end() && c->second == "true")
    body["@odata.count"] = end - std::min(end, skip);
  body["value"] = std::move(value);
  if (stop < end) {
    const std::string* host = r.header("host");
    std::string rest = query_without(r.query, "$skiptoken");
    body["@odata.nextLink"] = "http://" + (host ? *host : std::string("127.0.0.1")) + r.path + "?" + rest +
                              (rest.empty() ? "" : "&") + "$skiptoken=" + std::to_string(stop - skip);
  }
  http::Response out = odata(200, body);
  if (preferred_page_size(r))
    out.headers.emplace_back("Preference-Applied", "odata.maxpagesize=" + std::to_string(page_size));
  return out;
}

http::Response BusinessCentralSimulator::Company::list_set(const http::Request& r, const std::string& set) {
  if (auto refused = check_company(r)) return std::move(*refused);
  auto query = http::parse_query(r.query);
  std::string expand;
  if (query) {
    if (auto e = query->find("$expand"); e != query->end()) {
      expand = e->second;
      auto kind = kind_of(set);
      if (!kind || expand != lines_name(*kind))
        return bad_request("Could not find a navigation property named '" + expand + "' on type 'Microsoft.NAV." +
                           type_of(set) + "'.");
    }
  }
  const std::string order = set == "itemLedgerEntries" ? "entryNumber" : set == "locations" ? "code" : "number";
  return page(r, set, rows_of(set, expand), order);
}

http::Response BusinessCentralSimulator::Company::list_companies(const http::Request& r) {
  json company{{"id", company_id_},
               {"systemVersion", "27.0.38460.0"},
               {"timestamp", 1},
               {"name", company_name_},
               {"displayName", company_name_},
               {"businessProfileId", ""},
               {"systemCreatedAt", "2026-01-01T00:00:00Z"},
               {"systemCreatedBy", kZeroGuid},
               {"systemModifiedAt", "2026-01-01T00:00:00Z"},
               {"systemModifiedBy", kZeroGuid}};
  return odata(200, json{{"@odata.context", context_url(r, "companies")}, {"value", json::array({company})}});
}

http::Response BusinessCentralSimulator::Company::get_company(const http::Request& r) {
  if (auto refused = check_company(r)) return std::move(*refused);
  auto list = json::parse(list_companies(r).body);
  json one = list["value"][0];
  one["@odata.context"] = context_url(r, "companies/$entity");
  return odata(200, one);
}

// ---- Single entities ---------------------------------------------------------

http::Response BusinessCentralSimulator::Company::get_entity(const http::Request& r) {
  if (auto refused = check_company(r)) return std::move(*refused);
  auto [set, key] = split_segment(r.params.at("entity"));
  if (!key) {
    if (auto lines_kind = kind_of(set, true)) {
      const DocumentKind kind = *lines_kind;
      std::vector<json> rows;
      for (const auto& [id, d] : documents_)
        if (d.kind == kind)
          for (const auto& l : d.lines) rows.push_back(render(l.record));
      return page(r, set, std::move(rows), "sequence");
    }
    return not_found("No HTTP resource was found that matches the request URI '" + r.path + "'.");
  }
  const std::string id = lower(*key);
  json out;
  if (set == "items") {
    if (auto* rec = item_by_id(id)) out = render_item(*rec);
  } else if (set == "locations") {
    if (auto* rec = location_by_id(id)) out = render(*rec);
  } else if (set == "customers") {
    if (auto* rec = customer_by_id(id)) out = render(*rec);
  } else if (set == "itemLedgerEntries") {
    for (const auto& rec : ledger_)
      if (rec.id == id) out = render_ledger(rec);
  } else if (auto document_kind = kind_of(set)) {
    const DocumentKind kind = *document_kind;
    auto query = http::parse_query(r.query);
    const bool expand = query && query->contains("$expand") && query->at("$expand") == lines_name(kind);
    if (auto* d = document(kind, id)) out = render_document(*d, expand);
  } else {
    return not_found("No HTTP resource was found that matches the request URI '" + r.path + "'.");
  }
  if (out.is_null()) return record_not_found(type_of(set), "Id='" + *key + "'");
  out["@odata.context"] = context_url(r, "companies(" + company_id_ + ")/" + set + "/$entity");
  return odata(200, out);
}

namespace {
// If-Match against the record's etag: "*" matches anything. An error answer or nullopt.
std::optional<http::Response> check_if_match(const http::Request& r, const std::string& etag) {
  const std::string* given = r.header("if-match");
  if (given == nullptr || given->empty())
    return bc_error(400, "BadRequest_InvalidToken",
                    "Could not validate the client concurrency token required by the service. Please provide a valid "
                    "token in the client request.");
  if (*given == "*" || *given == etag) return std::nullopt;
  return bc_error(412, "Request_EntityChanged",
                  "Could not save the changes because the entity has been changed by another user. Refresh and try "
                  "again.");
}

Result<json> parse_body(const http::Request& r) {
  auto body = parse_exact(r.body);
  if (!body || !body->is_object()) return make_error(Errc::invalid_argument, "The request body is not a JSON object.");
  return body;
}
}  // namespace

http::Response BusinessCentralSimulator::Company::patch_entity(const http::Request& r) {
  if (auto refused = check_company(r)) return std::move(*refused);
  auto [set, key] = split_segment(r.params.at("entity"));
  if (!key) return bad_request("PATCH needs the key of the entity.");
  auto body = parse_body(r);
  if (!body) return bad_request(body.error().message);
  if (set == "items") {
    Record* rec = item_by_id(*key);
    if (rec == nullptr) return record_not_found("Item", "Id='" + *key + "'");
    if (auto refused = check_if_match(r, etag_of(rec->id, rec->version))) return std::move(*refused);
    static const std::set<std::string> editable{"displayName", "displayName2", "unitPrice",
                                                "unitCost",    "blocked",      "gtin"};
    json next = rec->data;
    for (const auto& [name, value] : body->items()) {
      if (!editable.contains(name))
        return bad_request("The property '" + name + "' cannot be changed through this API (simulated: " +
                           "displayName, displayName2, unitPrice, unitCost, blocked, gtin).");
      if (name == "unitPrice" || name == "unitCost") {
        auto q = decimal_of(value);
        if (!q) return bad_request("Cannot convert the literal for '" + name + "' to the expected type 'Edm.Decimal'.");
        next[name] = number(*q);
      } else if (name == "blocked" ? value.is_boolean() : value.is_string()) {
        next[name] = value;
      } else {
        return bad_request("The value of '" + name + "' has the wrong type.");
      }
    }
    next["lastModifiedDateTime"] = now_text();
    rec->data = std::move(next);
    rec->version = bump();
    core_.inspection().record_write("items.update", json{{"id", rec->id}});
    changed("items", rec->id, "updated");
    json out = render_item(*rec);
    out["@odata.context"] = context_url(r, "companies(" + company_id_ + ")/items/$entity");
    return odata(200, out);
  }
  if (!kind_of(set)) return bad_request("The entity set '" + set + "' cannot be changed through the simulator.");
  const DocumentKind kind = *kind_of(set);
  Document* d = document(kind, *key);
  if (d == nullptr) return record_not_found(type_of(set), "Id='" + *key + "'");
  if (auto refused = check_if_match(r, etag_of(d->record.id, d->record.version))) return std::move(*refused);
  if (d->record.data["status"] != "Draft")
    return dialog_error("You cannot change a posted " + type_of(set) + " (" +
                        d->record.data["number"].get<std::string>() + ").");
  Document copy = *d;
  if (auto refused = apply_header(copy, *body, false)) return std::move(*refused);
  recompute(copy);
  copy.record.version = bump();
  *d = std::move(copy);
  core_.inspection().record_write(set + ".update", json{{"id", d->record.id}});
  changed(set, d->record.id, "updated");
  json out = render_document(*d, false);
  out["@odata.context"] = context_url(r, "companies(" + company_id_ + ")/" + set + "/$entity");
  return odata(200, out);
}

http::Response BusinessCentralSimulator::Company::delete_entity(const http::Request& r) {
  if (auto refused = check_company(r)) return std::move(*refused);
  auto [set, key] = split_segment(r.params.at("entity"));
  if (!key || !kind_of(set)) return bad_request("The simulator deletes only draft sales documents.");
  const DocumentKind kind = *kind_of(set);
  Document* d = document(kind, *key);
  if (d == nullptr) return record_not_found(type_of(set), "Id='" + *key + "'");
  if (auto refused = check_if_match(r, etag_of(d->record.id, d->record.version))) return std::move(*refused);
  if (d->record.data["status"] != "Draft") return dialog_error("You cannot delete a posted " + type_of(set) + ".");
  const std::string id = d->record.id;
  documents_.erase(id);
  core_.inspection().record_write(set + ".delete", json{{"id", id}});
  changed(set, id, "deleted");
  http::Response out = http::Response::text(204, "");
  return out;
}

// ---- Sales documents -----------------------------------------------------------

std::optional<http::Response> BusinessCentralSimulator::Company::apply_header(Document& d, const json& body,
                                                                              bool creating) {
  const std::string type = type_of(set_name(d.kind));
  static const std::set<std::string> strings{"customerPurchaseOrderReference",
                                             "shipToName",
                                             "shipToContact",
                                             "sellToAddressLine1",
                                             "sellToAddressLine2",
                                             "sellToCity",
                                             "sellToCountry",
                                             "sellToState",
                                             "sellToPostCode",
                                             "billToAddressLine1",
                                             "billToAddressLine2",
                                             "billToCity",
                                             "billToCountry",
                                             "billToState",
                                             "billToPostCode",
                                             "shipToAddressLine1",
                                             "shipToAddressLine2",
                                             "shipToCity",
                                             "shipToCountry",
                                             "shipToState",
                                             "shipToPostCode",
                                             "salesperson",
                                             "phoneNumber",
                                             "email",
                                             "shortcutDimension1Code",
                                             "shortcutDimension2Code"};
  const std::string date = date_member(d.kind);
  json& h = d.record.data;
  for (const auto& [name, value] : body.items()) {
    if (name == lines_name(d.kind)) {
      if (!creating) return bad_request("Lines cannot be changed through a PATCH of the document.");
      continue;
    }
    if (name == "externalDocumentNumber") {
      if (!value.is_string()) return bad_request("externalDocumentNumber must be a string.");
      const std::string edn = value.get<std::string>();
      if (edn.size() > 35)
        return bad_request("The length of the string is " + std::to_string(edn.size()) +
                           ", but it must be less than or equal to 35 characters. Value: " + edn);
      h[name] = edn;
    } else if (name == date || name == "postingDate" || name == "dueDate" ||
               (d.kind == DocumentKind::order && name == "requestedDeliveryDate")) {
      if (!value.is_string() || value.get<std::string>().size() != 10 ||
          !model::Timestamp::parse(value.get<std::string>() + "T00:00:00Z"))
        return bad_request("Cannot convert the literal for '" + name + "' to the expected type 'Edm.Date'.");
      h[name] = value;
    } else if (name == "customerNumber" || name == "customerId") {
      if (!value.is_string()) return bad_request(name + " must be a string.");
      Record* c = name == "customerId" ? customer_by_id(value.get<std::string>())
                                       : customer_by_number(value.get<std::string>());
      if (c == nullptr)
        return record_not_found("Customer", (name == "customerId" ? "Id='" : "No.='") + value.get<std::string>() + "'");
      h["customerId"] = c->id;
      h["customerNumber"] = c->data["number"];
      h["customerName"] = c->data["displayName"];
      h["billToName"] = c->data["displayName"];
      h["billToCustomerId"] = c->id;
      h["billToCustomerNumber"] = c->data["number"];
      h["shipToName"] = c->data["displayName"];
      h["email"] = c->data["email"];
      if (!body.contains("currencyCode")) h["currencyCode"] = c->data["currencyCode"];
    } else if (name == "currencyCode") {
      if (!value.is_string() || (!value.get<std::string>().empty() && !Currency::from_code(value.get<std::string>())))
        return record_not_found("Currency", "Code='" + (value.is_string() ? value.get<std::string>() : "") + "'");
      h[name] = value.get<std::string>().empty() ? currency_ : value.get<std::string>();
    } else if (name == "number") {
      if (!creating || !value.is_string()) return bad_request("The number of a document cannot be changed.");
      for (const auto& [id, other] : documents_)
        if (other.kind == d.kind && other.record.data["number"] == value)
          return dialog_error("The record already exists. Identification fields and values: No.='" +
                              value.get<std::string>() + "'");
      h[name] = value;
    } else if (strings.contains(name)) {
      if (!value.is_string()) return bad_request(name + " must be a string.");
      h[name] = value;
    } else if (name == "discountAmount") {
      auto q = decimal_of(value);
      if (!q || !q->is_zero()) return bad_request("The simulator supports no invoice discount (discountAmount 0).");
    } else {
      return bad_request("The property '" + name + "' does not exist on type 'Microsoft.NAV." + type +
                         "' or is read-only.");
    }
  }
  return std::nullopt;
}

std::optional<http::Response> BusinessCentralSimulator::Company::add_line(Document& d, const json& body) {
  if (!body.is_object()) return bad_request("A line must be a JSON object.");
  const std::string line_type =
      body.value("lineType", body.contains("lineObjectNumber") || body.contains("itemId") ? "Item" : "Comment");
  if (line_type != "Item" && line_type != "Comment")
    return bad_request("The simulator supports lineType Item and Comment, not '" + line_type + "'.");
  static const std::set<std::string> members{
      "lineType",          "lineObjectNumber", "itemId",          "description",    "description2", "quantity",
      "unitPrice",         "discountAmount",   "discountPercent", "locationId",     "shipmentDate", "sequence",
      "unitOfMeasureCode", "taxCode",          "itemVariantId",   "unitOfMeasureId"};
  for (const auto& [name, value] : body.items())
    if (!members.contains(name))
      return bad_request("The property '" + name + "' does not exist on type 'Microsoft.NAV." +
                         type_of(lines_name(d.kind)) + "' or is read-only.");
  Line line;
  line.record.id = new_id("line");
  const std::int64_t sequence = d.next_sequence;
  d.next_sequence += 10000;
  Record* item = nullptr;
  Quantity quantity, unit_price, discount, tax_percent;
  std::string description = body.value("description", "");
  if (line_type == "Item") {
    if (body.contains("itemId") && body["itemId"].is_string())
      item = item_by_id(body["itemId"].get<std::string>());
    else if (body.contains("lineObjectNumber") && body["lineObjectNumber"].is_string())
      item = item_by_number(body["lineObjectNumber"].get<std::string>());
    if (item == nullptr)
      return record_not_found("Item", "No.='" +
                                          (body.contains("lineObjectNumber") && body["lineObjectNumber"].is_string()
                                               ? body["lineObjectNumber"].get<std::string>()
                                               : body.value("itemId", json("")).dump()) +
                                          "'");
    if (item->data["blocked"] == true)
      return dialog_error("Item " + item->data["number"].get<std::string>() + " is blocked.");
    if (description.empty()) description = item->data["displayName"].get<std::string>();
    unit_price = *decimal_of(item->data["unitPrice"]);
    tax_percent = tax_percent_[item->id];
    line.item_id = item->id;
  }
  for (auto [name, target] : {std::pair<const char*, Quantity*>{"quantity", &quantity},
                              {"unitPrice", &unit_price},
                              {"discountAmount", &discount}}) {
    if (!body.contains(name)) continue;
    auto q = decimal_of(body[name]);
    if (!q)
      return bad_request(std::string("Cannot convert the literal for '") + name +
                         "' to the expected type 'Edm.Decimal'.");
    *target = *q;
  }
  if (quantity.is_negative()) return dialog_error("Quantity must be positive.");
  std::string location_id = kZeroGuid;
  if (body.contains("locationId") && body["locationId"].is_string() && body["locationId"] != kZeroGuid) {
    Record* loc = location_by_id(body["locationId"].get<std::string>());
    if (loc == nullptr) return record_not_found("Location", "Id='" + body["locationId"].get<std::string>() + "'");
    location_id = loc->id;
    line.location_code = loc->data["code"].get<std::string>();
  } else if (item != nullptr && !default_location_code_.empty()) {
    Record* loc = location_by_code(default_location_code_);
    location_id = loc->id;
    line.location_code = default_location_code_;
  }
  const Quantity gross = multiply_round(quantity, unit_price, 1, 2);
  const Quantity amount = plus(gross, minus(discount));
  const Quantity tax = multiply_round(amount, tax_percent, 100, 2);
  const Quantity including = plus(amount, tax);
  const std::string shipment_date = d.record.data.value(date_member(d.kind), today());
  json& l = line.record.data;
  l = json{{"id", line.record.id},
           {"documentId", d.record.id},
           {"sequence", sequence},
           {"itemId", item ? item->id : kZeroGuid},
           {"accountId", kZeroGuid},
           {"lineType", line_type},
           {"lineObjectNumber", item ? item->data["number"] : json("")},
           {"description", description},
           {"description2", body.value("description2", "")},
           {"unitOfMeasureId", item ? item->data["baseUnitOfMeasureId"] : json(kZeroGuid)},
           {"unitOfMeasureCode", item ? item->data["baseUnitOfMeasureCode"] : json("")},
           {"quantity", number(quantity)},
           {"unitPrice", number(unit_price)},
           {"discountAmount", number(discount)},
           {"discountPercent", number(gross.is_zero() ? Quantity()
                                                      : Quantity::from_scaled(static_cast<std::int64_t>(
                                                            static_cast<__int128>(discount.scaled()) * 100 *
                                                            Quantity::kScale / gross.scaled())))},
           {"discountAppliedBeforeTax", false},
           {"amountExcludingTax", number(amount)},
           {"taxCode", body.value("taxCode", "")},
           {"taxPercent", number(tax_percent)},
           {"totalTaxAmount", number(tax)},
           {"amountIncludingTax", number(including)},
           {"invoiceDiscountAllocation", 0},
           {"netAmount", number(amount)},
           {"netTaxAmount", number(tax)},
           {"netAmountIncludingTax", number(including)},
           {"shipmentDate", body.value("shipmentDate", shipment_date)},
           {"itemVariantId", kZeroGuid},
           {"locationId", location_id}};
  line.record.version = bump();
  d.lines.push_back(std::move(line));
  return std::nullopt;
}

void BusinessCentralSimulator::Company::recompute(Document& d) {
  Quantity excluding, tax, including;
  for (const auto& l : d.lines) {
    excluding = plus(excluding, *decimal_of(l.record.data["amountExcludingTax"]));
    tax = plus(tax, *decimal_of(l.record.data["totalTaxAmount"]));
    including = plus(including, *decimal_of(l.record.data["amountIncludingTax"]));
  }
  json& h = d.record.data;
  h["totalAmountExcludingTax"] = number(excluding);
  h["totalTaxAmount"] = number(tax);
  h["totalAmountIncludingTax"] = number(including);
  h["remainingAmount"] = h["status"] == "Draft" ? number(Quantity()) : number(including);
  h["lastModifiedDateTime"] = now_text();
}

http::Response BusinessCentralSimulator::Company::create_document(const http::Request& r, DocumentKind kind) {
  if (auto refused = check_company(r)) return std::move(*refused);
  auto body = parse_body(r);
  if (!body) return bad_request(body.error().message);
  Document d;
  d.kind = kind;
  d.record.id = new_id(type_name(kind));
  const std::string date = today();
  d.record.data = json{{"id", d.record.id},
                       {"number", ""},
                       {"externalDocumentNumber", ""},
                       {date_member(kind), date},
                       {"postingDate", date},
                       {"customerId", kZeroGuid},
                       {"customerNumber", ""},
                       {"customerName", ""},
                       {"billToName", ""},
                       {"billToCustomerId", kZeroGuid},
                       {"billToCustomerNumber", ""},
                       {"shipToName", ""},
                       {"shipToContact", ""},
                       {"sellToAddressLine1", ""},
                       {"sellToAddressLine2", ""},
                       {"sellToCity", ""},
                       {"sellToCountry", ""},
                       {"sellToState", ""},
                       {"sellToPostCode", ""},
                       {"billToAddressLine1", ""},
                       {"billToAddressLine2", ""},
                       {"billToCity", ""},
                       {"billToCountry", ""},
                       {"billToState", ""},
                       {"billToPostCode", ""},
                       {"shipToAddressLine1", ""},
                       {"shipToAddressLine2", ""},
                       {"shipToCity", ""},
                       {"shipToCountry", ""},
                       {"shipToState", ""},
                       {"shipToPostCode", ""},
                       {"shortcutDimension1Code", ""},
                       {"shortcutDimension2Code", ""},
                       {"currencyId", kZeroGuid},
                       {"currencyCode", currency_},
                       {"paymentTermsId", kZeroGuid},
                       {"shipmentMethodId", kZeroGuid},
                       {"salesperson", ""},
                       {"pricesIncludeTax", false},
                       {"discountAmount", 0},
                       {"discountAppliedBeforeTax", false},
                       {"status", "Draft"},
                       {"phoneNumber", ""},
                       {"email", ""}};
  if (kind == DocumentKind::credit_memo) {
    d.record.data["dueDate"] = date;
    d.record.data["invoiceId"] = kZeroGuid;
    d.record.data["invoiceNumber"] = "";
    d.record.data["customerReturnReasonId"] = kZeroGuid;
  } else if (kind == DocumentKind::invoice) {
    d.record.data["dueDate"] = date;
    d.record.data["promisedPayDate"] = "0001-01-01";
    d.record.data["customerPurchaseOrderReference"] = "";
    d.record.data["orderId"] = kZeroGuid;
    d.record.data["orderNumber"] = "";
    d.record.data["disputeStatusId"] = kZeroGuid;
    d.record.data["disputeStatus"] = "";
  } else {
    d.record.data["requestedDeliveryDate"] = "0001-01-01";
    d.record.data["partialShipping"] = true;
    d.record.data["fullyShipped"] = false;
  }
  if (auto refused = apply_header(d, *body, true)) return std::move(*refused);
  if (d.record.data["number"] == "")
    d.record.data["number"] = next_in_series(kind == DocumentKind::invoice ? invoice_series_
                                             : kind == DocumentKind::order ? order_series_
                                                                           : credit_memo_series_);
  if (auto lines = body->find(lines_name(kind)); lines != body->end()) {
    if (!lines->is_array()) return bad_request(lines_name(kind) + " must be an array.");
    for (const auto& l : *lines)
      if (auto refused = add_line(d, l)) return std::move(*refused);
  }
  recompute(d);
  d.record.version = bump();
  const std::string edn = d.record.data["externalDocumentNumber"].get<std::string>();
  core_.inspection().count_key("external_document_number", edn);
  core_.inspection().record_write(
      set_name(kind) + ".create",
      json{{"id", d.record.id}, {"number", d.record.data["number"]}, {"externalDocumentNumber", edn}});
  const std::string id = d.record.id;
  documents_[id] = std::move(d);
  changed(set_name(kind), id, "created");
  json out = render_document(documents_[id], true);
  out["@odata.context"] = context_url(r, "companies(" + company_id_ + ")/" + set_name(kind) + "/$entity");
  http::Response resp = odata(201, out);
  resp.headers.emplace_back("Location", "http://" + (r.header("host") ? *r.header("host") : std::string("127.0.0.1")) +
                                            r.path + "(" + id + ")");
  return resp;
}

http::Response BusinessCentralSimulator::Company::post_document(Document& d) {
  json& h = d.record.data;
  const std::string number = h["number"].get<std::string>();
  if (h["status"] != "Draft")
    return dialog_error("The " + type_of(set_name(d.kind)) + " " + number +
                        " has already been posted; a posted document cannot be posted again.");
  if (h["customerNumber"] == "")
    return dialog_error("Sell-to Customer No. must have a value in Sales Header: No.=" + number + ".");
  bool any = false;
  for (const auto& l : d.lines)
    any = any || (l.record.data["lineType"] == "Item" && !decimal_of(l.record.data["quantity"])->is_zero());
  if (!any) return dialog_error("There is nothing to post.");
  const bool credit = d.kind == DocumentKind::credit_memo;
  const std::string posted = next_in_series(credit ? posted_credit_memo_series_ : posted_invoice_series_);
  // An invoice's stock leaves with the posted invoice; an order's with the
  // posted shipment (shipAndInvoice makes both); a credit memo's comes back.
  const bool order = d.kind == DocumentKind::order;
  const std::string stock_document = order ? next_in_series(posted_shipment_series_) : posted;
  const std::string posting_date = h["postingDate"].get<std::string>();
  const std::string customer = h["customerNumber"].get<std::string>();
  std::vector<json> entries;
  for (const auto& l : d.lines) {
    const json& ld = l.record.data;
    if (ld["lineType"] != "Item") continue;
    const Quantity q = *decimal_of(ld["quantity"]);
    if (q.is_zero()) continue;
    Record* item = item_by_id(l.item_id);
    const Quantity unit_cost = item ? *decimal_of(item->data["unitCost"]) : Quantity();
    const Quantity amount = *decimal_of(ld["amountExcludingTax"]);
    const Quantity cost = multiply_round(q, unit_cost, 1, 2);
    const char* document_type = order ? "Sales Shipment" : credit ? "Sales Credit Memo" : "Sales Invoice";
    Record& e = write_ledger_entry(ld["lineObjectNumber"].get<std::string>(), l.location_code, credit ? q : minus(q),
                                   "Sale", document_type, stock_document, posting_date, "Customer", customer,
                                   credit ? minus(amount) : amount, credit ? cost : minus(cost));
    entries.push_back(e.data["entryNumber"]);
  }
  const std::string edn = h["externalDocumentNumber"].get<std::string>();
  core_.inspection().count_key("posted_external_document_number", edn);
  if (order) return invoice_order(d, posted, stock_document, entries);
  h["number"] = posted;
  h["status"] = "Open";
  ++d.posts;
  recompute(d);
  d.record.version = bump();
  for (auto& l : d.lines) l.record.version = bump();
  core_.inspection().record_write(
      set_name(d.kind) + ".post",
      json{{"id", d.record.id}, {"number", posted}, {"externalDocumentNumber", edn}, {"entryNumbers", entries}});
  changed(set_name(d.kind), d.record.id, "updated");
  return http::Response::text(204, "");
}

http::Response BusinessCentralSimulator::Company::invoice_order(Document& order, const std::string& invoice_number,
                                                                const std::string& shipment_number,
                                                                const std::vector<json>& entries) {
  // The posted invoice: the order's header and lines under a new id, as the
  // salesInvoices API shows a posted invoice made from an order.
  Document invoice;
  invoice.kind = DocumentKind::invoice;
  invoice.record.id = new_id("salesInvoice");
  invoice.posts = 1;
  json& h = invoice.record.data;
  h = order.record.data;
  for (const char* name : {"orderDate", "requestedDeliveryDate", "partialShipping", "fullyShipped"}) h.erase(name);
  h["id"] = invoice.record.id;
  h["number"] = invoice_number;
  h["invoiceDate"] = order.record.data["postingDate"];
  h["dueDate"] = order.record.data["postingDate"];
  h["promisedPayDate"] = "0001-01-01";
  h["customerPurchaseOrderReference"] = "";
  h["orderId"] = order.record.id;
  h["orderNumber"] = order.record.data["number"];
  h["disputeStatusId"] = kZeroGuid;
  h["disputeStatus"] = "";
  h["status"] = "Open";
  for (const auto& l : order.lines) {
    Line copy = l;
    copy.record.id = new_id("line");
    copy.record.data["id"] = copy.record.id;
    copy.record.data["documentId"] = invoice.record.id;
    copy.record.version = bump();
    invoice.lines.push_back(std::move(copy));
  }
  invoice.next_sequence = order.next_sequence;
  recompute(invoice);
  invoice.record.version = bump();
  const std::string order_id = order.record.id;
  const std::string invoice_id = invoice.record.id;
  core_.inspection().record_write("salesOrders.shipAndInvoice",
                                  json{{"id", order_id},
                                       {"invoiceId", invoice_id},
                                       {"number", invoice_number},
                                       {"shipmentNumber", shipment_number},
                                       {"externalDocumentNumber", h["externalDocumentNumber"]},
                                       {"entryNumbers", entries}});
  documents_[invoice_id] = std::move(invoice);
  documents_.erase(order_id);  // a fully shipped and invoiced order is deleted
  changed("salesOrders", order_id, "deleted");
  changed("salesInvoices", invoice_id, "created");
  return http::Response::text(204, "");
}

http::Response BusinessCentralSimulator::Company::entity_action(const http::Request& r) {
  if (auto refused = check_company(r)) return std::move(*refused);
  auto [set, key] = split_segment(r.params.at("entity"));
  const std::string action = r.params.at("action");
  if (!key || !kind_of(set))
    return not_found("No HTTP resource was found that matches the request URI '" + r.path + "'.");
  const DocumentKind kind = *kind_of(set);
  Document* d = document(kind, *key);
  if (d == nullptr) return record_not_found(type_of(set), "Id='" + *key + "'");
  const std::string post_action = names_of(kind).post_action;
  if (action == post_action) return post_document(*d);
  if (action == lines_name(kind)) {
    if (d->record.data["status"] != "Draft") return dialog_error("Lines cannot be added to a posted document.");
    auto body = parse_body(r);
    if (!body) return bad_request(body.error().message);
    Document copy = *d;
    if (auto refused = add_line(copy, *body)) return std::move(*refused);
    recompute(copy);
    copy.record.version = bump();
    *d = std::move(copy);
    core_.inspection().record_write(lines_name(kind) + ".create", json{{"documentId", d->record.id}});
    changed(set, d->record.id, "updated");
    json out = render(d->lines.back().record);
    out["@odata.context"] = context_url(
        r, "companies(" + company_id_ + ")/" + set + "(" + d->record.id + ")/" + lines_name(kind) + "/$entity");
    return odata(201, out);
  }
  return bad_request("The action '" + action + "' is not supported by the simulator on " + set + " (" + post_action +
                     ", " + lines_name(kind) + ").");
}

http::Response BusinessCentralSimulator::Company::entity_navigation(const http::Request& r) {
  if (auto refused = check_company(r)) return std::move(*refused);
  auto [set, key] = split_segment(r.params.at("entity"));
  const std::string nav = r.params.at("action");
  if (!key || !kind_of(set))
    return not_found("No HTTP resource was found that matches the request URI '" + r.path + "'.");
  const DocumentKind kind = *kind_of(set);
  Document* d = document(kind, *key);
  if (d == nullptr) return record_not_found(type_of(set), "Id='" + *key + "'");
  if (nav != lines_name(kind))
    return not_found("No HTTP resource was found that matches the request URI '" + r.path + "'.");
  std::vector<json> rows;
  for (const auto& l : d->lines) rows.push_back(render(l.record));
  return page(r, nav, std::move(rows), "sequence");
}

// ---- Notifications --------------------------------------------------------------

void BusinessCentralSimulator::Company::changed(const std::string& set, const std::string& id,
                                                const std::string& change_type) {
  if (!kWebhookSets.contains(set)) return;
  const auto at = now();
  const std::string stamp = format_utc(at, 3);
  const std::string resource = "api/v2.0/companies(" + company_id_ + ")/" + set + "(" + id + ")";
  bool any = false;
  for (const auto& [sid, s] : subscriptions_) {
    if (s.entity_set != set || s.expires <= at) continue;
    PendingBatch& batch = pending_[s.notification_url];
    const std::string key = sid + " " + resource;
    ++batch.per_subscription[sid];
    batch.window_start.emplace(sid, stamp);
    if (auto it = batch.index.find(key); it != batch.index.end()) {
      PendingNotification& n = batch.entries[it->second];
      // Several changes within the delay are one notification.
      if (!(n.change_type == "created" && change_type == "updated")) n.change_type = change_type;
      n.last_modified = stamp;
    } else {
      batch.index[key] = batch.entries.size();
      batch.entries.push_back(PendingNotification{sid, resource, change_type, stamp});
    }
    any = true;
  }
  if (any) schedule_flush();
}

void BusinessCentralSimulator::Company::schedule_flush() {
  if (flush_scheduled_) return;
  flush_scheduled_ = true;
  core_.scheduler().post_after(settings_.notification_delay, [this] { flush(); });
}

sim::WebhookDispatcher& BusinessCentralSimulator::Company::dispatcher(const std::string& url) {
  std::lock_guard lock(dispatch_mu_);
  auto& d = dispatchers_[url];
  if (!d) {
    sim::DeliverySettings s = settings_.webhooks;
    s.url = url;
    auto signer = [](const sim::WebhookEvent&, std::string_view) {
      http::HeaderFields h;
      h.add("Content-Type", "application/json");  // BC signs nothing: clientState is the shared secret
      return h;
    };
    d = std::make_unique<sim::WebhookDispatcher>(s, signer, core_.faults(), core_.inspection(), core_.scheduler(),
                                                 client_);
    if (dispatchers_stopped_) d->stop();
  }
  return *d;
}

void BusinessCentralSimulator::Company::flush() {
  std::vector<std::pair<std::string, std::string>> bodies;  // url, body
  {
    std::lock_guard lock(mu_);
    flush_scheduled_ = false;
    const auto at = now();
    for (auto& [url, batch] : pending_) {
      json value = json::array();
      std::set<std::string> collected;
      for (const auto& n : batch.entries) {
        auto s = subscriptions_.find(n.subscription_id);
        if (s == subscriptions_.end() || s->second.expires <= at) continue;  // deleted or expired meanwhile
        json entry{{"subscriptionId", n.subscription_id},
                   {"clientState", s->second.client_state},
                   {"expirationDateTime", format_utc(s->second.expires, 0)},
                   {"changeType", n.change_type},
                   {"lastModifiedDateTime", n.last_modified}};
        if (batch.per_subscription[n.subscription_id] > settings_.collection_threshold) {
          // Many changes: one collection notification with a filter instead.
          if (!collected.insert(n.subscription_id).second) continue;
          entry["changeType"] = "collection";
          entry["resource"] = "/api/v2.0/companies(" + company_id_ + ")/" + s->second.entity_set +
                              "?$filter=lastModifiedDateTime%20gt%20" + batch.window_start[n.subscription_id];
        } else {
          entry["resource"] = n.resource;
        }
        value.push_back(std::move(entry));
      }
      if (!value.empty()) bodies.emplace_back(url, dump_exact(json{{"value", std::move(value)}}));
    }
    pending_.clear();
  }
  for (auto& [url, body] : bodies)
    dispatcher(url).publish(sim::WebhookEvent{"notification", core_.webhooks().new_event_id(), std::move(body), now()});
}

bool BusinessCentralSimulator::Company::wait_idle(std::chrono::milliseconds bound) {
  const auto deadline = std::chrono::steady_clock::now() + bound;
  std::vector<sim::WebhookDispatcher*> all;
  {
    std::lock_guard lock(dispatch_mu_);
    for (auto& [url, d] : dispatchers_) all.push_back(d.get());
  }
  for (auto* d : all) {
    const auto left =
        std::chrono::duration_cast<std::chrono::milliseconds>(deadline - std::chrono::steady_clock::now());
    if (!d->wait_idle(std::max(left, std::chrono::milliseconds(0)))) return false;
  }
  return true;
}

void BusinessCentralSimulator::Company::stop_dispatchers() {
  std::lock_guard lock(dispatch_mu_);
  dispatchers_stopped_ = true;
  for (auto& [url, d] : dispatchers_) d->stop();
}

// ---- Subscriptions ------------------------------------------------------------------

Result<std::string> BusinessCentralSimulator::Company::subscription_set(const std::string& resource) const {
  auto ref = parse_resource(resource);
  if (!ref || ref->entity_id || resource.find('?') != std::string::npos)
    return make_error(Errc::invalid_argument,
                      "The resource '" + resource + "' is not valid: expected /api/v2.0/companies(<id>)/<entitySet>.");
  if (lower(ref->company_id) != company_id_)
    return make_error(Errc::not_found,
                      "The Company does not exist. Identification fields and values: Id='" + ref->company_id + "'");
  if (!kWebhookSets.contains(ref->entity_set))
    return make_error(Errc::invalid_argument, "The entity set '" + ref->entity_set +
                                                  "' does not support webhooks (simulated: items, customers, "
                                                  "salesInvoices, salesOrders, salesCreditMemos).");
  return ref->entity_set;
}

std::optional<http::Response> BusinessCentralSimulator::Company::handshake(const std::string& notification_url,
                                                                           const std::string& token) {
  http::OutboundRequest request;
  request.method = "POST";
  request.url =
      notification_url + (notification_url.find('?') == std::string::npos ? "?" : "&") + "validationToken=" + token;
  request.timeout = settings_.handshake_timeout;
  request.headers.add("Content-Type", "application/json");
  auto reply = client_.send(request);
  std::string answer = reply ? reply->body : "";
  while (!answer.empty() && std::isspace(static_cast<unsigned char>(answer.back()))) answer.pop_back();
  if (answer.size() >= 2 && answer.front() == '"' && answer.back() == '"') answer = answer.substr(1, answer.size() - 2);
  const bool ok = reply && reply->status == 200 && answer == token;
  core_.inspection().count_key("subscription_handshake", ok ? "ok" : "failed");
  if (ok) return std::nullopt;
  const std::string why = !reply ? reply.error().describe()
                                 : "it answered " + std::to_string(reply->status) + " without the validationToken";
  return bc_error(
      400, "BadRequest",
      "The subscription could not be registered: the handshake with the notification URL failed (" + why + ").");
}

json BusinessCentralSimulator::Company::render_subscription(const WebhookSubscription& s) const {
  return json{{"@odata.etag", etag_of(s.id, s.version)},
              {"subscriptionId", s.id},
              {"notificationUrl", s.notification_url},
              {"resource", s.resource},
              {"userId", kZeroGuid},
              {"lastModifiedDateTime", s.modified_at},
              {"clientState", s.client_state},
              {"expirationDateTime", format_utc(s.expires, 0)},
              {"systemCreatedAt", s.created_at},
              {"systemCreatedBy", kZeroGuid},
              {"systemModifiedAt", s.modified_at},
              {"systemModifiedBy", kZeroGuid}};
}

http::Response BusinessCentralSimulator::Company::list_subscriptions(const http::Request& r) {
  std::lock_guard lock(mu_);
  json value = json::array();
  for (const auto& [id, s] : subscriptions_) value.push_back(render_subscription(s));
  return odata(200, json{{"@odata.context", context_url(r, "subscriptions")}, {"value", std::move(value)}});
}

http::Response BusinessCentralSimulator::Company::create_subscription(const http::Request& r) {
  auto body = parse_body(r);
  if (!body) return bad_request(body.error().message);
  WebhookSubscription s;
  std::string token;
  {
    std::lock_guard lock(mu_);
    token = new_token();
    for (const auto& [name, value] : body->items()) {
      if (name == "notificationUrl" || name == "resource" || name == "clientState") {
        if (!value.is_string()) return bad_request(name + " must be a string.");
      } else if (name != "subscriptionId") {
        // Read-only members sent back from a GET are ignored, as BC does.
        static const std::set<std::string> ignored{"userId",           "lastModifiedDateTime", "expirationDateTime",
                                                   "systemCreatedAt",  "systemCreatedBy",      "systemModifiedAt",
                                                   "systemModifiedBy", "@odata.etag"};
        if (!ignored.contains(name))
          return bad_request("The property '" + name + "' does not exist on type 'Microsoft.NAV.subscriptions'.");
      }
    }
    s.notification_url = body->value("notificationUrl", "");
    s.resource = body->value("resource", "");
    s.client_state = body->value("clientState", "");
    if (!s.notification_url.starts_with("http://") && !s.notification_url.starts_with("https://"))
      return bad_request("notificationUrl must be an absolute http(s) URL.");
    if (s.client_state.size() > 2048) return bad_request("clientState is longer than 2048 characters.");
    auto set = subscription_set(s.resource);
    if (!set) return bad_request(set.error().message);
    s.entity_set = *set;
    if (subscriptions_.size() >= settings_.max_subscriptions)
      return bad_request("The maximum number of webhook subscriptions (" + std::to_string(settings_.max_subscriptions) +
                         ") is reached.");
  }
  if (auto refused = handshake(s.notification_url, token)) return std::move(*refused);
  std::lock_guard lock(mu_);
  s.id = guid_from(company_id_ + "/subscription/" + std::to_string(++id_counter_));
  s.id.erase(std::remove(s.id.begin(), s.id.end(), '-'), s.id.end());
  s.created_at = s.modified_at = format_utc(now(), 0);
  s.expires = now() + settings_.subscription_lifetime;
  s.version = bump();
  subscriptions_[s.id] = s;
  core_.inspection().record_write("subscriptions.create", json{{"subscriptionId", s.id}, {"resource", s.resource}});
  json out = render_subscription(s);
  out["@odata.context"] = context_url(r, "subscriptions/$entity");
  return odata(201, out);
}

http::Response BusinessCentralSimulator::Company::subscription_by_key(const http::Request& r) {
  auto key = key_in(r.params.at("subscription"), "subscriptions");
  if (!key) return not_found("No HTTP resource was found that matches the request URI '" + r.path + "'.");
  WebhookSubscription s;
  std::string token;
  {
    std::lock_guard lock(mu_);
    token = new_token();
    auto it = subscriptions_.find(*key);
    if (it == subscriptions_.end())
      return record_not_found("API Webhook Subscription", "Subscription Id='" + *key + "'");
    if (r.method == "GET") {
      json out = render_subscription(it->second);
      out["@odata.context"] = context_url(r, "subscriptions/$entity");
      return odata(200, out);
    }
    if (auto refused = check_if_match(r, etag_of(it->second.id, it->second.version))) return std::move(*refused);
    if (r.method == "DELETE") {
      subscriptions_.erase(it);
      core_.inspection().record_write("subscriptions.delete", json{{"subscriptionId", *key}});
      return http::Response::text(204, "");
    }
    s = it->second;
    auto body = parse_body(r);
    if (!body) return bad_request(body.error().message);
    for (const auto& [name, value] : body->items()) {
      if (!value.is_string() || (name != "notificationUrl" && name != "resource" && name != "clientState"))
        return bad_request("The property '" + name + "' cannot be changed (notificationUrl, resource, clientState).");
    }
    s.notification_url = body->value("notificationUrl", s.notification_url);
    s.client_state = body->value("clientState", s.client_state);
    if (body->contains("resource")) {
      auto set = subscription_set((*body)["resource"].get<std::string>());
      if (!set) return bad_request(set.error().message);
      s.resource = (*body)["resource"].get<std::string>();
      s.entity_set = *set;
    }
  }
  // Renewal needs the handshake too.
  if (auto refused = handshake(s.notification_url, token)) return std::move(*refused);
  std::lock_guard lock(mu_);
  auto it = subscriptions_.find(s.id);
  if (it == subscriptions_.end()) return record_not_found("API Webhook Subscription", "Subscription Id='" + s.id + "'");
  s.modified_at = format_utc(now(), 0);
  s.expires = now() + settings_.subscription_lifetime;
  s.version = bump();
  it->second = s;
  core_.inspection().record_write("subscriptions.renew", json{{"subscriptionId", s.id}});
  json out = render_subscription(s);
  out["@odata.context"] = context_url(r, "subscriptions/$entity");
  return odata(200, out);
}

// ---- Admin -------------------------------------------------------------------------

namespace {
http::Response admin_problem(std::string_view detail) {
  return http::problem(400, "/problems/invalid-request", "Bad Request", detail);
}
}  // namespace

http::Response BusinessCentralSimulator::Company::admin_ledger_entry(const http::Request& r) {
  auto body = parse_exact(r.body);
  if (!body) return admin_problem("the body is not JSON");
  if (auto st = only_members(
          *body, {"itemNumber", "locationCode", "quantity", "entryType", "documentNumber", "postingDate"}, "");
      !st)
    return admin_problem(st.error().message);
  auto item = required_text(*body, "itemNumber", "");
  if (!item || !item_by_number(*item)) return admin_problem("/itemNumber: no item has this number");
  std::string location = body->value("locationCode", "");
  if (!location.empty() && !location_by_code(location))
    return admin_problem("/locationCode: no location has this code");
  auto q = optional_decimal(*body, "quantity", "", Quantity());
  if (!q || q->is_zero()) return admin_problem("/quantity: expected a non-zero JSON number");
  const std::string type = body->value("entryType", q->is_negative() ? "Negative Adjmt." : "Positive Adjmt.");
  static const std::set<std::string> types{"Purchase", "Sale", "Positive Adjmt.", "Negative Adjmt.", "Transfer"};
  if (!types.contains(type))
    return admin_problem("/entryType: Purchase, Sale, Positive Adjmt., Negative Adjmt., Transfer");
  Record& e = write_ledger_entry(*item, location, *q, type, " ", body->value("documentNumber", "SIM-ADJ"),
                                 body->value("postingDate", today()), " ", "", Quantity(), Quantity());
  json out = e.data;
  out["locationCode"] = location;
  return sim::exact_json_response(201, out);
}

http::Response BusinessCentralSimulator::Company::admin_set_inventory(const http::Request& r) {
  auto body = parse_exact(r.body);
  if (!body) return admin_problem("the body is not JSON");
  if (auto st = only_members(*body, {"itemNumber", "locationCode", "quantity"}, ""); !st)
    return admin_problem(st.error().message);
  auto item = required_text(*body, "itemNumber", "");
  if (!item || !item_by_number(*item)) return admin_problem("/itemNumber: no item has this number");
  const std::string location = body->value("locationCode", "");
  if (!location.empty() && !location_by_code(location))
    return admin_problem("/locationCode: no location has this code");
  auto target = optional_decimal(*body, "quantity", "", Quantity());
  if (!target || !body->contains("quantity")) return admin_problem("/quantity: expected a JSON number");
  const Quantity delta = plus(*target, minus(inventory_of(*item, &location)));
  json out{{"itemNumber", *item}, {"locationCode", location}, {"quantity", number(*target)}, {"entry", nullptr}};
  if (!delta.is_zero()) {
    Record& e = write_ledger_entry(*item, location, delta, delta.is_negative() ? "Negative Adjmt." : "Positive Adjmt.",
                                   " ", "SIM-COUNT", today(), " ", "", Quantity(), Quantity());
    out["entry"] = e.data;
  }
  return sim::exact_json_response(200, out);
}

http::Response BusinessCentralSimulator::Company::admin_inventory(const http::Request&) {
  json items = json::array();
  for (const auto& [id, rec] : items_) {
    const std::string n = rec.data["number"].get<std::string>();
    std::map<std::string, Quantity> per;
    for (const auto& e : ledger_)
      if (e.data["itemNumber"] == n)
        per[ledger_location_.at(e.id)] = plus(per[ledger_location_.at(e.id)], *decimal_of(e.data["quantity"]));
    json locations = json::object();
    for (const auto& [code, q] : per) locations[code] = number(q);
    items.push_back(json{{"itemNumber", n}, {"total", number(inventory_of(n, nullptr))}, {"locations", locations}});
  }
  return sim::exact_json_response(200, json{{"items", items}, {"nextEntryNumber", next_entry_number_}});
}

http::Response BusinessCentralSimulator::Company::admin_documents(const http::Request&) {
  json docs = json::array();
  for (const auto& [id, d] : documents_) {
    docs.push_back(json{{"kind", set_name(d.kind)},
                        {"id", id},
                        {"number", d.record.data["number"]},
                        {"externalDocumentNumber", d.record.data["externalDocumentNumber"]},
                        {"status", d.record.data["status"]},
                        {"lines", d.lines.size()},
                        {"totalAmountIncludingTax", d.record.data["totalAmountIncludingTax"]},
                        {"posts", d.posts}});
  }
  return sim::exact_json_response(200, json{{"documents", docs}});
}

http::Response BusinessCentralSimulator::Company::admin_clock(const http::Request& r) {
  auto body = json::parse(r.body, nullptr, false);
  if (body.is_discarded() || !body.is_object() || !body.contains("advance_seconds") ||
      !body["advance_seconds"].is_number_integer() || body["advance_seconds"].get<std::int64_t>() < 0)
    return admin_problem("expected {\"advance_seconds\": <non-negative integer>}");
  clock_offset_ += std::chrono::seconds(body["advance_seconds"].get<std::int64_t>());
  return sim::exact_json_response(200, json{{"now", now_text()}});
}

// ---- Config and wiring ----------------------------------------------------------------

Result<BusinessCentralSimulatorSettings> apply_simulator_config(const BusinessCentralSimulatorSettings& base,
                                                                const json& config) {
  BusinessCentralSimulatorSettings s = base;
  if (!config.is_object()) return invalid("", "the config must be a mapping");
  auto count = [](const json& v, std::int64_t lo, std::int64_t hi) -> std::optional<std::int64_t> {
    if (!v.is_number_integer()) return std::nullopt;
    const auto n = v.get<std::int64_t>();
    return n < lo || n > hi ? std::nullopt : std::optional<std::int64_t>(n);
  };
  auto positive = [](const json& v) -> std::optional<double> {
    double d = 0;
    if (v.is_number())
      d = v.get<double>();
    else if (is_decimal_text(v))
      d = std::stod(*number_text(v));
    else
      return std::nullopt;
    return d > 0 && d <= 1e6 ? std::optional<double>(d) : std::nullopt;
  };
  for (const auto& [name, value] : config.items()) {
    const std::string at = "/" + name;
    if (auto core = sim::apply_core_config_member(name, value, s.faults, s.webhooks)) {
      if (!*core) return core->error();
    } else if (name == "environment" && value.is_string() && !value.get<std::string>().empty()) {
      s.environment = value.get<std::string>();
    } else if (name == "bucket_capacity" || name == "bucket_refill_per_second") {
      auto v = positive(value);
      if (!v) return invalid(at, "expected a positive number");
      (name == "bucket_capacity" ? s.bucket_capacity : s.bucket_refill_per_second) = *v;
    } else if (name == "retry_after_header" && value.is_boolean()) {
      s.retry_after_header = value.get<bool>();
    } else if (name == "ledger_location_code" && value.is_boolean()) {
      s.ledger_location_code = value.get<bool>();
    } else if (name == "max_concurrent" || name == "max_queued" || name == "page_size" ||
               name == "collection_threshold" || name == "max_subscriptions") {
      auto v = count(value, name == "max_queued" ? 0 : 1, 1000000);
      if (!v) return invalid(at, "expected an integer in range");
      std::size_t* target = name == "max_concurrent"         ? &s.max_concurrent
                            : name == "max_queued"           ? &s.max_queued
                            : name == "page_size"            ? &s.page_size
                            : name == "collection_threshold" ? &s.collection_threshold
                                                             : &s.max_subscriptions;
      *target = static_cast<std::size_t>(*v);
    } else if (name == "queue_timeout_ms" || name == "notification_delay_ms" || name == "handshake_timeout_ms") {
      auto v = count(value, name == "notification_delay_ms" ? 0 : 1, 3600000);
      if (!v) return invalid(at, "expected milliseconds (at most one hour)");
      (name == "queue_timeout_ms"        ? s.queue_timeout
       : name == "notification_delay_ms" ? s.notification_delay
                                         : s.handshake_timeout) = std::chrono::milliseconds(*v);
    } else if (name == "subscription_lifetime_s") {
      auto v = count(value, 1, 365 * 24 * 3600);
      if (!v) return invalid(at, "expected seconds (1 up to a year)");
      s.subscription_lifetime = std::chrono::seconds(*v);
    } else {
      return invalid(at,
                     "unknown member or wrong type (environment, bucket_capacity, bucket_refill_per_second, "
                     "max_concurrent, max_queued, queue_timeout_ms, retry_after_header, page_size, "
                     "ledger_location_code, notification_delay_ms, collection_threshold, handshake_timeout_ms, "
                     "subscription_lifetime_s, max_subscriptions, faults, webhooks)");
    }
  }
  return s;
}

BusinessCentralSimulator::BusinessCentralSimulator(BusinessCentralSimulatorSettings settings)
    : settings_(std::move(settings)) {}

BusinessCentralSimulator::~BusinessCentralSimulator() { stop(); }

Result<std::unique_ptr<BusinessCentralSimulator>> BusinessCentralSimulator::create(
    BusinessCentralSimulatorSettings settings, const json& seed) {
  if (settings.access_token.empty())
    return make_error(Errc::invalid_argument, "the simulator needs an access token (Authorization: Bearer)");
  std::unique_ptr<BusinessCentralSimulator> sim(new BusinessCentralSimulator(std::move(settings)));
  const BusinessCentralSimulatorSettings& s = sim->settings_;

  sim::ApiPolicy policy;
  policy.authenticate = [token = s.access_token](const http::Request& r) -> std::optional<http::Response> {
    const std::string* given = r.header("authorization");
    if (given != nullptr && given->size() > 7 && lower(given->substr(0, 7)) == "bearer " &&
        constant_time_equal(given->substr(7), token))
      return std::nullopt;
    auto refused =
        bc_error(401, "Authentication_InvalidCredentials", "The server has rejected the client credentials.");
    refused.headers.emplace_back("WWW-Authenticate", "Bearer realm=\"\", error=\"invalid_token\"");
    return refused;
  };
  policy.throttled = [retry_after = s.retry_after_header](std::chrono::nanoseconds wait) {
    auto r =
        bc_error(429, "Application_TooManyRequests", "The rate limit of the user is exceeded. Please retry later.");
    if (retry_after)
      r.headers.emplace_back("Retry-After", std::to_string(std::max<std::int64_t>(
                                                1, std::chrono::ceil<std::chrono::seconds>(wait).count())));
    return r;
  };
  policy.injected_error = [](int status) {
    return status == 503   ? bc_error(503, "ServiceUnavailable", "The service is temporarily unavailable.")
           : status == 504 ? bc_error(504, "GatewayTimeout", "The request timed out.")
                           : bc_error(status, "InternalServerError", "An internal error occurred in the service.");
  };
  policy.decorate = nullptr;
  sim::CoreSettings core;
  core.faults = s.faults;
  core.webhooks = s.webhooks;
  core.webhooks.url.clear();  // notifications go to each subscription's URL
  core.bucket = connector::BudgetSettings::token_bucket(s.bucket_refill_per_second, s.bucket_capacity);
  core.clock = s.clock;
  sim->core_ = std::make_unique<sim::SimulatorCore>(
      core, std::move(policy), [](const sim::WebhookEvent&, std::string_view) { return http::HeaderFields{}; });
  sim->client_ = std::make_unique<http::OutboundClient>(http::OutboundSettings{});
  sim->company_ = std::make_unique<Company>(sim->settings_, *sim->core_, *sim->client_);
  if (auto st = sim->company_->load(seed); !st) return st.error();
  sim->limit_ = std::make_unique<ConcurrencyLimit>(sim->settings_, *sim->core_);

  sim->router_ = std::make_unique<http::Router>();
  http::Router& router = *sim->router_;
  sim::ApiGate& gate = sim->core_->gate();
  ConcurrencyLimit& limit = *sim->limit_;
  Company& company = *sim->company_;
  const std::string environment = s.environment;
  // Every API route: the environment must be ours, then the gate, then the
  // per-user concurrency limit around it.
  auto api = [&](const std::string& operation, std::function<http::Response(const http::Request&)> handler) {
    auto checked = [environment, handler = std::move(handler)](const http::Request& r) {
      auto env = r.params.find("environment");
      if (env != r.params.end() && lower(env->second) != lower(environment))
        return bc_error(404, "NoEnvironment", "The environment '" + env->second + "' does not exist.");
      try {
        return handler(r);
      } catch (const nlohmann::json::exception& e) {
        return bad_request(std::string("unexpected JSON shape: ") + e.what());
      }
    };
    return limit.wrap(gate.wrap(operation, std::move(checked)));
  };
  using Member = http::Response (Company::*)(const http::Request&);
  auto locked = [&company](Member member) {
    return [&company, member](const http::Request& r) {
      std::lock_guard lock(company.mu_);
      try {
        return (company.*member)(r);
      } catch (const nlohmann::json::exception& e) {
        // A body of an unexpected shape: the request fails, the simulator stays up.
        return bad_request(std::string("unexpected JSON shape: ") + e.what());
      }
    };
  };
  auto locked_list = [&company](std::string set) {
    return [&company, set](const http::Request& r) {
      std::lock_guard lock(company.mu_);
      return company.list_set(r, set);
    };
  };
  auto locked_create = [&company](DocumentKind kind) {
    return [&company, kind](const http::Request& r) {
      std::lock_guard lock(company.mu_);
      return company.create_document(r, kind);
    };
  };
  auto unlocked = [&company](Member member) {
    return [&company, member](const http::Request& r) { return (company.*member)(r); };
  };
  // The common endpoint and the one with the tenant (user domain or id) before the environment.
  for (const std::string prefix : {"/v2.0/{environment}/api/v2.0", "/v2.0/{tenant}/{environment}/api/v2.0"}) {
    router.add("GET", prefix + "/companies", api("companies.list", locked(&Company::list_companies)));
    router.add("GET", prefix + "/subscriptions", api("subscriptions.list", unlocked(&Company::list_subscriptions)));
    router.add("POST", prefix + "/subscriptions", api("subscriptions.create", unlocked(&Company::create_subscription)));
    for (const char* method : {"GET", "PATCH", "DELETE"})
      router.add(method, prefix + "/{subscription}",
                 api(std::string("subscriptions.") + (method == std::string("GET")     ? "get"
                                                      : method == std::string("PATCH") ? "renew"
                                                                                       : "delete"),
                     [&company, unlocked](const http::Request& r) {
                       // companies(<id>) is the company itself; subscriptions('<id>') a subscription.
                       if (r.params.at("subscription").starts_with("companies(") && r.method == "GET") {
                         http::Request copy = r;
                         copy.params["company"] = r.params.at("subscription");
                         std::lock_guard lock(company.mu_);
                         return company.get_company(copy);
                       }
                       return unlocked(&Company::subscription_by_key)(r);
                     }));
    for (const char* set :
         {"items", "locations", "customers", "itemLedgerEntries", "salesInvoices", "salesOrders", "salesCreditMemos"})
      router.add("GET", prefix + "/{company}/" + set, api(std::string(set) + ".list", locked_list(set)));
    router.add("POST", prefix + "/{company}/salesInvoices",
               api("salesInvoices.create", locked_create(DocumentKind::invoice)));
    router.add("POST", prefix + "/{company}/salesOrders",
               api("salesOrders.create", locked_create(DocumentKind::order)));
    router.add("POST", prefix + "/{company}/salesCreditMemos",
               api("salesCreditMemos.create", locked_create(DocumentKind::credit_memo)));
    router.add("GET", prefix + "/{company}/{entity}", api("entity.get", locked(&Company::get_entity)));
    router.add("PATCH", prefix + "/{company}/{entity}", api("entity.update", locked(&Company::patch_entity)));
    router.add("DELETE", prefix + "/{company}/{entity}", api("entity.delete", locked(&Company::delete_entity)));
    router.add("POST", prefix + "/{company}/{entity}/{action}", api("entity.action", locked(&Company::entity_action)));
    router.add("GET", prefix + "/{company}/{entity}/{action}",
               api("entity.lines", locked(&Company::entity_navigation)));
  }
  router.add_sync("POST", "/_sim/item_ledger_entries", locked(&Company::admin_ledger_entry));
  router.add_sync("PUT", "/_sim/inventory", locked(&Company::admin_set_inventory));
  router.add_sync("GET", "/_sim/inventory", locked(&Company::admin_inventory));
  router.add_sync("GET", "/_sim/documents", locked(&Company::admin_documents));
  router.add_sync("POST", "/_sim/clock", locked(&Company::admin_clock));
  router.add_sync("POST", "/_sim/notifications/flush", [&company](const http::Request&) {
    company.flush();
    return sim::exact_json_response(200, json{{"flushed", true}});
  });
  sim->core_->add_admin_routes(router);
  return sim;
}

Status BusinessCentralSimulator::start() {
  http::ServerSettings server;
  server.address = settings_.address;
  server.port = settings_.port;
  server.threads = settings_.threads;
  server.access_log = settings_.access_log;
  return server_.start(server, *router_);
}

std::uint16_t BusinessCentralSimulator::port() const { return server_.port(); }

std::string BusinessCentralSimulator::base_url() const { return server_.base_url(); }

std::string BusinessCentralSimulator::api_url() const {
  return base_url() + "/v2.0/" + settings_.environment + "/api/v2.0";
}

std::string BusinessCentralSimulator::company_url() const { return api_url() + "/companies(" + company_id() + ")"; }

std::string BusinessCentralSimulator::company_id() const { return company_->id(); }

void BusinessCentralSimulator::flush_notifications() { company_->flush(); }

bool BusinessCentralSimulator::wait_notifications_idle(std::chrono::milliseconds bound) {
  return company_->wait_idle(bound);
}

sim::SimulatorCore& BusinessCentralSimulator::core() { return *core_; }

void BusinessCentralSimulator::stop() {
  if (stopped_) return;
  stopped_ = true;
  // Notifications stop first; held answers go out (the scheduler flushes), then the server drains.
  if (company_) company_->stop_dispatchers();
  server_.stop(core_.get());
  if (client_) client_->stop();
}

}  // namespace trueup::connectors::business_central
