//! The error of parsing a name from the command line or a recipe (`--arch`, `--device`, ...).

/// A name that is not one of the accepted ones; the message lists them.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("unknown {what} '{got}' (expected {expected})")]
pub struct UnknownName {
    /// What was being named: "arch", "device"...
    pub what: &'static str,
    pub got: String,
    /// The accepted names, as a phrase: "auto, cpu or cuda".
    pub expected: &'static str,
}
