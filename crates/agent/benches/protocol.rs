//! Criterion benchmarks of the protocol core: the full handshake in memory per
//! suite, and record seal/open per suite at 16 KiB and 64 KiB.

mod common;

use criterion::{BenchmarkId, Criterion, Throughput, criterion_group, criterion_main};
use sixchat_proto::frame::{FrameReader, HEADER_BYTES};
use sixchat_proto::keys::Secret;
use sixchat_proto::record::{ContentType, RecordReader, RecordWriter};
use sixchat_proto::{CipherSuite, Initiator, OsEntropy, Responder, Step, UserId};

fn now() -> i64 {
    time::OffsetDateTime::now_utc().unix_timestamp()
}

fn handshake(alice: &common::Side, bob: &common::Side, suite: CipherSuite) {
    let (ci, cr) = common::configs(alice, bob, suite);
    let (mut i, first) = Initiator::start(
        ci,
        UserId::parse("bob@b.example").expect("uid"),
        false,
        Box::new(OsEntropy),
    );
    let mut r = Responder::new(cr, Box::new(OsEntropy));
    let mut to_r = first;
    loop {
        let mut reader = FrameReader::new();
        reader.push(&to_r);
        let frame = reader.next_frame().expect("frame").expect("whole");
        let to_i = match r.handle(&frame, now()) {
            Step::Continue(out) | Step::Complete(out, _) => out,
            Step::Failed(_, e) => panic!("{e}"),
        };
        let mut reader = FrameReader::new();
        reader.push(&to_i);
        let frame = reader.next_frame().expect("frame").expect("whole");
        match i.handle(&frame, now()) {
            Step::Continue(out) => to_r = out,
            Step::Complete(..) => return,
            Step::Failed(_, e) => panic!("{e}"),
        }
    }
}

fn bench_handshake(c: &mut Criterion) {
    let alice = common::side("rsa2048-a", "alice@a.example", "Alice A");
    let bob = common::side("rsa2048-b", "bob@b.example", "Bob B");
    let mut group = c.benchmark_group("handshake_in_memory");
    for suite in CipherSuite::ALL {
        group.bench_function(suite.token(), |b| b.iter(|| handshake(&alice, &bob, suite)));
    }
    group.finish();
}

fn bench_records(c: &mut Criterion) {
    let secret: Secret = zeroize::Zeroizing::new([7u8; 32]);
    for size in [16 * 1024, 64 * 1024] {
        let content = vec![0x5au8; size];
        let mut group = c.benchmark_group(format!("record_{}k", size / 1024));
        group.throughput(Throughput::Bytes(size as u64));
        for suite in CipherSuite::ALL {
            let mut writer = RecordWriter::new(suite, secret.clone());
            group.bench_with_input(
                BenchmarkId::new("seal", suite.token()),
                &content,
                |b, content| {
                    b.iter(|| {
                        writer
                            .seal(ContentType::Application, content, &mut OsEntropy)
                            .expect("seal")
                    });
                },
            );
            // Open: a fresh reader (set up outside the timing) opens record 0.
            let sealed = RecordWriter::new(suite, secret.clone())
                .seal(ContentType::Application, &content, &mut OsEntropy)
                .expect("seal");
            group.bench_with_input(
                BenchmarkId::new("open", suite.token()),
                &sealed,
                |b, sealed| {
                    b.iter_batched(
                        || RecordReader::new(suite, secret.clone()),
                        |mut reader| reader.open(&sealed[HEADER_BYTES..]).expect("open"),
                        criterion::BatchSize::SmallInput,
                    );
                },
            );
        }
        group.finish();
    }
}

criterion_group!(benches, bench_handshake, bench_records);
criterion_main!(benches);
