//! CORS headers (PROTOCOL.md §2.2): the reference's three headers, added by us to *every*
//! response the Worker makes when CORS is on (the reference forgets the RPC responses).

/// The headers to add, given the request's `Access-Control-Request-Headers`.
pub fn cors_headers(requested_headers: Option<&str>) -> [(&'static str, String); 3] {
    [
        ("Access-Control-Allow-Origin", "*".to_owned()),
        (
            "Access-Control-Allow-Methods",
            "GET, POST, OPTIONS".to_owned(),
        ),
        (
            "Access-Control-Allow-Headers",
            requested_headers.unwrap_or("*").to_owned(),
        ),
    ]
}
