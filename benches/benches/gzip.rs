//! Compresses one 5000-line body of the throughput bench's points (the
//! batch the background writer sends) with linewire's gzip
//! (`miniz_oxide`) and, in the same run, with `flate2` on `zlib-rs` (a
//! pure-Rust port of zlib-ng, the fastest other well-kept Rust deflate),
//! plus a plain copy of the body as the floor. Figures are bytes of line
//! protocol in per second; each encoder's compression ratio is printed
//! before the run.
//!
//! `cd benches && cargo bench --bench gzip`

use std::hint::black_box;
use std::io::Write as _;

use criterion::{criterion_group, criterion_main, Criterion, Throughput};
use linewire::Batch;
use linewire_benches::weather::{format_point, generate, station_names};

/// The first 5000 points of the throughput bench, as one body.
fn body() -> Vec<u8> {
    let stations = station_names();
    let mut batch = Box::new(Batch::<{ 1024 * 1024 }>::new());
    for p in &generate(5000, 1_764_000_000_000_000_000) {
        format_point(&mut batch, p, &stations);
    }
    batch.as_bytes().to_vec()
}

fn zlib_rs(body: &[u8], level: u32) -> Vec<u8> {
    let mut e = flate2::write::GzEncoder::new(
        Vec::with_capacity(body.len() / 2),
        flate2::Compression::new(level),
    );
    e.write_all(body).expect("write to a Vec");
    e.finish().expect("finish into a Vec")
}

/// A named way to gzip a body.
type Encoder<'a> = (&'a str, &'a dyn Fn(&[u8]) -> Vec<u8>);

fn gzip(c: &mut Criterion) {
    let body = body();
    let encoders: [Encoder; 4] = [
        ("linewire::gzip level 1 (miniz_oxide)", &|b| {
            linewire::gzip::gzip(b, 1)
        }),
        ("linewire::gzip level 6 (miniz_oxide)", &|b| {
            linewire::gzip::gzip(b, 6)
        }),
        ("flate2 + zlib-rs level 1", &|b| zlib_rs(b, 1)),
        ("flate2 + zlib-rs level 6", &|b| zlib_rs(b, 6)),
    ];
    for (name, encode) in &encoders {
        let gz = encode(&body);
        // Each output must inflate back to the body.
        let mut plain = Vec::new();
        std::io::Read::read_to_end(&mut flate2::read::GzDecoder::new(&gz[..]), &mut plain)
            .expect("inflate");
        assert_eq!(plain, body, "{name}");
        println!(
            "{name}: {} B -> {} B, {:.2}x smaller",
            body.len(),
            gz.len(),
            body.len() as f64 / gz.len() as f64
        );
    }
    let mut g = c.benchmark_group("gzip a 5000-line body");
    g.throughput(Throughput::Bytes(body.len() as u64));
    for (name, encode) in &encoders {
        g.bench_function(*name, |b| b.iter(|| encode(black_box(&body))));
    }
    g.bench_function("copy (memcpy)", |b| b.iter(|| black_box(&body).to_vec()));
    g.finish();
}

criterion_group!(benches, gzip);
criterion_main!(benches);
