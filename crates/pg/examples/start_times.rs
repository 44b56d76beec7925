//! Measures how long private clusters take to start: cold (template not built yet), warm
//! (template copy), several in parallel, and a durable cluster (initdb, then reuse).
//!
//! `cargo run --release -p dampwatch-pg --example start_times`
//!
//! It points DAMPWATCH_PG_TMPDIR at a new directory (in /dev/shm when present, as the library
//! would choose) so the "cold" figure really is cold, and removes it afterwards. The durable
//! cluster goes to the system temp directory, on disk.

use std::time::{Duration, Instant};

use dampwatch_pg::{PgOptions, PrivatePostgres};

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let memory = std::path::Path::new("/dev/shm");
    let base = if memory.is_dir() { memory.to_path_buf() } else { std::env::temp_dir() };
    let scratch = base.join(format!("dampwatch-pg-start-times-{}", std::process::id()));
    let durable_dir =
        std::env::temp_dir().join(format!("dampwatch-pg-start-times-durable-{}", std::process::id()));
    for dir in [&scratch, &durable_dir] {
        std::fs::create_dir(dir)?;
        std::fs::set_permissions(dir, std::os::unix::fs::PermissionsExt::from_mode(0o755))?;
    }
    // Set before any thread exists, so nothing reads the environment concurrently.
    std::env::set_var(dampwatch_pg::SCRATCH_DIR_ENV, &scratch);

    let (cold, took) = timed(PrivatePostgres::temporary)?;
    println!("temporary(), cold (builds the template): {}", ms(took));
    let (_, took) = timed(|| {
        drop(cold);
        Ok::<_, dampwatch_pg::PgError>(())
    })?;
    println!("drop (stop + delete):                     {}", ms(took));

    let mut warm = Vec::new();
    for _ in 0..5 {
        let (pg, took) = timed(PrivatePostgres::temporary)?;
        warm.push(took);
        drop(pg);
    }
    warm.sort();
    println!(
        "temporary(), warm, 5 in a row:            min {} median {} max {}",
        ms(warm[0]),
        ms(warm[2]),
        ms(warm[4])
    );

    for n in [4, 8] {
        let start = Instant::now();
        let handles: Vec<_> = (0..n).map(|_| std::thread::spawn(PrivatePostgres::temporary)).collect();
        let clusters =
            handles.into_iter().map(|h| h.join().expect("thread")).collect::<Result<Vec<_>, _>>()?;
        println!("temporary(), {n} in parallel:               {} until all up", ms(start.elapsed()));
        drop(clusters);
    }

    let mut pg = {
        let (pg, took) = timed(PrivatePostgres::temporary)?;
        println!("temporary() again:                        {}", ms(took));
        pg
    };
    let (_, took) = timed(|| pg.restart())?;
    println!("restart() (same port, same data):         {}", ms(took));
    drop(pg);

    let (pg, took) = timed(|| PrivatePostgres::start(PgOptions::new(&durable_dir)))?;
    println!("start(), durable, first use (copy+sync): {}", ms(took));
    drop(pg);
    let (pg, took) = timed(|| PrivatePostgres::start(PgOptions::new(&durable_dir)))?;
    println!("start(), durable, existing cluster:       {}", ms(took));
    drop(pg);

    std::fs::remove_dir_all(&scratch)?;
    std::fs::remove_dir_all(&durable_dir)?;
    Ok(())
}

fn timed<T, E>(f: impl FnOnce() -> Result<T, E>) -> Result<(T, Duration), E> {
    let start = Instant::now();
    let value = f()?;
    Ok((value, start.elapsed()))
}

fn ms(d: Duration) -> String {
    format!("{:>5} ms", d.as_millis())
}
