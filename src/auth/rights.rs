//! What a connection may push, decided once from the token verified when it connected: the
//! Worker sends it to the Durable Object in a header only the Worker sets, and the object keeps it
//! with the socket (its attachment) across hibernation. A client can change its payload per
//! message, never these rights.

use serde::{Deserialize, Serialize};

/// Header by which the Worker tells the Durable Object what the token may push (the JSON of
/// [`PushRights`]; absent when the token may push anything). Set only by the Worker, which drops
/// whatever a client sent under that name.
pub const RIGHTS_HEADER: &str = "x-livestore-push-rights";

/// The most bytes the JSON of a token's push rights may take: they live in the socket's
/// attachment, which holds 16 KiB in all. A token whose event list is longer is refused (`401`).
pub const MAX_RIGHTS_JSON_BYTES: usize = 4 * 1024;

/// Error name of a push that the token does not allow (`UnknownError.cause.name`).
pub const NOT_ALLOWED: &str = "PushNotAllowedError";

/// Push rights of one connection. The default allows every push.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct PushRights {
    /// The token grants read-only access to this store: every push is refused.
    #[serde(
        rename = "readOnly",
        default,
        skip_serializing_if = "std::ops::Not::not"
    )]
    pub read_only: bool,
    /// The event names the token may push: exact names, or prefixes written `todo*` (`*` alone
    /// allows every name). `None`: no event rule.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub events: Option<Vec<String>>,
}

impl PushRights {
    /// No restriction at all (the header and the attachment field are then left out).
    pub fn is_unrestricted(&self) -> bool {
        !self.read_only && self.events.is_none()
    }

    /// The rights as the Worker sends them; `None` when there is nothing to send.
    pub fn to_header(&self) -> Option<String> {
        // Serializing plain data to a String cannot fail.
        (!self.is_unrestricted()).then(|| serde_json::to_string(self).unwrap_or_default())
    }

    /// The rights the Worker sent. Fails closed: a header that cannot be read (only the Worker
    /// writes it, so this is a bug, never a client's doing) makes the connection read-only.
    pub fn from_header(header: Option<&str>) -> PushRights {
        match header {
            None => PushRights::default(),
            Some(text) => serde_json::from_str(text).unwrap_or(PushRights {
                read_only: true,
                events: None,
            }),
        }
    }

    /// Why a push of events named `names` is refused (`None`: it is allowed). A read-only
    /// connection may push nothing, not even an empty batch; with an event rule the whole batch
    /// is refused at the first name it does not allow.
    pub fn refusal<'a>(&self, names: impl IntoIterator<Item = &'a str>) -> Option<String> {
        if self.read_only {
            return Some(
                "Push refused: the token grants read-only access to this store (pull only); \
                 nothing was stored"
                    .to_owned(),
            );
        }
        let allowed = self.events.as_ref()?;
        let (index, name) = names
            .into_iter()
            .enumerate()
            .find(|(_, name)| !allowed.iter().any(|p| event_matches(p, name)))?;
        let list = if allowed.is_empty() {
            "it may push no events".to_owned()
        } else {
            format!("it may push {}", allowed.join(", "))
        };
        Some(format!(
            "Push refused: the token does not allow event {name:?} (event {} of the batch; {list}); \
             nothing of this batch was stored",
            index + 1
        ))
    }
}

/// One entry of an event rule: an exact event name, `prefix*` (every name that starts with
/// `prefix`), or `*` (every name).
pub fn event_matches(pattern: &str, name: &str) -> bool {
    match pattern.strip_suffix('*') {
        Some(prefix) => name.starts_with(prefix),
        None => pattern == name,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rule(events: &[&str]) -> PushRights {
        PushRights {
            read_only: false,
            events: Some(events.iter().map(|e| (*e).to_owned()).collect()),
        }
    }

    #[test]
    fn event_patterns_are_exact_names_or_explicit_prefixes() {
        assert!(event_matches("todoCreated", "todoCreated"));
        assert!(!event_matches("todoCreated", "todoCreated2"));
        assert!(!event_matches("todo", "todoCreated"));
        assert!(event_matches("todo*", "todoCreated"));
        assert!(event_matches("todo*", "todo"));
        assert!(!event_matches("todo*", "userCreated"));
        assert!(event_matches("v1.Todo*", "v1.TodoCompleted"));
        assert!(event_matches("*", "anything"));
    }

    #[test]
    fn a_batch_is_refused_whole_at_its_first_disallowed_event() {
        let rights = rule(&["todo*", "userRenamed"]);
        assert_eq!(rights.refusal(["todoCreated", "userRenamed"]), None);
        let why = rights
            .refusal(["todoCreated", "userDeleted", "adminGranted"])
            .unwrap();
        assert!(why.contains("\"userDeleted\""), "{why}");
        assert!(why.contains("event 2 of the batch"), "{why}");
        assert!(why.contains("todo*, userRenamed"), "{why}");
        assert!(!why.contains("adminGranted"), "{why}");
        // an empty batch carries no event that is not allowed
        assert_eq!(rights.refusal([]), None);
        assert!(rule(&[])
            .refusal(["todoCreated"])
            .unwrap()
            .contains("no events"));
    }

    #[test]
    fn read_only_refuses_every_push() {
        let rights = PushRights {
            read_only: true,
            events: None,
        };
        assert!(rights.refusal([]).unwrap().contains("read-only"));
        assert!(rights
            .refusal(["todoCreated"])
            .unwrap()
            .contains("read-only"));
        assert_eq!(PushRights::default().refusal(["anything"]), None);
    }

    #[test]
    fn the_header_round_trips_and_fails_closed() {
        assert_eq!(PushRights::default().to_header(), None);
        assert_eq!(PushRights::from_header(None), PushRights::default());
        for rights in [
            rule(&["todo*"]),
            PushRights {
                read_only: true,
                events: None,
            },
        ] {
            let header = rights.to_header().unwrap();
            assert_eq!(PushRights::from_header(Some(&header)), rights);
        }
        assert_eq!(
            rule(&["todo*"]).to_header().unwrap(),
            r#"{"events":["todo*"]}"#
        );
        assert!(PushRights::from_header(Some("garbage")).read_only);
    }
}
