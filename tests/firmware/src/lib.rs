//! Host-side helpers of the firmware proof.
