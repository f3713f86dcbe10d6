//! The application key (SPEC §9): 32 random bytes in a file outside the
//! database (`security.key_file`, mode 0600, created on first run). It
//! encrypts the staff's TOTP secrets (XChaCha20-Poly1305), so that whoever
//! reads the database does not get them, and keys the hashes of the audit
//! chain (HMAC-SHA-256), so that whoever writes to the database cannot
//! recompute the chain after editing it.
//!
//! `serve` and every command that opens the database install the key of the
//! file before anything else; a process that installed none (the library in
//! tests) uses a random key of its own, never a known one.

use chacha20poly1305::{
    KeyInit, XChaCha20Poly1305, XNonce,
    aead::{Aead, Payload},
};
use hmac::{Hmac, KeyInit as MacKeyInit};
use sha2::Sha256;
use std::{
    io::Write,
    path::{Path, PathBuf},
    sync::{Arc, LazyLock, RwLock},
};

/// Prefix of a value sealed with the application key (version 1: XChaCha20-Poly1305).
pub const SEALED_PREFIX: &str = "v1:";

/// The key itself; its bytes never appear in `Debug` output.
#[derive(Clone)]
pub struct AppKey([u8; 32]);

impl std::fmt::Debug for AppKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("AppKey(***)")
    }
}

#[derive(Debug, thiserror::Error)]
pub enum KeyError {
    #[error(
        "clé de l'application introuvable : {0} ; la base contient des données chiffrées ou scellées avec elle (secrets TOTP, journal d'audit). Remettez le fichier de clé sauvegardé à cet endroit (ou indiquez-le par security.key_file), voir docs/exploitation.md « Clé de l'application »"
    )]
    MissingForExistingData(PathBuf),
    #[error("clé de l'application {0} illisible : {1}")]
    Unreadable(PathBuf, String),
    #[error("impossible de créer la clé de l'application {0} : {1}")]
    Create(PathBuf, String),
    #[error("aléa indisponible : {0}")]
    Random(String),
}

impl AppKey {
    /// A fresh random key.
    pub fn generate() -> Result<Self, KeyError> {
        let mut bytes = [0u8; 32];
        getrandom::fill(&mut bytes).map_err(|e| KeyError::Random(e.to_string()))?;
        Ok(Self(bytes))
    }

    /// Reads a key file: exactly 32 bytes.
    pub fn read(path: &Path) -> Result<Self, KeyError> {
        let bytes =
            std::fs::read(path).map_err(|e| KeyError::Unreadable(path.into(), e.to_string()))?;
        let bytes: [u8; 32] = bytes.try_into().map_err(|b: Vec<u8>| {
            KeyError::Unreadable(path.into(), format!("{} octets au lieu de 32", b.len()))
        })?;
        Ok(Self(bytes))
    }

    /// Writes the key to a new file readable by its owner only (0600); fails
    /// if the file exists. The file appears whole or not at all: the key is
    /// written and synced under a temporary name, then linked to `path` (a
    /// link never replaces a file), so a process that starts at the same time
    /// and finds the file reads all 32 bytes.
    pub fn write_new(&self, path: &Path) -> Result<(), KeyError> {
        let fail = |e: std::io::Error| KeyError::Create(path.into(), e.to_string());
        let dir = path
            .parent()
            .filter(|d| !d.as_os_str().is_empty())
            .unwrap_or(Path::new("."));
        std::fs::create_dir_all(dir).map_err(fail)?;
        let mut nonce = [0u8; 8];
        getrandom::fill(&mut nonce).map_err(|e| KeyError::Random(e.to_string()))?;
        let temporary = dir.join(format!(".bareme-mel-key-{}", hex::encode(nonce)));
        let written = (|| {
            let mut options = std::fs::OpenOptions::new();
            options.write(true).create_new(true);
            #[cfg(unix)]
            std::os::unix::fs::OpenOptionsExt::mode(&mut options, 0o600);
            let mut file = options.open(&temporary)?;
            file.write_all(&self.0)?;
            file.sync_all()?;
            std::fs::hard_link(&temporary, path)
        })();
        let _ = std::fs::remove_file(&temporary);
        written.map_err(fail)
    }

    /// An HMAC-SHA-256 keyed with this key (the audit chain).
    pub fn mac(&self) -> Hmac<Sha256> {
        <Hmac<Sha256> as MacKeyInit>::new_from_slice(&self.0).expect("HMAC takes any key length")
    }

    /// `plaintext` sealed for the `purpose` it is stored for: `v1:` and the
    /// hex of a random 24-byte nonce followed by the ciphertext and tag.
    pub fn seal(&self, purpose: &str, plaintext: &str) -> Result<String, KeyError> {
        let mut nonce = [0u8; 24];
        getrandom::fill(&mut nonce).map_err(|e| KeyError::Random(e.to_string()))?;
        let cipher = XChaCha20Poly1305::new((&self.0).into());
        let sealed = cipher
            .encrypt(
                XNonce::from_slice(&nonce),
                Payload {
                    msg: plaintext.as_bytes(),
                    aad: purpose.as_bytes(),
                },
            )
            .map_err(|_| KeyError::Random("chiffrement impossible".into()))?;
        Ok(format!(
            "{SEALED_PREFIX}{}{}",
            hex::encode(nonce),
            hex::encode(sealed)
        ))
    }

    /// The plaintext of a value [`seal`](Self::seal)ed for `purpose`; `None`
    /// when it was sealed with another key or altered.
    pub fn open(&self, purpose: &str, sealed: &str) -> Option<String> {
        let bytes = hex::decode(sealed.strip_prefix(SEALED_PREFIX)?).ok()?;
        if bytes.len() < 24 + 16 {
            return None;
        }
        let (nonce, ciphertext) = bytes.split_at(24);
        let cipher = XChaCha20Poly1305::new((&self.0).into());
        let plain = cipher
            .decrypt(
                XNonce::from_slice(nonce),
                Payload {
                    msg: ciphertext,
                    aad: purpose.as_bytes(),
                },
            )
            .ok()?;
        String::from_utf8(plain).ok()
    }
}

static INSTALLED: RwLock<Option<Arc<AppKey>>> = RwLock::new(None);

/// The key of a process that installed none: random, so never a known key.
static EPHEMERAL: LazyLock<Arc<AppKey>> = LazyLock::new(|| {
    let mut bytes = [0u8; 32];
    getrandom::fill(&mut bytes).expect("the operating system's random source");
    Arc::new(AppKey(bytes))
});

/// Makes `key` the key of this process.
pub fn install(key: AppKey) {
    *INSTALLED.write().unwrap_or_else(|e| e.into_inner()) = Some(Arc::new(key));
}

/// The key of this process (see the module documentation).
pub fn current() -> Arc<AppKey> {
    INSTALLED
        .read()
        .unwrap_or_else(|e| e.into_inner())
        .clone()
        .unwrap_or_else(|| EPHEMERAL.clone())
}

/// Reads the key at `path`, or creates it when absent and the database holds
/// nothing sealed with a key (`has_sealed_data`): losing the key of existing
/// data is an error that says what to do, never a silent new key.
/// The second value is true when the key file was created by this call.
pub fn load_or_create(path: &Path, has_sealed_data: bool) -> Result<(AppKey, bool), KeyError> {
    if path.exists() {
        return Ok((AppKey::read(path)?, false));
    }
    if has_sealed_data {
        return Err(KeyError::MissingForExistingData(path.into()));
    }
    let key = AppKey::generate()?;
    match key.write_new(path) {
        Ok(()) => Ok((key, true)),
        // Another process (a second `serve` started with this one) created
        // it in the meantime, whole (see `write_new`): that key is the key.
        Err(_) if path.exists() => Ok((AppKey::read(path)?, false)),
        Err(e) => Err(e),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sealed_values_open_only_with_their_key_and_purpose() {
        let key = AppKey::generate().unwrap();
        let sealed = key.seal("totp", "JBSWY3DPEHPK3PXP").unwrap();
        assert!(sealed.starts_with(SEALED_PREFIX));
        assert!(!sealed.contains("JBSWY3DPEHPK3PXP"));
        assert_eq!(
            key.open("totp", &sealed).as_deref(),
            Some("JBSWY3DPEHPK3PXP")
        );
        assert_eq!(key.open("autre", &sealed), None);
        assert_eq!(AppKey::generate().unwrap().open("totp", &sealed), None);
        assert_ne!(
            sealed,
            key.seal("totp", "JBSWY3DPEHPK3PXP").unwrap(),
            "random nonce"
        );
        assert_eq!(format!("{key:?}"), "AppKey(***)");
    }

    #[test]
    fn the_key_file_is_created_once_with_mode_0600() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("sous/cle");
        let (a, created) = load_or_create(&path, false).unwrap();
        assert!(created);
        let (b, created) = load_or_create(&path, true).unwrap();
        assert!(!created);
        assert_eq!(a.0, b.0);
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            let mode = std::fs::metadata(&path).unwrap().permissions().mode();
            assert_eq!(mode & 0o777, 0o600);
        }
        let missing = dir.path().join("absente");
        let err = load_or_create(&missing, true).unwrap_err().to_string();
        assert!(
            err.contains("introuvable") && err.contains("absente"),
            "{err}"
        );
        assert!(!missing.exists(), "no new key over existing data");
    }

    #[test]
    fn processes_starting_together_end_with_one_key() {
        for _ in 0..20 {
            let dir = tempfile::tempdir().unwrap();
            let path = dir.path().join("data/bareme-mel.key");
            let keys: Vec<_> = (0..4)
                .map(|_| {
                    let path = path.clone();
                    std::thread::spawn(move || load_or_create(&path, false))
                })
                .collect::<Vec<_>>()
                .into_iter()
                .map(|t| t.join().unwrap().expect("every process gets the key"))
                .collect();
            assert_eq!(keys.iter().filter(|(_, created)| *created).count(), 1);
            for (key, _) in &keys {
                assert_eq!(key.0, keys[0].0.0, "one key for all");
            }
            let left: Vec<_> = std::fs::read_dir(dir.path().join("data"))
                .unwrap()
                .collect();
            assert_eq!(left.len(), 1, "no temporary file left: {left:?}");
        }
    }
}
