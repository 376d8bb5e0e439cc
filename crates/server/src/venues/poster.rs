//! The printable venue poster: an A4 SVG (210 × 297 mm) with the venue's
//! name and address, its signed QR code and instructions in Chinese and
//! English; a DEMO band across demo venues.

use healthcode_codec::qr::QrMatrix;
use healthcode_store::venues::{VenueMode, VenueRecord};

use crate::error::ApiError;
use crate::pages::esc;

/// Splits text into lines of at most `width` display columns (CJK
/// characters count two), so long names and addresses wrap on paper.
fn wrap(text: &str, width: usize) -> Vec<String> {
    let mut lines = Vec::new();
    let mut line = String::new();
    let mut cols = 0;
    for c in text.chars() {
        let w = if c.is_ascii() { 1 } else { 2 };
        if cols + w > width && !line.is_empty() {
            lines.push(std::mem::take(&mut line));
            cols = 0;
        }
        line.push(c);
        cols += w;
    }
    if !line.is_empty() {
        lines.push(line);
    }
    lines
}

/// The poster for `venue`, whose QR code encodes `url`.
pub fn poster_svg(
    venue: &VenueRecord,
    url: &str,
    code_name: &str,
    issuer: &str,
) -> Result<String, ApiError> {
    let qr = QrMatrix::encode(url).map_err(ApiError::internal)?;
    let side = qr.size() + 8; // the quiet zone of QrMatrix::to_svg
    let mut modules = String::new();
    for y in 0..qr.size() {
        let mut x = 0;
        while x < qr.size() {
            if qr.dark(x, y) {
                let start = x;
                while x < qr.size() && qr.dark(x, y) {
                    x += 1;
                }
                modules.push_str(&format!(
                    "M{} {}h{}v1h-{}z",
                    start + 4,
                    y + 4,
                    x - start,
                    x - start
                ));
            } else {
                x += 1;
            }
        }
    }
    let mut name_lines = String::new();
    for (i, line) in wrap(&venue.name, 28).iter().take(3).enumerate() {
        name_lines.push_str(&format!(
            "<text x=\"105\" y=\"{}\" font-size=\"11\" font-weight=\"bold\" text-anchor=\"middle\">{}</text>",
            52 + i * 13,
            esc(line)
        ));
    }
    let mut address_lines = String::new();
    for (i, line) in wrap(&venue.address, 56).iter().take(2).enumerate() {
        address_lines.push_str(&format!(
            "<text x=\"105\" y=\"{}\" font-size=\"5.5\" text-anchor=\"middle\" fill=\"#333\">{}</text>",
            88 + i * 7,
            esc(line)
        ));
    }
    let demo = if venue.demo {
        "<g><rect x=\"0\" y=\"0\" width=\"210\" height=\"14\" fill=\"#c00\"/>\
<text x=\"105\" y=\"10\" font-size=\"7\" font-weight=\"bold\" text-anchor=\"middle\" fill=\"#fff\">演示 DEMO · 非真实场所码 · NOT A REAL VENUE CODE</text>\
<rect x=\"0\" y=\"283\" width=\"210\" height=\"14\" fill=\"#c00\"/>\
<text x=\"105\" y=\"293\" font-size=\"7\" font-weight=\"bold\" text-anchor=\"middle\" fill=\"#fff\">演示 DEMO · 非真实场所码 · NOT A REAL VENUE CODE</text></g>"
    } else {
        ""
    };
    let sealed = if venue.mode == VenueMode::Sealed {
        "<text x=\"105\" y=\"236\" font-size=\"5\" text-anchor=\"middle\" fill=\"#1a5d1a\">本场所采用加密登记：只有场所与卫生健康部门共同才能查看登记记录。</text>\
<text x=\"105\" y=\"243\" font-size=\"4.5\" text-anchor=\"middle\" fill=\"#1a5d1a\">Check-ins here are encrypted: only the venue and the health authority together can read them.</text>"
    } else {
        ""
    };
    Ok(format!(
        r##"<?xml version="1.0" encoding="UTF-8"?>
<svg xmlns="http://www.w3.org/2000/svg" width="210mm" height="297mm" viewBox="0 0 210 297" font-family="'Noto Sans CJK SC','Source Han Sans SC','PingFang SC','Microsoft YaHei',sans-serif">
<title>{title} · {name}</title>
<rect width="210" height="297" fill="#fff"/>
{demo}
<text x="105" y="30" font-size="13" font-weight="bold" text-anchor="middle" fill="#1a5d1a">{code_name} · 场所码</text>
<text x="105" y="38" font-size="6" text-anchor="middle" fill="#1a5d1a">Venue check-in code</text>
{name_lines}
{address_lines}
<svg x="45" y="100" width="120" height="120" viewBox="0 0 {side} {side}" shape-rendering="crispEdges"><rect width="{side}" height="{side}" fill="#fff"/><path fill="#000" d="{modules}"/></svg>
<text x="105" y="228" font-size="4" text-anchor="middle" fill="#555">场所编号 Venue {id} · 地区 {region} · 签发 {issuer}</text>
{sealed}
<text x="20" y="253" font-size="5.5">1. 请用手机相机或扫码应用扫描上方二维码，登记到访（可为同行老人、儿童一并登记）。</text>
<text x="20" y="259" font-size="4.5" fill="#333">Scan the code with your phone camera to check in (you may check in the elderly or children with you).</text>
<text x="20" y="267" font-size="5.5">2. 登记后向工作人员出示您的健康码。</text>
<text x="20" y="273" font-size="4.5" fill="#333">Then show your health code to the staff.</text>
<text x="20" y="280" font-size="3.5" fill="#777">二维码经数字签名，可离线核验真伪。The code is digitally signed and can be verified offline.</text>
</svg>
"##,
        title = "场所码 Venue code",
        name = esc(&venue.name),
        code_name = esc(code_name),
        id = venue.id,
        region = esc(&venue.region_code),
        issuer = esc(issuer),
    ))
}

#[cfg(test)]
mod tests {
    use super::wrap;

    #[test]
    fn wraps_by_display_width() {
        assert_eq!(wrap("演示商场演示商场", 8), vec!["演示商场", "演示商场"]);
        assert_eq!(wrap("abc def", 4), vec!["abc ", "def"]);
        assert!(wrap("", 4).is_empty());
    }
}
