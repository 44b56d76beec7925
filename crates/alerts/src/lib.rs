//! Hazard alerts, cases and webhooks.
