//! HTTPS in front of a loopback server: a throwaway certificate authority ([`TestCa`], made
//! with rcgen) signs a certificate for `127.0.0.1` and `localhost`; [`TlsFront`] accepts TLS
//! with it and pipes each decrypted connection to a plain loopback server (the
//! [`super::MockProvider`]), so every scripted reply works over HTTPS unchanged.
//!
//! ```ignore
//! let server = MockProvider::start().await;
//! let ca = TestCa::new();
//! let front = TlsFront::start(&ca, server.addr()).await;
//! // https base URL: front.openai_base_url(); trust: ca.write_pem(dir) as SSL_CERT_FILE
//! ```

use rcgen::{
    BasicConstraints, CertificateParams, CertifiedIssuer, DnType, IsCa, KeyPair, KeyUsagePurpose,
};
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use tokio::net::{TcpListener, TcpStream};
use tokio_rustls::TlsAcceptor;
use tokio_rustls::rustls::{self, ServerConfig, pki_types::PrivateKeyDer};

/// A self-signed CA and one server certificate it signed for `127.0.0.1` and `localhost`.
pub struct TestCa {
    ca_pem: String,
    ca_der: rustls::pki_types::CertificateDer<'static>,
    leaf_der: rustls::pki_types::CertificateDer<'static>,
    leaf_key: Vec<u8>,
}

impl TestCa {
    pub fn new() -> Self {
        let ca_key = KeyPair::generate().expect("CA key");
        let mut ca = CertificateParams::new(Vec::<String>::new()).expect("CA params");
        ca.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
        ca.distinguished_name
            .push(DnType::CommonName, "orchestrator-tui test CA");
        ca.key_usages = vec![
            KeyUsagePurpose::KeyCertSign,
            KeyUsagePurpose::CrlSign,
            KeyUsagePurpose::DigitalSignature,
        ];
        let issuer = CertifiedIssuer::self_signed(ca, ca_key).expect("self-signed CA");
        let leaf_key = KeyPair::generate().expect("server key");
        let mut leaf = CertificateParams::new(vec!["127.0.0.1".to_string(), "localhost".into()])
            .expect("server params");
        leaf.distinguished_name
            .push(DnType::CommonName, "loopback provider");
        let leaf = leaf.signed_by(&leaf_key, &issuer).expect("server cert");
        TestCa {
            ca_pem: issuer.pem(),
            ca_der: issuer.der().clone(),
            leaf_der: leaf.der().clone(),
            leaf_key: leaf_key.serialize_der(),
        }
    }

    /// The CA certificate, PEM.
    pub fn ca_pem(&self) -> &str {
        &self.ca_pem
    }

    /// Write the CA certificate to `dir/name` (an `SSL_CERT_FILE`).
    pub fn write_pem(&self, dir: &Path, name: &str) -> PathBuf {
        let p = dir.join(name);
        std::fs::write(&p, &self.ca_pem).expect("write CA pem");
        p
    }

    fn server_config(&self) -> ServerConfig {
        let provider = Arc::new(rustls::crypto::ring::default_provider());
        let mut cfg = ServerConfig::builder_with_provider(provider)
            .with_safe_default_protocol_versions()
            .expect("TLS versions")
            .with_no_client_auth()
            .with_single_cert(
                vec![self.leaf_der.clone(), self.ca_der.clone()],
                PrivateKeyDer::Pkcs8(self.leaf_key.clone().into()),
            )
            .expect("server certificate");
        // The server behind speaks HTTP/1.1 only.
        cfg.alpn_protocols = vec![b"http/1.1".to_vec()];
        cfg
    }
}

impl Default for TestCa {
    fn default() -> Self {
        Self::new()
    }
}

#[derive(Default)]
struct Counts {
    accepted: AtomicUsize,
    handshakes: AtomicUsize,
    refused: AtomicUsize,
}

/// The running HTTPS front; stops accepting when dropped.
pub struct TlsFront {
    addr: SocketAddr,
    counts: Arc<Counts>,
    accept: tokio::task::JoinHandle<()>,
}

impl Drop for TlsFront {
    fn drop(&mut self) {
        self.accept.abort();
    }
}

impl TlsFront {
    /// Serve HTTPS on `127.0.0.1:0` with `ca`'s server certificate, forwarding to `backend`.
    pub async fn start(ca: &TestCa, backend: SocketAddr) -> Self {
        let listener = TcpListener::bind("127.0.0.1:0")
            .await
            .expect("bind loopback");
        let addr = listener.local_addr().expect("local addr");
        let acceptor = TlsAcceptor::from(Arc::new(ca.server_config()));
        let counts = Arc::new(Counts::default());
        let c = counts.clone();
        let accept = tokio::spawn(async move {
            loop {
                let Ok((sock, _)) = listener.accept().await else {
                    continue;
                };
                c.accepted.fetch_add(1, Ordering::Relaxed);
                let (acceptor, c) = (acceptor.clone(), c.clone());
                tokio::spawn(async move {
                    let Ok(mut tls) = acceptor.accept(sock).await else {
                        // The client refused our certificate (or hung up).
                        c.refused.fetch_add(1, Ordering::Relaxed);
                        return;
                    };
                    c.handshakes.fetch_add(1, Ordering::Relaxed);
                    if let Ok(mut plain) = TcpStream::connect(backend).await {
                        let _ = tokio::io::copy_bidirectional(&mut tls, &mut plain).await;
                    }
                });
            }
        });
        TlsFront {
            addr,
            counts,
            accept,
        }
    }

    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// `https://127.0.0.1:PORT` (Anthropic and Gemini base URLs).
    pub fn base_url(&self) -> String {
        format!("https://{}", self.addr)
    }

    /// `https://127.0.0.1:PORT/v1` (OpenAI-format base URL).
    pub fn openai_base_url(&self) -> String {
        format!("https://{}/v1", self.addr)
    }

    /// TCP connections accepted.
    pub fn accepted(&self) -> usize {
        self.counts.accepted.load(Ordering::Relaxed)
    }

    /// TLS handshakes completed.
    pub fn handshakes(&self) -> usize {
        self.counts.handshakes.load(Ordering::Relaxed)
    }

    /// Handshakes that failed (a client that does not trust the CA aborts here).
    pub fn refused(&self) -> usize {
        self.counts.refused.load(Ordering::Relaxed)
    }
}
