//! Reading Wrangler vars: the one error a var with an unusable value gives, naming the variable
//! and what it accepts, and the parsers the settings share. A leaf module: every settings parser
//! ([`crate::config`], [`crate::auth`], [`crate::log`], [`crate::storage`], [`crate::http`])
//! uses it, and it uses none of them.

/// A variable with a value we cannot use.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ConfigError {
    /// `name` must be `expected`; it is `value`.
    #[error("{name} must be {expected}, got {value:?}")]
    Invalid {
        name: &'static str,
        expected: String,
        value: String,
    },
    /// A number outside its bounds.
    #[error("{name} must be between {min} and {max}, got {value}")]
    OutOfRange {
        name: &'static str,
        min: usize,
        max: usize,
        value: usize,
    },
    /// A value whose shape is wrong, with what is wrong.
    #[error("{name}{problem}")]
    Unusable { name: &'static str, problem: String },
}

impl ConfigError {
    pub fn invalid(name: &'static str, expected: impl Into<String>, value: &str) -> ConfigError {
        ConfigError::Invalid {
            name,
            expected: expected.into(),
            value: value.to_owned(),
        }
    }
}

/// A size or count of at least `min`; `default` when unset.
pub fn parse_size(
    name: &'static str,
    value: Option<String>,
    default: usize,
    min: usize,
) -> Result<usize, ConfigError> {
    match value {
        None => Ok(default),
        Some(v) => v
            .trim()
            .parse::<usize>()
            .ok()
            .filter(|n| *n >= min)
            .ok_or_else(|| ConfigError::invalid(name, format!("an integer of at least {min}"), &v)),
    }
}

/// [`parse_size`] with a ceiling.
pub fn parse_bounded(
    name: &'static str,
    value: Option<String>,
    default: usize,
    min: usize,
    max: usize,
) -> Result<usize, ConfigError> {
    let n = parse_size(name, value, default, min)?;
    if n > max {
        return Err(ConfigError::OutOfRange {
            name,
            min,
            max,
            value: n,
        });
    }
    Ok(n)
}

/// `true`/`false` (also `1`/`0`, `yes`/`no`); `default` when unset or blank.
pub fn parse_bool(
    name: &'static str,
    value: Option<&str>,
    default: bool,
) -> Result<bool, ConfigError> {
    match value.map(str::trim) {
        None | Some("") => Ok(default),
        Some("true" | "1" | "yes") => Ok(true),
        Some("false" | "0" | "no") => Ok(false),
        Some(other) => Err(ConfigError::invalid(name, "true or false", other)),
    }
}
