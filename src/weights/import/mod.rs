//! Reading the original PyTorch checkpoints (`.pth.tar`, zip and pre-1.6 formats).
