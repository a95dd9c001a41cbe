//! The gate's own users (`--htpasswd`): `user:bcrypt-hash` lines, as
//! distribution's htpasswd authentication reads them (`htpasswd -B`).
//! Clients send HTTP Basic credentials; none of them ever reaches the
//! upstream, which the gate reads with its own.
//!
//! bcrypt is slow on purpose (tens of milliseconds), and a pull makes many
//! requests: a credential that verified is remembered for a while by the
//! SHA-256 of the header and the hash it matched (never the password).

use std::collections::HashMap;
use std::path::Path;
use std::sync::Mutex;
use std::time::Duration;

use base64::Engine as _;
use sigil_verifier::digest::Digest;
use tokio::time::Instant;

/// How long a verified credential is taken without bcrypt again.
const REMEMBERED: Duration = Duration::from_secs(300);
/// Most verified credentials remembered.
const REMEMBERED_ENTRIES: usize = 4096;

/// The users of an htpasswd file.
pub struct Users {
    hashes: HashMap<String, String>,
    verified: Mutex<HashMap<Digest, Instant>>,
}

impl Users {
    /// Reads an htpasswd file; only bcrypt entries are accepted.
    pub fn load(path: &Path) -> Result<Users, String> {
        let text =
            std::fs::read_to_string(path).map_err(|e| format!("cannot read --htpasswd {}: {e}", path.display()))?;
        Users::parse(&text).map_err(|e| format!("--htpasswd {}: {e}", path.display()))
    }

    fn parse(text: &str) -> Result<Users, String> {
        let mut hashes = HashMap::new();
        for (number, line) in text.lines().enumerate() {
            let line = line.trim();
            if line.is_empty() || line.starts_with('#') {
                continue;
            }
            let Some((user, hash)) = line.split_once(':') else {
                return Err(format!("line {}: not USER:HASH", number + 1));
            };
            if !(hash.starts_with("$2a$") || hash.starts_with("$2b$") || hash.starts_with("$2y$")) {
                return Err(format!(
                    "line {}: {user}'s password is not a bcrypt hash (make the file with `htpasswd -B`)",
                    number + 1
                ));
            }
            hashes.insert(user.to_owned(), hash.to_owned());
        }
        if hashes.is_empty() {
            return Err("no users".into());
        }
        Ok(Users {
            hashes,
            verified: Mutex::default(),
        })
    }

    /// Whether an `Authorization` header value names a user with the right password.
    pub async fn authorised(&self, header: Option<&[u8]>) -> bool {
        let Some((user, password)) = header.and_then(basic) else {
            return false;
        };
        let Some(hash) = self.hashes.get(&user) else {
            return false;
        };
        let mut key = header.unwrap_or_default().to_vec();
        key.push(0);
        key.extend_from_slice(hash.as_bytes());
        let key = Digest::sha256_of(&key);
        if lock(&self.verified)
            .get(&key)
            .is_some_and(|at| at.elapsed() < REMEMBERED)
        {
            return true;
        }
        let hash = hash.clone();
        let ok = tokio::task::spawn_blocking(move || bcrypt::verify(password, &hash).unwrap_or(false))
            .await
            .unwrap_or(false);
        if ok {
            let mut verified = lock(&self.verified);
            if verified.len() >= REMEMBERED_ENTRIES {
                verified.retain(|_, at| at.elapsed() < REMEMBERED);
                if verified.len() >= REMEMBERED_ENTRIES {
                    verified.clear();
                }
            }
            verified.insert(key, Instant::now());
        }
        ok
    }
}

/// `Basic BASE64(user:password)`.
fn basic(header: &[u8]) -> Option<(String, String)> {
    let header = std::str::from_utf8(header).ok()?;
    let (scheme, encoded) = header.trim().split_once(' ')?;
    if !scheme.eq_ignore_ascii_case("basic") {
        return None;
    }
    let decoded = base64::engine::general_purpose::STANDARD.decode(encoded.trim()).ok()?;
    let decoded = String::from_utf8(decoded).ok()?;
    let (user, password) = decoded.split_once(':')?;
    Some((user.to_owned(), password.to_owned()))
}

fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(std::sync::PoisonError::into_inner)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn header(user: &str, password: &str) -> Vec<u8> {
        format!(
            "Basic {}",
            base64::engine::general_purpose::STANDARD.encode(format!("{user}:{password}"))
        )
        .into_bytes()
    }

    #[tokio::test]
    async fn only_the_right_password_of_a_listed_user_passes() {
        let hash = bcrypt::hash("s3cret", 4).expect("hash");
        let users = Users::parse(&format!("# users\nalice:{hash}\n\n")).expect("parse");
        assert!(users.authorised(Some(&header("alice", "s3cret"))).await);
        // Remembered, and still only for that header.
        assert!(users.authorised(Some(&header("alice", "s3cret"))).await);
        assert!(!users.authorised(Some(&header("alice", "wrong"))).await);
        assert!(!users.authorised(Some(&header("mallory", "s3cret"))).await);
        assert!(!users.authorised(Some(b"Bearer abc")).await);
        assert!(!users.authorised(Some(b"Basic !!!")).await);
        assert!(!users.authorised(None).await);
    }

    #[test]
    fn refuses_files_that_are_not_bcrypt_htpasswd() {
        assert!(Users::parse("").is_err());
        assert!(Users::parse("alice").is_err());
        let md5 = Users::parse("alice:$apr1$abc$def").err().expect("refused");
        assert!(md5.contains("htpasswd -B"), "{md5}");
        assert!(Users::parse("alice:plain").is_err());
    }
}
