#include "actors/alerts.hpp"

#include <algorithm>
#include <memory>
#include <system_error>

#include <caf/send.hpp>

#include "actors/log.hpp"
#include "connectors/webhook_client.hpp"

namespace stockd::actors {
namespace {

using self_pointer = alerts_actor::stateful_pointer<alerts_state>;

std::int64_t system_ms() {
  return std::chrono::duration_cast<std::chrono::milliseconds>(
             std::chrono::system_clock::now().time_since_epoch())
      .count();
}

void bump(std::atomic<std::uint64_t>* c, std::uint64_t by = 1) {
  if (c != nullptr) {
    c->fetch_add(by, std::memory_order_relaxed);
  }
}

void publish_failing(alerts_state& st) {
  if (st.setup.counters != nullptr) {
    st.setup.counters->alert_sinks_failing.store(
        static_cast<std::uint64_t>(std::count(st.failing.begin(), st.failing.end(), true)),
        std::memory_order_relaxed);
  }
}

void deliver(self_pointer self, alert_delivery d) {
  auto& st = self->state;
  const auto& sink = st.setup.sinks[d.sink];
  const std::string timestamp = std::to_string(system_ms() / 1000);
  connectors::http_request req;
  req.method = connectors::http_method::post;
  req.url = sink.url;
  req.timeout = st.setup.request_timeout;
  req.headers = {
      {"Content-Type", "application/json"},
      {"X-Stockd-Timestamp", timestamp},
      {"X-Stockd-Signature", connectors::webhook_signature(sink.secret, timestamp, d.body)},
      {"X-Stockd-Alert", d.kind},
  };
  req.body = d.body;
  auto handle = caf::actor_cast<alerts_actor>(self);
  st.setup.http->send(std::move(req), [handle, d](connectors::http_result r) mutable {
    const bool ok = r.error == connectors::http_error::none && r.response.status >= 200 &&
                    r.response.status < 300;
    std::string why;
    if (!ok) {
      why = r.error != connectors::http_error::none
                ? std::string(connectors::to_string(r.error)) + ": " + r.detail
                : "HTTP " + std::to_string(r.response.status);
    }
    caf::anon_send(handle, delivered_atom::value, std::move(d), ok, std::move(why));
  });
}

void send_pages(self_pointer self, std::size_t sink, std::vector<alert_notice> pages) {
  auto& st = self->state;
  for (auto& n : pages) {
    log_json(n.resolved ? log_level::info : log_level::warn, "alert",
             {{"kind", to_string(n.kind)}, {"channel", n.channel},
              {"state", n.resolved ? "resolved" : "firing"},
              {"scope", n.systemic ? "systemic" : "isolated"}, {"affected", n.affected},
              {"suppressed", n.suppressed}, {"sink", static_cast<std::uint64_t>(sink)},
              {"summary", n.summary}});
    if (st.deliveries >= deliveries_max) {
      bump(st.setup.counters ? &st.setup.counters->alerts_failed : nullptr);
      continue;
    }
    ++st.deliveries;
    bump(st.setup.counters ? &st.setup.counters->alerts_sent : nullptr);
    deliver(self, alert_delivery{sink, std::string(to_string(n.kind)), alert_json(n), 1});
  }
}

/// Feeds a check's figures to every sink's policy.
void evaluate(self_pointer self, const alert_observation& o) {
  auto& st = self->state;
  const std::int64_t now = st.setup.clock();
  for (std::size_t i = 0; i < st.policies.size(); ++i) {
    const auto before = st.policies[i].suppressed();
    auto pages = st.policies[i].observe(o, now);
    bump(st.setup.counters ? &st.setup.counters->alerts_suppressed : nullptr,
         st.policies[i].suppressed() - before);
    send_pages(self, i, std::move(pages));
  }
}

/// The figures that need no channel: oversells, rejections, the store.
void fill_local(const alerts_state& st, alert_observation& o) {
  if (const metrics* m = st.setup.counters) {
    o.rejected_total = m->events_rejected.load(std::memory_order_relaxed) +
                       m->apply_rejected.load(std::memory_order_relaxed);
    for (const auto& [channel, figures] : m->oversold_by_channel.snapshot()) {
      auto it = std::find_if(o.channels.begin(), o.channels.end(),
                             [&](const channel_observation& c) { return c.channel == channel; });
      if (it == o.channels.end()) {
        o.channels.push_back({channel, false, 0, 0, 0, 0, 0});
        it = std::prev(o.channels.end());
      }
      it->oversold_units = figures.units;
      it->oversell_cases = figures.cases;
    }
  }
  if (st.setup.db != nullptr && st.setup.map_size_max > 0) {
    const auto s = st.setup.db->read_stats();
    o.map_used_ratio =
        static_cast<double>(s.map_used_bytes) / static_cast<double>(st.setup.map_size_max);
  }
  if (!st.setup.data_dir.empty()) {
    std::error_code ec;
    const auto space = std::filesystem::space(st.setup.data_dir, ec);
    if (!ec && space.capacity > 0) {
      o.disk_used_ratio = 1.0 - static_cast<double>(space.available) /
                                    static_cast<double>(space.capacity);
    }
  }
}

/// Asks every channel for its status, then sends the whole observation to itself.
void check(self_pointer self) {
  auto& st = self->state;
  if (st.checking) {
    return;  // the last check is still gathering (a channel slow to answer)
  }
  st.checking = true;
  struct gather {
    alert_observation o;
    std::size_t remaining = 0;
  };
  auto g = std::make_shared<gather>();
  g->remaining = st.setup.channels.size();
  auto finish = [self, g] {
    if (--g->remaining > 0) {
      return;
    }
    fill_local(self->state, g->o);
    self->send(self, observed_atom::value, std::move(g->o));
  };
  if (st.setup.channels.empty()) {
    g->remaining = 1;
    finish();
    return;
  }
  for (const auto& ch : st.setup.channels) {
    self->request(ch, st.setup.request_timeout, status_atom::value)
        .then(
            [g, finish](const channel_status& s) {
              g->o.channels.push_back({s.channel.str(), s.circuit != "closed",
                                       static_cast<std::uint64_t>(s.skus),
                                       static_cast<std::uint64_t>(s.out_of_sync),
                                       s.oldest_out_of_sync_ms, 0, 0});
              finish();
            },
            [finish](caf::error&) { finish(); });
  }
}

} // namespace

alerts_actor::behavior_type alerts(alerts_actor::stateful_pointer<alerts_state> self,
                                   alerts_setup setup) {
  {
    auto& init = self->state;
    init.setup = std::move(setup);
    if (!init.setup.clock) {
      init.setup.clock = system_ms;
    }
    for (const auto& sink : init.setup.sinks) {
      init.policies.emplace_back(sink);
    }
    init.failing.assign(init.setup.sinks.size(), false);
    self->delayed_send(self, init.setup.interval, tick_atom::value);
  }
  return {
      [self](tick_atom) {
        check(self);
        self->delayed_send(self, self->state.setup.interval, tick_atom::value);
      },
      [self](observed_atom, const alert_observation& o) {
        self->state.checking = false;
        evaluate(self, o);
      },
      [self](variance_atom, const variance_report& r) {
        auto& st = self->state;
        const std::int64_t now = st.setup.clock();
        for (std::size_t i = 0; i < st.policies.size(); ++i) {
          send_pages(self, i, st.policies[i].variance(r, now));
        }
      },
      [self](delivered_atom, alert_delivery& d, bool ok, const std::string& why) {
        auto& st = self->state;
        if (ok) {
          --st.deliveries;
          st.failing[d.sink] = false;
          publish_failing(st);
          return;
        }
        st.failing[d.sink] = true;
        publish_failing(st);
        log_json(log_level::warn, "alert delivery failed",
                 {{"sink", static_cast<std::uint64_t>(d.sink)}, {"kind", d.kind},
                  {"attempt", static_cast<std::uint64_t>(d.attempt)}, {"error", why}});
        if (d.attempt >= delivery_attempts_max) {
          --st.deliveries;
          bump(st.setup.counters ? &st.setup.counters->alerts_failed : nullptr);
          return;
        }
        const auto wait = std::chrono::seconds(1) * (1 << d.attempt);
        ++d.attempt;
        self->delayed_send(self, wait, retry_atom::value, std::move(d));
      },
      [self](retry_atom, alert_delivery& d) { deliver(self, std::move(d)); },
  };
}

} // namespace stockd::actors
