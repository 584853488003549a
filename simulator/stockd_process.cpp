#include "simulator/stockd_process.hpp"

#include <fcntl.h>
#include <netinet/in.h>
#include <signal.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <charconv>
#include <csignal>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <string_view>
#include <thread>
#include <vector>

#include "simulator/http_client.hpp"

extern char** environ;

namespace stockd::simulator {

std::uint16_t free_loopback_port() {
  int fd = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (fd < 0) {
    return 0;
  }
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  addr.sin_port = 0;
  socklen_t length = sizeof addr;
  if (::bind(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr) != 0 ||
      ::getsockname(fd, reinterpret_cast<sockaddr*>(&addr), &length) != 0) {
    ::close(fd);
    return 0;
  }
  ::close(fd);
  return ntohs(addr.sin_port);
}

std::optional<std::string> sibling_stockd() {
  std::error_code ec;
  const auto self = std::filesystem::read_symlink("/proc/self/exe", ec);
  if (ec) {
    return std::nullopt;
  }
  const auto candidate = self.parent_path() / "stockd";
  if (::access(candidate.c_str(), X_OK) != 0) {
    return std::nullopt;
  }
  return candidate.string();
}

stockd_process::stockd_process(stockd_process_options opts) : opts_(std::move(opts)) {}

stockd_process::~stockd_process() {
  stop();
  if (!dir_.empty() && !opts_.keep_dir) {
    std::error_code ignored;
    std::filesystem::remove_all(dir_, ignored);
  }
}

std::string stockd_process::log_tail(std::size_t bytes) const {
  std::ifstream in(dir_ + "/stockd.log", std::ios::binary);
  std::ostringstream text;
  text << in.rdbuf();
  std::string all = text.str();
  return all.size() <= bytes ? all : all.substr(all.size() - bytes);
}

std::optional<std::string> stockd_process::start() {
  if (pid_ > 0) {
    return std::string("stockd is already running");
  }
  // A client writing to a stockd that just died must get EPIPE, not die of SIGPIPE.
  std::signal(SIGPIPE, SIG_IGN);
  if (dir_.empty()) {
    const char* base = std::getenv("TMPDIR");
    std::string pattern = std::string(base != nullptr && *base != '\0' ? base : "/tmp") +
                          "/stocksim-XXXXXX";
    if (::mkdtemp(pattern.data()) == nullptr) {
      return "mkdtemp " + pattern + ": " + std::strerror(errno);
    }
    dir_ = pattern;
  }
  port_ = free_loopback_port();
  if (port_ == 0) {
    return std::string("no free loopback port");
  }
  std::ofstream(dir_ + "/stockd.toml", std::ios::binary) << opts_.config_toml;
  // Everything the child needs is built before fork: between fork and exec only
  // async-signal-safe calls are allowed (other threads may hold malloc's lock).
  std::vector<std::string> args = {opts_.binary, "--config", dir_ + "/stockd.toml", "--data",
                                   dir_ + "/data", "--listen",
                                   "127.0.0.1:" + std::to_string(port_)};
  std::vector<char*> argv;
  for (auto& a : args) {
    argv.push_back(a.data());
  }
  argv.push_back(nullptr);
  std::vector<std::string> env_strings;
  for (char** e = environ; *e != nullptr; ++e) {
    if (std::strncmp(*e, "STOCKD_TOKEN=", 13) != 0) {
      env_strings.emplace_back(*e);
    }
  }
  env_strings.push_back("STOCKD_TOKEN=" + opts_.token);
  std::vector<char*> envp;
  for (auto& e : env_strings) {
    envp.push_back(e.data());
  }
  envp.push_back(nullptr);
  const std::string log_path = dir_ + "/stockd.log";
  const int log_fd = ::open(log_path.c_str(), O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0644);
  if (log_fd < 0) {
    return "open " + log_path + ": " + std::strerror(errno);
  }
  const pid_t parent = ::getpid();
  const pid_t pid = ::fork();
  if (pid < 0) {
    const int err = errno;
    ::close(log_fd);
    return std::string("fork: ") + std::strerror(err);
  }
  if (pid == 0) {
    // The child dies with us: a crashed stocksim leaves no stockd behind.
    ::prctl(PR_SET_PDEATHSIG, SIGKILL);
    if (::getppid() != parent) {
      ::_exit(127);
    }
    ::dup2(log_fd, STDOUT_FILENO);
    ::dup2(log_fd, STDERR_FILENO);
    ::execve(argv[0], argv.data(), envp.data());
    static constexpr char message[] = "stocksim: execve of stockd failed\n";
    [[maybe_unused]] auto n = ::write(STDERR_FILENO, message, sizeof message - 1);
    ::_exit(127);
  }
  ::close(log_fd);
  pid_ = pid;
  const auto launched = std::chrono::steady_clock::now();

  http_client client("127.0.0.1", port_);
  client_request req;
  req.target = "/readyz";
  req.timeout = std::chrono::milliseconds{1'000};
  const auto deadline = std::chrono::steady_clock::now() + opts_.ready_timeout;
  while (std::chrono::steady_clock::now() < deadline) {
    int status = 0;
    if (::waitpid(pid_, &status, WNOHANG) == pid_) {
      pid_ = -1;
      return "stockd exited before it was ready; its log:\n" + log_tail();
    }
    if (client.send(req).status == 200) {
      ready_after_ = std::chrono::steady_clock::now() - launched;
      return std::nullopt;
    }
    client.disconnect();
    std::this_thread::sleep_for(std::chrono::milliseconds{50});
  }
  stop();
  return "stockd was not ready within " + std::to_string(opts_.ready_timeout.count()) +
         " ms; its log:\n" + log_tail();
}

void stockd_process::stop() {
  if (pid_ <= 0) {
    return;
  }
  ::kill(pid_, SIGTERM);
  const auto deadline = std::chrono::steady_clock::now() + opts_.stop_timeout;
  int status = 0;
  while (std::chrono::steady_clock::now() < deadline) {
    if (::waitpid(pid_, &status, WNOHANG) == pid_) {
      pid_ = -1;
      return;
    }
    std::this_thread::sleep_for(std::chrono::milliseconds{20});
  }
  ::kill(pid_, SIGKILL);
  ::waitpid(pid_, &status, 0);
  pid_ = -1;
}

} // namespace stockd::simulator

namespace stockd::simulator {

std::optional<std::uint64_t> stockd_process::resident_bytes() const {
  if (pid_ <= 0) {
    return std::nullopt;
  }
  return process_resident_bytes(pid_);
}

namespace {
/// One "<field>:\t  123456 kB" line of /proc/<pid>/status, in bytes.
std::optional<std::uint64_t> process_status_bytes(pid_t pid, std::string_view field) {
  std::ifstream in("/proc/" + std::to_string(pid) + "/status");
  std::string line;
  while (std::getline(in, line)) {
    if (line.size() > field.size() && line.compare(0, field.size(), field) == 0 &&
        line[field.size()] == ':') {
      std::uint64_t kib = 0;
      const char* p = line.c_str() + field.size() + 1;
      while (*p == ' ' || *p == '\t') {
        ++p;
      }
      auto [end, ec] = std::from_chars(p, line.c_str() + line.size(), kib);
      if (ec != std::errc{}) {
        return std::nullopt;
      }
      return kib * 1024;
    }
  }
  return std::nullopt;
}
} // namespace

std::optional<std::uint64_t> process_resident_bytes(pid_t pid) {
  return process_status_bytes(pid, "VmRSS");
}

std::optional<std::uint64_t> process_peak_resident_bytes(pid_t pid) {
  return process_status_bytes(pid, "VmHWM");
}

} // namespace stockd::simulator
