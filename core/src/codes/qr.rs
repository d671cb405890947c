//! QR codes for otpauth URIs: SVG for web pages and Unicode blocks for terminals.

use qrcodegen::{QrCode, QrCodeEcc};

use crate::contract::error::InputError;

const QUIET: i32 = 4;

fn encode(text: &str) -> Result<QrCode, InputError> {
    QrCode::encode_text(text, QrCodeEcc::Medium)
        .map_err(|_| InputError::new("otpauth_uri", "too long for a QR code"))
}

/// An SVG drawing of `text` as a QR code (medium error correction, 4-module quiet zone).
pub fn svg(text: &str) -> Result<String, InputError> {
    let qr = encode(text)?;
    let size = qr.size();
    let dim = size + 2 * QUIET;
    let mut path = String::new();
    for y in 0..size {
        for x in 0..size {
            if qr.get_module(x, y) {
                path.push_str(&format!("M{},{}h1v1h-1z", x + QUIET, y + QUIET));
            }
        }
    }
    Ok(format!(
        "<svg xmlns=\"http://www.w3.org/2000/svg\" version=\"1.1\" viewBox=\"0 0 {dim} {dim}\" shape-rendering=\"crispEdges\"><rect width=\"100%\" height=\"100%\" fill=\"#ffffff\"/><path d=\"{path}\" fill=\"#000000\"/></svg>"
    ))
}

/// The QR code drawn with Unicode half blocks, two modules per character row, dark on light.
pub fn terminal(text: &str) -> Result<String, InputError> {
    let qr = encode(text)?;
    let size = qr.size();
    let dark =
        |x: i32, y: i32| (0..size).contains(&x) && (0..size).contains(&y) && qr.get_module(x, y);
    let mut out = String::new();
    let mut y = -QUIET;
    while y < size + QUIET {
        for x in -QUIET..size + QUIET {
            // Light background: a character shows light where the module is not dark.
            out.push(match (dark(x, y), dark(x, y + 1)) {
                (false, false) => '█',
                (false, true) => '▀',
                (true, false) => '▄',
                (true, true) => ' ',
            });
        }
        out.push('\n');
        y += 2;
    }
    Ok(out)
}
