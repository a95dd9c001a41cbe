//! Content digests (`sha256:HEX`): the identity of every manifest and blob.
//!
//! A [`Digest`] is parsed once at the edge and cannot hold an invalid value.
//! Everything sigil fetches is checked against its digest with [`Digest::verify`]
//! before it is used.

use std::fmt;
use std::str::FromStr;

use aws_lc_rs::digest::{Context, SHA256, SHA384, SHA512};

/// Hash algorithms that may name content.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Algorithm {
    Sha256,
    /// For statement subjects and blob artifacts (`verify-bundle sha384:…`).
    /// Accepted wherever a digest is parsed; OCI content named by it is
    /// checked with it, and since signatures and `@sha256:` patterns name
    /// sha256 digests, such content fails closed.
    Sha384,
    Sha512,
}

impl Algorithm {
    /// The algorithm's name as written in a digest string.
    pub fn name(self) -> &'static str {
        match self {
            Algorithm::Sha256 => "sha256",
            Algorithm::Sha384 => "sha384",
            Algorithm::Sha512 => "sha512",
        }
    }

    fn hex_len(self) -> usize {
        match self {
            Algorithm::Sha256 => 64,
            Algorithm::Sha384 => 96,
            Algorithm::Sha512 => 128,
        }
    }

    fn ring(self) -> &'static aws_lc_rs::digest::Algorithm {
        match self {
            Algorithm::Sha256 => &SHA256,
            Algorithm::Sha384 => &SHA384,
            Algorithm::Sha512 => &SHA512,
        }
    }
}

/// A content digest such as `sha256:0123…`, always lower-case hex of the right length.
#[derive(Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Digest {
    algorithm: Algorithm,
    hex: String,
}

/// Why a string is not a digest, or content does not match one.
#[derive(Clone, Debug, thiserror::Error, PartialEq, Eq)]
pub enum DigestError {
    #[error("invalid digest {0:?}: expected sha256: followed by 64 lower-case hex digits")]
    Malformed(String),
    #[error("unsupported digest algorithm in {0:?} (sha256, sha384 and sha512 are supported)")]
    UnsupportedAlgorithm(String),
    #[error("content does not match its digest: expected {expected}, found {found}")]
    Mismatch { expected: Digest, found: Digest },
}

impl Digest {
    /// The sha256 digest of `bytes`.
    pub fn sha256_of(bytes: &[u8]) -> Digest {
        Self::of(Algorithm::Sha256, bytes)
    }

    /// The digest of `bytes` under `algorithm`.
    pub fn of(algorithm: Algorithm, bytes: &[u8]) -> Digest {
        let mut hasher = Hasher::new(algorithm);
        hasher.update(bytes);
        hasher.finish()
    }

    /// Builds a digest from raw hash bytes.
    pub fn from_raw(algorithm: Algorithm, raw: &[u8]) -> Result<Digest, DigestError> {
        if raw.len() * 2 != algorithm.hex_len() {
            return Err(DigestError::Malformed(hex::encode(raw)));
        }
        Ok(Digest {
            algorithm,
            hex: hex::encode(raw),
        })
    }

    pub fn algorithm(&self) -> Algorithm {
        self.algorithm
    }

    /// The lower-case hex part, without the algorithm.
    pub fn hex(&self) -> &str {
        &self.hex
    }

    /// The raw hash bytes.
    pub fn raw(&self) -> Vec<u8> {
        // Invariant: `hex` was validated as lower-case hex at construction.
        hex::decode(&self.hex).unwrap_or_default()
    }

    /// The tag prefix cosign derives from a digest: `sha256-HEX`.
    pub fn tag_prefix(&self) -> String {
        format!("{}-{}", self.algorithm.name(), self.hex)
    }

    /// Checks that `bytes` hash to this digest.
    pub fn verify(&self, bytes: &[u8]) -> Result<(), DigestError> {
        let found = Digest::of(self.algorithm, bytes);
        if &found == self {
            Ok(())
        } else {
            Err(DigestError::Mismatch {
                expected: self.clone(),
                found,
            })
        }
    }
}

impl FromStr for Digest {
    type Err = DigestError;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let (alg, hex) = s.split_once(':').ok_or_else(|| DigestError::Malformed(s.to_owned()))?;
        let algorithm = match alg {
            "sha256" => Algorithm::Sha256,
            "sha384" => Algorithm::Sha384,
            "sha512" => Algorithm::Sha512,
            _ if alg.chars().all(|c| c.is_ascii_alphanumeric() || "+._-".contains(c)) && !alg.is_empty() => {
                return Err(DigestError::UnsupportedAlgorithm(s.to_owned()));
            }
            _ => return Err(DigestError::Malformed(s.to_owned())),
        };
        let valid =
            hex.len() == algorithm.hex_len() && hex.bytes().all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b));
        if !valid {
            return Err(DigestError::Malformed(s.to_owned()));
        }
        Ok(Digest {
            algorithm,
            hex: hex.to_owned(),
        })
    }
}

impl fmt::Display for Digest {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}:{}", self.algorithm.name(), self.hex)
    }
}

impl fmt::Debug for Digest {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Display::fmt(self, f)
    }
}

impl serde::Serialize for Digest {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_str(self)
    }
}

impl<'de> serde::Deserialize<'de> for Digest {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let s = String::deserialize(d)?;
        s.parse().map_err(serde::de::Error::custom)
    }
}

/// Incremental hashing, for content that arrives in pieces.
pub struct Hasher {
    algorithm: Algorithm,
    context: Context,
}

impl Hasher {
    pub fn new(algorithm: Algorithm) -> Hasher {
        Hasher {
            algorithm,
            context: Context::new(algorithm.ring()),
        }
    }

    pub fn update(&mut self, bytes: &[u8]) {
        self.context.update(bytes);
    }

    pub fn finish(self) -> Digest {
        let out = self.context.finish();
        Digest {
            algorithm: self.algorithm,
            hex: hex::encode(out.as_ref()),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn empty_config_digest_is_the_well_known_one() {
        assert_eq!(
            Digest::sha256_of(b"{}").to_string(),
            "sha256:44136fa355b3678a1146ad16f7e8649e94fb4fc21fe77e8310c060f61caaff8a"
        );
    }

    #[test]
    fn parse_rejects_bad_forms() {
        let good = "sha256:44136fa355b3678a1146ad16f7e8649e94fb4fc21fe77e8310c060f61caaff8a";
        assert!(good.parse::<Digest>().is_ok());
        for bad in [
            "sha256:44136FA355b3678a1146ad16f7e8649e94fb4fc21fe77e8310c060f61caaff8a",
            "sha256:44136fa355b3678a1146ad16f7e8649e94fb4fc21fe77e8310c060f61caaff8",
            "sha256:",
            "44136fa355b3678a1146ad16f7e8649e94fb4fc21fe77e8310c060f61caaff8a",
            "sha256:44136fa355b3678a1146ad16f7e8649e94fb4fc21fe77e8310c060f61caaff8g",
        ] {
            assert!(matches!(bad.parse::<Digest>(), Err(DigestError::Malformed(_))), "{bad}");
        }
        assert!(matches!(
            "md5:abc".parse::<Digest>(),
            Err(DigestError::UnsupportedAlgorithm(_))
        ));
    }

    #[test]
    fn verify_detects_one_changed_byte() {
        let d = Digest::sha256_of(b"hello");
        assert!(d.verify(b"hello").is_ok());
        assert!(matches!(d.verify(b"hellp"), Err(DigestError::Mismatch { .. })));
        assert_eq!(d.tag_prefix(), format!("sha256-{}", d.hex()));
    }
}
