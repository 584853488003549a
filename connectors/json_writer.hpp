#pragma once
// A small streaming JSON writer for what stockd writes: the API's answers, connectors' request
// bodies, the emulators' answers. Escapes strings, nothing else; callers emit well-formed
// structure (this is output we build, not input we parse).
#include <cstdint>
#include <string>
#include <string_view>

namespace stockd::connectors {

class json_writer {
public:
  std::string& out() noexcept { return out_; }
  std::string take() { return std::move(out_); }

  json_writer& begin_object() { comma(); out_ += '{'; first_ = true; return *this; }
  json_writer& end_object() { out_ += '}'; first_ = false; return *this; }
  json_writer& begin_array() { comma(); out_ += '['; first_ = true; return *this; }
  json_writer& end_array() { out_ += ']'; first_ = false; return *this; }
  json_writer& key(std::string_view k) {
    comma();
    quote(k);
    out_ += ':';
    first_ = true;  // the value that follows needs no comma
    return *this;
  }
  json_writer& value(std::string_view s) { comma(); quote(s); return *this; }
  json_writer& value(const char* s) { return value(std::string_view(s)); }
  json_writer& value(std::int64_t v) { comma(); out_ += std::to_string(v); return *this; }
  json_writer& value(std::uint64_t v) { comma(); out_ += std::to_string(v); return *this; }
  json_writer& value(int v) { return value(static_cast<std::int64_t>(v)); }
  json_writer& value(unsigned v) { return value(static_cast<std::uint64_t>(v)); }
  json_writer& value(double v);
  json_writer& value(bool v) { comma(); out_ += v ? "true" : "false"; return *this; }
  json_writer& null() { comma(); out_ += "null"; return *this; }
  /// Inserts already-serialized JSON as a value.
  json_writer& raw(std::string_view json) { comma(); out_ += json; return *this; }
  template <class T>
  json_writer& field(std::string_view k, const T& v) { key(k); return value(v); }

private:
  void comma() {
    if (!first_) {
      out_ += ',';
    }
    first_ = false;
  }
  void quote(std::string_view s);
  std::string out_;
  bool first_ = true;
};

} // namespace stockd::connectors
