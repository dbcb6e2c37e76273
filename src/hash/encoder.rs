//! Length-prefixed fields, so that no two different values encode to the same bytes: what the
//! action key and the lineage's action contents are hashed over. The bytes are gathered and
//! hashed at once: BLAKE3 hashes a stream the same however it is split, and one call over a
//! buffer costs far less than one per field.

use super::Digest;

pub struct Encoder(Vec<u8>);

impl Encoder {
    pub fn new() -> Encoder {
        Encoder(Vec::with_capacity(256))
    }

    pub fn u64(&mut self, value: u64) {
        self.0.extend_from_slice(&value.to_le_bytes());
    }

    pub fn bytes(&mut self, bytes: &[u8]) {
        self.u64(bytes.len() as u64);
        self.0.extend_from_slice(bytes);
    }

    pub fn str(&mut self, text: &str) {
        self.bytes(text.as_bytes());
    }

    /// A byte 0 for none, else 1 and the bytes.
    pub fn optional(&mut self, value: Option<impl AsRef<[u8]>>) {
        match value {
            None => self.0.push(0),
            Some(bytes) => {
                self.0.push(1);
                self.bytes(bytes.as_ref());
            }
        }
    }

    pub fn digest(&self) -> Digest {
        Digest::of(&self.0)
    }
}
