//! AutoMTLS as go-plugin does it: a fresh server certificate per process
//! (DNS name `localhost`), and Terraform's client certificate REQUIRED and
//! pinned to the exact certificate Terraform passed in `PLUGIN_CLIENT_CERT`.
//! Terraform's certificate is ECDSA P-521, which only the aws-lc-rs crypto
//! provider verifies, so that provider is used explicitly.

use std::sync::Arc;

use rustls::client::danger::HandshakeSignatureValid;
use rustls::crypto::{
    verify_tls12_signature, verify_tls13_signature, CryptoProvider, WebPkiSupportedAlgorithms,
};
use rustls::pki_types::{CertificateDer, PrivateKeyDer, PrivatePkcs8KeyDer, UnixTime};
use rustls::server::danger::{ClientCertVerified, ClientCertVerifier};
use rustls::{DigitallySignedStruct, DistinguishedName, SignatureScheme};

#[derive(Debug, thiserror::Error)]
pub enum TlsError {
    #[error("PLUGIN_CLIENT_CERT holds no PEM certificate")]
    NoClientCert,
    #[error("reading PLUGIN_CLIENT_CERT: {0}")]
    Pem(String),
    #[error("generating the server certificate: {0}")]
    Generate(#[from] rcgen::Error),
    #[error("building the TLS configuration: {0}")]
    Rustls(#[from] rustls::Error),
}

/// The crypto provider of this process (aws-lc-rs), installed once.
pub fn crypto_provider() -> Arc<CryptoProvider> {
    let _ = rustls::crypto::aws_lc_rs::default_provider().install_default();
    CryptoProvider::get_default()
        .cloned()
        .unwrap_or_else(|| Arc::new(rustls::crypto::aws_lc_rs::default_provider()))
}

/// Accepts exactly one client certificate, byte for byte, and checks that
/// the peer holds its private key (the handshake signature).
#[derive(Debug)]
struct PinnedClientCert {
    pinned: CertificateDer<'static>,
    algs: WebPkiSupportedAlgorithms,
}

impl ClientCertVerifier for PinnedClientCert {
    fn root_hint_subjects(&self) -> &[DistinguishedName] {
        &[]
    }
    fn client_auth_mandatory(&self) -> bool {
        true
    }
    fn verify_client_cert(
        &self,
        end_entity: &CertificateDer<'_>,
        _intermediates: &[CertificateDer<'_>],
        _now: UnixTime,
    ) -> Result<ClientCertVerified, rustls::Error> {
        if end_entity.as_ref() == self.pinned.as_ref() {
            Ok(ClientCertVerified::assertion())
        } else {
            Err(rustls::Error::InvalidCertificate(
                rustls::CertificateError::ApplicationVerificationFailure,
            ))
        }
    }
    fn verify_tls12_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        verify_tls12_signature(message, cert, dss, &self.algs)
    }
    fn verify_tls13_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        verify_tls13_signature(message, cert, dss, &self.algs)
    }
    fn supported_verify_schemes(&self) -> Vec<SignatureScheme> {
        self.algs.supported_schemes()
    }
}

/// Parses the first certificate of a PEM text.
pub fn parse_pem_cert(pem: &str) -> Result<CertificateDer<'static>, TlsError> {
    use rustls::pki_types::pem::PemObject;
    match CertificateDer::pem_slice_iter(pem.as_bytes()).next() {
        Some(Ok(c)) => Ok(c),
        Some(Err(e)) => Err(TlsError::Pem(e.to_string())),
        None => Err(TlsError::NoClientCert),
    }
}

/// The server's TLS configuration and its certificate (DER), which goes into
/// the handshake line.
pub fn server_config(
    client_cert_pem: &str,
) -> Result<(Arc<rustls::ServerConfig>, Vec<u8>), TlsError> {
    let provider = crypto_provider();
    let pinned = parse_pem_cert(client_cert_pem)?;

    let key = rcgen::KeyPair::generate_for(&rcgen::PKCS_ECDSA_P256_SHA256)?;
    let mut params = rcgen::CertificateParams::new(vec!["localhost".to_string()])?;
    params
        .distinguished_name
        .push(rcgen::DnType::OrganizationName, "HashiCorp");
    params
        .distinguished_name
        .push(rcgen::DnType::CommonName, "localhost");
    params.is_ca = rcgen::IsCa::Ca(rcgen::BasicConstraints::Unconstrained);
    params.key_usages = vec![
        rcgen::KeyUsagePurpose::DigitalSignature,
        rcgen::KeyUsagePurpose::KeyEncipherment,
        rcgen::KeyUsagePurpose::KeyCertSign,
    ];
    params.extended_key_usages = vec![
        rcgen::ExtendedKeyUsagePurpose::ClientAuth,
        rcgen::ExtendedKeyUsagePurpose::ServerAuth,
    ];
    let now = time::OffsetDateTime::now_utc();
    params.not_before = now - time::Duration::seconds(30);
    params.not_after = now + time::Duration::days(1);
    let cert = params.self_signed(&key)?;
    let cert_der = cert.der().to_vec();

    let verifier = Arc::new(PinnedClientCert {
        pinned,
        algs: provider.signature_verification_algorithms,
    });
    let mut config = rustls::ServerConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()?
        .with_client_cert_verifier(verifier)
        .with_single_cert(
            vec![CertificateDer::from(cert_der.clone())],
            PrivateKeyDer::Pkcs8(PrivatePkcs8KeyDer::from(key.serialize_der())),
        )?;
    // gRPC clients require HTTP/2 negotiated by ALPN.
    config.alpn_protocols = vec![b"h2".to_vec()];
    Ok((Arc::new(config), cert_der))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn p521_cert_pem() -> String {
        let key = rcgen::KeyPair::generate_for(&rcgen::PKCS_ECDSA_P521_SHA512).expect("key");
        let params = rcgen::CertificateParams::new(vec!["localhost".to_string()]).expect("params");
        params.self_signed(&key).expect("cert").pem()
    }

    #[test]
    fn builds_a_config_pinned_to_a_p521_client_cert() {
        let pem = p521_cert_pem();
        let (config, der) = server_config(&pem).expect("config");
        assert!(!der.is_empty());
        assert_eq!(config.alpn_protocols, vec![b"h2".to_vec()]);
        // The provider can verify P-521 signatures.
        let provider = crypto_provider();
        assert!(provider
            .signature_verification_algorithms
            .supported_schemes()
            .contains(&SignatureScheme::ECDSA_NISTP521_SHA512));
    }

    #[test]
    fn rejects_garbage_client_cert() {
        assert!(matches!(
            server_config("not a pem"),
            Err(TlsError::NoClientCert)
        ));
    }

    #[test]
    fn pinned_verifier_refuses_other_certs() {
        let a = parse_pem_cert(&p521_cert_pem()).expect("a");
        let b = parse_pem_cert(&p521_cert_pem()).expect("b");
        let v = PinnedClientCert {
            pinned: a.clone(),
            algs: crypto_provider().signature_verification_algorithms,
        };
        assert!(v.verify_client_cert(&a, &[], UnixTime::now()).is_ok());
        assert!(v.verify_client_cert(&b, &[], UnixTime::now()).is_err());
        assert!(v.client_auth_mandatory());
    }
}
