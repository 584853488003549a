#include "connectors/json_writer.hpp"

#include <cmath>
#include <cstdio>

namespace stockd::connectors {

json_writer& json_writer::value(double v) {
  comma();
  if (!std::isfinite(v)) {
    out_ += "null";
    return *this;
  }
  char buf[32];
  int n = std::snprintf(buf, sizeof buf, "%.6g", v);
  out_.append(buf, static_cast<std::size_t>(n));
  return *this;
}

void json_writer::quote(std::string_view s) {
  static constexpr char hex[] = "0123456789abcdef";
  out_ += '"';
  for (char c : s) {
    auto u = static_cast<unsigned char>(c);
    switch (c) {
      case '"': out_ += "\\\""; break;
      case '\\': out_ += "\\\\"; break;
      case '\n': out_ += "\\n"; break;
      case '\r': out_ += "\\r"; break;
      case '\t': out_ += "\\t"; break;
      default:
        if (u < 0x20) {
          out_ += "\\u00";
          out_ += hex[u >> 4];
          out_ += hex[u & 15];
        } else {
          out_ += c;
        }
    }
  }
  out_ += '"';
}

} // namespace stockd::connectors
