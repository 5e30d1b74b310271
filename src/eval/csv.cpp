#include "eval/csv.h"

#include "supra/error.h"

namespace supra::eval {
namespace {

class CsvParser {
 public:
  CsvParser(std::string_view text, const std::string& name) : text_(text), name_(name) {}

  std::vector<CsvRecord> parse() {
    std::vector<CsvRecord> records;
    while (pos_ < text_.size()) records.push_back(record());
    return records;
  }

 private:
  [[noreturn]] void fail(const std::string& what) const {
    throw Error(name_ + ":" + std::to_string(line_) + ": bad CSV: " + what);
  }

  // One record, including its line ending (if any).
  CsvRecord record() {
    CsvRecord r;
    r.line = line_;
    while (true) {
      r.fields.push_back(field());
      if (pos_ == text_.size()) return r;
      char c = text_[pos_];
      if (c == ',') {
        ++pos_;
        continue;
      }
      // field() stops only at a comma, a line ending or the end.
      pos_ += c == '\r' ? 2 : 1;
      ++line_;
      return r;
    }
  }

  std::string field() {
    if (pos_ < text_.size() && text_[pos_] == '"') return quoted_field();
    std::size_t start = pos_;
    while (pos_ < text_.size()) {
      char c = text_[pos_];
      if (c == ',' || c == '\n') break;
      if (c == '\r') {
        if (pos_ + 1 < text_.size() && text_[pos_ + 1] == '\n') break;
        fail("carriage return outside quotes");
      }
      if (c == '"') fail("quote inside an unquoted field");
      ++pos_;
    }
    return std::string(text_.substr(start, pos_ - start));
  }

  std::string quoted_field() {
    std::int64_t opened_at = line_;
    ++pos_;  // opening quote
    std::string out;
    while (true) {
      if (pos_ == text_.size()) {
        line_ = opened_at;
        fail("quoted field is not closed");
      }
      char c = text_[pos_++];
      if (c == '"') {
        if (pos_ < text_.size() && text_[pos_] == '"') {
          out += '"';
          ++pos_;
          continue;
        }
        break;
      }
      if (c == '\n') ++line_;
      out += c;
    }
    if (pos_ < text_.size()) {
      char c = text_[pos_];
      bool ends = c == ',' || c == '\n' || (c == '\r' && pos_ + 1 < text_.size() && text_[pos_ + 1] == '\n');
      if (!ends) fail("text after the closing quote of a field");
    }
    return out;
  }

  std::string_view text_;
  const std::string& name_;
  std::size_t pos_ = 0;
  std::int64_t line_ = 1;
};

}  // namespace

std::vector<CsvRecord> parse_csv(std::string_view text, const std::string& name) {
  return CsvParser(text, name).parse();
}

}  // namespace supra::eval
