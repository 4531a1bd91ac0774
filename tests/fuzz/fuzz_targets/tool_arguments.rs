#![no_main]
//! Any arguments to any tool: no panic, and every rejection explains itself.

use libfuzzer_sys::fuzz_target;
use whatsapp_connector::descriptors::descriptors;
use whatsapp_connector::fuzzing::{FuzzHost, assert_clear};

fuzz_target!(|data: &[u8]| {
    let Some((&selector, rest)) = data.split_first() else {
        return;
    };
    let tools = descriptors();
    let tool = tools[selector as usize % tools.len()].name;
    let arguments = String::from_utf8_lossy(rest);
    let host = FuzzHost::accepting();
    if let Err(e) = whatsapp_connector::tools::run(&host, tool, &arguments) {
        assert_clear(&e);
    }
});
