//! The stat cache on disk: one file, hand-encoded, checked, replaced whole.
//!
//! ```text
//! magic    "zbstat\r\n"  (8 bytes; the CR/LF catch a file mangled by text-mode tools)
//! version  u32
//! count    u64
//! entries  count × { path_hash u64, dev u64, ino u64, size u64, mtime_ns i64, ctime_ns i64,
//!                    mode u32, recorded_ns i64, digest [u8; 32] }
//! checksum BLAKE3 of every byte above
//! ```
//!
//! Integers are little-endian. Paths are stored as their hash (see `path_map`): entries are
//! then of fixed size, and loading 100,000 of them allocates nothing per entry. The checksum
//! matters more than it looks: a flipped bit in a digest would otherwise be trusted and give
//! a wrong cache hit. Anything that does not check out is discarded whole and the cache rebuilt
//! by hashing; a cache never fails a build.

use super::digest::Digest;
use super::stat_cache::Entry;
use crate::binary::{self, Reader, STAT_LEN};

const MAGIC: &[u8; 8] = b"zbstat\r\n";
/// Bump when the layout or the path hash changes: an old file is then discarded, not misread.
const VERSION: u32 = 1;
const HEADER_LEN: usize = 8 + 4 + 8;
const ENTRY_LEN: usize = 8 + STAT_LEN + 8 + 32;
#[cfg(test)]
const CHECKSUM_LEN: usize = 32;

pub(crate) fn encode(entries: &[(u64, Entry)]) -> Vec<u8> {
    let mut out = Vec::with_capacity(HEADER_LEN + entries.len() * ENTRY_LEN + 32);
    out.extend_from_slice(MAGIC);
    binary::put_u32(&mut out, VERSION);
    binary::put_u64(&mut out, entries.len() as u64);
    for (path_hash, entry) in entries {
        binary::put_u64(&mut out, *path_hash);
        binary::put_stat(&mut out, &entry.stat);
        out.extend_from_slice(&entry.recorded_ns.to_le_bytes());
        out.extend_from_slice(entry.digest.as_bytes());
    }
    binary::seal(&mut out);
    out
}

/// The entries of a well-formed file; `None` for anything else, never a panic.
pub(crate) fn decode(bytes: &[u8]) -> Option<Vec<(u64, Entry)>> {
    let mut reader = Reader(binary::unseal(bytes)?);
    if reader.take(8)? != MAGIC || reader.u32()? != VERSION {
        return None;
    }
    let count = usize::try_from(reader.u64()?).ok()?;
    if count.checked_mul(ENTRY_LEN)? != reader.0.len() {
        return None;
    }
    let mut entries = Vec::with_capacity(count);
    for _ in 0..count {
        let path_hash = reader.u64()?;
        let stat = reader.stat()?;
        let recorded_ns = reader.i64()?;
        let digest = Digest::from_bytes(reader.take(32)?.try_into().ok()?);
        entries.push((
            path_hash,
            Entry {
                stat,
                recorded_ns,
                digest,
            },
        ));
    }
    Some(entries)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::hash::FileStat;

    fn entries() -> Vec<(u64, Entry)> {
        (0..3u8)
            .map(|i| {
                (
                    0x0123_4567_89ab_cdef ^ u64::from(i),
                    Entry {
                        stat: FileStat {
                            dev: 1,
                            ino: 100 + u64::from(i),
                            size: 10 * u64::from(i),
                            mtime_ns: -5,
                            ctime_ns: 1_700_000_000_000_000_000,
                            mode: 0o100_755,
                        },
                        recorded_ns: 1_700_000_100_000_000_000,
                        digest: Digest::of(&[i]),
                    },
                )
            })
            .collect()
    }

    fn encoded() -> Vec<u8> {
        encode(&entries())
    }

    #[test]
    fn round_trip() {
        assert_eq!(decode(&encoded()), Some(entries()));
        assert_eq!(decode(&encode(&[])), Some(vec![]));
    }

    #[test]
    fn every_truncation_and_every_flipped_byte_is_rejected() {
        let bytes = encoded();
        for len in 0..bytes.len() {
            assert_eq!(decode(&bytes[..len]), None, "truncated to {len}");
        }
        for index in 0..bytes.len() {
            let mut flipped = bytes.clone();
            flipped[index] ^= 0x40;
            assert_eq!(decode(&flipped), None, "byte {index} flipped");
        }
        let mut longer = bytes.clone();
        longer.push(0);
        assert_eq!(decode(&longer), None);
    }

    /// A well-checksummed file whose count or lengths lie must not allocate or read past
    /// the end: the checksum is not a defence against a file crafted to pass it.
    #[test]
    fn lying_lengths_are_rejected() {
        let reseal = |mut body: Vec<u8>| {
            let checksum = blake3::hash(&body);
            body.extend_from_slice(checksum.as_bytes());
            body
        };
        let bytes = encoded();
        let body = bytes[..bytes.len() - CHECKSUM_LEN].to_vec();

        let mut huge_count = body.clone();
        huge_count[12..20].copy_from_slice(&u64::MAX.to_le_bytes());
        assert_eq!(decode(&reseal(huge_count)), None);

        let mut one_less = body.clone();
        one_less[12..20].copy_from_slice(&2u64.to_le_bytes());
        assert_eq!(decode(&reseal(one_less)), None);

        let mut other_version = body;
        other_version[8..12].copy_from_slice(&(VERSION + 1).to_le_bytes());
        assert_eq!(decode(&reseal(other_version)), None);
    }
}
