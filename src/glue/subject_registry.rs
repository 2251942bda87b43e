//! `MAX_STORES_PER_SUBJECT`: the registry of the stores one token subject has opened, kept by a
//! Durable Object of the sync namespace named `sync::subjects::registry_name(subject)` (the
//! decision is `sync::subjects::admit_store`). The Worker asks it before it routes a sync request;
//! the object answers only under its own name, so no binding holder can fill another subject's.

use worker::*;

use crate::auth::short_subject;
use crate::config::Config;
use crate::sync::subjects::{admit_store, registry_name};

use super::durable_object::SyncBackendDO;
use super::storage::{int, rows};

/// The path of a registry request (never a sync or admin path).
pub const REGISTRY_PATH: &str = "/__livestore/subject-registry";

const CREATE: &str = r#"CREATE TABLE IF NOT EXISTS "livestore_rs_subject_stores" ("storeId" text primary key) strict"#;
const KNOWN: &str = r#"SELECT COUNT(*) FROM "livestore_rs_subject_stores" WHERE "storeId" = ?"#;
const OPENED: &str = r#"SELECT COUNT(*) FROM "livestore_rs_subject_stores""#;
const RECORD: &str =
    r#"INSERT OR IGNORE INTO "livestore_rs_subject_stores" ("storeId") VALUES (?)"#;

fn encode(s: &str) -> String {
    String::from(js_sys::encode_uri_component(s))
}

/// In the Worker: `None` when `subject` may open `store_id`, else the refusal to send.
pub async fn check(
    namespace: &ObjectNamespace,
    config: &Config,
    subject: Option<&str>,
    store_id: &str,
) -> Result<Option<Response>> {
    let (Some(max), Some(subject)) = (config.max_stores_per_subject, subject) else {
        return Ok(None);
    };
    let subject = short_subject(subject);
    let stub = namespace
        .id_from_name(&registry_name(subject))?
        .get_stub()?;
    let url = format!(
        "https://registry{REGISTRY_PATH}?subject={}&store={}&max={max}",
        encode(subject),
        encode(store_id)
    );
    let mut init = RequestInit::new();
    init.with_method(Method::Post);
    let mut answer = stub
        .fetch_with_request(Request::new_with_init(&url, &init)?)
        .await?;
    if answer.status_code() == 200 {
        return Ok(None);
    }
    let reason = answer.text().await.unwrap_or_default();
    Ok(Some(Response::error(reason, 403)?))
}

impl SyncBackendDO {
    /// In the registry object: records the store for the subject, or refuses it.
    pub(super) fn serve_registry(&self, url: &Url) -> Result<Response> {
        let param = |name: &str| {
            url.query_pairs()
                .find(|(k, _)| k == name)
                .map(|(_, v)| v.into_owned())
        };
        let (Some(subject), Some(store_id), Some(max)) = (
            param("subject"),
            param("store"),
            param("max").and_then(|m| m.parse::<u64>().ok()),
        ) else {
            return Response::error("Invalid registry request", 400);
        };
        if self.is_object_of(&registry_name(&subject)) != Some(true) {
            return Response::error("This object is not that subject's registry", 403);
        }
        let sql = self.state.storage().sql();
        let count = |query: &str, bindings: Vec<SqlStorageValue>| -> Result<u64> {
            let r = rows(&sql, query, bindings).map_err(|e| Error::RustError(e.to_string()))?;
            Ok(r.first()
                .and_then(|r| r.first())
                .and_then(int)
                .unwrap_or(0)
                .max(0) as u64)
        };
        rows(&sql, CREATE, vec![]).map_err(|e| Error::RustError(e.to_string()))?;
        let known = count(KNOWN, vec![store_id.as_str().into()])? > 0;
        let opened = count(OPENED, vec![])?;
        match admit_store(known, opened, max) {
            Ok(record) => {
                if record {
                    rows(&sql, RECORD, vec![store_id.as_str().into()])
                        .map_err(|e| Error::RustError(e.to_string()))?;
                }
                Response::ok("")
            }
            Err(reason) => Response::error(reason.to_string(), 403),
        }
    }
}
