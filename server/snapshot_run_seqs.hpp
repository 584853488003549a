#pragma once
// The ids of snapshot runs (server/snapshots.hpp): "snapshot:<location>.<n>", n counted per
// location. Apart from snapshots.hpp so that the api, which owns the counter, need not include
// the upload.
#include <cstdint>
#include <map>
#include <mutex>

#include "engine/ids.hpp"
#include "store/database.hpp"

namespace stockd::server {

/// The seq of each location's snapshot runs, so that uploads running at once get distinct ids:
/// read from the last stored run on a location's first use, then counted here. Thread-safe.
class snapshot_run_seqs {
public:
  /// The next seq for `location`; an error when the last stored run cannot be read.
  store::result<std::uint64_t> next(const store::database& db,
                                    const engine::location_id& location);

private:
  std::mutex mutex_;
  std::map<engine::location_id, std::uint64_t> last_;  // one per location that stored a run
};

} // namespace stockd::server
