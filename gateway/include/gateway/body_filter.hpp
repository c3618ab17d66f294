#pragma once
#include <functional>
#include <memory>
#include <string>
#include <string_view>

#include "gateway/transaction.hpp"

namespace cg::gateway {

/// A transform of one response body, chosen at response-header time (the seam h2o calls an
/// output filter and Envoy encodeData). It sees the body with its transfer coding removed (a
/// content coding such as gzip stays: a filter that cannot read it offers no transform) and
/// its output is sent chunked (HTTP/1.1) or close-delimited (HTTP/1.0).
class body_transform {
  public:
    virtual ~body_transform() = default;

    /// Takes the next piece of the body and appends to `out` what is ready: less than `in`
    /// when something must be held back (a tag split across pieces), more when it inserts.
    /// `last` marks the end of the body (`in` may be empty then): everything held back must be
    /// written. Called on one thread, in order. `in` is untrusted: must not throw, no I/O.
    virtual void write(std::string_view in, bool last, std::string& out) = 0;

    /// The request fields the output depends on, comma-separated (such as "Cookie,
    /// Accept-Language" when it depends on consent and language), each added to Vary unless
    /// listed already; "" when none.
    virtual std::string_view vary() const noexcept { return {}; }
};

/// Offers a transform for one response, or null to let its body pass untouched. Called once
/// per response that may be transformed (a body follows; not a 206; no `Cache-Control:
/// no-transform`), after the response stages, with the transaction and the head about to be
/// sent. Must not throw; no I/O; called from every worker thread at once.
using body_filter =
    std::function<std::unique_ptr<body_transform>(const transaction& tx, const response_head& h)>;

}  // namespace cg::gateway
