// web_assets.h: the studio's files (web/static/ and the npm files listed in web/vendor.txt), embedded in the
// binary at build time by cmake/web_assets.cmake. Not the HTTP serving (server.cpp).
#pragma once
#include <cstddef>
#include <string_view>
#include <vector>

namespace xm::server {

struct WebAsset {
  std::string_view path;  // URL path: "/index.html", "/app.js", "/vendor/..."
  std::string_view mime;
  const unsigned char* data;
  size_t size;
};

const std::vector<WebAsset>& web_assets();
// The asset served at a URL path ("/" means "/index.html"); null when there is none.
const WebAsset* find_web_asset(std::string_view path);

}  // namespace xm::server
