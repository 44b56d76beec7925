//! `dampwatch-gateway`: runs the gateway from a configuration file.
use clap::Parser;
use dampwatch_gateway::cli::GatewayArgs;

#[derive(Parser)]
#[command(
    name = "dampwatch-gateway",
    version,
    about = "The mutual-TLS MQTT front door for Dampwatch devices"
)]
struct Cli {
    #[command(flatten)]
    args: GatewayArgs,
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    dampwatch_gateway::cli::run(Cli::parse().args).await
}
