//! Reading the stack's answers and errors: the error envelope, optional string
//! fields, and the root cause of a connection failure. Shared by the HTTP client and
//! the sockets.

use serde_json::Value;

/// The code and message of the contract's error envelope (`{"error": {"code",
/// "message"}}`, spelled as `fields` says), when `json` has one.
pub(crate) fn error_envelope(
    fields: &crate::contract::Fields,
    json: &Value,
) -> Option<(Option<String>, Option<String>)> {
    let err = field(json, &fields.error)?;
    Some((
        opt_str(err, &fields.error_code),
        opt_str(err, &fields.error_message),
    ))
}

/// The value a configured field name designates in `v`: a plain name is a key of the
/// object (`access_token`), a name starting with `/` is a JSON pointer into it
/// (`/data/access_token`, RFC 6901), and the empty name is `v` itself (an event's data
/// at the frame's top level).
pub(crate) fn field<'a>(v: &'a Value, name: &str) -> Option<&'a Value> {
    if name.is_empty() {
        Some(v)
    } else if name.starts_with('/') {
        v.pointer(name)
    } else {
        v.get(name)
    }
}

/// A string field (see [`field`]), when it is there and is a string.
pub(crate) fn opt_str(v: &Value, key: &str) -> Option<String> {
    field(v, key).and_then(Value::as_str).map(str::to_owned)
}

/// Every error of `e`'s chain, `e` first. An `io::Error`'s `source` skips the error it
/// wraps (a TLS failure inside an I/O error, say); this chain does not.
pub(crate) fn error_chain<'a>(
    e: &'a (dyn std::error::Error + 'static),
) -> impl Iterator<Item = &'a (dyn std::error::Error + 'static)> {
    std::iter::successors(Some(e), |cause| {
        match cause.downcast_ref::<std::io::Error>() {
            Some(io) => io
                .get_ref()
                .map(|inner| inner as &(dyn std::error::Error + 'static)),
            None => cause.source(),
        }
    })
}

/// The innermost cause of an error, in plain words ("connection refused").
pub(crate) fn root_reason(e: &(dyn std::error::Error + 'static)) -> String {
    let mut current: &(dyn std::error::Error + 'static) = e;
    let mut io_kind = None;
    for cause in error_chain(e) {
        if let Some(io) = cause.downcast_ref::<std::io::Error>() {
            io_kind = Some(io.kind());
        }
        current = cause;
    }
    match io_kind {
        Some(std::io::ErrorKind::ConnectionRefused) => "connection refused".into(),
        Some(std::io::ErrorKind::ConnectionReset) => "connection reset by the server".into(),
        Some(std::io::ErrorKind::ConnectionAborted) => "connection aborted".into(),
        Some(std::io::ErrorKind::TimedOut) => "connection timed out".into(),
        Some(std::io::ErrorKind::UnexpectedEof) => {
            "the server closed the connection mid-answer".into()
        }
        _ => current.to_string(),
    }
}
