//! Human lines or one JSON object per line (`--json`).

use std::process::ExitCode;

/// Where results go.
#[derive(Clone, Copy)]
pub struct Output {
    json: bool,
}

impl Output {
    pub fn new(json: bool) -> Self {
        Self { json }
    }

    pub fn is_json(self) -> bool {
        self.json
    }

    /// Prints `human` as a line, or `value` as one JSON line.
    pub fn print(self, human: &str, value: &serde_json::Value) {
        if self.json {
            println!("{value}");
        } else {
            println!("{human}");
        }
    }

    /// Reports an error on one line (stderr, or a JSON object on stdout) and returns `code`.
    pub fn fail(self, code: u8, message: &str) -> ExitCode {
        if self.json {
            println!("{}", serde_json::json!({ "error": message, "exit": code }));
        } else {
            eprintln!("sixchat-cli: {message}");
        }
        ExitCode::from(code)
    }
}
