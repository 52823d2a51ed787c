#include <attncnn/error.h>
#include <attncnn/io/font.h>

#include <algorithm>

namespace attncnn {

namespace {

// 5×7 glyphs, one string of 7 rows × 5 columns each ('#' set).
struct Glyph {
  char c;
  const char* rows;
};
const Glyph kGlyphs[] = {
    {' ', "                                   "},
    {'0', " ### #   ##  ### # ###  ##   # ### "},
    {'1', "  #   ##    #    #    #    #   ### "},
    {'2', " ### #   #    #   #   #   #   #####"},
    {'3', "#####   #   #     #     ##   # ### "},
    {'4', "   #   ##  # # #  # #####   #    # "},
    {'5', "######    ####     #    ##   # ### "},
    {'6', "  ##  #   #    #### #   ##   # ### "},
    {'7', "#####    #   #   #   #    #    #   "},
    {'8', " ### #   ##   # ### #   ##   # ### "},
    {'9', " ### #   ##   # ####    #   #  ##  "},
    {'A', " ### #   ##   #######   ##   ##   #"},
    {'B', "#### #   ##   ##### #   ##   ##### "},
    {'C', " ### #   ##    #    #    #   # ### "},
    {'D', "###  #  # #   ##   ##   ##  # ###  "},
    {'E', "######    #    #### #    #    #####"},
    {'F', "######    #    #### #    #    #    "},
    {'G', " ### #   ##    # ####   ##   # ####"},
    {'H', "#   ##   ##   #######   ##   ##   #"},
    {'I', " ###   #    #    #    #    #   ### "},
    {'J', "  ###   #    #    #    # #  #  ##  "},
    {'K', "#   ##  # # #  ##   # #  #  # #   #"},
    {'L', "#    #    #    #    #    #    #####"},
    {'M', "#   ### ### # ##   ##   ##   ##   #"},
    {'N', "#   ##   ###  ## # ##  ###   ##   #"},
    {'O', " ### #   ##   ##   ##   ##   # ### "},
    {'P', "#### #   ##   ##### #    #    #    "},
    {'Q', " ### #   ##   ##   ## # ##  #  ## #"},
    {'R', "#### #   ##   ##### # #  #  # #   #"},
    {'S', " #####    #     ###     #    ##### "},
    {'T', "#####  #    #    #    #    #    #  "},
    {'U', "#   ##   ##   ##   ##   ##   # ### "},
    {'V', "#   ##   ##   ##   ##   # # #   #  "},
    {'W', "#   ##   ##   ## # ## # ## # # # # "},
    {'X', "#   ##   # # #   #   # # #   ##   #"},
    {'Y', "#   ##   # # #   #    #    #    #  "},
    {'Z', "#####    #   #   #   #   #    #####"},
    {'-', "                ###                "},
    {'+', "       #    #  #####  #    #       "},
    {'=', "          #####     #####          "},
    {'.', "                          ##   ##  "},
    {',', "                     ##   ##   #   "},
    {':', "      ##   ##        ##   ##       "},
    {'/', "         #   #   #   #   #         "},
    {'_', "                              #####"},
    {'%', "##   ##  #   #   #   #   #  ##   ##"},
    {'(', "   #   #   #    #    #     #     # "},
    {')', " #     #     #    #    #   #   #   "},
    {'\'', "  #    #   #                       "},
    {'&', " ##  #  # # #   #   # # ##  #  ## #"},
    {'?', " ### #   #    #   #   #         #  "},
    {'#', " # #  # # ##### # # ##### # #  # # "},
    {'<', "   #   #   #   #     #     #     # "},
    {'>', " #     #     #     #   #   #   #   "},
    {'!', "  #    #    #    #    #         #  "},
    {'*', "       #  # # # ### # # #  #       "},
};

const char* glyph_rows(char c) {
  if (c >= 'a' && c <= 'z') c = static_cast<char>(c - 'a' + 'A');
  for (const auto& g : kGlyphs)
    if (g.c == c) return g.rows;
  for (const auto& g : kGlyphs)
    if (g.c == '?') return g.rows;
  return kGlyphs[0].rows;
}

}  // namespace

int64_t text_width(const std::string& text, int64_t scale) {
  return text.empty() ? 0 : (static_cast<int64_t>(text.size()) * 6 - 1) * scale;
}

void draw_text(Image& img, int64_t x, int64_t y, const std::string& text, std::array<uint8_t, 3> color,
               int64_t scale) {
  if (img.channels != 3)
    runtime_error("draw_text: expected an RGB image, got " + std::to_string(img.channels) + " channel(s)");
  if (scale < 1) runtime_error("draw_text: scale=" + std::to_string(scale) + ": expected 1 or more");
  for (size_t i = 0; i < text.size(); ++i) {
    const char* rows = glyph_rows(text[i]);
    const int64_t gx = x + static_cast<int64_t>(i) * 6 * scale;
    for (int64_t r = 0; r < 7; ++r)
      for (int64_t col = 0; col < 5; ++col) {
        if (rows[r * 5 + col] != '#') continue;
        const int64_t x0 = std::max<int64_t>(0, gx + col * scale), x1 = std::min(img.width, gx + (col + 1) * scale);
        const int64_t y0 = std::max<int64_t>(0, y + r * scale), y1 = std::min(img.height, y + (r + 1) * scale);
        for (int64_t py = y0; py < y1; ++py)
          for (int64_t px = x0; px < x1; ++px)
            std::copy(color.begin(), color.end(), img.pixels.begin() + (py * img.width + px) * 3);
      }
  }
}

}  // namespace attncnn
