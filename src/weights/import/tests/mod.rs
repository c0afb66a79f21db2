//! Tests of the checkpoint reader.
