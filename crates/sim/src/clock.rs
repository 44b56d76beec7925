//! Simulated time. The run maps real time onto a simulated span `speed` times faster: the
//! span starts `for × speed` before the moment sampling ends, so the last readings are dated
//! the present, the collector's plausibility checks (nothing more than an hour ahead) hold,
//! and every reading is dated after the devices' provisioning.

use std::time::{Duration, Instant};

use crate::timeline::Window;

/// The mapping between real instants and simulated milliseconds.
#[derive(Debug, Clone, Copy)]
pub struct SimClock {
    origin: Instant,
    speed: f64,
    /// Simulated wall-clock span of the sampling period.
    span: Window,
}

/// Far enough in the future to mean "not before the run ends".
const FAR: Duration = Duration::from_secs(365 * 24 * 3600);

impl SimClock {
    /// Sampling starts at `origin` and lasts `sampling` of real time; `origin_wall_ms` is the
    /// wall-clock time at `origin`.
    pub fn new(origin: Instant, origin_wall_ms: i64, speed: f64, sampling: Duration) -> Self {
        let span_ms = (sampling.as_secs_f64() * speed * 1000.0) as i64;
        let real_ms = sampling.as_millis() as i64;
        // Ending at the present: the simulated span ends when the real sampling period does.
        // Slower than real time, the span cannot reach the present and simply starts now.
        let end_ms = if speed >= 1.0 { origin_wall_ms + real_ms } else { origin_wall_ms + span_ms };
        SimClock { origin, speed, span: Window { from_ms: end_ms - span_ms, to_ms: end_ms } }
    }

    /// The same span, with sampling starting at `origin` instead: devices can be built (their
    /// rooms warmed up) against a clock before it starts, since nothing they keep depends on
    /// the origin.
    pub fn starting_at(self, origin: Instant) -> Self {
        SimClock { origin, ..self }
    }

    /// Simulated milliseconds since sampling started, at `at`.
    pub fn sim_ms(&self, at: Instant) -> u64 {
        (at.saturating_duration_since(self.origin).as_secs_f64() * self.speed * 1000.0) as u64
    }

    /// The real instant at which simulated time reaches `sim_ms`.
    pub fn instant_at(&self, sim_ms: u64) -> Instant {
        let real = Duration::try_from_secs_f64(sim_ms as f64 / 1000.0 / self.speed).unwrap_or(FAR).min(FAR);
        self.origin + real
    }

    /// Simulated wall-clock time (ms since the Unix epoch) at simulated time `sim_ms`.
    pub fn wall_ms(&self, sim_ms: u64) -> i64 {
        self.span.from_ms.saturating_add(i64::try_from(sim_ms).unwrap_or(i64::MAX))
    }

    /// Simulated time at wall-clock `wall_ms` (0 before the span).
    pub fn sim_ms_at_wall(&self, wall_ms: i64) -> u64 {
        u64::try_from(wall_ms - self.span.from_ms).unwrap_or(0)
    }

    /// The simulated span of the sampling period.
    pub fn span(&self) -> Window {
        self.span
    }

    /// Simulated time at which sampling stops.
    pub fn sampling_end_sim_ms(&self) -> u64 {
        self.span.len_ms() as u64
    }

    pub fn speed(&self) -> f64 {
        self.speed
    }

    pub fn origin(&self) -> Instant {
        self.origin
    }

    /// A real duration expressed in simulated milliseconds.
    pub fn sim_duration_ms(&self, real: Duration) -> u64 {
        (real.as_secs_f64() * self.speed * 1000.0) as u64
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_span_ends_at_the_present_when_sampling_ends() {
        let origin = Instant::now();
        let wall = 1_800_000_000_000;
        let c = SimClock::new(origin, wall, 600.0, Duration::from_secs(60));
        assert_eq!(c.span().len_ms(), 36_000_000, "ten simulated hours");
        assert_eq!(c.span().to_ms, wall + 60_000);
        assert_eq!(c.sim_ms(origin + Duration::from_secs(1)), 600_000);
        assert_eq!(c.wall_ms(c.sampling_end_sim_ms()), wall + 60_000);
        let at = c.instant_at(1_200_000);
        assert_eq!(at.duration_since(origin), Duration::from_secs(2));
        assert_eq!(c.sim_ms_at_wall(c.span().from_ms + 5), 5);
        assert!(c.instant_at(u64::MAX) > origin);
    }
}
