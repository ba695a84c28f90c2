// Store pieces that need no database: migration naming and checksums, the
// embedded files, URL redaction, and the errors of open_* for bad settings or
// an unreachable server.

#include <gtest/gtest.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <set>

#include "trueup/store/store.hpp"

namespace trueup::store {
namespace {

TEST(StoreMigrationNames, VersionComesFromTheNumberedPrefix) {
  EXPECT_EQ(migration_version("0001_init.sql"), 1);
  EXPECT_EQ(migration_version("0042_add_outbox.sql"), 42);
  EXPECT_EQ(migration_version("7.sql"), 7);
  EXPECT_EQ(migration_version("init.sql"), std::nullopt);
  EXPECT_EQ(migration_version("0001_init.txt"), std::nullopt);
  EXPECT_EQ(migration_version("0001_.sql"), std::nullopt);
  EXPECT_EQ(migration_version("0001-init.sql"), std::nullopt);
  EXPECT_EQ(migration_version("0000_zero.sql"), std::nullopt);
  EXPECT_EQ(migration_version(".sql"), std::nullopt);
}

TEST(StoreMigrationChecksum, IsSha256OfTheTextWithLfLineEndings) {
  // sha256("abc\n")
  const std::string expected = "edeaaff3f1774ad2888673770c6d64097e391bc362d7d6fb34982ddf0efd18cb";
  EXPECT_EQ(migration_checksum({1, "0001_a.sql", "abc\n"}), expected);
  EXPECT_EQ(migration_checksum({1, "0001_a.sql", "abc\r\n"}), expected);
  EXPECT_NE(migration_checksum({1, "0001_a.sql", "abc \n"}), expected);
}

TEST(StoreEmbeddedMigrations, BothEnginesHaveTheSameNumberedFiles) {
  const auto& pg = embedded_migrations("postgres");
  const auto& lite = embedded_migrations("sqlite");
  ASSERT_FALSE(pg.empty());
  ASSERT_EQ(pg.size(), lite.size());
  std::set<int> versions;
  for (std::size_t i = 0; i < pg.size(); ++i) {
    EXPECT_EQ(pg[i].name, lite[i].name);
    EXPECT_EQ(migration_version(pg[i].name), pg[i].version);
    EXPECT_TRUE(versions.insert(pg[i].version).second) << "duplicate version " << pg[i].version;
    if (i > 0) {
      EXPECT_LT(pg[i - 1].version, pg[i].version);
    }
    // Every file changes the schema (some only add columns).
    EXPECT_TRUE(pg[i].sql.find("CREATE TABLE") != std::string::npos ||
                pg[i].sql.find("ALTER TABLE") != std::string::npos)
        << pg[i].name;
  }
  EXPECT_EQ(pg.front().name, "0001_init.sql");
  EXPECT_TRUE(embedded_migrations("oracle").empty());
}

TEST(StoreRedactUrl, HidesPasswordsInUrlsAndKeywordStrings) {
  EXPECT_EQ(redact_url("postgresql://trueup:s3cr%40t@db.example:5433/trueup?sslmode=require"),
            "postgresql://trueup:***@db.example:5433/trueup?sslmode=require");
  EXPECT_EQ(redact_url("postgres://u:pw@h/db?password=other&x=1"), "postgres://u:***@h/db?password=***&x=1");
  EXPECT_EQ(redact_url("postgresql://u@h:5432/db"), "postgresql://u@h:5432/db");
  EXPECT_EQ(redact_url("postgresql:///db?host=/tmp"), "postgresql:///db?host=/tmp");
  EXPECT_EQ(redact_url("host=h port=5432 password=hunter22 dbname=d"), "host=h port=5432 password=*** dbname=d");
  EXPECT_EQ(redact_url("host=h password = 'a b\\'c' user=u"), "host=h password = '***' user=u");
}

TEST(StoreOpenPostgres, BadSettingsAreInvalidArgument) {
  PostgresSettings s;
  s.url = "postgresql://u@127.0.0.1:1/db";
  s.pool_size = 0;
  auto r = open_postgres(s);
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.error().code, Errc::invalid_argument);

  s.pool_size = 1;
  s.yield_above = std::chrono::milliseconds(-1);
  r = open_postgres(s);
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.error().code, Errc::invalid_argument);
  EXPECT_NE(r.error().message.find("yield_above"), std::string::npos) << r.error().message;

  s.yield_above = std::chrono::milliseconds(0);
  s.schema = "Robert'); DROP TABLE students;--";
  r = open_postgres(s);
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.error().code, Errc::invalid_argument);

  s.schema = "tenant_a";
  s.url = "postgresql://u@127.0.0.1:1/db?options=-cwork_mem%3D1MB";
  r = open_postgres(s);
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.error().code, Errc::invalid_argument);
}

// A local TCP port with nothing listening: bound once by us, then released.
int closed_port() {
  int fd = ::socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  addr.sin_port = 0;
  EXPECT_EQ(::bind(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr), 0);
  socklen_t len = sizeof addr;
  ::getsockname(fd, reinterpret_cast<sockaddr*>(&addr), &len);
  ::close(fd);
  return ntohs(addr.sin_port);
}

TEST(StoreOpenPostgres, UnreachableServerIsUnavailableAndNeverShowsThePassword) {
  const std::string password = "Very-Secret-Pa55word";
  const std::string port = std::to_string(closed_port());
  PostgresSettings s;
  s.url = "postgresql://trueup:" + password + "@127.0.0.1:" + port + "/trueup";
  s.connect_timeout = std::chrono::milliseconds(2000);
  auto r = open_postgres(s);
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.error().code, Errc::unavailable);
  EXPECT_TRUE(r.error().retryable());
  const auto& m = r.error().message;
  EXPECT_EQ(m.find(password), std::string::npos) << m;
  EXPECT_NE(m.find("127.0.0.1:" + port), std::string::npos) << m;
  EXPECT_NE(m.find("trueup:***@"), std::string::npos) << m;

  // The keyword form, too.
  s.url = "host=127.0.0.1 port=" + port + " user=trueup password=" + password + " dbname=trueup";
  r = open_postgres(s);
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.error().code, Errc::unavailable);
  EXPECT_EQ(r.error().message.find(password), std::string::npos) << r.error().message;
  EXPECT_NE(r.error().message.find(port), std::string::npos) << r.error().message;
}

TEST(StoreOpenSqlite, BadSettingsAreInvalidArgument) {
  SqliteSettings s;
  s.path = "";
  auto r = open_sqlite(s);
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.error().code, Errc::invalid_argument);
  s.path = ":memory:";
  s.queue_capacity = 0;
  r = open_sqlite(s);
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.error().code, Errc::invalid_argument);
}

TEST(StoreOpenSqlite, InMemoryDatabaseMigrates) {
  SqliteSettings s;
  s.path = ":memory:";
  auto store = open_sqlite(s);
  ASSERT_TRUE(store.ok()) << store.error().describe();
  auto report = (*store)->migrate(embedded_migrations("sqlite"));
  ASSERT_TRUE(report.ok()) << report.error().describe();
  EXPECT_EQ(report->applied.size(), embedded_migrations("sqlite").size());
}

}  // namespace
}  // namespace trueup::store
