//! Check-in reminders: the schedule arithmetic and time-zone lookup (pure), and later the
//! worker that claims due reminders from the store and sends them.

pub mod schedule;
pub mod zones;
