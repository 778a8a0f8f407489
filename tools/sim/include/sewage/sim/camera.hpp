#pragma once
/// \file
/// The simulated terminal camera: a generated picture of a terminal (sky by the local hour,
/// ground, a treatment tank, the control cabinet) with the terminal id, the simulated local time
/// and "SIMULATED" written on it, encoded as JPEG with libjpeg-turbo's TurboJPEG API. The
/// simulator points each agent's `image.command` at `sewage-sim-camera`, so the picture path
/// (agent -> MQTT image topic -> gateway -> /api/terminals/{id}/image) runs end to end.

#include <chrono>
#include <cstdint>
#include <string>
#include <vector>

namespace sewage::sim {

/// 8-bit RGB pixels, row-major, no padding: pixels.size() == width * height * 3.
struct rgb_image {
  int width{0};
  int height{0};
  std::vector<std::uint8_t> pixels;
};

/// Picture size of the simulated camera, pixels (small: a snapshot is ~10 KiB at quality 80).
constexpr int camera_width = 320;
constexpr int camera_height = 240;

/// Draws the scene of terminal `terminal_id` at simulated UTC time `t`. The time written on it is
/// local time at UTC+8 (Asia/Shanghai, the county's operating-day zone; no DST since 1991), as
/// "YYYY-MM-DD HH:MM UTC+8". Characters outside A-Z, 0-9 and " -:+./" are drawn as '?'
/// (lower case is drawn as upper case). Pure function; never throws except bad_alloc.
rgb_image render_snapshot(const std::string& terminal_id, std::chrono::system_clock::time_point t);

/// Encodes `image` as a baseline JPEG (4:2:0) at `quality` 1..100 with TurboJPEG.
/// Throws std::invalid_argument for a bad size or quality, std::runtime_error with TurboJPEG's
/// message if encoding fails. Thread-safe (one TurboJPEG handle per call).
std::string encode_jpeg(const rgb_image& image, int quality);

/// Decodes a JPEG into RGB with TurboJPEG (used by tests to check what the camera produced).
/// Throws std::runtime_error with TurboJPEG's message for data that is not a decodable JPEG.
rgb_image decode_jpeg(const std::string& jpeg);

}  // namespace sewage::sim
