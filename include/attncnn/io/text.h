#pragma once
/// Escaping text for the formats attncnn writes by hand, one function per format.
///
///   "<h1>" + attncnn::html_escape(name) + "</h1>"
///   "<text>" + attncnn::xml_escape(title) + "</text>"            // SVG
///   attncnn::csv_field("T-shirt/top, long") + ",3"                 // "\"T-shirt/top, long\",3"
///   "{\"name\": \"" + attncnn::json_escape(name) + "\"}"
///
/// Bytes >= 0x80 pass through unchanged in all four: text is UTF-8 and stays so. None of them throws.
#include <string>

namespace attncnn {

/// Text for an HTML element or a double- or single-quoted attribute value: & < > " ' become &amp; &lt; &gt;
/// &quot; &#39;.
std::string html_escape(const std::string& text);

/// Text for XML (SVG) character data or an attribute value: & < > " ' become &amp; &lt; &gt; &quot; &apos;;
/// control characters XML 1.0 does not allow (below 0x20 except tab, line feed and carriage return) become '?'.
std::string xml_escape(const std::string& text);

/// One CSV field (RFC 4180): `text` itself, or, when it holds a comma, a double quote, a line break or leading or
/// trailing spaces, `text` in double quotes with each double quote doubled.
std::string csv_field(const std::string& text);

/// The inside of a JSON string literal (RFC 8259), without the quotes: " and \ are backslash-escaped, control
/// characters below 0x20 become \b \f \n \r \t or \u00xx (lower-case hex), the rest passes through, as
/// nlohmann::json's dump() writes strings.
std::string json_escape(const std::string& text);

}  // namespace attncnn
