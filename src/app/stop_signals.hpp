#pragma once
// SIGINT and SIGTERM are taken by one thread with sigwait (or sigtimedwait):
// block them first, before any thread is started, so that every thread
// inherits the mask and none is interrupted. SIGPIPE is ignored (a peer
// closing a socket is an error of that write, not the end of the process).

#include <pthread.h>

#include <csignal>

namespace trueup::app {

// Blocks SIGINT and SIGTERM in this thread and every thread started after,
// ignores SIGPIPE, and returns the blocked set for sigwait.
inline sigset_t block_stop_signals() {
  sigset_t signals;
  sigemptyset(&signals);
  sigaddset(&signals, SIGINT);
  sigaddset(&signals, SIGTERM);
  pthread_sigmask(SIG_BLOCK, &signals, nullptr);
  std::signal(SIGPIPE, SIG_IGN);
  return signals;
}

}  // namespace trueup::app
