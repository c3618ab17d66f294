#pragma once
#include <string>

#include <boost/beast/http/message.hpp>

namespace cg::gateway {

/// Serialises a request head (request line, fields, empty line) into one contiguous string, so
/// it goes out in a single buffer of a gather write. Fields are written as they are.
void serialize_head(const boost::beast::http::request_header<>& h, std::string& out);

/// Same for a response head ("HTTP/1.x code reason").
void serialize_head(const boost::beast::http::response_header<>& h, std::string& out);

}  // namespace cg::gateway
