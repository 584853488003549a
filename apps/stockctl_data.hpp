#pragma once
// stockctl's commands that work on a data directory rather than through the HTTP API: replay,
// export and the offline import. They open the store read-only (beside a running stockd) or,
// for an import or `replay --into`, a fresh directory no stockd is using.
#include <string>
#include <vector>

namespace stockd::stockctl {

struct data_flags {
  std::string data;   // --data DIR: the live data directory
  std::string into;   // --into DIR: replay writes the rebuilt store here
  std::string out;    // --out FILE: export writes here instead of stdout
  bool events = false;  // export --events: the journal instead of the states
  bool json = false;    // --json: the summary as JSON on stdout
};

/// Exit codes as stockctl --help documents them.
inline constexpr int exit_ok = 0;
inline constexpr int exit_differs = 1;  // replay: live state and journal disagree
inline constexpr int exit_usage = 2;
inline constexpr int exit_failed = 4;   // the data could not be read or written

int replay(const data_flags& flags);
int export_data(const data_flags& flags);
/// Reads NDJSON journal entries (as `export --events` writes them) from `file` ("-" = stdin)
/// and appends them to the store in flags.data, keeping their seqs. Resumable: entries the
/// store already holds (same seq, same source and id) are skipped.
int import_journal(const data_flags& flags, const std::string& file);

} // namespace stockd::stockctl
