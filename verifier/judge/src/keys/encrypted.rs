//! cosign's encrypted private key file (DESIGN §3.4).
//!
//! A PEM block labelled `ENCRYPTED SIGSTORE PRIVATE KEY` (or the legacy
//! `ENCRYPTED COSIGN PRIVATE KEY`) whose body is JSON, as written by
//! go-securesystemslib's `encrypted` package:
//!
//! ```json
//! {"kdf":{"name":"scrypt","params":{"N":65536,"r":8,"p":1},"salt":"<32 bytes b64>"},
//!  "cipher":{"name":"nacl/secretbox","nonce":"<24 bytes b64>"},"ciphertext":"<b64>"}
//! ```
//!
//! The box key is `scrypt(password, salt, N, r, p, 32)`; the ciphertext is a
//! NaCl secretbox (XSalsa20-Poly1305, tag first) of the PKCS#8 DER key.
//!
//! The file is attacker-controlled input and scrypt's cost is chosen by the
//! file, so every parameter is checked against the three settings cosign and
//! securesystemslib write *before* scrypt runs: the KDF takes only a
//! [`Checked`], which a file yields through that check alone. Unknown JSON fields are
//! refused too (Go would ignore them; nothing cosign writes has any).

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use crypto_secretbox::aead::{AeadInPlace as _, KeyInit as _};
use crypto_secretbox::{Key, Nonce, XSalsa20Poly1305};
use serde::{Deserialize, Deserializer, Serialize, Serializer};
use zeroize::Zeroizing;

use super::{KeyError, SigningKey, pem};

/// The label sigil and current cosign releases write.
const LABEL: &str = "ENCRYPTED SIGSTORE PRIVATE KEY";
/// The label older cosign releases wrote; read only.
const LEGACY_LABEL: &str = "ENCRYPTED COSIGN PRIVATE KEY";

const KDF_NAME: &str = "scrypt";
const CIPHER_NAME: &str = "nacl/secretbox";
/// securesystemslib's legacy, standard and OWASP settings, as log2(N).
const ACCEPTED_LOG_N: [u8; 3] = [15, 16, 17];
/// The standard setting (N = 65536), which cosign writes today.
const WRITE_LOG_N: u8 = 16;
const SCRYPT_R: u32 = 8;
const SCRYPT_P: u32 = 1;
const SALT_LEN: usize = 32;
const NONCE_LEN: usize = 24;
const BOX_KEY_LEN: usize = 32;
const TAG_LEN: usize = 16;

#[derive(Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct KeyFile {
    kdf: Kdf,
    cipher: Cipher,
    #[serde(with = "b64")]
    ciphertext: Vec<u8>,
}

#[derive(Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct Kdf {
    name: String,
    params: ScryptParams,
    #[serde(with = "b64")]
    salt: Vec<u8>,
}

/// Wide integers so that any number a hostile file holds is read and then
/// refused by the check, not wrapped.
#[derive(Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct ScryptParams {
    #[serde(rename = "N")]
    n: u64,
    r: u64,
    p: u64,
}

#[derive(Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct Cipher {
    name: String,
    #[serde(with = "b64")]
    nonce: Vec<u8>,
}

/// cosign-approved parameters: from a file only via [`KeyFile::check`], or
/// from the constants above in [`encrypt`]. The only input the KDF takes.
struct Checked {
    log_n: u8,
    salt: [u8; SALT_LEN],
    nonce: [u8; NONCE_LEN],
}

impl KeyFile {
    fn check(&self) -> Result<Checked, KeyError> {
        if self.kdf.name != KDF_NAME {
            return Err(KeyError::UnsupportedKdf {
                name: self.kdf.name.clone(),
            });
        }
        let ScryptParams { n, r, p } = self.kdf.params;
        let log_n = ACCEPTED_LOG_N
            .into_iter()
            .find(|&log_n| n == 1u64 << log_n)
            .filter(|_| r == u64::from(SCRYPT_R) && p == u64::from(SCRYPT_P))
            .ok_or(KeyError::UnsafeKdfParameters { n, r, p })?;
        let salt = <[u8; SALT_LEN]>::try_from(self.kdf.salt.as_slice()).map_err(|_| KeyError::BadParameterLength {
            what: "scrypt salt",
            expected: SALT_LEN,
            found: self.kdf.salt.len(),
        })?;
        if self.cipher.name != CIPHER_NAME {
            return Err(KeyError::UnsupportedCipher {
                name: self.cipher.name.clone(),
            });
        }
        let nonce =
            <[u8; NONCE_LEN]>::try_from(self.cipher.nonce.as_slice()).map_err(|_| KeyError::BadParameterLength {
                what: "secretbox nonce",
                expected: NONCE_LEN,
                found: self.cipher.nonce.len(),
            })?;
        Ok(Checked { log_n, salt, nonce })
    }
}

/// Encrypts `key` into a cosign key file (`ENCRYPTED SIGSTORE PRIVATE KEY`,
/// scrypt N=65536 r=8 p=1, fresh random salt and nonce).
pub fn encrypt(key: &SigningKey, password: &[u8]) -> Result<String, KeyError> {
    let mut salt = [0u8; SALT_LEN];
    let mut nonce = [0u8; NONCE_LEN];
    getrandom::fill(&mut salt)
        .and_then(|()| getrandom::fill(&mut nonce))
        .map_err(|_| KeyError::Crypto {
            operation: "reading system randomness",
        })?;
    let checked = Checked {
        log_n: WRITE_LOG_N,
        salt,
        nonce,
    };
    let box_key = derive_box_key(password, &checked)?;

    let pkcs8 = key.to_pkcs8_der();
    // Room for the tag up front, so the plaintext is never left behind in a
    // reallocated buffer.
    let mut sealed = Zeroizing::new(Vec::with_capacity(pkcs8.len() + TAG_LEN));
    sealed.extend_from_slice(&pkcs8);
    XSalsa20Poly1305::new(Key::from_slice(&*box_key))
        .encrypt_in_place(Nonce::from_slice(&checked.nonce), b"", &mut *sealed)
        .map_err(|_| KeyError::Crypto {
            operation: "secretbox sealing",
        })?;

    let file = KeyFile {
        kdf: Kdf {
            name: KDF_NAME.to_owned(),
            params: ScryptParams {
                n: 1 << WRITE_LOG_N,
                r: SCRYPT_R.into(),
                p: SCRYPT_P.into(),
            },
            salt: salt.to_vec(),
        },
        cipher: Cipher {
            name: CIPHER_NAME.to_owned(),
            nonce: nonce.to_vec(),
        },
        ciphertext: sealed.to_vec(),
    };
    let json = serde_json::to_vec(&file).map_err(|_| KeyError::Crypto {
        operation: "encoding the key file",
    })?;
    Ok(pem::encode(LABEL, &json))
}

/// Opens a cosign key file (either label) with `password`.
///
/// The KDF and cipher names, scrypt parameters (N 32768, 65536 or 131072,
/// r 8, p 1), salt (32 bytes) and nonce (24 bytes) are checked before scrypt
/// runs. A password that does not open the box gives
/// [`KeyError::WrongPassword`].
pub fn decrypt(pem: &str, password: &[u8]) -> Result<SigningKey, KeyError> {
    let block = pem::parse_single(pem)?;
    if block.label != LABEL && block.label != LEGACY_LABEL {
        return Err(KeyError::UnexpectedPemLabel {
            expected: LABEL,
            found: block.label.clone(),
        });
    }
    let file: KeyFile = serde_json::from_slice(&block.der).map_err(|_| KeyError::Malformed {
        what: "encrypted key file body is not cosign's JSON",
    })?;
    let checked = file.check()?;
    if file.ciphertext.len() <= TAG_LEN {
        return Err(KeyError::Malformed {
            what: "encrypted key file ciphertext is too short",
        });
    }
    let box_key = derive_box_key(password, &checked)?;
    let mut plaintext = Zeroizing::new(file.ciphertext);
    XSalsa20Poly1305::new(Key::from_slice(&*box_key))
        .decrypt_in_place(Nonce::from_slice(&checked.nonce), b"", &mut *plaintext)
        .map_err(|_| KeyError::WrongPassword)?;
    SigningKey::from_pkcs8_der(&plaintext)
}

/// Whether `pem` is a cosign encrypted key file (either label).
pub fn is_encrypted_pem(pem: &str) -> bool {
    pem::parse_single(pem).is_ok_and(|block| block.label == LABEL || block.label == LEGACY_LABEL)
}

#[cfg(test)]
thread_local! {
    /// scrypt runs on this thread, so tests can prove a refusal did no KDF work.
    static SCRYPT_RUNS: std::cell::Cell<u32> = const { std::cell::Cell::new(0) };
}

fn derive_box_key(password: &[u8], checked: &Checked) -> Result<Zeroizing<[u8; BOX_KEY_LEN]>, KeyError> {
    #[cfg(test)]
    SCRYPT_RUNS.with(|runs| runs.set(runs.get() + 1));
    let params = scrypt::Params::new(checked.log_n, SCRYPT_R, SCRYPT_P, BOX_KEY_LEN).map_err(|_| KeyError::Crypto {
        operation: "scrypt parameter setup",
    })?;
    let mut key = Zeroizing::new([0u8; BOX_KEY_LEN]);
    scrypt::scrypt(password, &checked.salt, &params, &mut *key).map_err(|_| KeyError::Crypto {
        operation: "scrypt key derivation",
    })?;
    Ok(key)
}

/// Go's `encoding/json` writes `[]byte` as standard padded base64.
mod b64 {
    use super::*;

    pub(super) fn serialize<S: Serializer>(bytes: &[u8], serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_str(&STANDARD.encode(bytes))
    }

    pub(super) fn deserialize<'de, D: Deserializer<'de>>(deserializer: D) -> Result<Vec<u8>, D::Error> {
        let text = String::deserialize(deserializer)?;
        STANDARD.decode(text).map_err(serde::de::Error::custom)
    }
}

#[cfg(test)]
mod tests {

    use serde_json::{Value, json};

    use super::*;
    use crate::keys::KeyAlgorithm;

    const COSIGN_EMPTY_PASSWORD: &str = include_str!(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../../testdata/keys/cosign-generated-empty-password.key"
    ));

    fn body(pem_text: &str) -> Value {
        let block = pem::parse_single(pem_text).expect("pem");
        serde_json::from_slice(&block.der).expect("json body")
    }

    fn with_body(label: &str, value: &Value) -> String {
        pem::encode(label, value.to_string().as_bytes())
    }

    /// A valid file whose JSON has been edited by `edit`.
    fn tampered(edit: impl FnOnce(&mut Value)) -> String {
        let mut value = body(COSIGN_EMPTY_PASSWORD);
        edit(&mut value);
        with_body(LABEL, &value)
    }

    fn scrypt_runs() -> u32 {
        SCRYPT_RUNS.with(std::cell::Cell::get)
    }

    #[test]
    fn round_trip_generate_encrypt_decrypt_sign_verify() {
        let key = SigningKey::generate().expect("generate");
        let file = encrypt(&key, b"correct horse").expect("encrypt");
        assert!(file.starts_with("-----BEGIN ENCRYPTED SIGSTORE PRIVATE KEY-----\n"));
        assert!(file.ends_with("-----END ENCRYPTED SIGSTORE PRIVATE KEY-----\n"));
        assert!(is_encrypted_pem(&file));
        let opened = decrypt(&file, b"correct horse").expect("decrypt");
        assert_eq!(opened.public_key(), key.public_key());
        let signature = opened.sign(b"artifact").expect("sign");
        key.public_key().verify(b"artifact", &signature).expect("verify");

        // Tampered twins: wrong password, and a flipped byte in each secret-bearing field.
        assert!(matches!(decrypt(&file, b"correct horsf"), Err(KeyError::WrongPassword)));
        assert!(matches!(decrypt(&file, b""), Err(KeyError::WrongPassword)));
        let flip = |field: &str, sub: Option<&str>| {
            let mut value = body(&file);
            let slot = match sub {
                Some(sub) => &mut value[field][sub],
                None => &mut value[field],
            };
            let mut bytes = STANDARD.decode(slot.as_str().expect("b64 field")).expect("b64");
            let middle = bytes.len() / 2;
            bytes[middle] ^= 1;
            *slot = Value::String(STANDARD.encode(bytes));
            with_body(LABEL, &value)
        };
        for (field, sub) in [("ciphertext", None), ("kdf", Some("salt")), ("cipher", Some("nonce"))] {
            let result = decrypt(&flip(field, sub), b"correct horse");
            assert!(matches!(result, Err(KeyError::WrongPassword)), "{field}: {result:?}");
        }
    }

    #[test]
    fn written_json_has_cosigns_exact_shape() {
        let key = SigningKey::generate().expect("generate");
        let file = encrypt(&key, b"pw").expect("encrypt");
        let block = pem::parse_single(&file).expect("pem");
        let text = std::str::from_utf8(&block.der).expect("utf-8");
        // Field order and spelling as Go's json.Marshal writes the securesystemslib structs.
        assert!(
            text.starts_with(r#"{"kdf":{"name":"scrypt","params":{"N":65536,"r":8,"p":1},"salt":""#),
            "{text}"
        );
        assert!(
            text.contains(r#""},"cipher":{"name":"nacl/secretbox","nonce":""#),
            "{text}"
        );
        assert!(
            text.contains(r#""},"ciphertext":""#) && text.ends_with(r#""}"#),
            "{text}"
        );
        let value = body(&file);
        assert_eq!(
            STANDARD
                .decode(value["kdf"]["salt"].as_str().expect("salt"))
                .expect("b64")
                .len(),
            32
        );
        assert_eq!(
            STANDARD
                .decode(value["cipher"]["nonce"].as_str().expect("nonce"))
                .expect("b64")
                .len(),
            24
        );
        // Same keys, nesting and value types as the file cosign itself wrote.
        fn shape(value: &Value) -> Value {
            match value {
                Value::Object(map) => Value::Object(map.iter().map(|(k, v)| (k.clone(), shape(v))).collect()),
                Value::Number(_) => json!("number"),
                Value::String(_) => json!("string"),
                other => other.clone(),
            }
        }
        assert_eq!(shape(&value), shape(&body(COSIGN_EMPTY_PASSWORD)));
        // A fresh salt and nonce each time.
        let again = body(&encrypt(&key, b"pw").expect("encrypt"));
        assert_ne!(again["kdf"]["salt"], value["kdf"]["salt"]);
        assert_ne!(again["cipher"]["nonce"], value["cipher"]["nonce"]);
    }

    #[test]
    fn opens_a_key_file_written_by_cosign() {
        // Generated by `cosign generate-key-pair` with an empty password
        // (testdata/keys/README.md): an independent writer of the format.
        let key = decrypt(COSIGN_EMPTY_PASSWORD, b"").expect("cosign's own key file opens");
        assert_eq!(key.algorithm(), KeyAlgorithm::EcdsaP256);
        let signature = key.sign(b"m").expect("sign");
        key.public_key().verify(b"m", &signature).expect("verify");
        assert!(matches!(
            decrypt(COSIGN_EMPTY_PASSWORD, b"x"),
            Err(KeyError::WrongPassword)
        ));
    }

    #[test]
    fn legacy_label_is_read_and_other_labels_are_not() {
        let legacy = with_body(LEGACY_LABEL, &body(COSIGN_EMPTY_PASSWORD));
        assert!(is_encrypted_pem(&legacy));
        decrypt(&legacy, b"").expect("legacy label accepted");
        let other = with_body("ENCRYPTED PRIVATE KEY", &body(COSIGN_EMPTY_PASSWORD));
        assert!(!is_encrypted_pem(&other));
        assert!(matches!(decrypt(&other, b""), Err(KeyError::UnexpectedPemLabel { .. })));
        let plain = include_str!(concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/../../testdata/keys/p256-pkcs8.pem"
        ));
        assert!(!is_encrypted_pem(plain));
        assert!(!is_encrypted_pem("not pem"));
    }

    #[test]
    fn accepts_the_legacy_and_owasp_scrypt_costs() {
        // The check admits exactly these three parameter sets.
        for n in [32768u64, 65536, 131072] {
            let file = tampered(|v| v["kdf"]["params"]["N"] = json!(n));
            let parsed: KeyFile = serde_json::from_slice(&pem::parse_single(&file).expect("pem").der).expect("json");
            assert!(parsed.check().is_ok(), "N={n}");
        }
    }

    #[test]
    fn hostile_parameters_are_refused_before_scrypt_runs() {
        let cases: Vec<(&str, String)> = vec![
            ("N=2^20", tampered(|v| v["kdf"]["params"]["N"] = json!(1u64 << 20))),
            ("N=2^62", tampered(|v| v["kdf"]["params"]["N"] = json!(1u64 << 62))),
            ("N=1024", tampered(|v| v["kdf"]["params"]["N"] = json!(1024))),
            ("N=65537", tampered(|v| v["kdf"]["params"]["N"] = json!(65537))),
            ("r=16", tampered(|v| v["kdf"]["params"]["r"] = json!(16))),
            ("r=1", tampered(|v| v["kdf"]["params"]["r"] = json!(1))),
            ("p=2", tampered(|v| v["kdf"]["params"]["p"] = json!(2))),
            (
                "salt 16 bytes",
                tampered(|v| v["kdf"]["salt"] = json!(STANDARD.encode([7u8; 16]))),
            ),
            ("salt empty", tampered(|v| v["kdf"]["salt"] = json!(""))),
            (
                "nonce 12 bytes",
                tampered(|v| v["cipher"]["nonce"] = json!(STANDARD.encode([7u8; 12]))),
            ),
            ("kdf argon2id", tampered(|v| v["kdf"]["name"] = json!("argon2id"))),
            ("kdf SCRYPT", tampered(|v| v["kdf"]["name"] = json!("SCRYPT"))),
            ("cipher aes-gcm", tampered(|v| v["cipher"]["name"] = json!("aes-gcm"))),
            ("N negative", tampered(|v| v["kdf"]["params"]["N"] = json!(-65536))),
            ("N string", tampered(|v| v["kdf"]["params"]["N"] = json!("65536"))),
            ("N float", tampered(|v| v["kdf"]["params"]["N"] = json!(65536.5))),
            (
                "N missing",
                tampered(|v| drop(v["kdf"]["params"].as_object_mut().map(|m| m.remove("N")))),
            ),
            ("unknown field", tampered(|v| v["kdf"]["params"]["maxmem"] = json!(1))),
            ("salt not base64", tampered(|v| v["kdf"]["salt"] = json!("***"))),
            (
                "short ciphertext",
                tampered(|v| v["ciphertext"] = json!(STANDARD.encode([0u8; 16]))),
            ),
            ("non-JSON body", pem::encode(LABEL, b"this is not json")),
            ("JSON array body", pem::encode(LABEL, b"[]")),
        ];
        for (name, file) in cases {
            let before = scrypt_runs();
            let result = decrypt(&file, b"");
            assert_eq!(scrypt_runs(), before, "{name}: scrypt must not run");
            let expected = match name {
                "N=2^20" => matches!(
                    result,
                    Err(KeyError::UnsafeKdfParameters {
                        n: 1_048_576,
                        r: 8,
                        p: 1
                    })
                ),
                "r=16" => matches!(result, Err(KeyError::UnsafeKdfParameters { n: 65536, r: 16, p: 1 })),
                "p=2" => matches!(result, Err(KeyError::UnsafeKdfParameters { n: 65536, r: 8, p: 2 })),
                n if n.starts_with("N=") || n.starts_with("r=") => {
                    matches!(result, Err(KeyError::UnsafeKdfParameters { .. }))
                }
                "salt 16 bytes" => matches!(
                    result,
                    Err(KeyError::BadParameterLength {
                        what: "scrypt salt",
                        expected: 32,
                        found: 16
                    })
                ),
                "salt empty" => matches!(result, Err(KeyError::BadParameterLength { found: 0, .. })),
                "nonce 12 bytes" => matches!(
                    result,
                    Err(KeyError::BadParameterLength {
                        what: "secretbox nonce",
                        expected: 24,
                        found: 12
                    })
                ),
                n if n.starts_with("kdf") => matches!(result, Err(KeyError::UnsupportedKdf { .. })),
                n if n.starts_with("cipher") => matches!(result, Err(KeyError::UnsupportedCipher { .. })),
                _ => matches!(result, Err(KeyError::Malformed { .. })),
            };
            assert!(expected, "{name}: got {result:?}");
        }
    }

    #[test]
    fn errors_never_show_the_password() {
        let password = b"hunter2-secret";
        let file = encrypt(&SigningKey::generate().expect("generate"), password).expect("encrypt");
        let error = decrypt(&file, b"hunter3-secret").expect_err("wrong password");
        for text in [error.to_string(), format!("{error:?}")] {
            assert!(!text.contains("hunter"), "{text}");
        }
    }
}
