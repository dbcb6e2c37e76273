//! The little-endian records zenbuild keeps for itself (the stat cache, the up-to-date record):
//! writing integers, length-prefixed bytes and file signatures, and a reader that returns
//! `None` at the first thing that does not fit, never reading past the end or panicking.
//!
//! Each file seals its body with a BLAKE3 checksum ([`seal`], [`unseal`]): a flipped bit in a
//! cache of signatures would otherwise be trusted and give a wrong answer.

use crate::hash::FileStat;

const CHECKSUM_LEN: usize = 32;

pub(crate) fn put_u32(out: &mut Vec<u8>, value: u32) {
    out.extend_from_slice(&value.to_le_bytes());
}

pub(crate) fn put_u64(out: &mut Vec<u8>, value: u64) {
    out.extend_from_slice(&value.to_le_bytes());
}

/// A length, then the bytes.
pub(crate) fn put_bytes(out: &mut Vec<u8>, bytes: &[u8]) {
    put_u64(out, bytes.len() as u64);
    out.extend_from_slice(bytes);
}

/// The bytes [`put_stat`] writes.
pub(crate) const STAT_LEN: usize = 8 * 5 + 4;

pub(crate) fn put_stat(out: &mut Vec<u8>, stat: &FileStat) {
    for value in [stat.dev, stat.ino, stat.size] {
        put_u64(out, value);
    }
    out.extend_from_slice(&stat.mtime_ns.to_le_bytes());
    out.extend_from_slice(&stat.ctime_ns.to_le_bytes());
    put_u32(out, stat.mode);
}

/// Appends the checksum of everything in `out`.
pub(crate) fn seal(out: &mut Vec<u8>) {
    let checksum = blake3::hash(out);
    out.extend_from_slice(checksum.as_bytes());
}

/// The body of a sealed file whose checksum checks out.
pub(crate) fn unseal(bytes: &[u8]) -> Option<&[u8]> {
    let body_len = bytes.len().checked_sub(CHECKSUM_LEN)?;
    let (body, checksum) = bytes.split_at(body_len);
    (blake3::hash(body).as_bytes() == checksum).then_some(body)
}

pub(crate) struct Reader<'a>(pub(crate) &'a [u8]);

impl<'a> Reader<'a> {
    pub(crate) fn take(&mut self, len: usize) -> Option<&'a [u8]> {
        if len > self.0.len() {
            return None;
        }
        let (head, rest) = self.0.split_at(len);
        self.0 = rest;
        Some(head)
    }

    pub(crate) fn u8(&mut self) -> Option<u8> {
        Some(self.take(1)?[0])
    }

    pub(crate) fn u32(&mut self) -> Option<u32> {
        Some(u32::from_le_bytes(self.take(4)?.try_into().ok()?))
    }

    pub(crate) fn u64(&mut self) -> Option<u64> {
        Some(u64::from_le_bytes(self.take(8)?.try_into().ok()?))
    }

    pub(crate) fn i64(&mut self) -> Option<i64> {
        Some(i64::from_le_bytes(self.take(8)?.try_into().ok()?))
    }

    /// Bytes written by [`put_bytes`]; a length beyond the end is `None`, not an allocation.
    pub(crate) fn bytes(&mut self) -> Option<&'a [u8]> {
        let len = usize::try_from(self.u64()?).ok()?;
        self.take(len)
    }

    /// A count of records of at least `min_len` bytes each: `None` when the rest of the input
    /// cannot hold that many, so that a lying count cannot make the caller allocate.
    pub(crate) fn count(&mut self, min_len: usize) -> Option<usize> {
        let count = usize::try_from(self.u64()?).ok()?;
        (count.checked_mul(min_len)? <= self.0.len()).then_some(count)
    }

    pub(crate) fn stat(&mut self) -> Option<FileStat> {
        Some(FileStat {
            dev: self.u64()?,
            ino: self.u64()?,
            size: self.u64()?,
            mtime_ns: self.i64()?,
            ctime_ns: self.i64()?,
            mode: self.u32()?,
        })
    }

    pub(crate) fn is_empty(&self) -> bool {
        self.0.is_empty()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trip() {
        let stat = FileStat {
            dev: 1,
            ino: 2,
            size: 3,
            mtime_ns: -4,
            ctime_ns: 5,
            mode: 0o100_644,
        };
        let mut out = Vec::new();
        put_bytes(&mut out, b"path");
        put_stat(&mut out, &stat);
        out.push(7);
        assert_eq!(out.len(), 8 + 4 + STAT_LEN + 1);
        seal(&mut out);
        let mut reader = Reader(unseal(&out).unwrap());
        assert_eq!(reader.bytes(), Some(&b"path"[..]));
        assert_eq!(reader.stat(), Some(stat));
        assert_eq!(reader.u8(), Some(7));
        assert!(reader.is_empty());
        assert_eq!(reader.u8(), None);
    }

    #[test]
    fn lengths_and_counts_past_the_end_are_refused() {
        let mut out = Vec::new();
        put_u64(&mut out, u64::MAX);
        assert_eq!(Reader(&out).bytes(), None);
        assert_eq!(Reader(&out).count(1), None);
        let mut out = Vec::new();
        put_u64(&mut out, 2);
        out.extend_from_slice(&[0; 7]);
        assert_eq!(Reader(&out).count(4), None);
        assert_eq!(Reader(&out).count(3), Some(2));
    }

    #[test]
    fn a_flipped_bit_breaks_the_seal() {
        let mut out = b"body".to_vec();
        seal(&mut out);
        assert_eq!(unseal(&out), Some(&b"body"[..]));
        out[1] ^= 1;
        assert_eq!(unseal(&out), None);
        assert_eq!(unseal(&out[..10]), None);
    }
}
