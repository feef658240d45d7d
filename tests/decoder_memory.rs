//! The msgpack decoder's memory under hostile length headers, measured with a
//! counting allocator (its own test binary, so nothing else allocates here).

use std::alloc::{GlobalAlloc, Layout, System};
use std::sync::atomic::{AtomicUsize, Ordering};

use terraform_provider_datomic::plugin::value::{decode_msgpack, CodecError, Type};

/// Counts live heap bytes and their peak.
struct Counting;

static LIVE: AtomicUsize = AtomicUsize::new(0);
static PEAK: AtomicUsize = AtomicUsize::new(0);

unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        let live = LIVE.fetch_add(layout.size(), Ordering::SeqCst) + layout.size();
        PEAK.fetch_max(live, Ordering::SeqCst);
        // SAFETY: forwarded unchanged to the system allocator.
        unsafe { System.alloc(layout) }
    }
    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        LIVE.fetch_sub(layout.size(), Ordering::SeqCst);
        // SAFETY: forwarded unchanged to the system allocator.
        unsafe { System.dealloc(ptr, layout) }
    }
}

#[global_allocator]
static ALLOC: Counting = Counting;

/// Peak heap growth (bytes) while running `f`.
fn peak_growth<T>(f: impl FnOnce() -> T) -> (T, usize) {
    let base = LIVE.load(Ordering::SeqCst);
    PEAK.store(base, Ordering::SeqCst);
    let out = f();
    (out, PEAK.load(Ordering::SeqCst).saturating_sub(base))
}

/// `array32` header claiming `n` elements.
fn array32(n: u32) -> Vec<u8> {
    let mut v = vec![0xdd];
    v.extend_from_slice(&n.to_be_bytes());
    v
}

/// One test, so that no other test thread allocates while we measure.
#[test]
fn hostile_length_headers_cannot_reserve_memory() {
    // A header claiming 2^32-1 elements with nothing behind it: an error, and
    // nothing reserved for the claim.
    let input = array32(u32::MAX);
    assert_eq!(input.len(), 5);
    let (res, grew) = peak_growth(|| decode_msgpack(&input, &Type::list(Type::String)));
    assert!(matches!(res, Err(CodecError::Truncated { .. })), "{res:?}");
    assert!(
        grew < 4096,
        "a 5-byte input made the heap grow by {grew} bytes"
    );

    // 120 nested headers, each claiming (almost) the whole rest of a 1 MiB
    // input, then padding the decoder never reaches: each level used to
    // reserve some 40 MiB (claim x the size of a value), 4.8 GB in all.
    let total = 1 << 20;
    let depth = 120;
    let mut input = Vec::with_capacity(total);
    for level in 0..depth {
        let rest = (total - 5 * (level + 1)) as u32;
        input.extend_from_slice(&array32(rest));
    }
    input.resize(total, 0xc1); // the reserved marker: an error once reached
    let mut ty = Type::String;
    for _ in 0..depth {
        ty = Type::list(ty);
    }
    let (res, grew) = peak_growth(|| decode_msgpack(&input, &ty));
    assert!(res.is_err(), "{res:?}");
    assert!(
        grew <= 2 * total,
        "a {total}-byte input made the heap grow by {grew} bytes"
    );
}
