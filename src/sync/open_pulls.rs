//! DO-RPC pull streams still being read: a single Pull over DO-RPC answers a stream that the
//! caller reads at its own pace (`rpcPullNext`), so the object keeps each unfinished pull's
//! connection under a handle until it is read to the end, cancelled, or pushed out by newer
//! ones — at most [`MAX_OPEN_PULLS`], so a caller that stops reading cannot grow memory.

use super::connection::Connection;

/// Pulls whose caller has not read them to the end, at most.
pub const MAX_OPEN_PULLS: usize = 64;

/// Pulls still sending their history, by handle, oldest first.
#[derive(Debug, Default)]
pub struct OpenPulls {
    next: u32,
    open: Vec<(u32, String, Connection)>,
}

impl OpenPulls {
    /// Takes the pull under `handle` (its store and connection), if it is still kept.
    pub fn take(&mut self, handle: u32) -> Option<(String, Connection)> {
        let at = self.open.iter().position(|(h, _, _)| *h == handle)?;
        let (_, store_id, conn) = self.open.remove(at);
        Some((store_id, conn))
    }

    /// Keeps a pull for later; returns its handle, and the store of the oldest pull when it was
    /// pushed out to make room.
    pub fn park(&mut self, store_id: String, conn: Connection) -> (u32, Option<String>) {
        self.next = self.next.wrapping_add(1);
        let dropped = (self.open.len() >= MAX_OPEN_PULLS).then(|| self.open.remove(0).1);
        self.open.push((self.next, store_id, conn));
        (self.next, dropped)
    }

    /// How many are kept (admin info).
    pub fn len(&self) -> usize {
        self.open.len()
    }

    pub fn is_empty(&self) -> bool {
        self.open.is_empty()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn park_take_and_push_out_the_oldest() {
        let mut pulls = OpenPulls::default();
        let (first, dropped) = pulls.park("s".into(), Connection::default());
        assert_eq!(dropped, None);
        assert!(pulls.take(first).is_some());
        assert!(pulls.take(first).is_none(), "a handle is read once");
        let handles: Vec<u32> = (0..MAX_OPEN_PULLS)
            .map(|i| pulls.park(format!("s{i}"), Connection::default()).0)
            .collect();
        assert_eq!(pulls.len(), MAX_OPEN_PULLS);
        let (_, dropped) = pulls.park("new".into(), Connection::default());
        assert_eq!(dropped.as_deref(), Some("s0"), "the oldest goes");
        assert_eq!(pulls.len(), MAX_OPEN_PULLS);
        assert!(pulls.take(handles[0]).is_none());
        assert_eq!(pulls.take(handles[1]).map(|p| p.0).as_deref(), Some("s1"));
    }
}
