//! sigil reads a bundle with its own `Bundle::parse` (to pick the signer
//! kind, the leaf certificate, the DSSE payload it reports and judges) and
//! hands the same bytes to sigstore-rust (`sigstore_verify::types::Bundle`)
//! for the cryptography. If the two read different things, sigil could judge
//! one certificate or payload while sigstore-rust verified another. So:
//!
//! - acceptance: whatever sigil's `Bundle::parse` accepts, sigstore-rust's
//!   `Bundle::from_json` must accept too (panics with `ACCEPTANCE:`; set
//!   `SIGIL_FUZZ_AGREEMENT_ONLY=1` to skip this half and hunt only for
//!   disagreements, which are the dangerous ones);
//! - agreement: when both accept, they must agree on the signing certificate
//!   (sigil: `certificate`, else the first of `x509CertificateChain`, as
//!   `sigstore::verify` picks it), the content kind (sigil prefers the DSSE
//!   envelope, as `sigstore::verify` does), the DSSE payload type and bytes,
//!   and the number of log entries (panics with `DISAGREEMENT:`).
//!
//! Where sigil would refuse the bundle anyway before sigstore-rust runs
//! (its strict base64 of the certificate, an empty chain, an undecodable
//! payload), that field is not compared.
//!
//! The mutator splices bundle members from real bundles (both certificate
//! forms, both content kinds, public keys), duplicates, drops and reorders
//! members, besides libFuzzer's byte mutations.
#![no_main]

use std::sync::LazyLock;

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use libfuzzer_sys::{fuzz_mutator, fuzz_target, fuzzer_mutate};
use serde_json::{Map, Value};
use sigil_verifier::bundle::Bundle;
use sigstore_verify::types::Bundle as SigstoreBundle;
use sigstore_verify::types::bundle::SignatureContent;

static AGREEMENT_ONLY: LazyLock<bool> =
    LazyLock::new(|| std::env::var_os("SIGIL_FUZZ_AGREEMENT_ONLY").is_some_and(|v| v != "0"));

#[derive(Debug, PartialEq, Eq)]
enum Kind {
    Message,
    Dsse,
}

fuzz_target!(|data: &[u8]| {
    let Ok(ours) = Bundle::parse(data) else { return };
    // Not always UTF-8: serde_json's from_slice does not check the strings it
    // skips. sigil's verify refuses such bytes before sigstore-rust sees them.
    let Ok(text) = std::str::from_utf8(data) else { return };
    let theirs = match SigstoreBundle::from_json(text) {
        Ok(theirs) => theirs,
        Err(e) if *AGREEMENT_ONLY => {
            let _ = e;
            return;
        }
        Err(e) => panic!("ACCEPTANCE: sigil's Bundle::parse accepted a bundle sigstore-rust refuses: {e}"),
    };

    // The signing certificate.
    let material = &ours.verification_material;
    let raw = match (&material.certificate, &material.x509_certificate_chain) {
        (Some(cert), _) => Some(Some(&cert.raw_bytes)),
        (None, Some(chain)) => chain.certificates.first().map(|c| Some(&c.raw_bytes)),
        (None, None) => Some(None),
    };
    // `None`: sigil refuses (empty chain, or not base64) before sigstore-rust runs.
    let our_cert: Option<Option<Vec<u8>>> = match raw {
        Some(Some(raw)) => STANDARD.decode(raw).ok().map(Some),
        Some(None) => Some(None),
        None => None,
    };
    if let Some(our_cert) = our_cert {
        let their_cert = theirs.signing_certificate().map(|c| c.as_bytes().to_vec());
        assert!(
            our_cert == their_cert,
            "DISAGREEMENT: signing certificate: sigil {} vs sigstore-rust {}",
            describe(our_cert.as_deref()),
            describe(their_cert.as_deref()),
        );
    }

    // The content.
    let our_kind = if ours.dsse_envelope.is_some() { Kind::Dsse } else { Kind::Message };
    let their_kind = match &theirs.content {
        SignatureContent::DsseEnvelope(_) => Kind::Dsse,
        SignatureContent::MessageSignature(_) => Kind::Message,
        _ => panic!("DISAGREEMENT: sigstore-rust read a content kind sigil does not know"),
    };
    assert_eq!(our_kind, their_kind, "DISAGREEMENT: content kind");
    if let (Some(envelope), SignatureContent::DsseEnvelope(their_envelope)) = (&ours.dsse_envelope, &theirs.content) {
        assert_eq!(
            envelope.payload_type, their_envelope.payload_type,
            "DISAGREEMENT: DSSE payload type"
        );
        if let Ok(payload) = envelope.payload_bytes() {
            assert!(
                payload == their_envelope.payload.as_bytes(),
                "DISAGREEMENT: DSSE payload: sigil {} bytes vs sigstore-rust {} bytes",
                payload.len(),
                their_envelope.payload.as_bytes().len()
            );
        }
    }

    // The log entries.
    assert_eq!(
        material.tlog_entries.len(),
        theirs.verification_material.tlog_entries.len(),
        "DISAGREEMENT: number of transparency-log entries"
    );
});

fn describe(cert: Option<&[u8]>) -> String {
    match cert {
        None => "no certificate".into(),
        Some(der) => format!("{} DER bytes starting {:02x?}", der.len(), &der[..der.len().min(12)]),
    }
}

/// Real bundles whose members are spliced in: both certificate forms, both
/// content kinds, a public-key hint, a full chain.
const DONORS: [&[u8]; 5] = [
    include_bytes!("../seeds/bundle/bundleV01-dsse-with-proof.sigstore"),
    include_bytes!("../seeds/bundle/bundleV03-dsse.sigstore"),
    include_bytes!("../seeds/bundle/public-key-validity.sigstore.json"),
    include_bytes!("../seeds/bundle/othername.sigstore.json"),
    include_bytes!("../seeds/bundle/bundleV01-full-cert-chain.sigstore"),
];

static DONOR_VALUES: LazyLock<Vec<Map<String, Value>>> = LazyLock::new(|| {
    DONORS
        .iter()
        .filter_map(|d| serde_json::from_slice::<Value>(d).ok())
        .filter_map(|v| match v {
            Value::Object(m) => Some(m),
            _ => None,
        })
        .collect()
});

struct Rng(u64);

impl Rng {
    fn below(&mut self, n: usize) -> usize {
        // xorshift64*
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        (self.0.wrapping_mul(0x2545_f491_4f6c_dd1d) >> 33) as usize % n.max(1)
    }
}

fuzz_mutator!(|data: &mut [u8], size: usize, max_size: usize, seed: u32| {
    let mut rng = Rng(u64::from(seed) | 0x9e37_79b9_0000_0000);
    if rng.below(3) == 0 {
        if let Ok(Value::Object(mut top)) = serde_json::from_slice::<Value>(&data[..size]) {
            if let Some(out) = structural(&mut top, &mut rng) {
                if out.len() <= max_size {
                    data[..out.len()].copy_from_slice(&out);
                    return out.len();
                }
            }
        }
    }
    fuzzer_mutate(data, size, max_size)
});

/// One structural change to a bundle: the new JSON text.
fn structural(top: &mut Map<String, Value>, rng: &mut Rng) -> Option<Vec<u8>> {
    let donor = &DONOR_VALUES[rng.below(DONOR_VALUES.len())];
    // Work on the top level or on verificationMaterial.
    let in_material = rng.below(2) == 0;
    let donor_map = if in_material {
        donor.get("verificationMaterial")?.as_object()?
    } else {
        donor
    };
    let target: &mut Map<String, Value> = if in_material {
        top.entry("verificationMaterial")
            .or_insert_with(|| Value::Object(Map::new()))
            .as_object_mut()?
    } else {
        top
    };
    let (donor_key, donor_value) = donor_map.iter().nth(rng.below(donor_map.len()))?;
    let mut entries: Vec<(String, Value)> = std::mem::take(target).into_iter().collect();
    let mut duplicate = None;
    match rng.below(4) {
        // Splice a donor member in at a random position (replacing one of the same name).
        0 => {
            entries.retain(|(k, _)| k != donor_key);
            let at = rng.below(entries.len() + 1);
            entries.insert(at, (donor_key.clone(), donor_value.clone()));
        }
        // Drop a member.
        1 if !entries.is_empty() => {
            let at = rng.below(entries.len());
            entries.remove(at);
        }
        // Swap two members.
        2 if entries.len() > 1 => {
            let (a, b) = (rng.below(entries.len()), rng.below(entries.len()));
            entries.swap(a, b);
        }
        // Write a member twice (the donor's value or its own), at a random place.
        _ => {
            let member = if entries.is_empty() || rng.below(2) == 0 {
                (donor_key.clone(), donor_value.clone())
            } else {
                entries[rng.below(entries.len())].clone()
            };
            duplicate = Some((rng.below(entries.len() + 1), member));
        }
    }
    let object_text = |entries: &[(String, Value)], extra: &Option<(usize, (String, Value))>| {
        let mut parts: Vec<String> = entries
            .iter()
            .map(|(k, v)| format!("{}:{}", Value::from(k.as_str()), v))
            .collect();
        if let Some((at, (k, v))) = extra {
            parts.insert(*at, format!("{}:{}", Value::from(k.as_str()), v));
        }
        format!("{{{}}}", parts.join(","))
    };
    let changed = object_text(&entries, &duplicate);
    if !in_material {
        return Some(changed.into_bytes());
    }
    // Put the changed verificationMaterial text back into the top level.
    target.extend(entries);
    const MARK: &str = "\u{1}sigil-fuzz-material\u{1}";
    let placeholder = top.insert("verificationMaterial".into(), Value::from(MARK));
    drop(placeholder);
    let text = Value::Object(top.clone()).to_string();
    Some(text.replacen(&Value::from(MARK).to_string(), &changed, 1).into_bytes())
}
