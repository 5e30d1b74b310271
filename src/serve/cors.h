// CORS (`supra serve --cors-origin ORIGIN`, docs/SERVE.md "Browsers"): lets pages of the listed
// origins call the API from a browser. Without origins nothing changes: no CORS headers, and an
// OPTIONS request is a method the paths do not take (405).
#pragma once
#include <string>
#include <vector>

#include <httplib.h>

namespace supra::serve {

class Cors {
 public:
  // `origins`: exact origins ("https://app.example:8443") or "*" for any.
  explicit Cors(std::vector<std::string> origins) : origins_(std::move(origins)) {}

  // Adds Access-Control-Allow-Origin (and Vary: Origin) to `res` when the request's Origin is
  // allowed. For a preflight (OPTIONS with Access-Control-Request-Method) of a known path it
  // answers 204 with the methods and headers allowed, and returns true: the request is done,
  // without the API key (browsers never send credentials in a preflight).
  bool handle(const httplib::Request& req, httplib::Response& res) const;

 private:
  bool enabled() const { return !origins_.empty(); }
  // The Access-Control-Allow-Origin value for `origin`, "" when it is not allowed.
  std::string allow_origin(const std::string& origin) const;

  std::vector<std::string> origins_;
};

}  // namespace supra::serve
