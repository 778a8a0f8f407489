#include "sewage/proto/image.hpp"

#include "sewage/proto/limits.hpp"

namespace sewage::proto {

bool is_acceptable_jpeg(std::string_view b, std::string* why) {
  auto fail = [&](std::string reason) {
    if (why != nullptr) *why = std::move(reason);
    return false;
  };
  if (b.size() > limits::max_image_bytes) {
    return fail("image is " + std::to_string(b.size()) + " bytes; the limit is " +
                std::to_string(limits::max_image_bytes));
  }
  if (b.size() < 4 || static_cast<unsigned char>(b[0]) != 0xFF ||
      static_cast<unsigned char>(b[1]) != 0xD8 || static_cast<unsigned char>(b[2]) != 0xFF) {
    return fail("not a JPEG: missing the start-of-image marker FF D8 FF");
  }
  if (static_cast<unsigned char>(b[b.size() - 2]) != 0xFF ||
      static_cast<unsigned char>(b[b.size() - 1]) != 0xD9) {
    return fail("truncated JPEG: missing the end-of-image marker FF D9");
  }
  return true;
}

}  // namespace sewage::proto
