//! TLS for the server's own connections: to an HTTPS upstream registry and to OIDC issuers
//! (verified against the system's root certificates plus an operator's CA file, for a private
//! CA), and the optional HTTPS listener for small installs with no proxy in front. rustls with
//! the ring provider: no system OpenSSL, nothing but Rust and ring's C to build.

use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

use hyper_rustls::HttpsConnector;
use hyper_util::client::legacy::connect::HttpConnector;

use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, PrivateKeyDer};

use crate::error::ServeError;

fn provider() -> Arc<rustls::crypto::CryptoProvider> {
    Arc::new(rustls::crypto::ring::default_provider())
}

/// The certificates in a PEM file, at least one.
fn certificates(path: &Path, what: &str) -> Result<Vec<CertificateDer<'static>>, ServeError> {
    let certs = CertificateDer::pem_file_iter(path)
        .and_then(Iterator::collect::<Result<Vec<_>, _>>)
        .map_err(|e| ServeError::Io(format!("{what} {}: {e}", path.display())))?;
    if certs.is_empty() {
        return Err(ServeError::Io(format!(
            "{what} {}: no PEM certificate in it",
            path.display()
        )));
    }
    Ok(certs)
}

/// The client side: the system's roots, plus every certificate in `ca_file` (`--ca-file`).
/// A system without readable roots still works with a CA file; with neither, nothing verifies
/// and the start fails saying so.
pub fn client_config(ca_file: Option<&Path>) -> Result<Arc<rustls::ClientConfig>, ServeError> {
    let mut roots = rustls::RootCertStore::empty();
    let native = rustls_native_certs::load_native_certs();
    for e in &native.errors {
        tracing::warn!(error = %e, "a system root certificate could not be read");
    }
    let (added, _) = roots.add_parsable_certificates(native.certs);
    if let Some(path) = ca_file {
        for cert in certificates(path, "--ca-file")? {
            roots
                .add(cert)
                .map_err(|e| ServeError::Io(format!("--ca-file {}: {e}", path.display())))?;
        }
    }
    if roots.is_empty() {
        return Err(ServeError::Io(
            "no root certificates: the system has none readable (install ca-certificates) and no --ca-file was given".into(),
        ));
    }
    tracing::debug!(system = added, total = roots.len(), "TLS roots loaded");
    let config = rustls::ClientConfig::builder_with_provider(provider())
        .with_safe_default_protocol_versions()
        .map_err(|e| ServeError::Io(format!("TLS: {e}")))?
        .with_root_certificates(roots)
        .with_no_client_auth();
    Ok(Arc::new(config))
}

/// A client connector verifying with `tls`, opening connections within `connect_timeout`;
/// `https_only` refuses plain `http://` (the OIDC issuers), otherwise both are spoken (the
/// upstream registry).
pub fn connector(
    tls: &rustls::ClientConfig,
    connect_timeout: Duration,
    https_only: bool,
) -> HttpsConnector<HttpConnector> {
    let mut http = HttpConnector::new();
    http.set_nodelay(true);
    http.set_connect_timeout(Some(connect_timeout));
    http.enforce_http(false);
    let builder = hyper_rustls::HttpsConnectorBuilder::new().with_tls_config(tls.clone());
    let builder = if https_only {
        builder.https_only()
    } else {
        builder.https_or_http()
    };
    builder.enable_http1().wrap_connector(http)
}

/// The HTTPS listener's configuration: the certificate chain and its private key (PEM).
pub fn server_config(cert: &Path, key: &Path) -> Result<Arc<rustls::ServerConfig>, ServeError> {
    let chain = certificates(cert, "--tls-cert")?;
    let key = PrivateKeyDer::from_pem_file(key)
        .map_err(|e| ServeError::Io(format!("--tls-key {}: {e}", key.display())))?;
    let mut config = rustls::ServerConfig::builder_with_provider(provider())
        .with_safe_default_protocol_versions()
        .map_err(|e| ServeError::Io(format!("TLS: {e}")))?
        .with_no_client_auth()
        .with_single_cert(chain, key)
        .map_err(|e| ServeError::Io(format!("--tls-cert / --tls-key: {e}")))?;
    config.alpn_protocols = vec![b"http/1.1".to_vec()];
    Ok(Arc::new(config))
}
