// ApiError: a request the server refuses, with the HTTP status and the OpenAI error object
// {"error": {"message", "type", "param", "code"}} that clients (openai SDKs, lm-eval) parse.
#pragma once
#include <stdexcept>
#include <string>

namespace supra::serve {

class ApiError : public std::runtime_error {
 public:
  ApiError(int status, std::string message, std::string param = {}, std::string code = {},
           std::string type = "invalid_request_error")
      : std::runtime_error(message), status_(status), param_(std::move(param)), code_(std::move(code)),
        type_(std::move(type)) {}

  int status() const { return status_; }
  // The JSON body: param and code are null when empty.
  std::string body() const;

 private:
  int status_;
  std::string param_, code_, type_;
};

// A 400 naming the offending field.
inline ApiError bad_param(const std::string& param, const std::string& message) {
  return ApiError(400, message, param, "invalid_value");
}

}  // namespace supra::serve
