//! PEM blocks, read the way cosign reads them and written the way Go's
//! `pem.Encode` writes them.
//!
//! Go's decoder accepts any base64 line width, so key files written by other
//! tools (76-column base64, CRLF line ends) open in cosign. The strict RFC 7468
//! grammar of `pem-rfc7468` would refuse some of them, so this small reader is
//! lenient about line width and line ends, and strict about everything else:
//! only whitespace may sit outside the blocks, every BEGIN needs its matching
//! END, and the body must be canonical padded base64.

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use zeroize::Zeroizing;

use super::KeyError;

/// One decoded PEM block. The body may be a private key, so it is zeroized on
/// drop.
pub(crate) struct PemBlock {
    /// The label between `BEGIN ` and `-----`.
    pub(crate) label: String,
    /// Whether RFC 1421 headers (`Proc-Type: 4,ENCRYPTED`, ...) were present.
    pub(crate) has_headers: bool,
    /// The decoded body.
    pub(crate) der: Zeroizing<Vec<u8>>,
}

const BEGIN: &str = "-----BEGIN ";
const END: &str = "-----END ";
const DASHES: &str = "-----";

/// Splits `text` into its PEM blocks, in order.
pub(crate) fn parse_blocks(text: &str) -> Result<Vec<PemBlock>, KeyError> {
    let mut blocks = Vec::new();
    let mut current: Option<(String, bool, Zeroizing<String>)> = None;
    for raw_line in text.split('\n') {
        let line = raw_line.trim();
        match current.as_mut() {
            None => {
                if line.is_empty() {
                    continue;
                }
                let label = line
                    .strip_prefix(BEGIN)
                    .and_then(|rest| rest.strip_suffix(DASHES))
                    .ok_or(KeyError::Malformed {
                        what: "expected only PEM blocks, found other text",
                    })?;
                current = Some((label.to_owned(), false, Zeroizing::new(String::new())));
            }
            Some((label, has_headers, body)) => {
                if let Some(end_label) = line.strip_prefix(END).and_then(|rest| rest.strip_suffix(DASHES)) {
                    if end_label != label.as_str() {
                        return Err(KeyError::Malformed {
                            what: "PEM END label does not match its BEGIN label",
                        });
                    }
                    let der = decode_body(body)?;
                    blocks.push(PemBlock {
                        label: std::mem::take(label),
                        has_headers: *has_headers,
                        der,
                    });
                    current = None;
                } else if line.starts_with(BEGIN) {
                    return Err(KeyError::Malformed {
                        what: "PEM block without an END line",
                    });
                } else if line.contains(':') {
                    // RFC 1421 headers come before the body; one after it is corruption.
                    if !body.is_empty() {
                        return Err(KeyError::Malformed {
                            what: "PEM header line inside the base64 body",
                        });
                    }
                    *has_headers = true;
                } else {
                    body.push_str(line);
                }
            }
        }
    }
    if current.is_some() {
        return Err(KeyError::Malformed {
            what: "PEM block without an END line",
        });
    }
    if blocks.is_empty() {
        return Err(KeyError::Malformed {
            what: "no PEM block found",
        });
    }
    Ok(blocks)
}

/// Parses text that must hold exactly one PEM block (surrounding whitespace
/// allowed).
pub(crate) fn parse_single(text: &str) -> Result<PemBlock, KeyError> {
    let mut blocks = parse_blocks(text)?;
    match blocks.pop() {
        Some(block) if blocks.is_empty() => Ok(block),
        _ => Err(KeyError::Malformed {
            what: "expected exactly one PEM block",
        }),
    }
}

fn decode_body(body: &str) -> Result<Zeroizing<Vec<u8>>, KeyError> {
    if body.is_empty() {
        return Err(KeyError::Malformed {
            what: "empty PEM block",
        });
    }
    let mut der = Zeroizing::new(Vec::with_capacity(body.len() / 4 * 3 + 3));
    STANDARD
        .decode_vec(body.as_bytes(), &mut der)
        .map_err(|_| KeyError::Malformed {
            what: "PEM body is not valid base64",
        })?;
    Ok(der)
}

/// Encodes `der` as a PEM block exactly as Go's `pem.Encode` does: 64-column
/// lines, `\n` line ends, a final newline.
pub(crate) fn encode(label: &str, der: &[u8]) -> String {
    let b64 = STANDARD.encode(der);
    let mut out = String::with_capacity(b64.len() + b64.len() / 64 + 2 * label.len() + 40);
    out.push_str(BEGIN);
    out.push_str(label);
    out.push_str(DASHES);
    out.push('\n');
    // Base64 output is ASCII, so splitting on byte offsets is splitting on chars.
    for chunk in b64.as_bytes().chunks(64) {
        out.extend(chunk.iter().map(|&b| char::from(b)));
        out.push('\n');
    }
    out.push_str(END);
    out.push_str(label);
    out.push_str(DASHES);
    out.push('\n');
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn encode_matches_go_pem_layout() {
        let pem = encode("PUBLIC KEY", &[0u8; 100]);
        let lines: Vec<&str> = pem.lines().collect();
        assert_eq!(lines[0], "-----BEGIN PUBLIC KEY-----");
        assert_eq!(lines[1].len(), 64);
        assert_eq!(lines[2].len(), 64);
        assert_eq!(lines[3].len(), 136 - 128);
        assert_eq!(lines[4], "-----END PUBLIC KEY-----");
        assert!(pem.ends_with("-----\n"));
    }

    #[test]
    fn round_trip_and_lenient_layout() {
        let der: Vec<u8> = (0..=255u8).collect();
        let pem = encode("X", &der);
        assert_eq!(&*parse_single(&pem).expect("round trip").der, &der);
        // CRLF, 76-column lines and surrounding whitespace are what other tools write.
        let b64 = STANDARD.encode(&der);
        let wide: Vec<String> = b64
            .as_bytes()
            .chunks(76)
            .map(|c| String::from_utf8_lossy(c).into_owned())
            .collect();
        let crlf = format!(
            "\r\n  -----BEGIN X-----\r\n{}\r\n-----END X-----\r\n\n",
            wide.join("\r\n")
        );
        let block = parse_single(&crlf).expect("lenient layout");
        assert_eq!(block.label, "X");
        assert!(!block.has_headers);
        assert_eq!(&*block.der, &der);
    }

    #[test]
    fn rejects_broken_pem() {
        let good = encode("X", b"hello");
        let cases = [
            (String::new(), "no PEM block found"),
            (
                "junk\n".to_owned() + &good,
                "expected only PEM blocks, found other text",
            ),
            (good.replace("-----END X-----\n", ""), "PEM block without an END line"),
            (
                good.replace("END X", "END Y"),
                "PEM END label does not match its BEGIN label",
            ),
            (good.replace("aGVsbG8=", "aGVsbG8"), "PEM body is not valid base64"),
            (good.replace("aGVsbG8=", "aGVs*G8="), "PEM body is not valid base64"),
            (good.replace("aGVsbG8=\n", ""), "empty PEM block"),
            (format!("{good}{good}"), "expected exactly one PEM block"),
        ];
        for (text, expected) in cases {
            match parse_single(&text) {
                Err(KeyError::Malformed { what }) => assert_eq!(what, expected, "{text:?}"),
                other => panic!(
                    "{text:?}: expected Malformed({expected}), got {:?}",
                    other.map(|b| b.label)
                ),
            }
        }
    }

    #[test]
    fn headers_are_reported() {
        let text = "-----BEGIN RSA PRIVATE KEY-----\nProc-Type: 4,ENCRYPTED\nDEK-Info: AES-128-CBC,00\n\naGVsbG8=\n-----END RSA PRIVATE KEY-----\n";
        assert!(parse_single(text).expect("headers parse").has_headers);
        let late = "-----BEGIN X-----\naGVsbG8=\nProc-Type: 4,ENCRYPTED\n-----END X-----\n";
        let r = parse_single(late);
        assert!(matches!(r, Err(KeyError::Malformed { .. })), "{:?}", r.err());
    }
}
