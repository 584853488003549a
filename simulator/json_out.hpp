#pragma once
// A small streaming JSON writer for the emulators' answers (the server's json_writer lives in
// server/, a layer the simulator may not use). Escapes strings; callers emit well-formed structure.
#include <cstdint>
#include <string>
#include <string_view>

namespace stockd::simulator {

class json_out {
public:
  std::string take() { return std::move(out_); }

  json_out& begin_object() { comma(); out_ += '{'; first_ = true; return *this; }
  json_out& end_object() { out_ += '}'; first_ = false; return *this; }
  json_out& begin_array() { comma(); out_ += '['; first_ = true; return *this; }
  json_out& end_array() { out_ += ']'; first_ = false; return *this; }
  json_out& key(std::string_view k) {
    comma();
    quote(k);
    out_ += ':';
    first_ = true;
    return *this;
  }
  json_out& value(std::string_view s) { comma(); quote(s); return *this; }
  json_out& value(const char* s) { return value(std::string_view(s)); }
  json_out& value(std::int64_t v) { comma(); out_ += std::to_string(v); return *this; }
  json_out& value(std::uint64_t v) { comma(); out_ += std::to_string(v); return *this; }
  json_out& value(int v) { return value(static_cast<std::int64_t>(v)); }
  json_out& value(unsigned v) { return value(static_cast<std::uint64_t>(v)); }
  json_out& value(double v);
  json_out& value(bool v) { comma(); out_ += v ? "true" : "false"; return *this; }
  json_out& null() { comma(); out_ += "null"; return *this; }
  /// Inserts already-serialized JSON as a value.
  json_out& raw(std::string_view json) { comma(); out_ += json; return *this; }
  template <class T>
  json_out& field(std::string_view k, const T& v) { key(k); return value(v); }

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

} // namespace stockd::simulator
