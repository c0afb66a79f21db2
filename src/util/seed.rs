//! Seed mixing: one seed for a whole run or session, turned into independent seeds for each clip,
//! frame, epoch or parameter, so that the results do not depend on the order work is done in.

/// SplitMix64: turns (seed, counter) into well-mixed independent seeds.
pub fn mix_seed(seed: u64, counter: u64) -> u64 {
    let mut z = seed ^ counter.wrapping_mul(0x9E37_79B9_7F4A_7C15);
    z = z.wrapping_add(0x9E37_79B9_7F4A_7C15);
    z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    z ^ (z >> 31)
}
