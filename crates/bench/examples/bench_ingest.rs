//! `cargo run --release -p dampwatch-bench --example bench_ingest -- [--quick]`:
//! the ingest benchmark without the `dampwatch` binary.
use clap::Parser;
use dampwatch_bench::IngestBenchArgs;

#[derive(Parser)]
#[command(about = "Measures the Dampwatch ingest path on this machine")]
struct Cli {
    #[command(flatten)]
    args: IngestBenchArgs,
}

fn main() -> anyhow::Result<()> {
    let cli = Cli::parse();
    tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_default_env()
                .unwrap_or_else(|_| "error,rumqttd=off".parse().expect("static filter")),
        )
        .with_writer(std::io::stderr)
        .init();
    let rt = tokio::runtime::Builder::new_multi_thread().enable_all().build()?;
    let mut out = std::io::stdout();
    rt.block_on(dampwatch_bench::run(cli.args, &mut out))
}
