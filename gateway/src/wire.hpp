#pragma once
#include <string>

#include "gateway/head.hpp"

namespace cg::gateway {

/// Serialises a request head (request line, fields, empty line) into one contiguous string, so
/// it goes out in a single buffer of a gather write. Fields are written as they are.
void serialize_head(const request_head& h, std::string& out);

/// Same for a response head ("HTTP/1.x code reason").
void serialize_head(const response_head& h, std::string& out);

}  // namespace cg::gateway
