#pragma once
// The operator dashboard (issue 7): GET / and its script and style sheet, compiled into the
// binary (server/dashboard/, embedded by cmake/embed_assets.cmake), and GET /v1/history, the
// last hour of figures its charts draw (actors/history.hpp). The page itself needs no token: it
// holds no data. It asks the operator for a read token and sends it on its own fetches of the
// /v1 endpoints, which check it as for any client.
#include <span>
#include <string_view>

#include "actors/history.hpp"
#include "server/api.hpp"

namespace stockd::server::dashboard {

struct embedded_asset {
  std::string_view path;        // where it is served: "/", "/dashboard.js", ...
  std::string_view media_type;  // "text/html", ...: served as UTF-8
  std::string_view bytes;
};

/// Every embedded file (generated at build time from server/dashboard/).
std::span<const embedded_asset> assets();
/// The file served at `path`, or null.
const embedded_asset* find_asset(std::string_view path);

/// Same origin only, nothing inline: the page's script and style are its own files, its fetches
/// go to this server, and no other site may frame it.
inline constexpr std::string_view content_security_policy =
    "default-src 'none'; script-src 'self'; style-src 'self'; connect-src 'self'; "
    "img-src 'self'; base-uri 'none'; form-action 'none'; frame-ancestors 'none'";

/// 200 with the file, its ETag, Cache-Control no-cache (revalidate: an upgraded binary serves
/// a new page) and the security headers; 304 when If-None-Match names the current ETag.
response asset_response(const request& req, const embedded_asset& asset);

/// GET /v1/history: the ring oldest first, then the interval in progress. 503 without a sampler.
response history_response(const request& req, const actors::history_sampler* sampler);

} // namespace stockd::server::dashboard
