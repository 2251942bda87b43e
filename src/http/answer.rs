//! The HTTP transport's answer to one RPC body (PROTOCOL.md §5.2).

/// The HTTP answer to one RPC body: its replies as a JSON array, with `400` when the body was not
/// an RPC request at all (a lone `Defect`); RPC-level failures are ordinary `200` answers, as the
/// client expects.
pub fn http_answer(replies: &[String]) -> (u16, String) {
    let status = match replies {
        [only] if only.starts_with(r#"{"_tag":"Defect""#) => 400,
        _ => 200,
    };
    (status, format!("[{}]", replies.join(",")))
}
