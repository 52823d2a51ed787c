#pragma once
/// The one bitmap font: 5×7 glyphs, drawn into RGB images for labels on contact sheets and plots.
///
///   attncnn::draw_text(img, 4, 4, "PREDICTED", {30, 30, 30});   // 6 pixels per character at scale 1
///
/// Glyphs: A-Z, 0-9, space and - + = . , : / _ % ( ) ' ? # < > ! * &. Lower-case letters are drawn as capitals;
/// characters without a glyph are drawn as '?'. Each character takes 6·scale pixels across (5 of glyph, 1 of
/// gap) and 7·scale down.
#include <attncnn/io/image.h>

#include <array>
#include <cstdint>
#include <string>

namespace attncnn {

/// Width in pixels of `text` at `scale`: 6·scale per character, less the gap after the last; 0 for "".
int64_t text_width(const std::string& text, int64_t scale = 1);

/// Draws `text` into `img` with its top-left corner at (x, y), each font dot a scale×scale square of `color`;
/// pixels outside the image are skipped. Throws attncnn::Error (runtime) unless img is RGB (3 channels) and
/// scale >= 1.
void draw_text(Image& img, int64_t x, int64_t y, const std::string& text, std::array<uint8_t, 3> color = {0, 0, 0},
               int64_t scale = 1);

}  // namespace attncnn
