//===- Format.h - Numbers with units for the reports ----------*- C++ -*-===//
#ifndef GAON_BENCH_FORMAT_H
#define GAON_BENCH_FORMAT_H

#include <nlohmann/json.hpp>

#include <string>

namespace gaon::bench::format {

/// "12.3 us", "4.56 ms", "1.20 s".
std::string seconds(double value);
/// "0.470 mJ", "12.0 uJ".
std::string joules(double value);
/// 3 significant digits with k/M/G/T: "81.3k".
std::string si(double value);
/// "2.41x".
std::string ratio(double value);
/// "45%".
std::string percent(double fraction);
/// "124 MB" (decimal units, as bandwidths are quoted).
std::string bytes(double value);

/// `format(value)` for a number, `missing` for null or absent.
template <typename F>
std::string orMissing(const nlohmann::json &object, const char *key, F format,
                      const std::string &missing = "n/a") {
  if (!object.contains(key) || !object[key].is_number())
    return missing;
  return format(object[key].get<double>());
}

} // namespace gaon::bench::format

#endif // GAON_BENCH_FORMAT_H
