//! The options of `makeWorker` and `makeDurableObject`, as the package's JavaScript passes them:
//! the options object as JSON, every function replaced by `{"$function":true}` and a `Set` by an
//! array. Each option is supported or refused with its reason; an unknown name is refused too
//! (a typo must not silently fall back to a default).
//!
//! Data options become the Wrangler var they stand for (`storage` is `STORAGE`/`D1_BINDING`,
//! `enabledTransports` is `TRANSPORTS`, …), so the rest of the server reads one configuration.

use serde_json::{Map, Value};

use crate::transport::Transport;

/// Why an option cannot be used; the package throws it from `makeWorker`/`makeDurableObject`,
/// so the Worker fails at start-up with this text.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{function}: option `{option}` {problem}")]
pub struct OptionError {
    pub function: &'static str,
    pub option: String,
    pub problem: String,
}

/// A var set by an option, overriding the Wrangler var of that name.
pub type VarOverride = (&'static str, String);

/// `forwardHeaders`: header names (lowercased), or a function of the request that JavaScript
/// runs.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub enum ForwardHeaders {
    #[default]
    None,
    Names(Vec<String>),
    Function,
}

/// Which hooks the app gave: a hook not given costs nothing (no call into JavaScript).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
#[allow(clippy::struct_excessive_bools)] // one flag per hook of the API
pub struct HookSet {
    pub on_push: bool,
    pub on_pull: bool,
    pub on_push_res: bool,
    pub on_pull_res: bool,
}

impl HookSet {
    /// Whether a request may have to pass a hook (`onPush`, `onPull`) before it is applied.
    pub fn gates_requests(self) -> bool {
        self.on_push || self.on_pull
    }
}

/// `makeDurableObject(options)`.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct DurableObjectOptions {
    pub hooks: HookSet,
    pub forward_headers: ForwardHeaders,
    pub vars: Vec<VarOverride>,
}

/// `makeWorker(options)` (and the options of `handleSyncRequest`).
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct WorkerOptions {
    /// `syncBackendBinding`; `None`: the one Durable Object binding in `env`.
    pub binding: Option<String>,
    pub validate_payload: bool,
    /// `syncPayloadSchema`: JavaScript decodes the payload with it before `validatePayload`.
    pub payload_schema: bool,
    pub vars: Vec<VarOverride>,
}

fn is_function(v: &Value) -> bool {
    v.get("$function") == Some(&Value::Bool(true))
}

fn object(function: &'static str, json: &str) -> Result<Map<String, Value>, OptionError> {
    match serde_json::from_str::<Value>(json) {
        Ok(Value::Object(map)) => Ok(map),
        Ok(Value::Null) => Ok(Map::new()),
        _ => Err(OptionError {
            function,
            option: "(options)".into(),
            problem: "must be an object".into(),
        }),
    }
}

struct Reader {
    function: &'static str,
}

impl Reader {
    fn error(&self, option: &str, problem: impl Into<String>) -> OptionError {
        OptionError {
            function: self.function,
            option: option.to_owned(),
            problem: problem.into(),
        }
    }

    /// A hook: absent, `undefined`, or a function.
    fn hook(&self, name: &str, value: &Value) -> Result<bool, OptionError> {
        match value {
            Value::Null => Ok(false),
            v if is_function(v) => Ok(true),
            _ => Err(self.error(name, "must be a function")),
        }
    }

    fn boolean(&self, name: &str, value: &Value) -> Result<Option<bool>, OptionError> {
        match value {
            Value::Null => Ok(None),
            Value::Bool(b) => Ok(Some(*b)),
            _ => Err(self.error(name, "must be true or false")),
        }
    }
}

impl DurableObjectOptions {
    pub fn parse(json: &str) -> Result<DurableObjectOptions, OptionError> {
        let r = Reader {
            function: "makeDurableObject",
        };
        let mut options = DurableObjectOptions::default();
        for (name, value) in object(r.function, json)? {
            match name.as_str() {
                "onPush" => options.hooks.on_push = r.hook(&name, &value)?,
                "onPull" => options.hooks.on_pull = r.hook(&name, &value)?,
                "onPushRes" => options.hooks.on_push_res = r.hook(&name, &value)?,
                "onPullRes" => options.hooks.on_pull_res = r.hook(&name, &value)?,
                "forwardHeaders" => options.forward_headers = forward_headers(&r, &value)?,
                "storage" => options.vars.extend(storage(&r, &value)?),
                "enabledTransports" => options.vars.extend(transports(&r, &value)?),
                "http" => options.vars.extend(http(&r, &value)?),
                "otel" if value.is_null() => {}
                "otel" => {
                    return Err(r.error(
                        &name,
                        "is not supported: this server does not export OpenTelemetry traces (it \
                         writes JSON log lines and Analytics Engine data points instead; see the \
                         README, \"Operate it\"); remove the option",
                    ))
                }
                other => return Err(unknown(&r, other, DURABLE_OBJECT_OPTIONS)),
            }
        }
        Ok(options)
    }
}

impl WorkerOptions {
    pub fn parse(function: &'static str, json: &str) -> Result<WorkerOptions, OptionError> {
        let r = Reader { function };
        let mut options = WorkerOptions::default();
        for (name, value) in object(function, json)? {
            match name.as_str() {
                "syncBackendBinding" => match value {
                    Value::Null => {}
                    Value::String(s) if !s.trim().is_empty() => options.binding = Some(s),
                    _ => {
                        return Err(r.error(
                            &name,
                            "must be the name of the Durable Object binding in wrangler.toml",
                        ))
                    }
                },
                "validatePayload" => options.validate_payload = r.hook(&name, &value)?,
                // a Schema is an object (or a function-like class); JavaScript decodes with it
                "syncPayloadSchema" => options.payload_schema = !value.is_null(),
                "enableCORS" => {
                    // the reference's default is false (ours, as a var, is true)
                    let on = r.boolean(&name, &value)?.unwrap_or(false);
                    options.vars.push(("ENABLE_CORS", on.to_string()));
                }
                other
                    if function == "handleSyncRequest" && HANDLE_SYNC_REQUEST.contains(&other) => {}
                other => {
                    let known: &[&str] = if function == "handleSyncRequest" {
                        HANDLE_SYNC_REQUEST
                    } else {
                        WORKER_OPTIONS
                    };
                    return Err(unknown(&r, other, known));
                }
            }
        }
        if options.payload_schema && !options.validate_payload {
            // the reference decodes only on the way to validatePayload: a schema alone checks
            // nothing there either, but it is surely meant to
            return Err(r.error(
                "syncPayloadSchema",
                "is used only with validatePayload (the payload is decoded for it); add \
                 validatePayload or remove the schema",
            ));
        }
        if !options.vars.iter().any(|(n, _)| *n == "ENABLE_CORS") {
            // handleSyncRequest adds no CORS headers of its own: its caller passes `headers`
            options.vars.push(("ENABLE_CORS", "false".to_owned()));
        }
        Ok(options)
    }
}

/// The Durable Object binding sync requests go to, from the `syncBackendBinding` option and the
/// Durable Object bindings the Worker has; or the status and text that refuse the request. The
/// reference needs the option, and answers `424` to every request without it.
pub fn sync_binding(option: Option<&str>, found: &[String]) -> Result<String, (u16, String)> {
    if let Some(binding) = option {
        return Ok(binding.to_owned());
    }
    match found {
        [one] => Ok(one.clone()),
        [] => Err((
            424,
            "Failed dependency: this Worker has no Durable Object binding for the sync backend \
             (declare one in wrangler.toml, or name it with syncBackendBinding)"
                .to_owned(),
        )),
        several => Err((
            500,
            format!(
                "The Worker has several Durable Object bindings ({}): name the sync backend's \
                 with the syncBackendBinding option of makeWorker",
                several.join(", ")
            ),
        )),
    }
}

const DURABLE_OBJECT_OPTIONS: &[&str] = &[
    "onPush",
    "onPushRes",
    "onPull",
    "onPullRes",
    "forwardHeaders",
    "storage",
    "enabledTransports",
    "http",
    "otel",
];
const WORKER_OPTIONS: &[&str] = &[
    "syncBackendBinding",
    "syncPayloadSchema",
    "validatePayload",
    "enableCORS",
];
/// Arguments of `handleSyncRequest` besides the options it shares with `makeWorker`.
const HANDLE_SYNC_REQUEST: &[&str] = &["request", "searchParams", "env", "ctx", "headers"];

fn unknown(r: &Reader, name: &str, known: &[&str]) -> OptionError {
    r.error(
        name,
        format!(
            "is not an option of {} in @livestore/sync-cf 0.4.0 (the options are: {})",
            r.function,
            known.join(", ")
        ),
    )
}

fn forward_headers(r: &Reader, value: &Value) -> Result<ForwardHeaders, OptionError> {
    match value {
        Value::Null => Ok(ForwardHeaders::None),
        v if is_function(v) => Ok(ForwardHeaders::Function),
        Value::Array(names) => names
            .iter()
            .map(|n| match n.as_str() {
                Some(s) if !s.trim().is_empty() => Ok(s.trim().to_ascii_lowercase()),
                _ => Err(r.error("forwardHeaders", "must list header names (strings)")),
            })
            .collect::<Result<_, _>>()
            .map(ForwardHeaders::Names),
        _ => Err(r.error(
            "forwardHeaders",
            "must be a list of header names or a function of the request",
        )),
    }
}

fn storage(r: &Reader, value: &Value) -> Result<Vec<VarOverride>, OptionError> {
    let bad = || {
        r.error(
            "storage",
            "must be { _tag: 'do-sqlite' } or { _tag: 'd1', binding: '<D1 binding name>' }",
        )
    };
    match value {
        Value::Null => Ok(Vec::new()),
        Value::Object(o) => match o.get("_tag").and_then(Value::as_str) {
            Some("do-sqlite") => Ok(vec![("STORAGE", "do-sqlite".to_owned())]),
            Some("d1") => match o.get("binding").and_then(Value::as_str) {
                Some(b) if !b.trim().is_empty() => Ok(vec![
                    ("STORAGE", "d1".to_owned()),
                    ("D1_BINDING", b.trim().to_owned()),
                ]),
                _ => Err(bad()),
            },
            _ => Err(bad()),
        },
        _ => Err(bad()),
    }
}

fn transports(r: &Reader, value: &Value) -> Result<Vec<VarOverride>, OptionError> {
    let bad = || {
        r.error(
            "enabledTransports",
            "must be a Set of 'ws', 'http' and 'do-rpc'",
        )
    };
    let Value::Array(names) = value else {
        return if value.is_null() {
            Ok(Vec::new())
        } else {
            Err(bad())
        };
    };
    let mut listed = Vec::new();
    for name in names {
        let t = name
            .as_str()
            .and_then(Transport::from_name)
            .ok_or_else(bad)?;
        listed.push(t.as_str());
    }
    if listed.is_empty() {
        // TRANSPORTS cannot say "none"; the reference would refuse every request
        return Err(r.error(
            "enabledTransports",
            "is empty: no client could sync; list at least one of 'ws', 'http', 'do-rpc'",
        ));
    }
    Ok(vec![("TRANSPORTS", listed.join(","))])
}

fn http(r: &Reader, value: &Value) -> Result<Vec<VarOverride>, OptionError> {
    let bad = || r.error("http", "must be { responseHeaders?: { [name]: string } }");
    match value {
        Value::Null => Ok(Vec::new()),
        Value::Object(o) => {
            let mut vars = Vec::new();
            for (key, v) in o {
                match (key.as_str(), v) {
                    ("responseHeaders", Value::Null) => {}
                    ("responseHeaders", Value::Object(headers))
                        if headers.values().all(Value::is_string) =>
                    {
                        vars.push((
                            "HTTP_RESPONSE_HEADERS",
                            Value::Object(headers.clone()).to_string(),
                        ));
                    }
                    _ => return Err(bad()),
                }
            }
            Ok(vars)
        }
        _ => Err(bad()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hooks_and_data_options_are_read() {
        let o = DurableObjectOptions::parse(
            r#"{"onPush":{"$function":true},"onPullRes":{"$function":true},
               "storage":{"_tag":"d1","binding":"EVENTS"},"enabledTransports":["ws","http"],
               "http":{"responseHeaders":{"Cache-Control":"no-cache"}},
               "forwardHeaders":["Cookie"]}"#,
        )
        .unwrap();
        assert!(o.hooks.on_push && o.hooks.on_pull_res && !o.hooks.on_pull && !o.hooks.on_push_res);
        assert_eq!(
            o.forward_headers,
            ForwardHeaders::Names(vec!["cookie".into()])
        );
        let mut vars = o.vars.clone();
        vars.sort();
        assert_eq!(
            vars,
            vec![
                ("D1_BINDING", "EVENTS".to_owned()),
                (
                    "HTTP_RESPONSE_HEADERS",
                    r#"{"Cache-Control":"no-cache"}"#.to_owned()
                ),
                ("STORAGE", "d1".to_owned()),
                ("TRANSPORTS", "ws,http".to_owned()),
            ]
        );
        assert_eq!(
            DurableObjectOptions::parse("null").unwrap(),
            DurableObjectOptions::default()
        );
    }

    #[test]
    fn unsupported_unknown_and_mistyped_options_are_refused_with_a_reason() {
        let e = DurableObjectOptions::parse(r#"{"otel":{"baseUrl":"http://x"}}"#).unwrap_err();
        assert_eq!(e.option, "otel");
        assert!(e
            .to_string()
            .starts_with("makeDurableObject: option `otel` is not supported"));
        let e = DurableObjectOptions::parse(r#"{"onPsh":{"$function":true}}"#).unwrap_err();
        assert!(e.problem.contains("onPush, onPushRes"), "{e}");
        assert!(DurableObjectOptions::parse(r#"{"onPush":"yes"}"#).is_err());
        assert!(DurableObjectOptions::parse(r#"{"storage":{"_tag":"d1"}}"#).is_err());
        assert!(DurableObjectOptions::parse(r#"{"enabledTransports":["smoke"]}"#).is_err());
        assert!(DurableObjectOptions::parse(r#"{"enabledTransports":[]}"#).is_err());
        assert!(DurableObjectOptions::parse(r#"{"http":{"responseHeaders":{"a":1}}}"#).is_err());
        // explicitly undefined options are absent (JSON.stringify drops them; null is kept)
        assert!(DurableObjectOptions::parse(r#"{"otel":null,"onPush":null}"#).is_ok());
    }

    #[test]
    fn worker_options_default_cors_off_as_the_reference() {
        let o = WorkerOptions::parse("makeWorker", r#"{"validatePayload":{"$function":true}}"#)
            .unwrap();
        assert!(o.validate_payload && o.binding.is_none());
        assert_eq!(o.vars, vec![("ENABLE_CORS", "false".to_owned())]);
        let o = WorkerOptions::parse(
            "makeWorker",
            r#"{"syncBackendBinding":"SYNC","enableCORS":true}"#,
        )
        .unwrap();
        assert_eq!(o.binding.as_deref(), Some("SYNC"));
        assert_eq!(o.vars, vec![("ENABLE_CORS", "true".to_owned())]);
        assert!(WorkerOptions::parse("makeWorker", r#"{"syncPayloadSchema":{}}"#).is_err());
        assert!(WorkerOptions::parse("makeWorker", r#"{"request":{}}"#).is_err());
        // handleSyncRequest's own arguments are not options, and it sets no CORS var
        let o = WorkerOptions::parse(
            "handleSyncRequest",
            r#"{"request":{},"searchParams":{},"ctx":{},"syncBackendBinding":"SYNC"}"#,
        )
        .unwrap();
        assert_eq!(o.vars, vec![("ENABLE_CORS", "false".to_owned())]);
    }

    #[test]
    fn the_binding_is_the_option_or_the_only_one() {
        let found = |names: &[&str]| names.iter().map(|n| (*n).to_owned()).collect::<Vec<_>>();
        assert_eq!(
            sync_binding(Some("SYNC"), &found(&["A", "B"])),
            Ok("SYNC".to_owned())
        );
        assert_eq!(
            sync_binding(None, &found(&["WEBSOCKET_SERVER"])),
            Ok("WEBSOCKET_SERVER".to_owned())
        );
        assert_eq!(sync_binding(None, &[]).map_err(|e| e.0), Err(424));
        let (status, text) = sync_binding(None, &found(&["A", "B"])).unwrap_err();
        assert_eq!(status, 500);
        assert!(
            text.contains("(A, B)") && text.contains("syncBackendBinding"),
            "{text}"
        );
    }
}
