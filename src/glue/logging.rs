//! Writes the core's log lines to the console, where `wrangler tail` and Workers Logs read them.

use worker::{console_error, console_log, console_warn};

use crate::log::{Level, Line};

/// The lines a component writes: those at or under its `LOG_LEVEL`.
#[derive(Debug, Clone, Copy)]
pub struct Logger {
    pub level: Level,
}

impl Logger {
    /// Whether a line at `level` is written (check before building an expensive line).
    pub fn enabled(&self, level: Level) -> bool {
        level <= self.level
    }

    pub fn write(&self, line: Line) {
        let level = line.level();
        if !self.enabled(level) {
            return;
        }
        let text = line.finish();
        match level {
            Level::Error => console_error!("{text}"),
            Level::Warn => console_warn!("{text}"),
            Level::Info | Level::Debug => console_log!("{text}"),
        }
    }
}
