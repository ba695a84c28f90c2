# Top-level entry points. Everything installs what it needs (scripts/setup)
# and builds before it runs.
#
#   make build   configure (once) and build into $(BUILD_DIR)
#   make run     build, then `trueup dev`
#   make test    build, start PostgreSQL and Kafka, run the unit, pg, kafka and
#                e2e tests, stop both services (always)
#   make bench   build, start the services, run tests/bench/run
#   make clean   remove the build directory
#   make distclean  also stop the default-directory services and remove .tmp/ and .cache/
#
# Variables: BUILD_DIR (build), BUILD_TYPE (RelWithDebInfo), JOBS (2),
# CMAKE_ARGS (extra configure arguments, used on the first configure only),
# TEST_LABELS (unit pg kafka e2e), CTEST_ARGS (extra ctest arguments),
# REQUIRE_LABELS (labels that must have at least one test; default none, a
# label without tests is only reported).

SHELL := /bin/bash
.SHELLFLAGS := -euo pipefail -c

BUILD_DIR   ?= build
BUILD_TYPE  ?= RelWithDebInfo
JOBS        ?= 2
CMAKE_ARGS  ?=
TEST_LABELS ?= unit pg kafka e2e
CTEST_ARGS  ?=
REQUIRE_LABELS ?= unit pg kafka e2e

empty :=
space := $(empty) $(empty)
TEST_LABEL_REGEX := ^($(subst $(space),|,$(strip $(TEST_LABELS))))$$

.PHONY: all setup configure build run test bench clean distclean

all: build

setup:
	@scripts/setup

configure: setup
	@if [ ! -f "$(BUILD_DIR)/CMakeCache.txt" ]; then \
	  cmake -S . -B "$(BUILD_DIR)" -G Ninja -DCMAKE_BUILD_TYPE=$(BUILD_TYPE) $(CMAKE_ARGS); \
	fi

build: configure
	cmake --build "$(BUILD_DIR)" -j$(JOBS)

run: build
	./$(BUILD_DIR)/src/app/trueup dev

test: build
	scripts/check-test-labels "$(BUILD_DIR)" "$(TEST_LABELS)" "$(REQUIRE_LABELS)"
	scripts/with-services ctest --test-dir "$(BUILD_DIR)" --output-on-failure \
	  -L '$(TEST_LABEL_REGEX)' $(CTEST_ARGS)

bench: build
	TRUEUP_BUILD_DIR="$(abspath $(BUILD_DIR))" scripts/with-services tests/bench/run

clean:
	rm -rf "$(BUILD_DIR)"

distclean: clean
	-scripts/kafka-down
	-scripts/pg-down
	rm -rf .tmp .cache
