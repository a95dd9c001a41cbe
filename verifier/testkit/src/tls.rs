//! Test-only PKI and credentials for the TLS + basic-auth registry: a CA made
//! fresh for each registry, a server certificate for `127.0.0.1` and
//! `localhost`, and a bcrypt htpasswd line (distribution 2.8 accepts no other
//! hash).

use rcgen::{
    BasicConstraints, CertificateParams, DnType, ExtendedKeyUsagePurpose, IsCa, Issuer, KeyPair, KeyUsagePurpose,
};

/// PEM texts of a CA certificate and of a server certificate it signed.
pub struct ServerPki {
    pub ca_cert_pem: String,
    pub server_cert_pem: String,
    pub server_key_pem: String,
}

/// A new CA and a server certificate with SANs `127.0.0.1` and `localhost`
/// (ECDSA P-256, signed with aws-lc-rs).
pub fn server_pki() -> ServerPki {
    let ca_key = KeyPair::generate().expect("generate the CA key");
    let mut ca_params = CertificateParams::new(Vec::<String>::new()).expect("empty SAN list is valid");
    ca_params
        .distinguished_name
        .push(DnType::CommonName, "sigil e2e test CA");
    ca_params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
    ca_params.key_usages = vec![KeyUsagePurpose::KeyCertSign, KeyUsagePurpose::CrlSign];
    let ca_cert = ca_params.self_signed(&ca_key).expect("self-sign the CA");
    let ca = Issuer::new(ca_params, ca_key);

    let server_key = KeyPair::generate().expect("generate the server key");
    let mut server_params = CertificateParams::new(vec!["127.0.0.1".to_owned(), "localhost".to_owned()])
        .expect("an IP address and a DNS name are valid SANs");
    server_params.distinguished_name.push(DnType::CommonName, "127.0.0.1");
    server_params.key_usages = vec![KeyUsagePurpose::DigitalSignature];
    server_params.extended_key_usages = vec![ExtendedKeyUsagePurpose::ServerAuth];
    server_params.use_authority_key_identifier_extension = true;
    let server_cert = server_params
        .signed_by(&server_key, &ca)
        .expect("sign the server certificate");

    ServerPki {
        ca_cert_pem: ca_cert.pem(),
        server_cert_pem: server_cert.pem(),
        server_key_pem: server_key.serialize_pem(),
    }
}

/// One `user:$2y$...` line for an htpasswd file. Cost 4, the minimum: these
/// are throwaway credentials and the suite should stay fast.
pub fn htpasswd_line(user: &str, password: &str) -> String {
    let hash = bcrypt::hash_with_result(password, 4).expect("bcrypt with a valid cost");
    format!("{user}:{}\n", hash.format_for_version(bcrypt::Version::TwoY))
}
