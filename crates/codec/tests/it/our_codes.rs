//! Our own codes, end to end: issue, render, read back, verify; and every
//! way a forger or a stale screenshot should fail.
