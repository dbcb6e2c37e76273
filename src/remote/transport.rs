//! HTTP requests as the HTTP and S3 remotes send them: short connect and first-byte timeouts,
//! two more tries after 100 and 300 ms when a request fails to connect or gets a 5xx, and
//! every answer but 2xx and 404 turned into the remote's failure, with the fix for refused
//! credentials.

use std::time::Duration;

use ureq::Agent;
use ureq::http::Response;

use super::RemoteError;

const CONNECT_TIMEOUT: Duration = Duration::from_secs(5);
/// Until the first byte of a response: a server that accepted a connection but hangs.
const RESPONSE_TIMEOUT: Duration = Duration::from_secs(30);
const BACKOFF: [Duration; 2] = [Duration::from_millis(100), Duration::from_millis(300)];

pub(super) type Reply = Response<ureq::Body>;

pub(super) struct Transport {
    pub agent: Agent,
    /// Where requests go, for messages: the URL without its password.
    pub place: String,
    /// What to set when the server refuses the credentials.
    pub credentials_help: String,
}

impl Transport {
    pub fn new(place: &str, credentials_help: String) -> Transport {
        let agent: Agent = Agent::config_builder()
            .http_status_as_error(false)
            .timeout_connect(Some(CONNECT_TIMEOUT))
            .timeout_recv_response(Some(RESPONSE_TIMEOUT))
            .build()
            .into();
        Transport {
            agent,
            place: super::redact(place).into_owned(),
            credentials_help,
        }
    }

    /// Sends the request `request` makes (again for each try).
    pub fn send(
        &self,
        request: impl Fn() -> Result<Reply, ureq::Error>,
    ) -> Result<Reply, RemoteError> {
        let mut attempt = 0;
        loop {
            let outcome = request();
            let retry = match &outcome {
                Ok(response) => response.status().is_server_error(),
                Err(
                    ureq::Error::Io(_) | ureq::Error::ConnectionFailed | ureq::Error::Timeout(_),
                ) => true,
                Err(_) => false,
            };
            if !retry || attempt >= BACKOFF.len() {
                return match outcome {
                    Ok(response) => self.check(response),
                    Err(e) => Err(RemoteError::Unreachable {
                        place: self.place.clone(),
                        detail: e.to_string(),
                    }),
                };
            }
            std::thread::sleep(BACKOFF[attempt]);
            attempt += 1;
        }
    }

    /// Passes 2xx and 404 through; anything else is the remote's failure.
    fn check(&self, response: Reply) -> Result<Reply, RemoteError> {
        let status = response.status().as_u16();
        match status {
            200..=299 | 404 => Ok(response),
            _ => Err(RemoteError::status(
                &self.place,
                status,
                &self.credentials_help,
            )),
        }
    }

    /// The whole body of a response.
    pub fn bytes(&self, mut response: Reply) -> Result<Vec<u8>, RemoteError> {
        response
            .body_mut()
            .with_config()
            .limit(u64::MAX)
            .read_to_vec()
            .map_err(|e| RemoteError::Unreachable {
                place: self.place.clone(),
                detail: e.to_string(),
            })
    }

    /// Streams a response's body into `file`.
    #[allow(
        clippy::unused_self,
        reason = "a method beside `get`, so callers use the transport that fetched the reply"
    )]
    pub fn save(&self, mut response: Reply, file: &mut std::fs::File) -> Result<(), RemoteError> {
        let mut body = response.body_mut().with_config().limit(u64::MAX).reader();
        std::io::copy(&mut body, file)?;
        Ok(())
    }
}
