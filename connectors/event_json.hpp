#pragma once
// Journal entries as JSON: the one place that names an event's fields in stockd's own output.
// The ledger endpoint (GET /v1/skus/{sku}/events), `stockctl export --events` and
// `stockctl import --data` all use it, so an exported journal reads back exactly (seq,
// received_at and every field, timestamps to the millisecond).
//
// The fields are those of DESIGN §2 as posted to /v1/events, plus "seq" and "received_at";
// a type's unused fields are left out ("location" is always written, possibly empty).
#include <string>
#include <string_view>

#include "connectors/json_writer.hpp"
#include "engine/event.hpp"
#include "engine/result.hpp"

namespace stockd::connectors {

/// Writes the entry's fields into the object `w` has open.
void write_journal_entry_fields(json_writer& w, const engine::journal_entry& entry);

/// One entry as a JSON object (one NDJSON line without the newline).
std::string journal_entry_json(const engine::journal_entry& entry);

/// Reads what journal_entry_json wrote. The error names the field and the problem.
stockd::result<engine::journal_entry, std::string> parse_journal_entry_json(std::string_view json);

} // namespace stockd::connectors
