//! Runs `dampwatch bench gateway` on its own:
//! `cargo run --release -p dampwatch-gateway --features bench --example bench -- --quick`
//! (build the `dampwatch-gateway` binary in the same profile first; the bench starts it).

use clap::Parser;
use dampwatch_gateway::bench::{self, GatewayBenchArgs};

#[derive(Parser)]
#[command(about = "The gateway against Mosquitto 2, side by side")]
struct Cli {
    #[command(flatten)]
    args: GatewayBenchArgs,
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let cli = Cli::parse();
    bench::run(cli.args, &mut std::io::stdout()).await
}
