// Photo metadata (photo_meta.hpp) through libexif.
#include "photo_meta.hpp"

#include <libexif/exif-data.h>

#include <chrono>
#include <cstdio>
#include <cstring>

namespace sewage::gateway::om::detail {

std::optional<std::string> sniff_image(std::string_view b) noexcept {
  if (b.size() >= 3 && static_cast<unsigned char>(b[0]) == 0xFF && static_cast<unsigned char>(b[1]) == 0xD8 &&
      static_cast<unsigned char>(b[2]) == 0xFF)
    return "image/jpeg";
  static constexpr unsigned char png[8] = {0x89, 'P', 'N', 'G', 0x0D, 0x0A, 0x1A, 0x0A};
  if (b.size() >= 8 && std::memcmp(b.data(), png, 8) == 0) return "image/png";
  return std::nullopt;
}

namespace {

std::string ascii(ExifData* d, ExifIfd ifd, ExifTag tag) {
  ExifEntry* e = exif_content_get_entry(d->ifd[ifd], tag);
  if (e == nullptr || e->format != EXIF_FORMAT_ASCII || e->data == nullptr) return {};
  return std::string(reinterpret_cast<const char*>(e->data), strnlen(reinterpret_cast<const char*>(e->data), e->size));
}

std::optional<double> dms(ExifData* d, ExifTag tag, ExifTag ref_tag, char negative) {
  ExifEntry* e = exif_content_get_entry(d->ifd[EXIF_IFD_GPS], tag);
  if (e == nullptr || e->format != EXIF_FORMAT_RATIONAL || e->components != 3) return std::nullopt;
  const ExifByteOrder o = exif_data_get_byte_order(d);
  double parts[3];
  for (unsigned i = 0; i < 3; ++i) {
    const ExifRational r = exif_get_rational(e->data + i * exif_format_get_size(EXIF_FORMAT_RATIONAL), o);
    if (r.denominator == 0) return std::nullopt;
    parts[i] = static_cast<double>(r.numerator) / static_cast<double>(r.denominator);
  }
  double v = parts[0] + parts[1] / 60.0 + parts[2] / 3600.0;
  const auto ref = ascii(d, EXIF_IFD_GPS, ref_tag);
  if (!ref.empty() && ref[0] == negative) v = -v;
  return v;
}

}  // namespace

photo_meta read_photo_meta(std::string_view bytes) noexcept {
  photo_meta m;
  if (!sniff_image(bytes) || *sniff_image(bytes) != "image/jpeg") return m;
  ExifData* d = exif_data_new_from_data(reinterpret_cast<const unsigned char*>(bytes.data()), static_cast<unsigned>(bytes.size()));
  if (d == nullptr) return m;
  const auto t = ascii(d, EXIF_IFD_EXIF, EXIF_TAG_DATE_TIME_ORIGINAL);
  int y = 0, mo = 0, da = 0, h = 0, mi = 0, s = 0;
  if (std::sscanf(t.c_str(), "%4d:%2d:%2d %2d:%2d:%2d", &y, &mo, &da, &h, &mi, &s) == 6 && y >= 1990 && y <= 2200 &&
      mo >= 1 && mo <= 12 && da >= 1 && da <= 31 && h < 24 && mi < 60 && s < 61) {
    using namespace std::chrono;
    const auto ymd = year_month_day{year{y}, month{static_cast<unsigned>(mo)}, day{static_cast<unsigned>(da)}};
    if (ymd.ok()) {
      int offset_min = 8 * 60;  // UTC+8 unless the camera wrote OffsetTimeOriginal (EXIF 2.31, tag 0x9011)
      const auto off = ascii(d, EXIF_IFD_EXIF, static_cast<ExifTag>(0x9011));
      int oh = 0, om = 0;
      char sign = 0;
      if (std::sscanf(off.c_str(), "%c%2d:%2d", &sign, &oh, &om) == 3 && (sign == '+' || sign == '-'))
        offset_min = (sign == '-' ? -1 : 1) * (oh * 60 + om);
      const auto local = sys_days(ymd) + hours(h) + minutes(mi) + seconds(s);
      m.taken_ms = duration_cast<milliseconds>((local - minutes(offset_min)).time_since_epoch()).count();
    }
  }
  const auto lat = dms(d, static_cast<ExifTag>(EXIF_TAG_GPS_LATITUDE), static_cast<ExifTag>(EXIF_TAG_GPS_LATITUDE_REF), 'S');
  const auto lon = dms(d, static_cast<ExifTag>(EXIF_TAG_GPS_LONGITUDE), static_cast<ExifTag>(EXIF_TAG_GPS_LONGITUDE_REF), 'W');
  if (lat && lon && *lat >= -90 && *lat <= 90 && *lon >= -180 && *lon <= 180) {
    m.lat = lat;
    m.lon = lon;
  }
  exif_data_unref(d);
  return m;
}

}  // namespace sewage::gateway::om::detail
