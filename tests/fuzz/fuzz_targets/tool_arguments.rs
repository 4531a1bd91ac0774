#![no_main]
//! Any arguments to any tool: no panic, and every rejection explains itself.

use libfuzzer_sys::fuzz_target;
use whatsapp_connector::fuzzing::{FuzzHost, TOOLS, assert_clear};

fuzz_target!(|data: &[u8]| {
    let Some((&selector, rest)) = data.split_first() else {
        return;
    };
    let tool = TOOLS[selector as usize % TOOLS.len()];
    let arguments = String::from_utf8_lossy(rest);
    let host = FuzzHost::accepting();
    if let Err(e) = whatsapp_connector::tools::run(&host, tool, &arguments) {
        assert_clear(&e);
    }
});
