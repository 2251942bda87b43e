//! What the fuzz targets share: a counting global allocator and the assertion that one call's
//! allocations stay within a linear bound of its input.
//!
//! Each target wraps the code under test in [`bounded`], which records the most heap held at once
//! during the call (beyond what was live before it) and panics, a crash for libFuzzer, when that
//! peak exceeds `per_byte × input length + base`. With `FUZZ_ALLOC_LOG=1` it prints every new
//! maximum of the peak per input length bucket, which is how the constants of each target were
//! found (fuzz/README.md), with `FUZZ_ALLOC_ASSERT=0` to measure beyond the bounds.

use std::alloc::{GlobalAlloc, Layout, System};
use std::sync::atomic::{AtomicUsize, Ordering::Relaxed};

/// Bytes allocated and not yet freed, and the most of them at once since the last reset.
static LIVE: AtomicUsize = AtomicUsize::new(0);
static PEAK: AtomicUsize = AtomicUsize::new(0);

struct Counting;

fn grow(n: usize) {
    let live = LIVE.fetch_add(n, Relaxed) + n;
    PEAK.fetch_max(live, Relaxed);
}

fn shrink(n: usize) {
    LIVE.fetch_sub(n, Relaxed);
}

unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        let p = System.alloc(layout);
        if !p.is_null() {
            grow(layout.size());
        }
        p
    }
    unsafe fn alloc_zeroed(&self, layout: Layout) -> *mut u8 {
        let p = System.alloc_zeroed(layout);
        if !p.is_null() {
            grow(layout.size());
        }
        p
    }
    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        System.dealloc(ptr, layout);
        shrink(layout.size());
    }
    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        // counted as the allocator holds it at worst: both blocks during the move
        let p = System.realloc(ptr, layout, new_size);
        if !p.is_null() {
            grow(new_size);
            shrink(layout.size());
        }
        p
    }
}

#[global_allocator]
static ALLOCATOR: Counting = Counting;

/// The allocation bound of a target: at most `per_byte` heap bytes held at once per input byte,
/// plus `base`.
#[derive(Clone, Copy, Debug)]
pub struct Bound {
    pub per_byte: usize,
    pub base: usize,
}

impl Bound {
    pub fn limit(&self, len: usize) -> usize {
        len.saturating_mul(self.per_byte).saturating_add(self.base)
    }
}

/// Runs `f` (the call under test, which drops what it makes), then asserts its peak heap.
pub fn bounded(target: &str, input_len: usize, bound: Bound, f: impl FnOnce()) {
    let before = LIVE.load(Relaxed);
    PEAK.store(before, Relaxed);
    f();
    let peak = PEAK.load(Relaxed).saturating_sub(before);
    log(target, input_len, peak);
    let limit = bound.limit(input_len);
    static ASSERT: std::sync::OnceLock<bool> = std::sync::OnceLock::new();
    let on = ASSERT.get_or_init(|| std::env::var_os("FUZZ_ALLOC_ASSERT").is_none_or(|v| v != "0"));
    assert!(
        !on || peak <= limit,
        "{target}: {peak} bytes of heap at once for a {input_len}-byte input; the bound is \
         {} × input + {} = {limit}",
        bound.per_byte,
        bound.base
    );
}

/// With `FUZZ_ALLOC_LOG=1`: each new maximum of the peak among inputs of about the same length
/// (lengths bucketed by powers of two), which traces the envelope the bound must stay above.
fn log(target: &str, len: usize, peak: usize) {
    static ON: std::sync::OnceLock<bool> = std::sync::OnceLock::new();
    static MAX: [AtomicUsize; 64] = [const { AtomicUsize::new(0) }; 64];
    if !*ON.get_or_init(|| std::env::var_os("FUZZ_ALLOC_LOG").is_some_and(|v| v == "1")) {
        return;
    }
    let bucket = usize::BITS as usize - len.leading_zeros() as usize;
    if peak > MAX[bucket].fetch_max(peak, Relaxed) {
        eprintln!(
            "ALLOC {target} len {len} peak {peak} ratio {:.1} (bucket {bucket})",
            peak as f64 / len.max(1) as f64
        );
    }
}

/// Unpadded base64url, as JWTs use it.
pub fn base64url(bytes: &[u8]) -> String {
    const ALPHABET: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
    let mut out = String::with_capacity(bytes.len().div_ceil(3) * 4);
    for chunk in bytes.chunks(3) {
        let n = chunk.iter().fold(0u32, |n, b| n << 8 | u32::from(*b)) << (8 * (3 - chunk.len()));
        for i in 0..=chunk.len() {
            out.push(char::from(ALPHABET[(n >> (18 - 6 * i) & 63) as usize]));
        }
    }
    out
}

#[cfg(test)]
mod tests {
    #[test]
    fn base64url_matches_rfc_4648() {
        assert_eq!(super::base64url(b""), "");
        assert_eq!(super::base64url(b"f"), "Zg");
        assert_eq!(super::base64url(b"fo"), "Zm8");
        assert_eq!(super::base64url(b"foo"), "Zm9v");
        assert_eq!(super::base64url(b"foob"), "Zm9vYg");
        assert_eq!(super::base64url(&[0xfb, 0xff]), "-_8");
    }
}
