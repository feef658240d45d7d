//! The go-plugin handshake, as constant data: how Terraform recognises a
//! provider process and finds its gRPC server.

/// go-plugin's magic cookie for Terraform providers: its absence means the
/// binary was started by hand, not by Terraform.
pub const MAGIC_COOKIE_KEY: &str = "TF_PLUGIN_MAGIC_COOKIE";
pub const MAGIC_COOKIE_VALUE: &str =
    "d602bf8f470bc67ca7faa0386276bbdd4330efaf76d1a219cb4d6991ca9872b2";

/// go-plugin's own handshake protocol version (the first field of the line).
pub const CORE_PROTOCOL_VERSION: u32 = 1;
/// Terraform plugin protocol major version served here.
pub const PROTOCOL_VERSION: u32 = 6;

/// Largest gRPC message in either direction. terraform-plugin-go uses 256 MiB
/// because schemas and plans of large configurations exceed gRPC's 4 MiB default.
pub const MAX_MESSAGE_BYTES: usize = 256 << 20;

/// How long a connecting client has to finish the TLS handshake. Terraform
/// finishes it in milliseconds; a peer that connects and stays silent is
/// dropped after this, instead of holding a task and a socket for good.
pub const TLS_HANDSHAKE_TIMEOUT: std::time::Duration = std::time::Duration::from_secs(10);

/// The message printed when the binary is run by hand.
pub const RUN_BY_HAND: &str =
    "This binary is a plugin. These are not meant to be executed directly.
Please execute the program that consumes these plugins, which will
load any plugins automatically: it is a Terraform provider, used by
`terraform init`, `terraform plan` and `terraform apply`.
To attach a debugger, run it with --debug.";

/// Whether Terraform's list of protocol versions (`PLUGIN_PROTOCOL_VERSIONS`,
/// e.g. "5,6") accepts ours. An absent list accepts anything.
pub fn accepts_protocol(versions: Option<&str>) -> bool {
    match versions {
        None => true,
        Some(list) if list.trim().is_empty() => true,
        Some(list) => list
            .split(',')
            .any(|v| v.trim().parse::<u32>().ok() == Some(PROTOCOL_VERSION)),
    }
}

/// The line Terraform reads from stdout: `1|6|tcp|ADDR|grpc|CERT`, CERT the
/// server certificate's DER in unpadded standard base64 (empty without TLS).
pub fn line(addr: &std::net::SocketAddr, server_cert_der: Option<&[u8]>) -> String {
    use base64::Engine;
    let cert = server_cert_der
        .map(|d| base64::engine::general_purpose::STANDARD_NO_PAD.encode(d))
        .unwrap_or_default();
    format!("{CORE_PROTOCOL_VERSION}|{PROTOCOL_VERSION}|tcp|{addr}|grpc|{cert}")
}

/// The port range Terraform allows (`PLUGIN_MIN_PORT`/`PLUGIN_MAX_PORT`).
pub fn port_range(min: Option<&str>, max: Option<&str>) -> Option<(u16, u16)> {
    let min = min?.trim().parse::<u16>().ok()?;
    let max = max?.trim().parse::<u16>().ok()?;
    (min > 0 && min <= max).then_some((min, max))
}

/// What `--debug` prints: the value of `TF_REATTACH_PROVIDERS` for Terraform
/// to attach to this already-running process.
pub fn reattach_json(provider_address: &str, addr: &std::net::SocketAddr) -> String {
    serde_json::json!({
        provider_address: {
            "Protocol": "grpc",
            "ProtocolVersion": PROTOCOL_VERSION,
            "Pid": std::process::id(),
            "Test": true,
            "Addr": { "Network": "tcp", "String": addr.to_string() }
        }
    })
    .to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn handshake_line_format() {
        let addr: std::net::SocketAddr = "127.0.0.1:1234".parse().expect("addr");
        assert_eq!(line(&addr, None), "1|6|tcp|127.0.0.1:1234|grpc|");
        let l = line(&addr, Some(&[0xff, 0xfe]));
        assert_eq!(l, "1|6|tcp|127.0.0.1:1234|grpc|//4");
    }

    #[test]
    fn protocol_versions() {
        assert!(accepts_protocol(None));
        assert!(accepts_protocol(Some("5,6")));
        assert!(accepts_protocol(Some("6")));
        assert!(!accepts_protocol(Some("5")));
    }

    #[test]
    fn ports() {
        assert_eq!(
            port_range(Some("10000"), Some("25000")),
            Some((10000, 25000))
        );
        assert_eq!(port_range(Some("x"), Some("2")), None);
        assert_eq!(port_range(None, Some("2")), None);
    }

    #[test]
    fn reattach_is_json() {
        let addr: std::net::SocketAddr = "127.0.0.1:1".parse().expect("addr");
        let v: serde_json::Value =
            serde_json::from_str(&reattach_json("registry.terraform.io/a/b", &addr)).expect("json");
        assert_eq!(v["registry.terraform.io/a/b"]["ProtocolVersion"], 6);
    }
}
