// Secrets never reach a log line, whichever way they get into the message.
#include <gtest/gtest.h>
#include <unistd.h>

#include <cstdio>

#include "support/process.hpp"
#include "trueup/log/log.hpp"

namespace trueup::log {
namespace {

// Captures what the logger writes to stderr.
class StderrCapture {
 public:
  StderrCapture() {
    path_ = trueup::testing::make_temp_dir("trueup-log-") + "/stderr";
    std::fflush(stderr);
    saved_ = ::dup(2);
    std::freopen(path_.c_str(), "w", stderr);
  }
  std::string finish() {
    flush();
    std::fflush(stderr);
    ::dup2(saved_, 2);
    ::close(saved_);
    return trueup::testing::read_file(path_);
  }

 private:
  std::string path_;
  int saved_ = -1;
};

TEST(LogRedaction, SecretsAreMaskedInJsonAndText) {
  auto redactor = std::make_shared<Redactor>();
  redactor->add("s3cr3t-pa55word");
  for (auto format : {Format::json, Format::text}) {
    StderrCapture capture;
    setup(Settings{Level::info, format}, redactor);
    info("connecting to postgresql://u:s3cr3t-pa55word@db/x", {{"url", "postgresql://u:s3cr3t-pa55word@db"}});
    auto text = capture.finish();
    EXPECT_EQ(text.find("s3cr3t-pa55word"), std::string::npos) << text;
    EXPECT_NE(text.find("[REDACTED]"), std::string::npos) << text;
  }
  setup(Settings{}, nullptr);
}

TEST(LogRedaction, JsonLinesCarryFields) {
  StderrCapture capture;
  setup(Settings{Level::info, Format::json}, nullptr);
  info("http request", {{"request_id", "abc123"}, {"status", "200"}});
  debug("not written at info");
  auto text = capture.finish();
  setup(Settings{}, nullptr);
  EXPECT_NE(text.find("\"msg\":\"http request\""), std::string::npos) << text;
  EXPECT_NE(text.find("\"request_id\":\"abc123\""), std::string::npos) << text;
  EXPECT_EQ(text.find("not written"), std::string::npos);
  EXPECT_EQ(std::count(text.begin(), text.end(), '\n'), 1);
}

}  // namespace
}  // namespace trueup::log
