#include "train/train_log.h"

#include <cstdio>
#include <cstdlib>
#include <sstream>

#include "supra/error.h"

namespace supra::train {

std::string csv_header() { return "step,tokens,lr,loss,ce,z_loss,grad_norm,tok_s,val_loss\n"; }

std::string csv_row(const StepRecord& r) {
  char line[512];
  std::snprintf(line, sizeof line, "%lld,%lld,%.10g,%.17g,%.17g,%.17g,%.17g,%.1f,", static_cast<long long>(r.step),
                static_cast<long long>(r.tokens), r.lr, r.loss, r.ce, r.z_loss, r.grad_norm, r.tok_s);
  std::string s = line;
  if (r.val_loss) {
    std::snprintf(line, sizeof line, "%.17g", *r.val_loss);
    s += line;
  }
  return s + "\n";
}

namespace {

std::vector<std::string> split_commas(const std::string& line) {
  std::vector<std::string> fields;
  std::string field;
  std::istringstream in(line);
  while (std::getline(in, field, ',')) fields.push_back(field);
  if (!line.empty() && line.back() == ',') fields.emplace_back();
  return fields;
}

}  // namespace

std::vector<StepRecord> parse_csv(const std::string& text, const std::string& source) {
  std::istringstream in(text);
  std::string line;
  if (!std::getline(in, line) || line + "\n" != csv_header()) throw Error(source + ": not a supra training log (bad header)");
  std::vector<StepRecord> rows;
  for (int number = 2; std::getline(in, line); ++number) {
    const std::vector<std::string> f = split_commas(line);
    auto fail = [&] { throw Error(source + ": line " + std::to_string(number) + " is not a log row: " + line); };
    if (f.size() != 9) fail();
    auto num = [&](const std::string& s) {
      char* end = nullptr;
      const double v = std::strtod(s.c_str(), &end);
      if (s.empty() || *end != '\0') fail();
      return v;
    };
    StepRecord r;
    r.step = static_cast<std::int64_t>(num(f[0]));
    r.tokens = static_cast<std::int64_t>(num(f[1]));
    r.lr = num(f[2]);
    r.loss = num(f[3]);
    r.ce = num(f[4]);
    r.z_loss = num(f[5]);
    r.grad_norm = num(f[6]);
    r.tok_s = num(f[7]);
    if (!f[8].empty()) r.val_loss = num(f[8]);
    rows.push_back(r);
  }
  return rows;
}

}  // namespace supra::train
