//! Room physics: pure functions of time, a seed and the previous state. No I/O, no clocks,
//! no randomness beyond the seed, so every behaviour is unit-tested in milliseconds.

pub mod psychro;
pub mod room;
pub mod routine;
pub mod simulated_room;
pub mod time;
pub mod weather;

pub use room::{RoomSpec, RoomState};
pub use simulated_room::SimulatedRoom;
pub use weather::{Climate, Outdoor, Weather};
