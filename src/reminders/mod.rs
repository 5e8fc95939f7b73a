//! Check-in reminders: the schedule arithmetic and time-zone lookup (pure), and the worker
//! that claims due reminders from the store and sends each at most once.

pub mod schedule;
pub mod worker;
pub mod zones;
