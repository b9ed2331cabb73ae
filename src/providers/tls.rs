//! Which certificate authorities HTTPS calls trust: webpki's roots (built into reqwest), plus the
//! operating system's store, plus `SSL_CERT_FILE` / `SSL_CERT_DIR`, all at once. A proxy that
//! inspects HTTPS (corporate networks) re-signs every site with its own CA: naming that CA in
//! either variable, or installing it in the system store, makes the calls work without giving
//! up the public roots.
//!
//! The variables are read strictly (a file that cannot be read or holds no certificate is an
//! error naming the variable and the path) because a silently ignored CA ends in a TLS error far
//! from its cause. The system store is read leniently (stores carry odd old certificates). All of
//! it is loaded once per process and shared by every provider's client.

use rustls::pki_types::CertificateDer;
use rustls::pki_types::pem::PemObject;
use std::path::{Path, PathBuf};
use std::sync::{Arc, OnceLock};

pub const CERT_FILE_VAR: &str = "SSL_CERT_FILE";
pub const CERT_DIR_VAR: &str = "SSL_CERT_DIR";

/// A `SSL_CERT_FILE` / `SSL_CERT_DIR` that cannot be used (never holds a secret: paths only).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{var}={path}: {problem}")]
pub struct TlsError {
    pub var: &'static str,
    pub path: String,
    pub problem: String,
}

/// The certificate authorities trusted on top of webpki's roots.
#[derive(Debug, Clone, Default)]
pub struct Trust {
    certs: Vec<CertificateDer<'static>>,
    /// How many came from `SSL_CERT_FILE` / `SSL_CERT_DIR`.
    pub from_env: usize,
    /// How many came from the operating system's store.
    pub from_system: usize,
}

impl Trust {
    /// webpki's roots only (tests that must not depend on the machine's store).
    pub fn webpki_only() -> Self {
        Trust::default()
    }

    /// The process's trust: the system store and the variables of this process's environment,
    /// loaded on first use.
    pub fn from_env() -> Result<Arc<Trust>, TlsError> {
        static TRUST: OnceLock<Result<Arc<Trust>, TlsError>> = OnceLock::new();
        TRUST
            .get_or_init(|| {
                let file = std::env::var_os(CERT_FILE_VAR)
                    .filter(|v| !v.is_empty())
                    .map(PathBuf::from);
                let dirs: Vec<PathBuf> = std::env::var_os(CERT_DIR_VAR)
                    .map(|v| std::env::split_paths(&v).collect())
                    .unwrap_or_default();
                Trust::load(file.as_deref(), &dirs, true).map(Arc::new)
            })
            .clone()
    }

    /// `file` and `dirs` as `SSL_CERT_FILE` and `SSL_CERT_DIR` would give them, plus the system
    /// store when `system`.
    pub fn load(file: Option<&Path>, dirs: &[PathBuf], system: bool) -> Result<Trust, TlsError> {
        let mut certs = Vec::new();
        if let Some(f) = file {
            certs.extend(read_file(f)?);
        }
        for d in dirs.iter().filter(|d| !d.as_os_str().is_empty()) {
            certs.extend(read_dir(d)?);
        }
        let from_env = certs.len();
        if system {
            let env_set = file.is_some() || dirs.iter().any(|d| !d.as_os_str().is_empty());
            certs.extend(system_store(env_set, dirs));
        }
        let total = certs.len();
        certs.sort_unstable_by(|a, b| a.as_ref().cmp(b.as_ref()));
        certs.dedup();
        tracing::debug!(
            from_env,
            system = total - from_env,
            unique = certs.len(),
            "TLS trust loaded (on top of webpki's roots)"
        );
        Ok(Trust {
            certs,
            from_env,
            from_system: total - from_env,
        })
    }

    /// Distinct certificates added to webpki's roots.
    pub fn len(&self) -> usize {
        self.certs.len()
    }

    pub fn is_empty(&self) -> bool {
        self.certs.is_empty()
    }

    /// `builder` trusting these certificates as well as webpki's roots.
    pub(crate) fn apply(&self, mut builder: reqwest::ClientBuilder) -> reqwest::ClientBuilder {
        for der in &self.certs {
            // Checked in `usable`; a failure here would only drop that certificate.
            if let Ok(c) = reqwest::Certificate::from_der(der) {
                builder = builder.add_root_certificate(c);
            }
        }
        builder.tls_built_in_root_certs(true)
    }
}

/// A certificate rustls accepts as a trust anchor (reqwest fails the whole client on one that
/// it does not).
fn usable(der: &CertificateDer<'_>) -> bool {
    rustls::RootCertStore::empty().add(der.clone()).is_ok()
}

fn read_file(path: &Path) -> Result<Vec<CertificateDer<'static>>, TlsError> {
    let err = |problem: String| TlsError {
        var: CERT_FILE_VAR,
        path: path.display().to_string(),
        problem,
    };
    let bytes = std::fs::read(path).map_err(|e| err(format!("cannot read it: {e}")))?;
    let (certs, skipped) = pem_certs(&bytes);
    if certs.is_empty() {
        return Err(err(if skipped > 0 {
            format!("none of its {skipped} certificate(s) can be used as a CA")
        } else {
            "no PEM certificate (-----BEGIN CERTIFICATE-----) in it".to_string()
        }));
    }
    if skipped > 0 {
        tracing::warn!(
            "{CERT_FILE_VAR}={}: {skipped} certificate(s) skipped (not usable as a CA)",
            path.display()
        );
    }
    Ok(certs)
}

fn read_dir(dir: &Path) -> Result<Vec<CertificateDer<'static>>, TlsError> {
    let err = |problem: String| TlsError {
        var: CERT_DIR_VAR,
        path: dir.display().to_string(),
        problem,
    };
    let entries = std::fs::read_dir(dir).map_err(|e| err(format!("cannot read it: {e}")))?;
    let mut certs = Vec::new();
    for entry in entries.flatten() {
        // Follow symlinks: `openssl rehash` directories are made of them.
        let path = entry.path();
        if !path.is_file() {
            continue;
        }
        if let Ok(bytes) = std::fs::read(&path) {
            certs.extend(pem_certs(&bytes).0);
        }
    }
    if certs.is_empty() {
        return Err(err("no usable PEM certificate in its files".to_string()));
    }
    Ok(certs)
}

/// The usable certificates of a PEM text, and how many others were skipped.
fn pem_certs(bytes: &[u8]) -> (Vec<CertificateDer<'static>>, usize) {
    let mut skipped = 0;
    let mut certs = Vec::new();
    for c in CertificateDer::pem_slice_iter(bytes) {
        match c {
            Ok(c) if usable(&c) => certs.push(c),
            _ => skipped += 1,
        }
    }
    (certs, skipped)
}

/// The operating system's store, read leniently (unusable entries dropped, errors logged).
/// rustls-native-certs reads only the variables when they are set, so on Linux and the BSDs the
/// system directories are then read here as well; elsewhere the variables replace the system
/// store (webpki's roots stay).
fn system_store(env_set: bool, env_dirs: &[PathBuf]) -> Vec<CertificateDer<'static>> {
    let result = if env_set {
        system_dirs(env_dirs)
    } else {
        rustls_native_certs::load_native_certs()
    };
    for e in &result.errors {
        tracing::debug!("system certificate store: {e}");
    }
    result.certs.into_iter().filter(usable).collect()
}

#[cfg(all(unix, not(target_os = "macos")))]
fn system_dirs(env_dirs: &[PathBuf]) -> rustls_native_certs::CertificateResult {
    let mut out = rustls_native_certs::CertificateResult::default();
    let named: Vec<PathBuf> = env_dirs
        .iter()
        .filter_map(|d| d.canonicalize().ok())
        .collect();
    for d in openssl_probe::candidate_cert_dirs() {
        // Already read as `SSL_CERT_DIR` (the usual `/etc/ssl/certs`): once is enough.
        if d.canonicalize().is_ok_and(|c| named.contains(&c)) {
            continue;
        }
        let r = rustls_native_certs::load_certs_from_paths(None, Some(d));
        out.certs.extend(r.certs);
        out.errors.extend(r.errors);
    }
    out
}

#[cfg(not(all(unix, not(target_os = "macos"))))]
fn system_dirs(_env_dirs: &[PathBuf]) -> rustls_native_certs::CertificateResult {
    rustls_native_certs::CertificateResult::default()
}

/// The rustls certificate error in `e`'s source chain, if the call failed because the server's
/// certificate was not accepted (unknown issuer, expired, wrong name, ...).
pub(crate) fn certificate_error(e: &(dyn std::error::Error + 'static)) -> Option<String> {
    if let Some(found) = as_certificate_error(e) {
        return Some(found);
    }
    // `io::Error::source` skips the error it wraps (which may be another io::Error): descend
    // into it instead.
    if let Some(inner) = e
        .downcast_ref::<std::io::Error>()
        .and_then(std::io::Error::get_ref)
    {
        return certificate_error(inner);
    }
    e.source().and_then(certificate_error)
}

fn as_certificate_error(e: &(dyn std::error::Error + 'static)) -> Option<String> {
    match e.downcast_ref::<rustls::Error>()? {
        rustls::Error::InvalidCertificate(c) => Some(format!("{c:?}")),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ca_pem() -> String {
        let key = rcgen::KeyPair::generate().unwrap();
        let mut params = rcgen::CertificateParams::new(Vec::<String>::new()).unwrap();
        params.is_ca = rcgen::IsCa::Ca(rcgen::BasicConstraints::Unconstrained);
        params.self_signed(&key).unwrap().pem()
    }

    #[test]
    fn a_named_file_is_read_strictly() {
        let dir = tempfile::tempdir().unwrap();
        let missing = dir.path().join("missing.pem");
        let e = Trust::load(Some(&missing), &[], false).unwrap_err();
        assert_eq!(e.var, "SSL_CERT_FILE");
        assert!(e.to_string().starts_with(&format!(
            "SSL_CERT_FILE={}: cannot read it",
            missing.display()
        )));
        let junk = dir.path().join("junk.pem");
        std::fs::write(&junk, "not a certificate").unwrap();
        let e = Trust::load(Some(&junk), &[], false).unwrap_err();
        assert!(e.problem.contains("no PEM certificate"), "{e}");
        let bad = dir.path().join("bad.pem");
        std::fs::write(
            &bad,
            "-----BEGIN CERTIFICATE-----\nAAAA\n-----END CERTIFICATE-----\n",
        )
        .unwrap();
        let e = Trust::load(Some(&bad), &[], false).unwrap_err();
        assert!(e.problem.contains("can be used as a CA"), "{e}");
        let good = dir.path().join("ca.pem");
        std::fs::write(&good, ca_pem()).unwrap();
        let t = Trust::load(Some(&good), &[], false).unwrap();
        assert_eq!((t.len(), t.from_env, t.from_system), (1, 1, 0));
    }

    #[test]
    fn a_named_directory_needs_a_certificate_in_it() {
        let dir = tempfile::tempdir().unwrap();
        let empty = dir.path().join("empty");
        std::fs::create_dir(&empty).unwrap();
        let e = Trust::load(None, std::slice::from_ref(&empty), false).unwrap_err();
        assert_eq!(e.var, "SSL_CERT_DIR");
        assert!(e.to_string().contains("no usable PEM certificate"), "{e}");
        let e = Trust::load(None, &[dir.path().join("nope")], false).unwrap_err();
        assert!(e.problem.starts_with("cannot read it"), "{e}");
        let full = dir.path().join("full");
        std::fs::create_dir(&full).unwrap();
        let ca = ca_pem();
        std::fs::write(full.join("a.pem"), &ca).unwrap();
        std::fs::write(full.join("b.pem"), &ca).unwrap();
        std::fs::write(full.join("README"), "not a cert").unwrap();
        let t = Trust::load(None, &[empty.clone(), full], false);
        assert!(t.is_err(), "every named directory must hold a certificate");
        let full = dir.path().join("full");
        let t = Trust::load(None, &[full], false).unwrap();
        assert_eq!(t.len(), 1, "duplicates are dropped");
    }

    #[test]
    fn the_trust_builds_a_client() {
        let dir = tempfile::tempdir().unwrap();
        let good = dir.path().join("ca.pem");
        std::fs::write(&good, ca_pem()).unwrap();
        // With the system store too (whatever this machine has): never a build error.
        let t = Trust::load(Some(&good), &[], true).unwrap();
        assert!(t.from_env == 1);
        // The Debian/Ubuntu store, where there is one, is read even though a file was named.
        if std::path::Path::new("/etc/ssl/certs/ca-certificates.crt").exists() {
            assert!(t.from_system > 0, "system store not read");
        }
        assert!(t.apply(reqwest::Client::builder()).build().is_ok());
    }
}
