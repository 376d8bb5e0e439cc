//! QR codes: render a code string (alphanumeric mode, error correction Q) as
//! SVG or PNG, and read codes back from PNG/JPEG pictures.

use std::io::Cursor;

use fast_qr::{Mode, QRBuilder, ECL};
use thiserror::Error;

/// Modules of white border the QR specification asks for.
pub const QUIET_ZONE: usize = 4;

/// Largest picture we try to read, in pixels per side.
const MAX_IMAGE_SIDE: u32 = 8192;

#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub enum QrError {
    #[error("text cannot be put in a QR code: {0}")]
    Encode(String),
    #[error("picture cannot be read: {0}")]
    Image(String),
    #[error("no QR code found in the picture")]
    NotFound,
    #[error("a QR code was found but could not be decoded: {0}")]
    Decode(String),
    #[error("the QR decoder failed on this picture")]
    DecoderFailed,
}

/// A QR code as a square of modules (`true` = dark).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct QrMatrix {
    size: usize,
    modules: Vec<bool>,
}

impl QrMatrix {
    /// Encodes `text` in alphanumeric mode (the Base45 alphabet) when it
    /// fits that mode, else byte mode; error correction level Q.
    pub fn encode(text: &str) -> Result<QrMatrix, QrError> {
        let alphanumeric = text
            .bytes()
            .all(|b| b"0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZ $%*+-./:".contains(&b));
        let mode = if alphanumeric {
            Mode::Alphanumeric
        } else {
            Mode::Byte
        };
        let qr = QRBuilder::new(text.as_bytes())
            .ecl(ECL::Q)
            .mode(mode)
            .build()
            .map_err(|e| QrError::Encode(format!("{e:?}")))?;
        let size = qr.size;
        let modules = qr
            .data
            .iter()
            .take(size * size)
            .map(|m| m.value())
            .collect();
        Ok(QrMatrix { size, modules })
    }

    pub fn size(&self) -> usize {
        self.size
    }

    pub fn dark(&self, x: usize, y: usize) -> bool {
        x < self.size && y < self.size && self.modules[y * self.size + x]
    }

    /// An SVG drawing, one path of dark modules, with a quiet zone. A
    /// `caption` (such as "DEMO 演示") is printed under the code.
    pub fn to_svg(&self, caption: Option<&str>) -> String {
        let side = self.size + 2 * QUIET_ZONE;
        let caption_height = if caption.is_some() { 6 } else { 0 };
        let mut path = String::with_capacity(self.size * self.size * 4);
        for y in 0..self.size {
            let mut x = 0;
            while x < self.size {
                if self.dark(x, y) {
                    let start = x;
                    while x < self.size && self.dark(x, y) {
                        x += 1;
                    }
                    path.push_str(&format!(
                        "M{} {}h{}v1h-{}z",
                        start + QUIET_ZONE,
                        y + QUIET_ZONE,
                        x - start,
                        x - start
                    ));
                } else {
                    x += 1;
                }
            }
        }
        let mut svg = format!(
            "<svg xmlns=\"http://www.w3.org/2000/svg\" viewBox=\"0 0 {side} {}\" shape-rendering=\"crispEdges\">\
<rect width=\"{side}\" height=\"{}\" fill=\"#fff\"/><path fill=\"#000\" d=\"{path}\"/>",
            side + caption_height,
            side + caption_height,
        );
        if let Some(text) = caption {
            svg.push_str(&format!(
                "<text x=\"{}\" y=\"{}\" font-family=\"sans-serif\" font-size=\"4\" font-weight=\"bold\" text-anchor=\"middle\" fill=\"#c00\">{}</text>",
                side / 2,
                side + 3,
                escape_xml(text)
            ));
        }
        svg.push_str("</svg>\n");
        svg
    }

    /// A greyscale PNG, `scale` pixels per module, with a quiet zone. With
    /// `demo_band`, a red-free band reading DEMO is drawn under the code.
    pub fn to_png(&self, scale: usize, demo_band: bool) -> Result<Vec<u8>, QrError> {
        let scale = scale.clamp(1, 64);
        let side = (self.size + 2 * QUIET_ZONE) * scale;
        let band = if demo_band { 9 * scale } else { 0 };
        let (width, height) = (side, side + band);
        let mut pixels = vec![255u8; width * height];
        for y in 0..self.size {
            for x in 0..self.size {
                if self.dark(x, y) {
                    let (px, py) = ((x + QUIET_ZONE) * scale, (y + QUIET_ZONE) * scale);
                    for row in py..py + scale {
                        pixels[row * width + px..row * width + px + scale].fill(0);
                    }
                }
            }
        }
        if demo_band {
            draw_demo(&mut pixels, width, side, scale);
        }
        let mut out = Vec::with_capacity(width * height / 8 + 256);
        {
            let w = u32::try_from(width).map_err(|_| QrError::Encode("too wide".into()))?;
            let h = u32::try_from(height).map_err(|_| QrError::Encode("too tall".into()))?;
            let mut encoder = png::Encoder::new(Cursor::new(&mut out), w, h);
            encoder.set_color(png::ColorType::Grayscale);
            encoder.set_depth(png::BitDepth::Eight);
            encoder.set_compression(png::Compression::Fast);
            let mut writer = encoder
                .write_header()
                .map_err(|e| QrError::Encode(e.to_string()))?;
            writer
                .write_image_data(&pixels)
                .map_err(|e| QrError::Encode(e.to_string()))?;
            writer
                .finish()
                .map_err(|e| QrError::Encode(e.to_string()))?;
        }
        Ok(out)
    }
}

fn escape_xml(s: &str) -> String {
    s.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;")
}

/// 5×7 bitmaps of the letters of "DEMO".
const DEMO_GLYPHS: [[u8; 7]; 4] = [
    [
        0b11110, 0b10001, 0b10001, 0b10001, 0b10001, 0b10001, 0b11110,
    ],
    [
        0b11111, 0b10000, 0b10000, 0b11110, 0b10000, 0b10000, 0b11111,
    ],
    [
        0b10001, 0b11011, 0b10101, 0b10101, 0b10001, 0b10001, 0b10001,
    ],
    [
        0b01110, 0b10001, 0b10001, 0b10001, 0b10001, 0b10001, 0b01110,
    ],
];

fn draw_demo(pixels: &mut [u8], width: usize, top: usize, scale: usize) {
    let text_width = (DEMO_GLYPHS.len() * 6 - 1) * scale;
    let left = width.saturating_sub(text_width) / 2;
    for (i, glyph) in DEMO_GLYPHS.iter().enumerate() {
        for (row, bits) in glyph.iter().enumerate() {
            for col in 0..5 {
                if bits & (0b10000 >> col) != 0 {
                    let x0 = left + (i * 6 + col) * scale;
                    let y0 = top + (row + 1) * scale;
                    for y in y0..y0 + scale {
                        if let Some(line) = pixels.get_mut(y * width + x0..y * width + x0 + scale) {
                            line.fill(96);
                        }
                    }
                }
            }
        }
    }
}

/// Reads every QR code in a PNG or JPEG picture; returns their texts.
pub fn decode_image(bytes: &[u8]) -> Result<Vec<String>, QrError> {
    let mut reader = image::ImageReader::new(Cursor::new(bytes))
        .with_guessed_format()
        .map_err(|e| QrError::Image(e.to_string()))?;
    let mut limits = image::Limits::default();
    limits.max_image_width = Some(MAX_IMAGE_SIDE);
    limits.max_image_height = Some(MAX_IMAGE_SIDE);
    reader.limits(limits);
    let picture = reader
        .decode()
        .map_err(|e| QrError::Image(e.to_string()))?
        .to_luma8();
    // The QR decoder is third-party code; contain any panic to this picture.
    std::panic::catch_unwind(move || {
        let (w, h) = (picture.width() as usize, picture.height() as usize);
        let mut prepared =
            rqrr::PreparedImage::prepare_from_greyscale(w, h, |x, y| picture.as_raw()[y * w + x]);
        let grids = prepared.detect_grids();
        if grids.is_empty() {
            return Err(QrError::NotFound);
        }
        let mut texts = Vec::with_capacity(grids.len());
        let mut last_error = None;
        for grid in grids {
            match grid.decode() {
                Ok((_, text)) => texts.push(text),
                Err(e) => last_error = Some(e.to_string()),
            }
        }
        match (texts.is_empty(), last_error) {
            (true, Some(e)) => Err(QrError::Decode(e)),
            (true, None) => Err(QrError::NotFound),
            (false, _) => Ok(texts),
        }
    })
    .unwrap_or(Err(QrError::DecoderFailed))
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    #[test]
    fn png_round_trip_and_svg() {
        let text = "HCP1:NCFOXN%TS3DH3ZSUZK+.V0ETD%65NL-AH%TAXMT*4R1R4LDLUYPDK9SVXF: HG00";
        let qr = QrMatrix::encode(text).unwrap();
        for demo in [false, true] {
            let png = qr.to_png(4, demo).unwrap();
            assert_eq!(decode_image(&png).unwrap(), vec![text.to_string()]);
        }
        let svg = qr.to_svg(Some("DEMO 演示"));
        assert!(svg.starts_with("<svg") && svg.contains("DEMO 演示") && svg.contains("<path"));
    }

    #[test]
    fn bad_pictures_are_errors() {
        assert!(matches!(
            decode_image(b"not a picture"),
            Err(QrError::Image(_))
        ));
        let blank = QrMatrix {
            size: 21,
            modules: vec![false; 441],
        }
        .to_png(4, false)
        .unwrap();
        assert_eq!(decode_image(&blank), Err(QrError::NotFound));
    }
}
