//! A small deterministic generator (xorshift64) for the unit tests' fuzz smokes: the
//! same inputs on every run, no dependency.

/// A generator of u64s from `seed` (not 0).
pub fn xorshift(seed: u64) -> impl FnMut() -> u64 {
    let mut x = seed;
    move || {
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        x
    }
}
