//! Compiles `dampwatch/v1/*.proto` with protox (pure Rust, no protoc) into prost types.
fn main() -> Result<(), Box<dyn std::error::Error>> {
    let files = ["dampwatch/v1/uplink.proto", "dampwatch/v1/downlink.proto"];
    for f in files {
        println!("cargo:rerun-if-changed={f}");
    }
    let fds = protox::compile(files, ["."])?;
    prost_build::Config::new().compile_fds(fds)?;
    Ok(())
}
