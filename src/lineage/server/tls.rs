//! TLS for the team store's connections, by rustls with ring: the client configuration that
//! checks a server's certificate as the URL's `Tls` says (the PostgreSQL driver takes one;
//! the MySQL driver builds its own from the same settings), the CA file read with errors that
//! name it, and a refused certificate in words that say how to fix the URL.

use std::error::Error;
use std::path::Path;

use rustls::CertificateError;
use rustls::pki_types::CertificateDer;
use rustls::pki_types::pem::PemObject;

use super::sql::Dialect;
use super::url::{ServerUrl, setting_names};

/// The certificates of the CA file at `path` (PEM, one or more), or why there are none. Read
/// at each connection, so that a CA replaced on the machine is taken at the next command.
pub fn read_ca(url: &ServerUrl, path: &Path) -> Result<Vec<CertificateDer<'static>>, String> {
    let (_, name) = setting_names(url.dialect);
    let shown = format!("the CA file {} (`{name}`)", path.display());
    let pem = std::fs::read(path).map_err(|e| format!("cannot read {shown}: {e}"))?;
    let certificates = CertificateDer::pem_slice_iter(&pem)
        .collect::<Result<Vec<_>, _>>()
        .map_err(|e| format!("{shown} is not PEM: {e}"))?;
    if certificates.is_empty() {
        return Err(format!(
            "{shown} holds no certificate (a PEM `BEGIN CERTIFICATE` block)"
        ));
    }
    Ok(certificates)
}

/// The rustls error somewhere in `error`'s causes. An `io::Error` carries it as its payload,
/// which its `source` skips, so the payload is looked into as well.
pub fn rustls_error<'e>(error: &'e (dyn Error + 'static)) -> Option<&'e rustls::Error> {
    let mut next = Some(error);
    while let Some(error) = next {
        if let Some(tls) = error.downcast_ref::<rustls::Error>() {
            return Some(tls);
        }
        next = match error
            .downcast_ref::<std::io::Error>()
            .and_then(std::io::Error::get_ref)
        {
            Some(payload) => Some(payload),
            None => error.source(),
        };
    }
    None
}

/// What a TLS failure means to the user, with the setting that fixes it when it is about the
/// server's certificate.
pub fn explain(error: &rustls::Error, url: &ServerUrl) -> String {
    let (mode, ca_name) = setting_names(url.dialect);
    let rustls::Error::InvalidCertificate(why) = error else {
        return format!("TLS failed: {error}");
    };
    match why {
        CertificateError::NotValidForName | CertificateError::NotValidForNameContext { .. } => {
            let weaker = match url.dialect {
                Dialect::Postgres => {
                    format!(" (or, with `{ca_name}`, `{mode}=verify-ca` checks only who signed it)")
                }
                Dialect::Mysql => String::new(),
            };
            format!(
                "the server's TLS certificate does not name {}: connect by a name it holds{weaker}",
                url.host
            )
        }
        CertificateError::Expired | CertificateError::ExpiredContext { .. } => {
            "the server's TLS certificate has expired".to_string()
        }
        CertificateError::NotValidYet | CertificateError::NotValidYetContext { .. } => {
            "the server's TLS certificate is not valid yet (is this machine's clock right?)"
                .to_string()
        }
        _ => {
            let signer = match &url.ca {
                Some(ca) => format!("the CA in {} did not sign it", ca.display()),
                None => "no public CA signed it".to_string(),
            };
            format!(
                "the server's TLS certificate is not trusted: {signer} ({why}); name the CA that \
                 did with `{ca_name}=/path/to/ca.pem` in the URL"
            )
        }
    }
}

/// The fix for a server that takes only TLS connections, said to a URL without TLS: `surely`
/// when the server said so, else as the likely cause of what it said.
pub fn only_tls(url: &ServerUrl, surely: bool) -> String {
    let (mode, ca_name) = setting_names(url.dialect);
    let verified = match url.dialect {
        Dialect::Postgres => "verify-full",
        Dialect::Mysql => "VERIFY_IDENTITY",
    };
    let fix = format!("add `?{mode}={verified}&{ca_name}=/path/to/ca.pem` to the URL");
    if surely {
        format!("the server takes only TLS connections: {fix}")
    } else {
        format!(
            "a server that takes only TLS connections says this too (MariaDB's \
             require_secure_transport): if so, {fix}"
        )
    }
}

#[cfg(feature = "metadata-postgres")]
pub use checked::client_config;

/// The rustls client configuration, for the PostgreSQL driver.
#[cfg(feature = "metadata-postgres")]
mod checked {
    use std::sync::Arc;

    use rustls::client::WebPkiServerVerifier;
    use rustls::client::danger::{HandshakeSignatureValid, ServerCertVerified, ServerCertVerifier};
    use rustls::crypto::{CryptoProvider, verify_tls12_signature, verify_tls13_signature};
    use rustls::pki_types::{CertificateDer, ServerName, UnixTime};
    use rustls::{
        CertificateError, ClientConfig, DigitallySignedStruct, RootCertStore, SignatureScheme,
    };

    use super::super::url::{ServerUrl, Tls};
    use super::read_ca;

    /// A client that checks the server's certificate as `url` says.
    pub fn client_config(url: &ServerUrl) -> Result<ClientConfig, String> {
        let provider = Arc::new(rustls::crypto::ring::default_provider());
        let builder = ClientConfig::builder_with_provider(provider.clone())
            .with_safe_default_protocol_versions()
            .map_err(|e| format!("TLS: {e}"))?;
        let verifier: Arc<dyn ServerCertVerifier> = match url.tls {
            Tls::Unverified => Arc::new(Unchecked(provider)),
            Tls::CaOnly => Arc::new(AnyName(webpki(url, provider)?)),
            Tls::Off | Tls::Preferred | Tls::Verified => webpki(url, provider)?,
        };
        Ok(builder
            .dangerous()
            .with_custom_certificate_verifier(verifier)
            .with_no_client_auth())
    }

    /// The chain to the URL's CA file, else to a public CA (webpki's roots), and the host name.
    fn webpki(
        url: &ServerUrl,
        provider: Arc<CryptoProvider>,
    ) -> Result<Arc<WebPkiServerVerifier>, String> {
        let roots = match &url.ca {
            None => RootCertStore {
                roots: webpki_roots::TLS_SERVER_ROOTS.to_vec(),
            },
            Some(path) => {
                let mut roots = RootCertStore::empty();
                for certificate in read_ca(url, path)? {
                    roots.add(certificate).map_err(|e| {
                        format!(
                            "the CA file {} holds an unusable certificate: {e}",
                            path.display()
                        )
                    })?;
                }
                roots
            }
        };
        WebPkiServerVerifier::builder_with_provider(Arc::new(roots), provider)
            .build()
            .map_err(|e| format!("TLS: {e}"))
    }

    /// `verify-ca`: the chain is checked, the host name is not. webpki checks the chain
    /// before the name, so a name that does not match is only ever said of a good chain.
    #[derive(Debug)]
    struct AnyName(Arc<WebPkiServerVerifier>);

    impl ServerCertVerifier for AnyName {
        fn verify_server_cert(
            &self,
            end_entity: &CertificateDer<'_>,
            intermediates: &[CertificateDer<'_>],
            server_name: &ServerName<'_>,
            ocsp_response: &[u8],
            now: UnixTime,
        ) -> Result<ServerCertVerified, rustls::Error> {
            match self.0.verify_server_cert(
                end_entity,
                intermediates,
                server_name,
                ocsp_response,
                now,
            ) {
                Err(rustls::Error::InvalidCertificate(
                    CertificateError::NotValidForName
                    | CertificateError::NotValidForNameContext { .. },
                )) => Ok(ServerCertVerified::assertion()),
                other => other,
            }
        }

        fn verify_tls12_signature(
            &self,
            message: &[u8],
            cert: &CertificateDer<'_>,
            dss: &DigitallySignedStruct,
        ) -> Result<HandshakeSignatureValid, rustls::Error> {
            self.0.verify_tls12_signature(message, cert, dss)
        }

        fn verify_tls13_signature(
            &self,
            message: &[u8],
            cert: &CertificateDer<'_>,
            dss: &DigitallySignedStruct,
        ) -> Result<HandshakeSignatureValid, rustls::Error> {
            self.0.verify_tls13_signature(message, cert, dss)
        }

        fn supported_verify_schemes(&self) -> Vec<SignatureScheme> {
            self.0.supported_verify_schemes()
        }
    }

    /// `no-verify`: any certificate is taken. The handshake's signatures are still checked,
    /// so the server holds the key of the certificate it showed, whoever it is.
    #[derive(Debug)]
    struct Unchecked(Arc<CryptoProvider>);

    impl ServerCertVerifier for Unchecked {
        fn verify_server_cert(
            &self,
            _: &CertificateDer<'_>,
            _: &[CertificateDer<'_>],
            _: &ServerName<'_>,
            _: &[u8],
            _: UnixTime,
        ) -> Result<ServerCertVerified, rustls::Error> {
            Ok(ServerCertVerified::assertion())
        }

        fn verify_tls12_signature(
            &self,
            message: &[u8],
            cert: &CertificateDer<'_>,
            dss: &DigitallySignedStruct,
        ) -> Result<HandshakeSignatureValid, rustls::Error> {
            verify_tls12_signature(
                message,
                cert,
                dss,
                &self.0.signature_verification_algorithms,
            )
        }

        fn verify_tls13_signature(
            &self,
            message: &[u8],
            cert: &CertificateDer<'_>,
            dss: &DigitallySignedStruct,
        ) -> Result<HandshakeSignatureValid, rustls::Error> {
            verify_tls13_signature(
                message,
                cert,
                dss,
                &self.0.signature_verification_algorithms,
            )
        }

        fn supported_verify_schemes(&self) -> Vec<SignatureScheme> {
            self.0.signature_verification_algorithms.supported_schemes()
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_ca_file_that_cannot_be_used_is_named_with_its_setting() {
        let dir = tempfile::tempdir().expect("a directory");
        let url = ServerUrl::parse("postgres://u@db/zb?sslrootcert=/ca.pem").expect("a URL");
        let missing = dir.path().join("missing.pem");
        let said = read_ca(&url, &missing).expect_err("no file");
        assert!(
            said.starts_with(&format!(
                "cannot read the CA file {} (`sslrootcert`)",
                missing.display()
            )),
            "{said}"
        );
        let empty = dir.path().join("empty.pem");
        std::fs::write(&empty, "not a certificate\n").expect("write");
        let said = read_ca(&url, &empty).expect_err("no certificate");
        assert!(said.contains("holds no certificate"), "{said}");
    }

    #[test]
    fn a_refused_certificate_says_which_setting_fixes_it() {
        let url = ServerUrl::parse("mysql://u@db/zb?ssl-mode=REQUIRED").expect("a URL");
        let untrusted = rustls::Error::InvalidCertificate(CertificateError::UnknownIssuer);
        let said = explain(&untrusted, &url);
        assert!(
            said.contains("is not trusted: no public CA signed it"),
            "{said}"
        );
        assert!(said.contains("`ssl-ca=/path/to/ca.pem`"), "{said}");
        let io = std::io::Error::new(std::io::ErrorKind::InvalidData, untrusted);
        assert!(matches!(
            rustls_error(&io),
            Some(rustls::Error::InvalidCertificate(
                CertificateError::UnknownIssuer
            ))
        ));
    }
}
