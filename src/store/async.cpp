#include "trueup/store/async.hpp"

#include <boost/asio/any_io_executor.hpp>
#include <boost/asio/async_result.hpp>
#include <boost/asio/executor_work_guard.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/this_coro.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <memory>
#include <utility>

namespace trueup::store {

namespace asio = boost::asio;

boost::asio::awaitable<Status> async_transact(Store& store, Work work) {
  auto executor = co_await asio::this_coro::executor;
  co_return co_await asio::async_initiate<const asio::use_awaitable_t<>, void(Status)>(
      [&store, executor](auto handler, Work w) {
        using Handler = decltype(handler);
        // Store::post takes a copyable callback; the handler is move-only.
        auto shared = std::make_shared<Handler>(std::move(handler));
        auto guard = asio::make_work_guard(executor);
        store.post(std::move(w), [shared, guard = std::move(guard)](Status outcome) mutable {
          auto ex = guard.get_executor();
          asio::post(ex, [shared, guard = std::move(guard), outcome = std::move(outcome)]() mutable {
            // Invoke (and so destroy) the handler on the coroutine's executor.
            Handler h = std::move(*shared);
            shared.reset();
            guard.reset();
            std::move(h)(std::move(outcome));
          });
        });
      },
      asio::use_awaitable, std::move(work));
}

}  // namespace trueup::store
