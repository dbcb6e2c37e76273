//! Digests as the team database keeps them: bytes, not hex (half the size, and the indexes
//! that find artifacts and contents half as deep); and paths found by their BLAKE3, since
//! MySQL cannot index a long text.

use super::super::LineageError;

/// The bytes a hex digest stands for.
pub fn bytes(hex: &str) -> Result<Vec<u8>, LineageError> {
    decode(hex).ok_or_else(|| LineageError::Server {
        url: String::new(),
        detail: format!("`{hex}` is not a digest (hex digits, two per byte)"),
    })
}

fn decode(hex: &str) -> Option<Vec<u8>> {
    if !hex.len().is_multiple_of(2) {
        return None;
    }
    (0..hex.len())
        .step_by(2)
        .map(|i| u8::from_str_radix(hex.get(i..i + 2)?, 16).ok())
        .collect()
}

/// The hex a digest is written in everywhere else. By table, not by `format!`: `show` turns
/// three thousand digests into hex for a 1,000-action run, and formatting each byte was a
/// fifth of its time.
pub fn hex(bytes: &[u8]) -> String {
    const DIGITS: &[u8; 16] = b"0123456789abcdef";
    let mut out = String::with_capacity(bytes.len() * 2);
    for &b in bytes {
        out.push(char::from(DIGITS[usize::from(b >> 4)]));
        out.push(char::from(DIGITS[usize::from(b & 0x0f)]));
    }
    out
}

/// What an artifact's path is indexed by.
pub fn path_hash(path: &str) -> Vec<u8> {
    let mut hasher = blake3::Hasher::new();
    hasher.update(b"zenbuild lineage path\0");
    hasher.update(path.as_bytes());
    hasher.finalize().as_bytes().to_vec()
}

/// The range of digests that start with `prefix` (hex, of any length): at least the first
/// bound, and below the second when there is one (a prefix of all `f`s has none). `None` when
/// `prefix` is not hex.
pub fn prefix_range(prefix: &str) -> Option<(Vec<u8>, Option<Vec<u8>>)> {
    let prefix = prefix.to_ascii_lowercase();
    if prefix.is_empty() || !prefix.bytes().all(|b| b.is_ascii_hexdigit()) {
        return None;
    }
    let padded = if prefix.len().is_multiple_of(2) {
        prefix.clone()
    } else {
        format!("{prefix}0")
    };
    let low = decode(&padded)?;
    // The next prefix of the same length: add one at the last hex digit given.
    let step: u8 = if prefix.len().is_multiple_of(2) {
        1
    } else {
        0x10
    };
    let mut high = low.clone();
    let mut carry = Some(step);
    for byte in high.iter_mut().rev() {
        let Some(add) = carry else { break };
        let (sum, overflowed) = byte.overflowing_add(add);
        *byte = sum;
        carry = overflowed.then_some(1);
    }
    Some((low, carry.is_none().then_some(high)))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn digests_go_to_bytes_and_back() {
        let digest = "00ff10ab";
        assert_eq!(bytes(digest).expect("hex"), [0x00, 0xff, 0x10, 0xab]);
        assert_eq!(hex(&[0x00, 0xff, 0x10, 0xab]), digest);
        assert!(bytes("abc").is_err());
        assert!(bytes("k-fit").is_err());
    }

    #[test]
    fn a_prefix_is_a_range_of_digests() {
        assert_eq!(prefix_range("d"), Some((vec![0xd0], Some(vec![0xe0]))));
        assert_eq!(prefix_range("ee"), Some((vec![0xee], Some(vec![0xef]))));
        assert_eq!(prefix_range("0f"), Some((vec![0x0f], Some(vec![0x10]))));
        assert_eq!(
            prefix_range("abf"),
            Some((vec![0xab, 0xf0], Some(vec![0xac, 0x00])))
        );
        assert_eq!(prefix_range("ff"), Some((vec![0xff], None)));
        assert_eq!(prefix_range("f"), Some((vec![0xf0], None)));
        assert_eq!(prefix_range("model"), None);
    }
}
