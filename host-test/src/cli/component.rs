//! `pinpoint-import describe` and `component`: the node's descriptor, and
//! the component embedded in this binary.

use std::io::Write;
use std::path::PathBuf;
use std::process::ExitCode;

use host_test::node::{COMPONENT, NodeHost, PORTABLE_COMPONENT};

use super::exit::usage;

/// Prints the node's descriptor, pretty JSON.
pub async fn describe() -> ExitCode {
    match NodeHost::new() {
        Ok(host) => match host.describe().await {
            Ok(text) => {
                match serde_json::from_str::<serde_json::Value>(&text)
                    .and_then(|v| serde_json::to_string_pretty(&v))
                {
                    Ok(pretty) => println!("{pretty}"),
                    Err(_) => println!("{text}"),
                }
                ExitCode::SUCCESS
            }
            Err(e) => usage(&format!("the component failed: {e:#}")),
        },
        Err(e) => usage(&format!("cannot load the component: {e:#}")),
    }
}

/// Writes the embedded component (the portable one with `portable`):
/// exactly the bytes the host builds with; `-` is stdout.
pub fn write_component(portable: bool, output: &PathBuf) -> ExitCode {
    let bytes = if portable {
        PORTABLE_COMPONENT
    } else {
        COMPONENT
    };
    let written = if output.as_os_str() == "-" {
        let mut out = std::io::stdout().lock();
        out.write_all(bytes).and_then(|()| out.flush())
    } else {
        std::fs::write(output, bytes)
    };
    match written {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => usage(&format!("cannot write {}: {e}", output.display())),
    }
}
