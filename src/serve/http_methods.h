// The methods each path of the server answers: the Allow header of a 405 (a known path asked
// with another method) and the Access-Control-Allow-Methods of a CORS preflight. A route added
// to the server is added to the table in http_methods.cpp as well (test_server_routes.cpp asks
// each known path with every method it does not take).
#pragma once
#include <string>

namespace supra::serve {

// "GET, HEAD" or "POST" ... for a known path, "" for any other.
std::string allowed_methods(const std::string& path);

// Whether `method` is one of `allowed` (a list as allowed_methods returns it).
bool method_allowed(const std::string& allowed, const std::string& method);

}  // namespace supra::serve
