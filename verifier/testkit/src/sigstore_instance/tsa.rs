//! An RFC 3161 time-stamping endpoint over the test TSA of
//! [`crate::notation_pki::TestTsa`].

use std::sync::Arc;

use axum::body::Bytes;
use axum::extract::State as AxumState;
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Response};
use der::{Decode as _, Encode as _};

use super::server::State;

pub(super) async fn timestamp(AxumState(state): AxumState<Arc<State>>, body: Bytes) -> Response {
    let request = match x509_tsp::TimeStampReq::from_der(&body) {
        Ok(r) => r,
        Err(e) => return (StatusCode::BAD_REQUEST, format!("not a TimeStampReq: {e}")).into_response(),
    };
    let gen_time = time::OffsetDateTime::now_utc()
        .format(time::macros::format_description!(
            "[year][month][day][hour][minute][second]Z"
        ))
        .expect("format a time");
    let token = state
        .tsa
        .stamp_imprint(request.message_imprint, request.nonce, &gen_time);
    // TimeStampResp { status PKIStatusInfo { granted }, timeStampToken }
    let status = [0x30, 0x03, 0x02, 0x01, 0x00];
    let mut inner = status.to_vec();
    inner.extend_from_slice(&token);
    let response = der::asn1::AnyRef::new(der::Tag::Sequence, &inner)
        .and_then(|a| a.to_der())
        .expect("a response encodes");
    ([(header::CONTENT_TYPE, "application/timestamp-reply")], response).into_response()
}
