//! in-toto statements (DSSE payloads of attestations): `Statement::parse`,
//! then the predicate read as JSON and the JSON round trip.
#![no_main]

use libfuzzer_sys::fuzz_target;
use sigil_verifier::intoto::Statement;

fuzz_target!(|data: &[u8]| {
    let Ok(statement) = Statement::parse(data) else { return };
    let _ = statement.predicate_as::<serde_json::Value>();
    let json = statement.to_json();
    let again = Statement::parse(&json).expect("a parsed statement's own JSON parses");
    assert_eq!(again.to_json(), json, "statement JSON does not round-trip");
});
