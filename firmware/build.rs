//! Generates the firmware's no-alloc protobuf types from the very same `.proto` files the
//! servers compile with prost (`proto/dampwatch/v1/*.proto`), with protox (pure Rust, no
//! `protoc`) and micropb-gen. The golden vectors test proves both sides agree byte for byte.
//!
//! The container capacities are the wire's limits (`dampwatch_wire::limits`: the payload and
//! the readings that fit in `MAX_UPLINK_BYTES`), so a change of the limit resizes the types;
//! `src/proto.rs` asserts at compile time that the largest possible envelope still fits.
use std::path::{Path, PathBuf};

use dampwatch_wire::downlink::MAX_DOWNLINK_PAYLOAD_BYTES;
use dampwatch_wire::ids::MAX_ID_LEN;
use dampwatch_wire::limits::{MAX_PAYLOAD_BYTES, MAX_READINGS_PER_UPLINK, SIGNATURE_LEN};

const PACKAGE: &str = ".dampwatch.v1";

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let out = PathBuf::from(std::env::var("OUT_DIR")?);
    let (payload_max, readings_max) = (MAX_PAYLOAD_BYTES, MAX_READINGS_PER_UPLINK);

    // The firmware only ever encodes uplinks and only ever decodes downlinks, so each file gets
    // just the half of the code it needs (less flash on the device).
    let mut uplink = generator();
    uplink.encode_decode(micropb_gen::EncodeDecode::EncodeOnly);
    uplink.configure(&field("Uplink.device_id"), micropb_gen::Config::new().max_bytes(MAX_ID_LEN as u32));
    uplink.configure(&field("Uplink.readings"), micropb_gen::Config::new().max_len(readings_max as u32));
    uplink
        .configure(&field("SignedUplink.payload"), micropb_gen::Config::new().max_bytes(payload_max as u32));
    uplink.configure(
        &field("SignedUplink.signature"),
        micropb_gen::Config::new().max_bytes(SIGNATURE_LEN as u32),
    );
    compile(uplink, "uplink", &out)?;

    let mut downlink = generator();
    downlink.encode_decode(micropb_gen::EncodeDecode::DecodeOnly);
    downlink.configure(
        &field("SignedDownlink.payload"),
        micropb_gen::Config::new().max_bytes(MAX_DOWNLINK_PAYLOAD_BYTES as u32),
    );
    downlink.configure(
        &field("SignedDownlink.signature"),
        micropb_gen::Config::new().max_bytes(SIGNATURE_LEN as u32),
    );
    compile(downlink, "downlink", &out)?;

    std::fs::write(
        out.join("capacities.rs"),
        format!(
            "/// Most readings one uplink can carry (capacity of `Uplink.readings`): even the widest\n\
             /// possible readings fit in `MAX_UPLINK_BYTES`.\n\
             pub const MAX_BATCH: usize = {readings_max};\n\
             /// Largest encoded `Uplink` payload (capacity of `SignedUplink.payload`).\n\
             pub const MAX_PAYLOAD_BYTES: usize = {payload_max};\n"
        ),
    )?;
    Ok(())
}

fn generator() -> micropb_gen::Generator {
    let mut g = micropb_gen::Generator::new();
    g.use_container_heapless();
    g
}

fn field(path: &str) -> String {
    format!("{PACKAGE}.{path}")
}

fn compile(
    generator: micropb_gen::Generator,
    name: &str,
    out: &Path,
) -> Result<(), Box<dyn std::error::Error>> {
    let proto = format!("dampwatch/v1/{name}.proto");
    println!("cargo:rerun-if-changed=../proto/{proto}");
    let fds = protox::compile([proto.as_str()], ["../proto"])?;
    let fdset_path = out.join(format!("{name}.fdset"));
    std::fs::write(&fdset_path, prost::Message::encode_to_vec(&fds))?;
    generator.compile_fdset_file(&fdset_path, out.join(format!("{name}_micropb.rs")))?;
    Ok(())
}
