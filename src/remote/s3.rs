//! S3 and S3-compatible stores (AWS, MinIO, SeaweedFS, R2, GCS interoperability) as a remote:
//! `s3://bucket/prefix`, objects `prefix/ac/<key>` and `prefix/cas/<digest>`.
//!
//! Requests are signed (SigV4, presigned URLs) by the `rusty-s3` crate and sent over the same
//! HTTP transport as the HTTP remote. Credentials are the standard AWS environment variables
//! (`AWS_ACCESS_KEY_ID`, `AWS_SECRET_ACCESS_KEY`, `AWS_SESSION_TOKEN`); without them requests
//! go unsigned (a public bucket). The region is `AWS_REGION` (or `AWS_DEFAULT_REGION`, else
//! `us-east-1`); the endpoint is the URL's `?endpoint=` (not a secret: a team's MinIO may be
//! named in the manifest), else `AWS_ENDPOINT_URL_S3` or `AWS_ENDPOINT_URL`, else AWS. A
//! custom endpoint is addressed path-style, as MinIO and SeaweedFS expect. Blobs larger than
//! [`PART_SIZE`] are uploaded in parts.

use std::fs::File;
use std::io::Read;
use std::path::Path;
use std::time::Duration;

use rusty_s3::actions::{CreateMultipartUpload, S3Action};
use rusty_s3::{Bucket, Credentials, UrlStyle};

use super::transport::Transport;
use super::{Remote, RemoteError};
use crate::hash::Digest;

/// How long a signed request stays valid: long enough for the slowest part upload.
const SIGNED_FOR: Duration = Duration::from_hours(1);
/// Blobs above this size go up in parts of this size (S3 wants parts of 5 MiB at least).
pub const PART_SIZE: u64 = 64 * 1024 * 1024;

pub struct S3Remote {
    bucket: Bucket,
    prefix: String,
    credentials: Option<Credentials>,
    transport: Transport,
}

impl S3Remote {
    /// The remote at `url` (`s3://bucket/prefix?endpoint=…`).
    pub fn new(url: &str) -> Result<S3Remote, RemoteError> {
        let bad = |why: &str| RemoteError::Config(format!("`{url}` {why}"));
        let rest = url
            .strip_prefix("s3://")
            .ok_or_else(|| bad("is not an s3:// URL"))?;
        let (location, query) = rest.split_once('?').unwrap_or((rest, ""));
        let (bucket_name, prefix) = location.split_once('/').unwrap_or((location, ""));
        if bucket_name.is_empty() {
            return Err(bad("names no bucket"));
        }
        if bucket_name.contains('@') {
            return Err(bad(
                "holds credentials, which S3 takes from AWS_ACCESS_KEY_ID and \
                 AWS_SECRET_ACCESS_KEY, not from the URL",
            ));
        }
        // S3's own rule; anything else would not make a URL (the signing library panics).
        let valid = bucket_name
            .chars()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || matches!(c, '.' | '-'));
        if !valid || !(3..=63).contains(&bucket_name.len()) {
            return Err(bad(
                "names a bucket S3 does not allow (3 to 63 lowercase letters, digits, `.` and `-`)",
            ));
        }
        let endpoint = query
            .split('&')
            .find_map(|pair| pair.strip_prefix("endpoint="))
            .map(str::to_string)
            .or_else(|| std::env::var("AWS_ENDPOINT_URL_S3").ok())
            .or_else(|| std::env::var("AWS_ENDPOINT_URL").ok());
        let region = std::env::var("AWS_REGION")
            .or_else(|_| std::env::var("AWS_DEFAULT_REGION"))
            .unwrap_or_else(|_| "us-east-1".to_string());
        let (endpoint, style) = match endpoint {
            Some(endpoint) => (endpoint, UrlStyle::Path),
            None => (
                format!("https://s3.{region}.amazonaws.com"),
                UrlStyle::VirtualHost,
            ),
        };
        let endpoint = endpoint
            .parse()
            .map_err(|e| bad(&format!("has an endpoint that is not a URL: {e}")))?;
        let bucket = Bucket::new(endpoint, style, bucket_name.to_string(), region)
            .map_err(|e| bad(&format!("cannot be addressed: {e}")))?;
        let help = "set AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY".to_string();
        Ok(S3Remote {
            transport: Transport::new(url, help),
            bucket,
            prefix: prefix.trim_end_matches('/').to_string(),
            credentials: Credentials::from_env(),
        })
    }

    fn object(&self, area: &str, digest: &Digest) -> String {
        if self.prefix.is_empty() {
            format!("{area}/{}", digest.to_hex())
        } else {
            format!("{}/{area}/{}", self.prefix, digest.to_hex())
        }
    }

    fn get(&self, object: &str) -> Result<super::transport::Reply, RemoteError> {
        let url = self
            .bucket
            .get_object(self.credentials.as_ref(), object)
            .sign(SIGNED_FOR);
        let agent = &self.transport.agent;
        self.transport.send(|| agent.get(url.as_str()).call())
    }

    fn put(&self, object: &str, bytes: &[u8]) -> Result<(), RemoteError> {
        let url = self
            .bucket
            .put_object(self.credentials.as_ref(), object)
            .sign(SIGNED_FOR);
        let agent = &self.transport.agent;
        self.transport
            .send(|| agent.put(url.as_str()).send(bytes))?;
        Ok(())
    }

    fn put_in_parts(&self, object: &str, source: &Path, size: u64) -> Result<(), RemoteError> {
        let agent = &self.transport.agent;
        let create = self
            .bucket
            .create_multipart_upload(self.credentials.as_ref(), object)
            .sign(SIGNED_FOR);
        let reply = self
            .transport
            .send(|| agent.post(create.as_str()).send(&[][..]))?;
        let body = self.transport.bytes(reply)?;
        let created = CreateMultipartUpload::parse_response(&body)
            .map_err(|e| RemoteError::Protocol(format!("{}: {e}", self.transport.place)))?;
        let upload_id = created.upload_id();
        let mut file = File::open(source)?;
        let mut etags = Vec::new();
        let parts = size.div_ceil(PART_SIZE);
        for number in 1..=parts {
            let mut part = Vec::with_capacity(PART_SIZE as usize);
            (&mut file).take(PART_SIZE).read_to_end(&mut part)?;
            let number = u16::try_from(number)
                .map_err(|_| RemoteError::TooLarge("a blob of more than 10,000 parts".into()))?;
            let url = self
                .bucket
                .upload_part(self.credentials.as_ref(), object, number, upload_id)
                .sign(SIGNED_FOR);
            let reply = self
                .transport
                .send(|| agent.put(url.as_str()).send(&part[..]))?;
            let etag = reply
                .headers()
                .get("etag")
                .and_then(|value| value.to_str().ok())
                .ok_or_else(|| {
                    RemoteError::Protocol(format!(
                        "{}: a part without an ETag",
                        self.transport.place
                    ))
                })?;
            etags.push(etag.to_string());
        }
        let complete = self.bucket.complete_multipart_upload(
            self.credentials.as_ref(),
            object,
            upload_id,
            etags.iter().map(String::as_str),
        );
        let url = complete.sign(SIGNED_FOR);
        let body = complete.body();
        self.transport
            .send(|| agent.post(url.as_str()).send(body.as_bytes()))?;
        Ok(())
    }
}

impl Remote for S3Remote {
    fn get_action_result(&self, key: &Digest) -> Result<Option<Vec<u8>>, RemoteError> {
        let reply = self.get(&self.object("ac", key))?;
        if reply.status().as_u16() == 404 {
            return Ok(None);
        }
        self.transport.bytes(reply).map(Some)
    }

    fn put_action_result(&self, key: &Digest, json: &[u8]) -> Result<(), RemoteError> {
        self.put(&self.object("ac", key), json)
    }

    fn contains_blob(&self, digest: &Digest) -> Result<bool, RemoteError> {
        let object = self.object("cas", digest);
        let url = self
            .bucket
            .head_object(self.credentials.as_ref(), &object)
            .sign(SIGNED_FOR);
        let agent = &self.transport.agent;
        let reply = self.transport.send(|| agent.head(url.as_str()).call())?;
        Ok(reply.status().is_success())
    }

    fn get_blob(&self, digest: &Digest, destination: &Path) -> Result<bool, RemoteError> {
        let reply = self.get(&self.object("cas", digest))?;
        if reply.status().as_u16() == 404 {
            return Ok(false);
        }
        self.transport
            .save(reply, &mut File::create(destination)?)?;
        Ok(true)
    }

    fn put_blob(&self, digest: &Digest, source: &Path) -> Result<(), RemoteError> {
        let object = self.object("cas", digest);
        let size = std::fs::metadata(source)?.len();
        if size > PART_SIZE {
            return self.put_in_parts(&object, source, size);
        }
        let url = self
            .bucket
            .put_object(self.credentials.as_ref(), &object)
            .sign(SIGNED_FOR);
        let agent = &self.transport.agent;
        self.transport.send(|| {
            let file = File::open(source).map_err(ureq::Error::Io)?;
            agent.put(url.as_str()).send(file)
        })?;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn urls_name_a_bucket_a_prefix_and_an_endpoint() {
        let remote = S3Remote::new("s3://cache/team/zb?endpoint=http://127.0.0.1:8333").unwrap();
        assert_eq!(remote.bucket.name(), "cache");
        assert_eq!(remote.prefix, "team/zb");
        assert_eq!(
            remote.bucket.base_url().as_str(),
            "http://127.0.0.1:8333/cache/"
        );
        let digest = Digest::of(b"x");
        assert_eq!(
            remote.object("cas", &digest),
            format!("team/zb/cas/{}", digest.to_hex())
        );
        assert!(S3Remote::new("s3://").is_err());
        for url in ["s3://KEY:pw0rd@bucket/p", "s3://Bucket_1/p", "s3://ab"] {
            let error = S3Remote::new(url).err().map(|e| e.to_string());
            assert!(error.is_some(), "{url}");
            assert!(!error.unwrap_or_default().contains("pw0rd"), "{url}");
        }
        assert!(S3Remote::new("s3://b?endpoint=not a url").is_err());
    }
}
