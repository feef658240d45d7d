//! terraform-provider-datomic: Datomic Cloud topologies as Terraform resources.

use terraform_provider_datomic::{docs, plugin, provider};

use std::process::ExitCode;

fn main() -> ExitCode {
    // One explicit TLS crypto provider (aws-lc-rs) for the whole process: the
    // AWS SDK and our mTLS both use rustls, and two providers would panic.
    let _ = plugin::tls::crypto_provider();
    if let Some(dir) = std::env::args()
        .skip_while(|a| a != "--generate-docs")
        .nth(1)
    {
        return match docs::generate(std::path::Path::new(&dir)) {
            Ok(()) => ExitCode::SUCCESS,
            Err(e) => {
                eprintln!("terraform-provider-datomic: generating docs: {e}");
                ExitCode::FAILURE
            }
        };
    }
    let debug = std::env::args()
        .skip(1)
        .any(|a| a == "--debug" || a == "-debug");
    if std::env::args()
        .skip(1)
        .any(|a| a == "--version" || a == "-version")
    {
        println!("terraform-provider-datomic {}", env!("CARGO_PKG_VERSION"));
        return ExitCode::SUCCESS;
    }
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
    {
        Ok(r) => r,
        Err(e) => {
            eprintln!("terraform-provider-datomic: starting the async runtime: {e}");
            return ExitCode::FAILURE;
        }
    };
    let provider = provider::DatomicProvider::new();
    let result = runtime.block_on(async {
        if debug {
            plugin::serve::serve_debug(provider, provider::SOURCE_ADDRESS).await
        } else {
            plugin::serve::serve(provider).await
        }
    });
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(plugin::serve::ServeError::NotPlugin) => {
            eprintln!("{}", plugin::handshake::RUN_BY_HAND);
            ExitCode::FAILURE
        }
        Err(e) => {
            eprintln!("terraform-provider-datomic: {e}");
            ExitCode::FAILURE
        }
    }
}
