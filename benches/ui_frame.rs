//! Frame cost of the desktop app with a 100 000-message conversation and
//! 1 000 contacts: egui's layout plus tessellation (the CPU part of a frame;
//! the GPU upload is left out), while idle, while scrolling, while typing.
//! Also the process's resident memory with all of it loaded.
//!
//! `cargo bench --bench ui_frame` (env `MESSAGES`, `CONTACTS`, `FRAMES`).

use std::time::{Duration, Instant};

use eframe::egui;
use sixchat::app::event::{ChatMessage, ContactInfo, DeliveryState, IdentityInfo, Presence};
use sixchat::app::state::{Conversation, Phase};
use sixchat::ui::SixChatApp;

fn env_usize(name: &str, default: usize) -> usize {
    std::env::var(name)
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

fn rss_mib() -> f64 {
    let status = std::fs::read_to_string("/proc/self/status").unwrap_or_default();
    status
        .lines()
        .find_map(|l| l.strip_prefix("VmRSS:"))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse::<f64>().ok())
        .map_or(0.0, |kib| kib / 1024.0)
}

const WORDS: &[&str] = &[
    "hello",
    "the",
    "file",
    "is",
    "on",
    "its",
    "way",
    "see",
    "you",
    "at",
    "lunch",
    "did",
    "the",
    "build",
    "pass",
    "yes",
    "network",
    "LAN",
    "peer",
    "certificate",
    "renewed",
    "ok",
    "👍",
    "你好",
];

fn message(i: usize) -> ChatMessage {
    // Deterministic variety: 1 to 60 words, now and then two lines.
    let words = 1 + (i * 7919) % 60;
    let mut text = String::new();
    for w in 0..words {
        if w > 0 {
            text.push(if (i + w) % 41 == 0 { '\n' } else { ' ' });
        }
        text.push_str(WORDS[(i * 31 + w * 17) % WORDS.len()]);
    }
    ChatMessage {
        id: format!("m{i}"),
        outgoing: i % 3 != 0,
        sent_unix: 1_700_000_000 + i64::try_from(i).unwrap_or(0) * 97,
        text,
        state: DeliveryState::Read,
    }
}

/// Vertices drawn so far (so the report shows the frames drew something).
static VERTICES: std::sync::atomic::AtomicUsize = std::sync::atomic::AtomicUsize::new(0);

fn frame(ctx: &egui::Context, app: &mut SixChatApp, events: Vec<egui::Event>) -> Duration {
    let input = egui::RawInput {
        screen_rect: Some(egui::Rect::from_min_size(
            egui::Pos2::ZERO,
            egui::vec2(1280.0, 800.0),
        )),
        events,
        ..Default::default()
    };
    let start = Instant::now();
    let output = ctx.run_ui(input, |ui| {
        app.logic(ui.ctx());
        app.ui_root(ui);
    });
    let primitives = ctx.tessellate(output.shapes, output.pixels_per_point);
    let elapsed = start.elapsed();
    let vertices: usize = primitives
        .iter()
        .map(|p| match &p.primitive {
            egui::epaint::Primitive::Mesh(mesh) => mesh.vertices.len(),
            egui::epaint::Primitive::Callback(_) => 0,
        })
        .sum();
    VERTICES.fetch_add(vertices, std::sync::atomic::Ordering::Relaxed);
    elapsed
}

/// The pointer at `at` and a wheel turn of `delta` points.
fn wheel(at: egui::Pos2, delta: f32) -> Vec<egui::Event> {
    vec![
        egui::Event::PointerMoved(at),
        egui::Event::MouseWheel {
            unit: egui::MouseWheelUnit::Point,
            delta: egui::vec2(0.0, delta),
            modifiers: egui::Modifiers::NONE,
            phase: egui::TouchPhase::Move,
            source: egui::MouseWheelSource::Wheel,
        },
    ]
}

fn report(name: &str, mut times: Vec<Duration>) {
    let vertices = VERTICES.swap(0, std::sync::atomic::Ordering::Relaxed) / times.len().max(1);
    times.sort();
    let pick = |permille: usize| {
        let at = (times.len() - 1) * permille / 1000;
        times[at].as_secs_f64() * 1000.0
    };
    println!(
        "{name:<28} frames {:>5}  p50 {:>6.2} ms  p99 {:>6.2} ms  max {:>6.2} ms  ({vertices} vertices/frame)",
        times.len(),
        pick(500),
        pick(990),
        pick(1000)
    );
}

#[allow(clippy::too_many_lines)] // the whole measurement (build, frames, memory, report) read top to bottom
fn main() {
    let messages = env_usize("MESSAGES", 100_000);
    let contacts = env_usize("CONTACTS", 1_000);
    let frames = env_usize("FRAMES", 300);
    let dir = tempfile::tempdir().expect("temp dir");
    let profile = sixchat_agent::Profile::locate("bench", Some(dir.path())).expect("profile");
    let ctx = egui::Context::default();
    let mut app = sixchat::startup::build_app(&ctx, profile, None).expect("app");
    // Let the backend say there is no identity, then give the window a full one.
    let wait = Instant::now();
    while app.state.phase != Phase::Wizard && wait.elapsed() < Duration::from_secs(10) {
        frame(&ctx, &mut app, Vec::new());
        std::thread::sleep(Duration::from_millis(5));
    }
    let rss_before = rss_mib();
    let peer = "peer0@bench.test".to_owned();
    app.state.phase = Phase::Ready;
    app.state.identity = Some(IdentityInfo {
        user_id: "me@bench.test".into(),
        name: "Me".into(),
        issuer: "CN=bench".into(),
        not_before_unix: 0,
        not_after_unix: 0,
        fingerprint: "00".repeat(32),
        self_signed: true,
        dir_address: None,
    });
    app.state.contacts = (0..contacts)
        .map(|i| ContactInfo {
            user_id: format!("peer{i}@bench.test"),
            name: format!("Peer {i:04}"),
            address: None,
            always_accept: false,
            last_seen_unix: Some(1_700_000_000),
            unread: i % 7,
            presence: if i % 5 == 0 {
                Presence::Online
            } else {
                Presence::Offline
            },
        })
        .collect();
    let started = Instant::now();
    app.state.conversations.insert(
        peer.clone(),
        Conversation::from_messages((0..messages).map(message).collect()),
    );
    app.view.selected = Some(peer);
    let loaded = started.elapsed();
    let first = frame(&ctx, &mut app, Vec::new());
    println!(
        "{messages} messages, {contacts} contacts: loaded in {:.1} ms, first frame {:.2} ms",
        loaded.as_secs_f64() * 1000.0,
        first.as_secs_f64() * 1000.0
    );
    // Settle the layout (the first frames measure what they show).
    for _ in 0..10 {
        frame(&ctx, &mut app, Vec::new());
    }
    VERTICES.store(0, std::sync::atomic::Ordering::Relaxed);
    let idle: Vec<_> = (0..frames)
        .map(|_| frame(&ctx, &mut app, Vec::new()))
        .collect();
    report("idle, at the newest", idle);
    let conversation = egui::pos2(800.0, 400.0);
    let scrolling: Vec<_> = (0..frames)
        .map(|_| frame(&ctx, &mut app, wheel(conversation, 600.0)))
        .collect();
    report("scrolling up 600 pt/frame", scrolling);
    let jumping: Vec<_> = (0..frames)
        .map(|i| {
            // Jumps of up to a million points either way: mostly rows never drawn before.
            let step = f32::from(u16::try_from((i * 7919) % 2001).unwrap_or(0));
            frame(
                &ctx,
                &mut app,
                wheel(conversation, (step - 1000.0) * 1000.0),
            )
        })
        .collect();
    report("jumping (rows new to it)", jumping);
    let contacts = egui::pos2(100.0, 400.0);
    let contacts_scroll: Vec<_> = (0..frames)
        .map(|_| frame(&ctx, &mut app, wheel(contacts, -400.0)))
        .collect();
    report("scrolling the contacts", contacts_scroll);
    let rss_after = rss_mib();
    println!(
        "memory: {rss_after:.0} MiB resident with everything loaded ({:.0} MiB more than the empty window)",
        rss_after - rss_before
    );
}
