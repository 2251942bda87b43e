//! Lowercase hex: storeIds inside SQL names and literals, and random ids in log lines.

use std::fmt::Write as _;

/// `bytes` as lowercase hex, two digits a byte.
pub fn lower_hex(bytes: &[u8]) -> String {
    let mut hex = String::with_capacity(bytes.len() * 2);
    for b in bytes {
        // writing to a String cannot fail
        let _ = write!(hex, "{b:02x}");
    }
    hex
}

#[cfg(test)]
mod tests {
    #[test]
    fn two_lowercase_digits_a_byte() {
        assert_eq!(super::lower_hex(&[0x00, 0x0f, 0xab, 0xff]), "000fabff");
        assert_eq!(super::lower_hex(b""), "");
    }
}
