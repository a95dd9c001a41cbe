//! OCI image-layout directories (placeholder; being written).
