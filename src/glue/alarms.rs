//! The object's alarm: it rings at the earliest deadline of its open sockets (token expiry, first
//! request; [`crate::sync::closing`]) and closes the sockets that are due. An alarm wakes the
//! object, so one that is not needed is deleted, to let it hibernate.

use worker::*;

use crate::sync::closing::{next_alarm, Closure};

use super::durable_object::{now_ms, SyncBackendDO};
use super::sockets::{read_attachment, write_attachment};

impl SyncBackendDO {
    /// The alarm rang: close the sockets that are due, then set the next one.
    pub(super) async fn ring_alarm(&self) -> Result<()> {
        // a turn like a message's: attachments are read and written
        let _turn = self.store.lock().await;
        let now = now_ms();
        for ws in self.state.get_websockets() {
            let Some(mut a) = read_attachment(&ws) else {
                continue;
            };
            match a.due(&self.closing, now) {
                // its client has sent nothing at all yet: a close would not reach it (see
                // sync::closing); an orphaned client pings within 10 s, look again then
                Some(Closure::NoRequest) if !self.has_spoken(&ws) => {
                    a.postpone_no_request(now);
                    write_attachment(&ws, &a)?;
                }
                Some(why) => self.close(&ws, &a, why),
                None => {}
            }
        }
        self.schedule_alarm().await
    }

    /// Sets the alarm to the earliest deadline of the open sockets, or deletes it when there is
    /// none.
    pub(super) async fn schedule_alarm(&self) -> Result<()> {
        let now = now_ms();
        let sockets = self.state.get_websockets();
        let next = sockets
            .iter()
            .filter_map(read_attachment)
            // (sockets the server closed have no deadline: see `close`)
            .filter_map(|a| a.deadline(&self.closing).map(|(at, _)| at));
        let next = next_alarm(next, now);
        let storage = self.state.storage();
        let current = storage.get_alarm().await?;
        match next {
            None if current.is_some() => storage.delete_alarm().await?,
            Some(at_ms) if current != Some(at_ms) => set_alarm(&storage, at_ms).await?,
            _ => {}
        }
        Ok(())
    }

    /// Makes the alarm ring no later than `at_ms` (a new socket's deadline), without looking at
    /// the other sockets: an alarm that rings early finds nothing due and sets itself right.
    pub(super) async fn alarm_no_later_than(&self, at_ms: i64) -> Result<()> {
        let storage = self.state.storage();
        match storage.get_alarm().await? {
            Some(current) if current <= at_ms => Ok(()),
            _ => set_alarm(&storage, at_ms).await,
        }
    }
}

async fn set_alarm(storage: &Storage, at_ms: i64) -> Result<()> {
    let at = js_sys::Date::new(&wasm_bindgen::JsValue::from_f64(at_ms as f64));
    storage.set_alarm(ScheduledTime::new(at)).await
}
