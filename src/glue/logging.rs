//! Writes the core's log lines to the console, where `wrangler tail` and Workers Logs read them,
//! and its data points to Workers Analytics Engine.

use worker::{
    console_error, console_log, console_warn, AnalyticsEngineDataPointBuilder,
    AnalyticsEngineDataset,
};

use crate::log::{Level, Line};
use crate::metrics::DataPoint;

/// Hands a data point to the dataset. Analytics Engine does not report failures to the writer,
/// and a metric must never disturb the request that produced it, so errors are ignored.
pub fn write_data_point(dataset: &AnalyticsEngineDataset, point: &DataPoint) {
    let mut builder = AnalyticsEngineDataPointBuilder::new().indexes([point.index.as_str()]);
    for blob in &point.blobs {
        builder = builder.add_blob(blob.as_str());
    }
    for double in &point.doubles {
        builder = builder.add_double(*double);
    }
    let _ = dataset.write_data_point(&builder.build());
}

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

/// The log of one Durable Object instance: every line names the instance (a new name after a
/// line means the object was evicted and started again in between) and the store.
#[derive(Debug, Clone)]
pub struct ObjectLog {
    pub logger: Logger,
    pub instance: String,
}

impl ObjectLog {
    /// A line of this object about `store`.
    pub fn line(&self, level: Level, event: &str, store: &str) -> Line {
        Line::new(level, event)
            .str("store", store)
            .str("instance", &self.instance)
    }

    /// Writes `line`, naming this instance.
    pub fn write(&self, line: Line) {
        self.logger.write(line);
    }

    pub fn enabled(&self, level: Level) -> bool {
        self.logger.enabled(level)
    }

    /// A storage failure that reaches no client.
    pub fn storage_error(&self, store: &str, error: &str) {
        self.write(
            self.line(Level::Error, "storage.error", store)
                .str("error", error),
        );
    }
}
