#pragma once
// Awaiting store work from a coroutine without blocking an io_context thread.
//
// `co_await async_transact(store, work)` queues `work` through Store::post; the
// work runs on a store thread and the coroutine resumes on its own executor
// (never on the store thread) with the outcome. While it waits, the executor
// counts as having outstanding work, so io_context::run does not return.
// `store` must outlive the wait. Errors are those of Store::post/transact.

#include <boost/asio/awaitable.hpp>

#include "trueup/store/store.hpp"

namespace trueup::store {

boost::asio::awaitable<Status> async_transact(Store& store, Work work);

}  // namespace trueup::store
