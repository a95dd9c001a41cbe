//! Independent verifiers of Sigstore bundles, run as processes:
//! sigstore-python and sigstore-js (`@sigstore/verify`).
