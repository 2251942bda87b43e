//! Recognising a sync request from its URL query (PROTOCOL.md §2.1).
//!
//! The client JSON-encodes the payload, `encodeURIComponent`s it, then form-encodes every
//! parameter, so the payload arrives encoded twice. We form-decode once, then percent-decode
//! once more, then parse JSON; a payload encoded only once decodes the same way.

use crate::transport::Transport;

/// The parameters of a sync request.
#[derive(Debug, Clone, PartialEq)]
pub struct SyncParams {
    /// Selects the Durable Object (any string, even empty).
    pub store_id: String,
    /// `ws` or `http` (DO-RPC has no URL).
    pub transport: Transport,
    /// The client's sync payload (usually `{"authToken": …}`), as a JSON value.
    pub payload: Option<serde_json::Value>,
}

/// Parses `storeId`, `transport` and `payload` from a raw query string (without `?`). `None`
/// means "not a sync request": a parameter missing or repeated, an unknown transport, or a
/// payload that does not decode — exactly the reference's rule (t07).
pub fn parse_sync_params(query: &str) -> Option<SyncParams> {
    let mut store_id = None;
    let mut transport = None;
    let mut payload = None;
    // form decoding as `URLSearchParams` does it (lenient: bad bytes are replaced)
    for (key, value) in form_urlencoded::parse(query.as_bytes()) {
        let slot = match key.as_ref() {
            "storeId" => &mut store_id,
            "transport" => &mut transport,
            "payload" => &mut payload,
            _ => continue,
        };
        if slot.is_some() {
            return None;
        }
        *slot = Some(value.into_owned());
    }
    let transport = match Transport::from_name(&transport?)? {
        Transport::DoRpc => return None,
        t => t,
    };
    let payload = match payload {
        None => None,
        Some(p) => {
            let text = decode_component(&p)?;
            Some(serde_json::from_str(&text).ok()?)
        }
    };
    Some(SyncParams {
        store_id: store_id?,
        transport,
        payload,
    })
}

/// `decodeURIComponent`: strict percent-decoding (a path segment, the payload's second layer). A
/// `%` not followed by two hex digits, or bytes that are not UTF-8, are an error, as they make
/// `decodeURIComponent` throw (`percent-encoding` alone would let a stray `%` through).
pub(crate) fn decode_component(s: &str) -> Option<String> {
    let bytes = s.as_bytes();
    let well_formed = bytes.iter().enumerate().all(|(i, b)| {
        *b != b'%'
            || bytes
                .get(i + 1..i + 3)
                .is_some_and(|hex| hex.iter().all(u8::is_ascii_hexdigit))
    });
    if !well_formed {
        return None;
    }
    percent_encoding::percent_decode_str(s)
        .decode_utf8()
        .ok()
        .map(std::borrow::Cow::into_owned)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn double_encoded_payload_as_the_client_sends_it() {
        let q = "storeId=tx01-empty-701492&payload=%257B%2522authToken%2522%253A%2522good-token%2522%257D&transport=ws";
        let p = parse_sync_params(q).unwrap();
        assert_eq!(p.store_id, "tx01-empty-701492");
        assert_eq!(p.transport, Transport::WebSocket);
        assert_eq!(
            p.payload,
            Some(serde_json::json!({"authToken": "good-token"}))
        );
    }

    #[test]
    fn form_encoding_of_special_characters() {
        let q = "storeId=my+store%2F%C3%BC%2B1&payload=%257B%2522authToken%2522%253A%2522a%2520b%21%27%28%29%7E*%252B%25C3%25A9%2522%252C%2522n%2522%253A1%257D&transport=ws";
        let p = parse_sync_params(q).unwrap();
        assert_eq!(p.store_id, "my store/ü+1");
        assert_eq!(
            p.payload,
            Some(serde_json::json!({"authToken": "a b!'()~*+é", "n": 1}))
        );
    }

    #[test]
    fn single_encoded_payload_and_no_payload() {
        let p = parse_sync_params("storeId=s&payload=%7B%22a%22%3A1%7D&transport=http").unwrap();
        assert_eq!(p.payload, Some(serde_json::json!({"a": 1})));
        assert_eq!(p.transport, Transport::Http);
        let p = parse_sync_params("storeId=fake-store&transport=ws").unwrap();
        assert_eq!(p.payload, None);
        let p = parse_sync_params("storeId=&transport=ws").unwrap();
        assert_eq!(p.store_id, "");
    }

    #[test]
    fn not_sync_requests() {
        for q in [
            "",
            "storeId=a",
            "transport=ws",
            "storeId=a&storeId=b&transport=ws",
            "storeId=a&transport=foo",
            "storeId=a&transport=WS",
            "storeId=a&transport=ws&payload=notjson",
            "storeId=a&transport=ws&payload=%25E0%25A4%25A",
        ] {
            assert_eq!(parse_sync_params(q), None, "{q}");
        }
    }
}
