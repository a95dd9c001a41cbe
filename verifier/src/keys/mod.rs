//! Keys (placeholder; being written).
