//! Thread settings for training on the CPU. candle runs element-wise CPU ops on its own pool of
//! threads, besides rayon's pool that runs the matrix products and our convolution ops; after
//! each op its workers spin (about half a millisecond) before sleeping. In a training step,
//! where rayon's threads run the convolutions between candle's element-wise ops, the two pools
//! fight over the cores: on 2 shared cores the spinning cost a quarter of the backward pass.
//! With candle's pool reduced to the calling thread that disappears; the element-wise ops it
//! runs are memory-bound and lose little.

/// The variable candle reads, once, when its pool is first used.
const CANDLE_NUM_THREADS: &str = "CANDLE_NUM_THREADS";

/// Makes candle run its element-wise CPU ops on the calling thread, unless the user has set
/// `CANDLE_NUM_THREADS`. Returns whether it changed the setting. Call at the start of `main`,
/// before any other thread exists (it sets an environment variable).
pub fn candle_elementwise_on_caller() -> bool {
    if std::env::var_os(CANDLE_NUM_THREADS).is_some() {
        return false;
    }
    std::env::set_var(CANDLE_NUM_THREADS, "1");
    true
}
