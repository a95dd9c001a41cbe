//! The trusted metadata state machine.
//!
//! [`TrustedMetadataSet`] holds the metadata a client currently trusts and
//! enforces the TUF client workflow's verification rules as new metadata is fed
//! in: signature thresholds, version monotonicity (anti-rollback), expiry, and
//! cross-role integrity (length/hash) pinning. It performs **no I/O** — feeding
//! it bytes is the caller's job (see [`crate::client`]) — which keeps every
//! security check unit-testable against fixed inputs.
//!
//! The design mirrors `python-tuf`'s `TrustedMetadataSet` and `go-tuf`'s
//! trusted-metadata handling, including the rule that a pinned/bootstrap root is
//! trusted on first use and its declared key IDs are authoritative.

use std::collections::BTreeMap;

use crate::error::{Error, Result};
use crate::key::Key;
use crate::metadata::{Metadata, Role, RoleKeys, Root, Snapshot, Targets, Timestamp};

/// The set of currently-trusted TUF metadata.
#[derive(Debug, Clone)]
pub struct TrustedMetadataSet {
    root: Metadata<Root>,
    root_bytes: Vec<u8>,
    timestamp: Option<Metadata<Timestamp>>,
    snapshot: Option<Metadata<Snapshot>>,
    /// Top-level targets and any delegated targets, keyed by role name.
    targets: BTreeMap<String, Metadata<Targets>>,
}

impl TrustedMetadataSet {
    /// Bootstrap from a pinned root.
    ///
    /// The root is *trusted on first use*: it must be correctly self-signed
    /// (carry a `root`-role threshold of valid signatures over its own keys),
    /// but its declared key IDs are taken as authoritative and its expiry is not
    /// checked here (expiry is enforced once we move on to timestamp).
    pub fn from_root(bytes: &[u8]) -> Result<Self> {
        let root = Metadata::<Root>::from_slice(bytes)?;
        verify_root_self_signed(&root)?;
        Ok(Self {
            root,
            root_bytes: bytes.to_vec(),
            timestamp: None,
            snapshot: None,
            targets: BTreeMap::new(),
        })
    }

    /// The currently trusted root payload.
    pub fn root(&self) -> &Root {
        &self.root.signed
    }

    /// The raw bytes of the currently trusted root.
    pub fn root_bytes(&self) -> &[u8] {
        &self.root_bytes
    }

    /// The currently trusted timestamp payload, if one has been loaded.
    pub fn timestamp(&self) -> Option<&Timestamp> {
        self.timestamp.as_ref().map(|m| &m.signed)
    }

    /// The currently trusted snapshot payload, if one has been loaded.
    pub fn snapshot(&self) -> Option<&Snapshot> {
        self.snapshot.as_ref().map(|m| &m.signed)
    }

    /// Incorporate a candidate newer root.
    ///
    /// Enforces:
    /// * the new version is exactly `trusted + 1`, and
    /// * the new root is signed to threshold by **both** the currently trusted
    ///   root's `root` role **and** the new root's own `root` role.
    ///
    /// Intermediate root expiry is intentionally not checked, matching the TUF
    /// spec's root-chaining rules.
    pub fn update_root(&mut self, bytes: &[u8]) -> Result<()> {
        let new_root = Metadata::<Root>::from_slice(bytes)?;

        let trusted_version = self.root.signed.version;
        let new_version = new_root.signed.version;
        if trusted_version.checked_add(1) != Some(new_version) {
            return Err(Error::BadRootVersion {
                trusted: trusted_version,
                new: new_version,
            });
        }

        // Signed by the old root's authority...
        verify_with_root(&new_root, &self.root.signed, "root")?;
        // ...and self-consistent under the new root's authority.
        verify_root_self_signed(&new_root)?;

        self.root = new_root;
        self.root_bytes = bytes.to_vec();
        // A new root may rotate keys; previously trusted lower roles must be
        // re-verified against it, so drop them.
        self.timestamp = None;
        self.snapshot = None;
        self.targets.clear();
        Ok(())
    }

    /// Assert that the trusted root has not expired as of `now`.
    ///
    /// Per the TUF workflow this is checked once root updating is complete,
    /// before consuming timestamp.
    pub fn check_root_expired(&self, now: jiff::Timestamp) -> Result<()> {
        ensure_not_expired(&self.root.signed, "root", now)
    }

    /// Assert that the trusted timestamp, if one is loaded, has not expired as
    /// of `now`.
    ///
    /// The TUF workflow requires this whenever the trusted timestamp is *used*,
    /// not only when it is first loaded: a timestamp carried over unchanged from
    /// an earlier refresh (the equal-version case) was last expiry-checked
    /// against an older `now`, and accepting it indefinitely would let a mirror
    /// freeze the client by replaying the same timestamp forever. Mirrors
    /// python-tuf's `_check_final_timestamp`.
    pub fn check_timestamp_expired(&self, now: jiff::Timestamp) -> Result<()> {
        match &self.timestamp {
            Some(ts) => ensure_not_expired(&ts.signed, "timestamp", now),
            None => Ok(()),
        }
    }

    /// Assert that the trusted snapshot, if one is loaded, has not expired as
    /// of `now`. See [`TrustedMetadataSet::check_timestamp_expired`] for why
    /// this is checked at use time, not only at load time (python-tuf's
    /// `_check_final_snapshot`).
    pub fn check_snapshot_expired(&self, now: jiff::Timestamp) -> Result<()> {
        match &self.snapshot {
            Some(snap) => ensure_not_expired(&snap.signed, "snapshot", now),
            None => Ok(()),
        }
    }

    /// Incorporate a candidate timestamp.
    ///
    /// Verifies the `timestamp`-role signature threshold, rejects rollback of
    /// both the timestamp version and the snapshot version it pins, and checks
    /// expiry.
    ///
    /// Returns [`Error::EqualVersion`] (a non-fault signal) when the candidate's
    /// version equals the trusted one: per the TUF workflow the client keeps the
    /// timestamp it already has and the candidate is discarded. The trusted state
    /// is left unchanged in that case.
    pub fn update_timestamp(&mut self, bytes: &[u8], now: jiff::Timestamp) -> Result<()> {
        self.update_timestamp_inner(bytes, Some(now))
    }

    // Expired authenticated cache entries still establish rollback floors.
    // They never authorize target resolution without fresh metadata.
    pub(crate) fn load_cached_timestamp(&mut self, bytes: &[u8]) -> Result<()> {
        self.update_timestamp_inner(bytes, None)
    }

    fn update_timestamp_inner(&mut self, bytes: &[u8], now: Option<jiff::Timestamp>) -> Result<()> {
        let new = Metadata::<Timestamp>::from_slice(bytes)?;
        verify_with_root(&new, &self.root.signed, "timestamp")?;

        if let Some(current) = &self.timestamp {
            if new.signed.version < current.signed.version {
                return Err(Error::Rollback {
                    role: "timestamp".to_string(),
                    trusted: current.signed.version,
                    new: new.signed.version,
                });
            }
            if new.signed.version == current.signed.version {
                return Err(Error::EqualVersion {
                    role: "timestamp".to_string(),
                    version: new.signed.version,
                });
            }
            // The pinned snapshot version must not move backwards either.
            if let (Some(new_meta), Some(cur_meta)) =
                (new.signed.snapshot_meta(), current.signed.snapshot_meta())
            {
                if new_meta.version < cur_meta.version {
                    return Err(Error::Rollback {
                        role: "snapshot (via timestamp)".to_string(),
                        trusted: cur_meta.version,
                        new: new_meta.version,
                    });
                }
            }
        }

        if let Some(now) = now {
            ensure_not_expired(&new.signed, "timestamp", now)?;
        }
        self.timestamp = Some(new);
        Ok(())
    }

    /// Incorporate a candidate snapshot.
    ///
    /// Requires a trusted timestamp first; checks the snapshot's length/hash and
    /// version against the timestamp pin, verifies the `snapshot`-role signature
    /// threshold, enforces no per-target rollback versus the trusted snapshot,
    /// and checks expiry.
    pub fn update_snapshot(&mut self, bytes: &[u8], now: jiff::Timestamp) -> Result<()> {
        self.update_snapshot_inner(bytes, Some(now))
    }

    pub(crate) fn load_cached_snapshot(&mut self, bytes: &[u8]) -> Result<()> {
        self.update_snapshot_inner(bytes, None)
    }

    fn update_snapshot_inner(&mut self, bytes: &[u8], now: Option<jiff::Timestamp>) -> Result<()> {
        let timestamp = self
            .timestamp
            .as_ref()
            .ok_or_else(|| Error::Malformed("cannot load snapshot before timestamp".to_string()))?;
        // The timestamp authorizing this snapshot must itself still be fresh
        // (freeze protection; python-tuf's `_check_final_timestamp`).
        if let Some(now) = now {
            ensure_not_expired(&timestamp.signed, "timestamp", now)?;
        }
        let pin = timestamp
            .signed
            .snapshot_meta()
            .ok_or_else(|| Error::Malformed("timestamp does not pin snapshot.json".to_string()))?;

        check_integrity(bytes, pin.length, pin.hashes.as_ref(), "snapshot.json")?;

        let new = Metadata::<Snapshot>::from_slice(bytes)?;
        verify_with_root(&new, &self.root.signed, "snapshot")?;

        if new.signed.version != pin.version {
            return Err(Error::IntegrityMismatch(format!(
                "snapshot version {} does not match timestamp pin {}",
                new.signed.version, pin.version
            )));
        }

        // Relative to the trusted snapshot, no targets metadata may be removed
        // or rolled back (TUF spec 5.5.4). Removal is only legitimate as part of
        // a targets-recovery key rotation, which rotates the snapshot key and so
        // arrives via a new root that clears the trusted snapshot first.
        if let Some(current) = &self.snapshot {
            for (name, cur_meta) in &current.signed.meta {
                match new.signed.meta.get(name) {
                    None => {
                        return Err(Error::IntegrityMismatch(format!(
                            "snapshot removes {name}, which the trusted snapshot pins"
                        )));
                    }
                    Some(new_meta) if new_meta.version < cur_meta.version => {
                        return Err(Error::Rollback {
                            role: format!("{name} (via snapshot)"),
                            trusted: cur_meta.version,
                            new: new_meta.version,
                        });
                    }
                    Some(_) => {}
                }
            }
        }

        if let Some(now) = now {
            ensure_not_expired(&new.signed, "snapshot", now)?;
        }
        self.snapshot = Some(new);
        // A new snapshot invalidates previously trusted targets.
        self.targets.clear();
        Ok(())
    }

    /// Check the entire authorization chain at target-resolution time, including
    /// version pins that may have changed during an unsuccessful refresh.
    pub(crate) fn check_target_authorization(&self, now: jiff::Timestamp) -> Result<()> {
        self.check_root_expired(now)?;
        self.check_timestamp_expired(now)?;
        self.check_snapshot_expired(now)?;
        let (Some(timestamp), Some(snapshot), Some(targets)) = (
            self.timestamp(),
            self.snapshot(),
            self.targets_role("targets"),
        ) else {
            return Err(Error::NotRefreshed);
        };
        ensure_not_expired(targets, "targets", now)?;
        if timestamp.snapshot_meta().map(|pin| pin.version) != Some(snapshot.version)
            || snapshot.meta.get("targets.json").map(|pin| pin.version) != Some(targets.version)
        {
            return Err(Error::IntegrityMismatch(
                "incomplete refresh: target authorization pins have changed".into(),
            ));
        }
        Ok(())
    }

    /// A trusted targets role by name (`"targets"` for the top level, or a
    /// delegated role name), if it has been loaded.
    pub fn targets_role(&self, name: &str) -> Option<&Targets> {
        self.targets.get(name).map(|m| &m.signed)
    }

    /// Verify that a cached delegated targets role is authorized by the
    /// delegator through which it is currently being reached.
    ///
    /// Delegated metadata is cached by role name because the snapshot has a
    /// single pin for that name. A role name can nevertheless be delegated by
    /// multiple parents with different keys and thresholds, so callers must
    /// perform this check on every delegating edge before using a cached role.
    pub fn verify_delegated_targets(
        &self,
        role_name: &str,
        delegator_name: &str,
        now: jiff::Timestamp,
    ) -> Result<&Targets> {
        if is_top_level_role(role_name) {
            return Err(Error::Malformed(format!(
                "delegated role must not reuse top-level role name {role_name:?}"
            )));
        }
        let (keys, role_keys) = self.delegation_authority(delegator_name, role_name)?;
        let metadata = self
            .targets
            .get(role_name)
            .ok_or_else(|| Error::UnknownRole(role_name.to_string()))?;
        metadata.verify_threshold(&keys, &role_keys, role_name)?;
        ensure_not_expired(&metadata.signed, role_name, now)?;
        Ok(&metadata.signed)
    }

    /// Incorporate the top-level `targets` metadata file.
    ///
    /// Requires a trusted snapshot first; checks length/hash/version against the
    /// snapshot pin, verifies the `targets`-role signature threshold **against
    /// the root**, and checks expiry.
    pub fn update_targets(&mut self, bytes: &[u8], now: jiff::Timestamp) -> Result<&Targets> {
        let new = self.verify_targets_pin(bytes, "targets", now)?;
        verify_with_root(&new, &self.root.signed, "targets")?;
        ensure_not_expired(&new.signed, "targets", now)?;
        self.targets.insert("targets".to_string(), new);
        Ok(&self.targets["targets"].signed)
    }

    /// Incorporate a delegated targets metadata file `role_name`, delegated by
    /// the already-trusted targets role `delegator_name`.
    ///
    /// The signature threshold is verified against the **delegator's**
    /// `delegations` block (its keys and the delegated role's keyids/threshold),
    /// not the root — this is what makes delegation a real trust hand-off.
    pub fn update_delegated_targets(
        &mut self,
        bytes: &[u8],
        role_name: &str,
        delegator_name: &str,
        now: jiff::Timestamp,
    ) -> Result<&Targets> {
        // A delegated role must not reuse a top-level role name: it shares the
        // metadata-cache namespace with `root`/`timestamp`/`snapshot`/`targets`,
        // so allowing it would let a compromised mirror overwrite a cached
        // top-level role (a potential offline denial of service on the next run).
        if is_top_level_role(role_name) {
            return Err(Error::Malformed(format!(
                "delegated role must not reuse top-level role name {role_name:?}"
            )));
        }
        let (keys, role_keys) = self.delegation_authority(delegator_name, role_name)?;
        let new = self.verify_targets_pin(bytes, role_name, now)?;
        new.verify_threshold(&keys, &role_keys, role_name)?;
        ensure_not_expired(&new.signed, role_name, now)?;
        self.targets.insert(role_name.to_string(), new);
        Ok(&self.targets[role_name].signed)
    }

    /// Parse a targets file and check it against the snapshot pin (length, hash,
    /// and version), without verifying signatures (the caller decides whether
    /// the authority is the root or a delegator).
    fn verify_targets_pin(
        &self,
        bytes: &[u8],
        role_name: &str,
        now: jiff::Timestamp,
    ) -> Result<Metadata<Targets>> {
        let snapshot = self
            .snapshot
            .as_ref()
            .ok_or_else(|| Error::Malformed("cannot load targets before snapshot".to_string()))?;
        // The snapshot authorizing this targets file must itself still be fresh
        // (freeze protection; python-tuf's `_check_final_snapshot`).
        ensure_not_expired(&snapshot.signed, "snapshot", now)?;
        let meta_name = format!("{role_name}.json");
        let pin = snapshot
            .signed
            .meta
            .get(&meta_name)
            .ok_or_else(|| Error::Malformed(format!("snapshot does not pin {meta_name}")))?;

        check_integrity(bytes, pin.length, pin.hashes.as_ref(), &meta_name)?;

        let new = Metadata::<Targets>::from_slice(bytes)?;
        if new.signed.version != pin.version {
            return Err(Error::IntegrityMismatch(format!(
                "{meta_name} version {} does not match snapshot pin {}",
                new.signed.version, pin.version
            )));
        }
        Ok(new)
    }

    /// Resolve the keys and threshold that authorize `role_name`, as declared in
    /// the `delegations` block of the already-trusted `delegator_name`.
    fn delegation_authority(
        &self,
        delegator_name: &str,
        role_name: &str,
    ) -> Result<(BTreeMap<String, Key>, RoleKeys)> {
        let delegator = self
            .targets
            .get(delegator_name)
            .ok_or_else(|| Error::UnknownRole(delegator_name.to_string()))?;
        let delegations =
            delegator.signed.delegations.as_ref().ok_or_else(|| {
                Error::Malformed(format!("role {delegator_name} delegates nothing"))
            })?;
        let role = delegations
            .roles
            .iter()
            .find(|r| r.name == role_name)
            .ok_or_else(|| Error::UnknownRole(role_name.to_string()))?;

        // Only expose the keys this delegated role is allowed to use.
        let mut keys = BTreeMap::new();
        for kid in &role.keyids {
            if let Some(key) = delegations.keys.get(kid) {
                keys.insert(kid.clone(), key.clone());
            }
        }
        Ok((keys, role.role_keys()))
    }
}

/// Whether `name` is one of the four reserved top-level role names. Delegated
/// targets roles must not reuse these (they share the cache namespace).
pub(crate) fn is_top_level_role(name: &str) -> bool {
    matches!(name, "root" | "timestamp" | "snapshot" | "targets")
}

/// Verify `metadata` against a named role defined in `root`.
fn verify_with_root<T: Role>(metadata: &Metadata<T>, root: &Root, role_name: &str) -> Result<()> {
    let role_keys = root
        .role(role_name)
        .ok_or_else(|| Error::UnknownRole(role_name.to_string()))?;
    metadata.verify_threshold(&root.keys, role_keys, role_name)
}

/// Verify a root is signed to threshold by its own `root` role.
fn verify_root_self_signed(root: &Metadata<Root>) -> Result<()> {
    let role_keys: &RoleKeys = root
        .signed
        .role("root")
        .ok_or_else(|| Error::UnknownRole("root".to_string()))?;
    let keys: &BTreeMap<String, Key> = &root.signed.keys;
    root.verify_threshold(keys, role_keys, "root")
}

fn ensure_not_expired<T: Role>(role: &T, name: &str, now: jiff::Timestamp) -> Result<()> {
    if role.is_expired(now) {
        return Err(Error::Expired {
            role: name.to_string(),
            expires: role.expires(),
        });
    }
    Ok(())
}

/// Verify that `bytes` matches a pinned length and hashes.
///
/// The length, if pinned, must match exactly. When hashes are pinned, every
/// hash whose algorithm we support (`sha256`, `sha512`) must match, and at
/// least one must be supported so that integrity is actually enforced.
pub(crate) fn check_integrity(
    bytes: &[u8],
    length: Option<u64>,
    hashes: Option<&BTreeMap<String, String>>,
    what: &str,
) -> Result<()> {
    if let Some(expected_len) = length {
        if bytes.len() as u64 != expected_len {
            return Err(Error::IntegrityMismatch(format!(
                "{what}: length {} != pinned {}",
                bytes.len(),
                expected_len
            )));
        }
    }

    let Some(hashes) = hashes else {
        // Nothing pinned to check against (length, if any, already verified).
        return Ok(());
    };

    let mut verified_any = false;
    for (algo, expected_hex) in hashes {
        let actual = match algo.as_str() {
            "sha256" => sigstore_crypto::sha256(bytes).to_hex(),
            "sha512" => sigstore_crypto::sha512(bytes).to_hex(),
            _ => continue, // unsupported algorithm; skip
        };
        if !actual.eq_ignore_ascii_case(expected_hex) {
            return Err(Error::IntegrityMismatch(format!("{what}: {algo} mismatch")));
        }
        verified_any = true;
    }

    if !verified_any {
        return Err(Error::IntegrityMismatch(format!(
            "{what}: no supported hash algorithm to verify ({:?})",
            hashes.keys().collect::<Vec<_>>()
        )));
    }
    Ok(())
}
