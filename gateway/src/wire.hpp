#pragma once
#include <string>

#include <boost/beast/http/message.hpp>

#include "gateway/pool_allocator.hpp"

namespace cg::gateway {

/// Serialises a request head (request line, fields, empty line) into one contiguous string, so
/// it goes out in a single buffer of a gather write. Fields are written as they are.
void serialize_head(const boost::beast::http::header<true, pooled_fields>& h, std::string& out);

/// Same for a response head ("HTTP/1.x code reason").
void serialize_head(const boost::beast::http::header<false, pooled_fields>& h, std::string& out);

}  // namespace cg::gateway
