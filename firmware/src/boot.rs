//! The persisted boot counter that makes `(boot, seq)` unique for the life of a device.
//!
//! Sequence numbers restart at 1 after every reset, so the boot number must change at every
//! start, and must be stored *before* the first reading is numbered: a device that cannot
//! persist its new boot number must not sample, or it could repeat numbers after the next reset.

/// Non-volatile storage for the boot counter (a flash page, EEPROM word, or a file).
pub trait BootStorage {
    type Error: core::fmt::Debug;

    /// The stored counter, or `None` on a device that never booted.
    fn load_boot(&mut self) -> Result<Option<u32>, Self::Error>;

    /// Stores the counter durably; returns only once it would survive a reset.
    fn store_boot(&mut self, boot: u32) -> Result<(), Self::Error>;
}

/// Why a boot number could not be assigned.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum BootError<E: core::fmt::Debug> {
    #[error("boot counter storage failed: {0:?}")]
    Storage(E),
    #[error("boot counter is exhausted")]
    Exhausted,
}

/// Increments and persists the boot counter; returns the number of this boot (1 on the first).
pub fn next_boot<S: BootStorage>(storage: &mut S) -> Result<u32, BootError<S::Error>> {
    let previous = storage.load_boot().map_err(BootError::Storage)?.unwrap_or(0);
    let boot = previous.checked_add(1).ok_or(BootError::Exhausted)?;
    storage.store_boot(boot).map_err(BootError::Storage)?;
    Ok(boot)
}

/// Boot storage in RAM, for tests and the simulator: it survives a simulated reset (a new
/// `DeviceCore`) as long as the value itself is kept.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct RamBootStorage {
    value: Option<u32>,
}

impl RamBootStorage {
    pub fn new(value: Option<u32>) -> Self {
        RamBootStorage { value }
    }

    pub fn value(&self) -> Option<u32> {
        self.value
    }
}

impl BootStorage for RamBootStorage {
    type Error = core::convert::Infallible;

    fn load_boot(&mut self) -> Result<Option<u32>, Self::Error> {
        Ok(self.value)
    }

    fn store_boot(&mut self, boot: u32) -> Result<(), Self::Error> {
        self.value = Some(boot);
        Ok(())
    }
}
