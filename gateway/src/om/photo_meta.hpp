#pragma once
// Internal: what a photo's bytes say about themselves (om/photos.cpp, libexif).
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

namespace sewage::gateway::om::detail {

/// "image/jpeg" (FF D8 FF) or "image/png" (the 8-byte PNG signature), std::nullopt otherwise.
std::optional<std::string> sniff_image(std::string_view bytes) noexcept;

struct photo_meta {
  std::optional<std::int64_t> taken_ms;  ///< EXIF DateTimeOriginal, read as UTC+8 (see below)
  std::optional<double> lat, lon;        ///< EXIF GPS, WGS84 degrees
};

/// EXIF of a JPEG (libexif): DateTimeOriginal ("YYYY:MM:DD HH:MM:SS", local time of the camera
/// without a zone; OffsetTimeOriginal when present, else the county's UTC+8 (China has one zone,
/// no daylight saving)), GPSLatitude/Ref, GPSLongitude/Ref. Absent or malformed fields stay
/// nullopt. Never throws.
photo_meta read_photo_meta(std::string_view bytes) noexcept;

}  // namespace sewage::gateway::om::detail
