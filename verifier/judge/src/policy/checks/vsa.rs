//! The policy's `vsa` check: a verified Verification Summary Attestation
//! accepted instead of checking again. The summary must say `PASSED`, name
//! a verifier the policy lists, be about this image's digest (its
//! `resourceUri` ends `@sha256:HEX`; the statement's subject is bound to
//! the digest by the attestation's verification already), be young enough,
//! and, when the policy lists policy digests, have been decided under one
//! of them.

use time::format_description::well_known::Rfc3339;
use time::{Duration, OffsetDateTime};

use super::list;
use super::vuln::human_duration;
use crate::digest::Digest;
use crate::predicate::vsa::Summary;

/// How far in the future a `timeVerified` may be (clock skew).
const SKEW: Duration = Duration::minutes(5);

/// `vsa: { verifierIds, policyDigests, maxAge }`.
#[derive(Clone, Debug, Default)]
pub struct VsaCheck {
    /// Exact `verifier.id` values accepted (at least one).
    pub verifier_ids: Vec<String>,
    /// `sha256` hex digests of the policies accepted; empty: any.
    pub policy_digests: Vec<String>,
    pub max_age: Option<Duration>,
}

impl VsaCheck {
    pub fn run(&self, summary: &Summary, image: &Digest, now: OffsetDateTime) -> Result<(), String> {
        if summary.verification_result != "PASSED" {
            return Err(format!(
                "the verification summary says {:?}, not PASSED",
                summary.verification_result
            ));
        }
        if !self.verifier_ids.contains(&summary.verifier.id) {
            return Err(format!(
                "verifier {:?} is not one of {}",
                summary.verifier.id,
                list(&self.verifier_ids)
            ));
        }
        let about = summary.resource_uri.rsplit_once('@').map(|(_, d)| d);
        if about != Some(image.to_string().as_str()) {
            return Err(format!(
                "the summary is about {:?}, not this image's digest {image}",
                summary.resource_uri
            ));
        }
        if !self.policy_digests.is_empty() {
            let decided_under = summary.policy.digest.get("sha256").map(|d| d.to_ascii_lowercase());
            if !decided_under.as_ref().is_some_and(|d| self.policy_digests.contains(d)) {
                return Err(format!(
                    "the summary was decided under policy sha256 {}, not one of {}",
                    decided_under.as_deref().unwrap_or("(none given)"),
                    list(&self.policy_digests)
                ));
            }
        }
        let verified = OffsetDateTime::parse(&summary.time_verified, &Rfc3339)
            .map_err(|_| format!("timeVerified {:?} is not RFC 3339", summary.time_verified))?;
        if verified > now + SKEW {
            return Err(format!("timeVerified {} is in the future", summary.time_verified));
        }
        if let Some(max_age) = self.max_age
            && now - verified > max_age
        {
            return Err(format!(
                "verified {} ago, older than the maximum age {}",
                human_duration(now - verified),
                human_duration(max_age)
            ));
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::predicate::vsa::{ResourceDescriptor, Verifier};

    fn image() -> Digest {
        Digest::sha256_of(b"image")
    }

    fn summary() -> Summary {
        Summary {
            verifier: Verifier {
                id: "https://sigil.dev/verifier/ci".into(),
                version: Default::default(),
            },
            time_verified: "2026-12-01T00:00:00Z".into(),
            resource_uri: format!("registry.example/app@{}", image()),
            policy: ResourceDescriptor {
                uri: Some("file:///policy.yaml".into()),
                digest: [("sha256".to_owned(), "ab".repeat(32))].into(),
            },
            input_attestations: Vec::new(),
            verification_result: "PASSED".into(),
            verified_levels: vec!["SIGIL_POLICY_ALLOW".into()],
        }
    }

    fn check() -> VsaCheck {
        VsaCheck {
            verifier_ids: vec!["https://sigil.dev/verifier/ci".into()],
            policy_digests: vec!["ab".repeat(32)],
            max_age: Some(Duration::hours(24)),
        }
    }

    fn at(text: &str) -> OffsetDateTime {
        OffsetDateTime::parse(text, &Rfc3339).expect("time")
    }

    #[test]
    fn a_fresh_passing_summary_of_this_image_by_a_listed_verifier_passes() {
        assert_eq!(check().run(&summary(), &image(), at("2026-12-01T12:00:00Z")), Ok(()));
        let any_policy = VsaCheck {
            policy_digests: Vec::new(),
            max_age: None,
            ..check()
        };
        assert_eq!(any_policy.run(&summary(), &image(), at("2027-12-01T12:00:00Z")), Ok(()));
    }

    #[test]
    fn every_twin_is_refused() {
        let now = at("2026-12-01T12:00:00Z");
        let twins: Vec<(&str, Summary, Digest, OffsetDateTime)> = vec![
            (
                "FAILED",
                Summary {
                    verification_result: "FAILED".into(),
                    ..summary()
                },
                image(),
                now,
            ),
            (
                "not one of",
                Summary {
                    verifier: Verifier {
                        id: "https://evil.example".into(),
                        version: Default::default(),
                    },
                    ..summary()
                },
                image(),
                now,
            ),
            ("not this image", summary(), Digest::sha256_of(b"another image"), now),
            (
                "not this image",
                Summary {
                    resource_uri: "registry.example/app:latest".into(),
                    ..summary()
                },
                image(),
                now,
            ),
            (
                "decided under",
                Summary {
                    policy: ResourceDescriptor::default(),
                    ..summary()
                },
                image(),
                now,
            ),
            (
                "decided under",
                Summary {
                    policy: ResourceDescriptor {
                        uri: None,
                        digest: [("sha256".to_owned(), "cd".repeat(32))].into(),
                    },
                    ..summary()
                },
                image(),
                now,
            ),
            ("older than", summary(), image(), at("2026-12-02T00:00:01Z")),
            ("in the future", summary(), image(), at("2026-11-30T23:50:00Z")),
            (
                "not RFC 3339",
                Summary {
                    time_verified: "yesterday".into(),
                    ..summary()
                },
                image(),
                now,
            ),
        ];
        for (why, s, digest, now) in twins {
            let err = check().run(&s, &digest, now).expect_err(why);
            assert!(err.contains(why), "{why}: {err}");
        }
    }
}
