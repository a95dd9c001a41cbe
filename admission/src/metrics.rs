//! PLACEHOLDER (lead writes this).
