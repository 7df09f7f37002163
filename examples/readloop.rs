//! A bare libpcap read loop over a capture file through the `pcap` crate (every packet
//! read, its bytes touched), nothing else: the Rust twin of `scripts/bench-floor.c`, the
//! floor `scripts/bench.sh` reports httshark relative to.
//!
//!     cargo run --release --example readloop -- FILE

fn main() {
    let Some(path) = std::env::args().nth(1) else {
        eprintln!("usage: readloop FILE");
        std::process::exit(2);
    };
    let mut cap = match pcap::Capture::from_file(&path) {
        Ok(c) => c,
        Err(e) => {
            eprintln!("readloop: {path}: {e}");
            std::process::exit(2);
        }
    };
    let (mut packets, mut bytes, mut sum) = (0u64, 0u64, 0u64);
    while let Ok(p) = cap.next_packet() {
        packets += 1;
        bytes += p.data.len() as u64;
        // Touch the bytes as any consumer must (one byte per cache line).
        sum = p
            .data
            .iter()
            .step_by(64)
            .fold(sum, |s, b| s.wrapping_add(*b as u64));
    }
    println!("packets={packets} bytes={bytes} checksum={sum}");
}
