// trueup: the command line. Exit codes: 0 ok, 2 usage or configuration
// error, 1 runtime failure (documented in docs/operations.md).
#include <pthread.h>
#include <CLI/CLI.hpp>
#include <csignal>
#include <fstream>
#include <iostream>
#include <nlohmann/json.hpp>
#include <sstream>

#include "application.hpp"
#include "daemon_config.hpp"
#include "dev_command.hpp"
#include "sim_command.hpp"
#include "stop_signals.hpp"
#include "trueup/api/auth.hpp"
#include "trueup/core/version.hpp"
#include "trueup/http/client.hpp"
#include "trueup/log/log.hpp"

namespace {

using namespace trueup;

constexpr int kOk = 0;
constexpr int kRuntimeFailure = 1;
constexpr int kUsageError = 2;

struct GlobalOptions {
  std::string log_level;
  std::string log_format;
};

// Loads and validates a configuration; prints every problem and returns
// nullopt on failure.
std::optional<config::Config> load(const std::string& path, const std::string* text = nullptr) {
  auto result = text != nullptr ? config::load_text(app::daemon_schema(), *text, path)
                                : config::load_file(app::daemon_schema(), path);
  for (const auto& d : result.diagnostics) std::cerr << d.format() << "\n";
  if (!result.config && !result.diagnostics.empty())
    std::cerr << path << ": " << result.diagnostics.size() << " problem(s) found\n";
  return std::move(result.config);
}

// Applies the config's logging, then the command line's overrides, and
// registers the config's secrets with the redactor.
std::optional<app::DaemonSettings> settings_for(const config::Config& cfg, const GlobalOptions& global) {
  auto redactor = std::make_shared<log::Redactor>();
  for (const auto& s : cfg.secrets()) redactor->add(s);
  auto settings = app::daemon_settings(cfg);
  if (!settings) {
    std::cerr << settings.error().message << "\n";
    return std::nullopt;
  }
  if (!global.log_level.empty()) log::parse_level(global.log_level, settings->log.level);
  if (!global.log_format.empty())
    settings->log.format = global.log_format == "text" ? log::Format::text : log::Format::json;
  log::setup(settings->log, redactor);
  return std::move(settings).value();
}

int run_daemon(const config::Config& cfg, const GlobalOptions& global) {
  auto settings = settings_for(cfg, global);
  if (!settings) return kUsageError;

  // Block the stop signals in every thread (they inherit this mask); the main
  // thread takes them with sigwait.
  const sigset_t stop_signals = app::block_stop_signals();

  const auto grace = settings->grace_period;
  app::Application application(std::move(*settings));
  if (auto st = application.start(); !st) {
    log::error("start failed", {{"error", st.error().describe()}});
    application.stop();
    log::flush();
    return kRuntimeFailure;
  }
  int signal_number = 0;
  sigwait(&stop_signals, &signal_number);
  log::info("stopping", {{"signal", signal_number == SIGTERM ? "SIGTERM" : "SIGINT"},
                         {"grace_period_ms", std::to_string(grace.count())}});
  const bool clean = application.stop();
  log::info("stopped", {{"drained_within_grace", clean ? "true" : "false"}});
  log::flush();
  return kOk;
}

int run_migrate(const config::Config& cfg, const GlobalOptions& global) {
  auto settings = settings_for(cfg, global);
  if (!settings) return kUsageError;
  auto store = app::open_store(*settings);
  if (!store) {
    log::error("cannot open the store", {{"error", store.error().describe()}});
    return kRuntimeFailure;
  }
  auto report = (*store)->migrate(store::embedded_migrations((*store)->engine()));
  if (!report) {
    log::error("migration failed", {{"error", report.error().describe()}});
    (*store)->stop();
    return kRuntimeFailure;
  }
  for (const auto& name : report->applied) std::cout << "applied " << name << "\n";
  std::cout << report->applied.size() << " applied, " << report->already_applied << " already applied ("
            << (*store)->engine() << ")\n";
  (*store)->stop();
  return kOk;
}

// Where and as whom the operator verbs talk to a running daemon.
struct DaemonTarget {
  std::string url = "http://127.0.0.1:8080";
  std::string key_env = "TRUEUP_API_KEY";
};

// One admin API call. On success returns the parsed body; on failure prints
// the problem's detail and sets `exit_code` (2 for 4xx, 1 otherwise).
std::optional<nlohmann::json> call_daemon(const DaemonTarget& daemon, const std::string& method,
                                          const std::string& path, const std::string& body,
                                          const std::string& content_type, int& exit_code) {
  auto target = http::parse_http_url(daemon.url);
  if (!target) {
    std::cerr << "--url: " << target.error().message << "\n";
    exit_code = kUsageError;
    return std::nullopt;
  }
  std::map<std::string, std::string> headers{{"Content-Type", content_type}};
  if (const char* key = std::getenv(daemon.key_env.c_str()); key != nullptr && *key != '\0')
    headers["Authorization"] = std::string("Bearer ") + key;
  const std::string base = target->target == "/" ? "" : target->target;
  http::BlockingClient client(target->host, target->port);
  auto reply = client.request(method, base + path, body, headers);
  if (!reply) {
    std::cerr << method << " " << path << ": " << reply.error().describe() << "\n";
    exit_code = kRuntimeFailure;
    return std::nullopt;
  }
  auto parsed = nlohmann::json::parse(reply->body, nullptr, false);
  if (reply->status / 100 != 2) {
    std::cerr << method << " " << path << ": " << reply->status << " "
              << (parsed.is_object() ? parsed.value("detail", reply->body) : reply->body) << "\n";
    exit_code = reply->status / 100 == 4 ? kUsageError : kRuntimeFailure;
    return std::nullopt;
  }
  exit_code = kOk;
  return parsed;
}

// POSTs the CSV to the daemon, which writes it in one transaction and
// replays what was parked for the imported identifiers.
int run_crosswalk_import(const std::string& path, const DaemonTarget& daemon) {
  std::ifstream f(path, std::ios::binary);
  if (!f) {
    std::cerr << path << ": cannot open the file\n";
    return kUsageError;
  }
  std::stringstream csv;
  csv << f.rdbuf();
  int code = kOk;
  auto report = call_daemon(daemon, "POST", "/v1/crosswalk/import", csv.str(), "text/csv", code);
  if (!report) return code;
  std::cout << report->value("rows", 0) << " mappings written, " << report->value("unchanged", 0) << " unchanged, "
            << report->value("replayed", 0) << " parked messages replayed\n";
  return kOk;
}

// `trueup workflows|exceptions ...`: list (filters as query) or act on one
// (with a reason for exceptions); prints the daemon's JSON answer.
int run_admin(const DaemonTarget& daemon, const std::string& collection, const std::string& action,
              const std::string& id, const std::map<std::string, std::string>& filters, const std::string& reason) {
  int code = kOk;
  std::optional<nlohmann::json> out;
  if (action == "list") {
    std::string query;
    for (const auto& [k, v] : filters)
      if (!v.empty()) query += (query.empty() ? "?" : "&") + k + "=" + v;
    out = call_daemon(daemon, "GET", "/v1/" + collection + query, "", "application/json", code);
  } else if (action == "show") {
    out = call_daemon(daemon, "GET", "/v1/" + collection + "/" + id, "", "application/json", code);
  } else {
    const std::string body = reason.empty() ? "{}" : nlohmann::json{{"reason", reason}}.dump();
    out = call_daemon(daemon, "POST", "/v1/" + collection + "/" + id + "/" + action, body, "application/json", code);
  }
  if (out) std::cout << out->dump(2) << "\n";
  return code;
}

}  // namespace

int main(int argc, char** argv) {
  log::setup(log::Settings{}, nullptr);

  CLI::App cli{
      "Trueup keeps marketplaces, POS and ERP in agreement.\n"
      "Exit codes: 0 ok, 2 usage or configuration error, 1 runtime failure."};
  cli.require_subcommand(1);
  GlobalOptions global;
  cli.add_option("--log-level", global.log_level, "Override log.level")
      ->check(CLI::IsMember({"trace", "debug", "info", "warn", "error", "off"}));
  cli.add_option("--log-format", global.log_format, "Override log.format")->check(CLI::IsMember({"json", "text"}));
  cli.fallthrough();

  std::string config_path;
  auto* serve = cli.add_subcommand("serve", "Run the daemon with a configuration file.");
  serve->add_option("--config,-c", config_path, "Configuration file (YAML)")->required();

  auto* dev = cli.add_subcommand(
      "dev",
      "Run the daemon with embedded defaults (SQLite store, in-process bus) and a simulated retail estate: Square "
      "stores, a Shopify shop and Business Central, selling (docs/dev.md).");
  app::dev::DevOptions dev_options;
  dev->add_option("--port", dev_options.port, "HTTP port (default 8080, or TRUEUP_DEV_PORT; 0 picks a free one)")
      ->check(CLI::Range(0, 65535));
  dev->add_option("--db", dev_options.db,
                  "SQLite file (default trueup-dev.db, or TRUEUP_DEV_DB); recreated at each start with the estate");
  dev->add_flag("--print-config", dev_options.print_config, "Print the embedded configuration and exit");
  dev->add_option("--write-estate", dev_options.write_estate,
                  "Write the estate's seeds, crosswalk CSV and config sections to this directory and exit (to run it "
                  "as separate processes)");
  bool dev_no_estate = false;
  dev->add_flag("--no-estate", dev_no_estate, "Only the daemon core: no simulators, no traffic");
  dev->add_option("--sales-per-second", dev_options.sales_per_second, "POS sales the estate makes per second")
      ->check(CLI::Range(0.01, 500.0))
      ->capture_default_str();
  dev->add_option("--skus", dev_options.skus, "SKUs in the estate (products of 5 sizes)")
      ->check(CLI::Range(5, 100000))
      ->capture_default_str();
  dev->add_option("--stores", dev_options.stores, "Square stores")->check(CLI::Range(1, 9))->capture_default_str();
  dev->add_option("--seed", dev_options.seed, "Seed of the estate and its traffic")->capture_default_str();
  double dev_summary_seconds = 5;
  dev->add_option("--summary-interval", dev_summary_seconds, "Seconds between summary lines")
      ->check(CLI::Range(0.2, 3600.0))
      ->capture_default_str();
  double dev_run_for = 0;
  dev->add_option("--run-for", dev_run_for, "Stop after this many seconds (default: until Ctrl-C)")
      ->check(CLI::Range(0.0, 31536000.0));

  auto* migrate = cli.add_subcommand("migrate", "Apply pending database migrations and exit.");
  migrate->add_option("--config,-c", config_path, "Configuration file (YAML)")->required();

  auto* config_cmd = cli.add_subcommand("config", "Work with configuration files.");
  config_cmd->require_subcommand(1);
  auto* check = config_cmd->add_subcommand("check", "Validate a file; print every problem with file, line and key.");
  std::string check_path;
  bool check_print = false;
  check->add_option("file", check_path, "Configuration file (YAML)")->required();
  check->add_flag("--print", check_print, "Print the effective configuration (secrets masked) as JSON");
  auto* reference = config_cmd->add_subcommand("reference", "Print the configuration reference (Markdown).");

  auto* version_cmd = cli.add_subcommand("version", "Print the version.");

  auto* api_key_cmd = cli.add_subcommand("api-key", "Work with API keys.");
  api_key_cmd->require_subcommand(1);
  auto* hash_cmd =
      api_key_cmd->add_subcommand("hash", "Print the SHA-256 to put in api.keys[].sha256 (reads the key from stdin).");

  auto* crosswalk_cmd = cli.add_subcommand("crosswalk", "Work with the ID crosswalk of a running daemon.");
  crosswalk_cmd->require_subcommand(1);
  auto* import_cmd = crosswalk_cmd->add_subcommand(
      "import", "Import system,entity,external_id,canonical_id CSV (all rows or none); parked messages replay.");
  std::string import_path;
  DaemonTarget daemon;
  auto daemon_options = [&daemon](CLI::App* cmd) {
    cmd->add_option("--url", daemon.url, "The daemon's base URL")->capture_default_str();
    cmd->add_option("--api-key-env", daemon.key_env, "Environment variable holding the API key")->capture_default_str();
  };
  import_cmd->add_option("file", import_path, "CSV file with the header system,entity,external_id,canonical_id")
      ->required();
  daemon_options(import_cmd);

  // Operator verbs over the admin API of a running daemon.
  std::string admin_collection, admin_action, admin_id, admin_reason;
  std::map<std::string, std::string> admin_filters;
  struct AdminVerb {
    const char* collection;
    std::vector<std::string> actions;
    bool reason_required;
  };
  for (const AdminVerb& verb : {AdminVerb{"workflows", {"retry", "pause", "resume", "cancel"}, false},
                                AdminVerb{"exceptions", {"retry", "resolve", "ignore"}, true}}) {
    auto* group = cli.add_subcommand(
        verb.collection, std::string("List and act on ") + verb.collection + " of a running daemon (admin API).");
    group->require_subcommand(1);
    auto* list = group->add_subcommand("list", std::string("List ") + verb.collection + " (newest first).");
    list->add_option("--state", admin_filters["state"], "Only this state");
    list->add_option(std::string(verb.collection) == "workflows" ? "--type" : "--kind",
                     admin_filters[std::string(verb.collection) == "workflows" ? "type" : "kind"],
                     "Only this type/kind");
    if (std::string(verb.collection) == "workflows")
      list->add_option("--correlation", admin_filters["correlation"], "Only this correlation key");
    list->add_option("--limit", admin_filters["limit"], "At most this many (1-1000)");
    daemon_options(list);
    list->callback([&admin_collection, &admin_action, c = std::string(verb.collection)] {
      admin_collection = c;
      admin_action = "list";
    });
    auto* show = group->add_subcommand("show", "Show one, with its history.");
    show->add_option("id", admin_id, "Its id")->required();
    daemon_options(show);
    show->callback([&admin_collection, &admin_action, c = std::string(verb.collection)] {
      admin_collection = c;
      admin_action = "show";
    });
    for (const auto& action : verb.actions) {
      auto* act = group->add_subcommand(action, action + " one");
      act->add_option("id", admin_id, "Its id")->required();
      auto* reason = act->add_option("--reason", admin_reason, "Why (kept with the record)");
      if (verb.reason_required) reason->required();
      daemon_options(act);
      act->callback([&admin_collection, &admin_action, c = std::string(verb.collection), action] {
        admin_collection = c;
        admin_action = action;
      });
    }
  }

  auto run_sim = app::add_sim_commands(cli);

  try {
    cli.parse(argc, argv);
  } catch (const CLI::CallForHelp& e) {
    return cli.exit(e);
  } catch (const CLI::CallForAllHelp& e) {
    return cli.exit(e);
  } catch (const CLI::ParseError& e) {
    cli.exit(e);
    return kUsageError;
  }

  if (auto code = run_sim()) return *code;
  if (*version_cmd) {
    std::cout << "trueup " << version() << " (" << compiler() << ")\n";
    return kOk;
  }
  if (*hash_cmd) {
    std::string key;
    std::getline(std::cin, key);
    if (key.empty()) {
      std::cerr << "api-key hash: give the key on standard input\n";
      return kUsageError;
    }
    std::cout << api::sha256_hex(key) << "\n";
    return kOk;
  }
  if (*import_cmd) return run_crosswalk_import(import_path, daemon);
  if (!admin_action.empty())
    return run_admin(daemon, admin_collection, admin_action, admin_id, admin_filters, admin_reason);
  if (*reference) {
    std::cout << app::daemon_schema()->reference_markdown();
    return kOk;
  }
  if (*check) {
    auto cfg = load(check_path);
    if (!cfg) return kUsageError;
    if (auto settings = app::daemon_settings(*cfg); !settings) {
      std::cerr << settings.error().message << "\n";
      return kUsageError;
    }
    if (check_print) std::cout << cfg->redacted().dump(2) << "\n";
    std::cout << check_path << ": ok\n";
    return kOk;
  }
  if (*serve || *migrate) {
    auto cfg = load(config_path);
    if (!cfg) return kUsageError;
    return *serve ? run_daemon(*cfg, global) : run_migrate(*cfg, global);
  }
  if (*dev) {
    dev_options.estate = !dev_no_estate;
    dev_options.summary_interval = std::chrono::milliseconds(static_cast<long long>(dev_summary_seconds * 1000));
    dev_options.run_for = std::chrono::milliseconds(static_cast<long long>(dev_run_for * 1000));
    return app::dev::run(
        dev_options, [&global](const std::string& name, const std::string& text) -> std::optional<app::DaemonSettings> {
          auto cfg = load(name, &text);
          if (!cfg) return std::nullopt;
          return settings_for(*cfg, global);
        });
  }
  return kUsageError;
}
