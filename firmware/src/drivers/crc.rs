//! The Sensirion CRC-8 that protects every 16-bit word a Sensirion sensor sends
//! (polynomial 0x31, initial value 0xFF, no reflection, no final XOR).

pub fn crc8(data: &[u8]) -> u8 {
    let mut crc: u8 = 0xFF;
    for &byte in data {
        crc ^= byte;
        for _ in 0..8 {
            crc = if crc & 0x80 != 0 { (crc << 1) ^ 0x31 } else { crc << 1 };
        }
    }
    crc
}

/// The `i`-th 16-bit word of a reply laid out as `[msb, lsb, crc]` groups, if its CRC holds.
pub fn word(reply: &[u8], i: usize) -> Option<u16> {
    let chunk = reply.get(3 * i..3 * i + 3)?;
    (crc8(&chunk[..2]) == chunk[2]).then(|| u16::from_be_bytes([chunk[0], chunk[1]]))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn matches_the_datasheet_example() {
        // Sensirion datasheets: CRC of 0xBEEF is 0x92.
        assert_eq!(crc8(&[0xBE, 0xEF]), 0x92);
        assert_eq!(word(&[0xBE, 0xEF, 0x92], 0), Some(0xBEEF));
        assert_eq!(word(&[0xBE, 0xEF, 0x93], 0), None);
        assert_eq!(word(&[0xBE, 0xEF], 0), None);
    }
}
