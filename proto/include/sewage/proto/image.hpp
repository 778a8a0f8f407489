#pragma once
/// \file
/// Terminal pictures on `sewage/v1/{terminal}/image`: a raw JPEG, retained, bounded in size.

#include <string>
#include <string_view>

namespace sewage::proto {

/// True for an acceptable image payload: starts with the JPEG SOI marker and a segment marker
/// (FF D8 FF, ITU-T T.81 B.1.1.3), ends with EOI (FF D9), and is at most limits::max_image_bytes.
/// On failure `why`, if given, receives the reason. Never throws except bad_alloc. Thread-safe.
bool is_acceptable_jpeg(std::string_view bytes, std::string* why = nullptr);

}  // namespace sewage::proto
