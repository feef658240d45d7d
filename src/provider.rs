//! The `provider "datomic"` block, in the style of the AWS provider, and what
//! it builds: one set of AWS clients shared by every resource.

use std::collections::BTreeMap;
use std::sync::Arc;

use async_trait::async_trait;
use aws_config::BehaviorVersion;

use crate::aws::{regions, retry, CallerError, Clients};
use crate::plugin::{
    AttrPath, Attribute, Block, DataSource, Diagnostics, Function, Nesting, Provider, Resource,
    Schema, Type, Value,
};
use crate::resources;

/// The services whose endpoints can be overridden (`endpoints { ... }`).
pub const ENDPOINT_SERVICES: &[&str] = &[
    "autoscaling",
    "codedeploy",
    "dynamodb",
    "ec2",
    "efs",
    "elbv2",
    "iam",
    "route53",
    "kms",
    "logs",
    "s3",
    "ssm",
    "sts",
];

/// Provider source address, as users write it in `required_providers`.
pub const SOURCE_ADDRESS: &str = "registry.terraform.io/datomic-community/datomic";

pub struct DatomicProvider {
    schema: Schema,
}

impl Default for DatomicProvider {
    fn default() -> Self {
        Self::new()
    }
}

impl DatomicProvider {
    pub fn new() -> Self {
        DatomicProvider { schema: schema() }
    }
}

fn schema() -> Schema {
    let mut endpoints = Block::new("Custom endpoint URLs for the AWS services the provider calls (for example a local AWS emulator or VPC endpoints). Each is an `https://` URL, or a plain `http://` URL to a loopback address (`127.0.0.0/8`, `[::1]`, `localhost`) such as a local emulator; plain http to any other host is refused. An endpoint that cannot be reached fails the run within seconds, with the error on that endpoint.");
    for s in ENDPOINT_SERVICES {
        endpoints = endpoints.attr(Attribute::optional(
            s,
            Type::String,
            &format!("Use this URL instead of the default `{s}` endpoint (`https://`, or `http://` to a loopback address)."),
        ));
    }
    Schema::new(
        0,
        Block::new("The Datomic provider creates Datomic Cloud systems, query groups and application deployments on AWS. It is configured like the AWS provider: credentials and region come from the arguments below or from the usual AWS environment variables and shared files.")
            .attr(Attribute::optional("region", Type::String, "AWS region, e.g. `us-east-1`. Can also be set with the `AWS_REGION` or `AWS_DEFAULT_REGION` environment variables, or in a shared config file. Must be a known AWS region (a typo is refused at once, with the closest region as a hint) unless `skip_region_validation` is set."))
            .attr(Attribute::optional("profile", Type::String, "Named profile of the shared config and credentials files. Can also be set with `AWS_PROFILE`."))
            .attr(Attribute::optional("shared_config_files", Type::list(Type::String), "Paths of shared config files. Defaults to `~/.aws/config`."))
            .attr(Attribute::optional("shared_credentials_files", Type::list(Type::String), "Paths of shared credentials files. Defaults to `~/.aws/credentials`."))
            .attr(Attribute::optional("access_key", Type::String, "AWS access key id. Can also be set with `AWS_ACCESS_KEY_ID`.").sensitive())
            .attr(Attribute::optional("secret_key", Type::String, "AWS secret access key. Can also be set with `AWS_SECRET_ACCESS_KEY`.").sensitive())
            .attr(Attribute::optional("token", Type::String, "Session token for temporary credentials. Can also be set with `AWS_SESSION_TOKEN`.").sensitive())
            .attr(Attribute::optional("skip_region_validation", Type::Bool, "Skip checking that `region` is a known AWS region (for a region newer than this provider version). Defaults to `false`."))
            .attr(Attribute::optional("max_retries", Type::Number, "How many times an AWS call that failed with a retryable error (throttling, 5xx, a dropped connection) is retried, with jittered exponential backoff. A call that cannot reach its endpoint at all (host name not found, connection refused or timed out) is retried once only. Can also be set as attempts (retries + 1) with the `AWS_MAX_ATTEMPTS` environment variable or `max_attempts` in the shared config file; this argument wins over both. Defaults to `25`, as in the AWS provider."))
            .attr(Attribute::optional("retry_mode", Type::String, "How retries are paced: `standard` (exponential backoff with jitter) or `adaptive` (also slows the client down while AWS throttles it). Can also be set with the `AWS_RETRY_MODE` environment variable or `retry_mode` in the shared config file; this argument wins over both. Defaults to `standard`."))
            .attr(Attribute::optional("skip_credentials_validation", Type::Bool, "Skip validating the credentials with STS GetCallerIdentity at configuration time. When it is not skipped, an STS endpoint that cannot be reached fails within seconds, with the error on `region` (or on `endpoints.sts` when set), not on the credentials."))
            .attr(Attribute::optional("skip_requesting_account_id", Type::Bool, "Skip requesting the account id (STS GetCallerIdentity). Account-scoped names then fall back to the region."))
            .block(
                "assume_role",
                Nesting::Single,
                Block::new("Assume an IAM role before making any AWS call.")
                    .attr(Attribute::required("role_arn", Type::String, "ARN of the role to assume."))
                    .attr(Attribute::optional("session_name", Type::String, "Session name to use when assuming the role."))
                    .attr(Attribute::optional("external_id", Type::String, "External identifier to use when assuming the role.")),
            )
            .block("endpoints", Nesting::Single, endpoints)
            .block(
                "default_tags",
                Nesting::Single,
                Block::new("Tags applied to every AWS object the provider creates, as in the AWS provider. Resource `tags` override them key by key.")
                    .attr(Attribute::optional("tags", Type::map(Type::String), "Tags to apply to every object.")),
            )
            .block(
                "ignore_tags",
                Nesting::Single,
                Block::new("Tags managed by other tools (a backup or cost tool), as in the AWS provider: on every object the provider tags, the storage included, they are left out of `tags_all`, never show as drift, and are never written or removed. A key also set in a resource's `tags` is not written and shows as a difference on every plan until removed from `tags`. The provider's own `datomic:` keys and AWS's `aws:` keys cannot be ignored.")
                    .attr(Attribute::optional("keys", Type::set(Type::String), "Exact tag keys to ignore, e.g. `CostCenter`."))
                    .attr(Attribute::optional("key_prefixes", Type::set(Type::String), "Tag key prefixes to ignore, e.g. `backup:`.")),
            ),
    )
}

fn skip_region_validation(config: &Value) -> bool {
    config
        .get("skip_region_validation")
        .and_then(Value::as_bool)
        .unwrap_or(false)
}

/// Why `region` is refused (None: a known region). `from` says where the
/// region came from when it is not the `region` argument.
fn unknown_region(region: &str, from: &str) -> Option<String> {
    if regions::is_known(region) {
        return None;
    }
    let hint = match regions::closest(region) {
        Some(r) => format!(" Did you mean {r:?}?"),
        None => String::new(),
    };
    Some(format!(
        "{region:?}{from} is not an AWS region.{hint} If it is a region newer than this provider version, set skip_region_validation = true."
    ))
}

/// The retry inputs that are not in the provider block: `AWS_MAX_ATTEMPTS`,
/// `AWS_RETRY_MODE`, and the selected profile's `max_attempts` /
/// `retry_mode` in the shared config files.
async fn retry_inputs_outside(
    profile_files: &aws_runtime::env_config::file::EnvConfigFiles,
    profile: Option<String>,
) -> retry::RetryInputs {
    use aws_types::os_shim_internal::{Env, Fs};
    let env = |k: &str| std::env::var(k).ok().filter(|v| !v.trim().is_empty());
    let profiles = aws_config::profile::load(
        &Fs::real(),
        &Env::real(),
        profile_files,
        profile.map(Into::into),
    )
    .await
    .ok();
    let from_profile = |k: &str| profiles.as_ref().and_then(|p| p.get(k)).map(str::to_string);
    retry::RetryInputs {
        env_max_attempts: env("AWS_MAX_ATTEMPTS"),
        env_retry_mode: env("AWS_RETRY_MODE"),
        profile_max_attempts: from_profile("max_attempts"),
        profile_retry_mode: from_profile("retry_mode"),
        ..Default::default()
    }
}

/// An `endpoints` URL: https anywhere; plain http only to a loopback
/// address (127.0.0.0/8, ::1, localhost), where nothing on the network can
/// read the signed requests or forge the answers (a local emulator, a proxy
/// on the same host).
fn check_endpoint_url(svc: &str, url: &str) -> Result<(), String> {
    let lower = url.to_ascii_lowercase();
    if lower.starts_with("https://") {
        return Ok(());
    }
    let Some(rest) = lower.strip_prefix("http://") else {
        return Err(format!(
            "The {svc} endpoint must be an https:// URL (or http:// to a loopback address), got {url:?}."
        ));
    };
    let authority = rest.split(['/', '?', '#']).next().unwrap_or_default();
    let host_port = authority.rsplit('@').next().unwrap_or_default();
    let host = if let Some(v6) = host_port.strip_prefix('[') {
        v6.split(']').next().unwrap_or_default()
    } else {
        host_port.split(':').next().unwrap_or_default()
    };
    let loopback = host == "localhost"
        || host
            .parse::<std::net::IpAddr>()
            .is_ok_and(|ip| ip.is_loopback());
    if loopback {
        Ok(())
    } else {
        Err(format!(
            "The {svc} endpoint {url:?} uses plain http to {host:?}, which is not a loopback address: requests and answers would cross the network unencrypted. Use https://, or plain http only to 127.0.0.1 (127.0.0.0/8), [::1] or localhost."
        ))
    }
}

fn string_at(v: &Value, attr: &str) -> Option<String> {
    v.get(attr).and_then(Value::as_str).map(str::to_string)
}

fn string_list(v: &Value, attr: &str) -> Vec<String> {
    v.get(attr)
        .and_then(Value::as_list)
        .map(|l| {
            l.iter()
                .filter_map(Value::as_str)
                .map(str::to_string)
                .collect()
        })
        .unwrap_or_default()
}

/// `ignore_tags { keys, key_prefixes }`.
pub fn ignore_tags(config: &Value) -> crate::aws::tags::IgnoreTags {
    let block = config.get("ignore_tags").cloned().unwrap_or(Value::Null);
    crate::aws::tags::IgnoreTags {
        keys: string_list(&block, "keys").into_iter().collect(),
        key_prefixes: string_list(&block, "key_prefixes"),
    }
}

/// `default_tags { tags = {...} }` as a map.
pub fn default_tags(config: &Value) -> BTreeMap<String, String> {
    config
        .get("default_tags")
        .and_then(|b| b.get("tags"))
        .and_then(Value::as_map)
        .map(|m| {
            m.iter()
                .filter_map(|(k, v)| v.as_str().map(|s| (k.clone(), s.to_string())))
                .collect()
        })
        .unwrap_or_default()
}

#[async_trait]
impl Provider for DatomicProvider {
    type Data = Clients;

    fn schema(&self) -> &Schema {
        &self.schema
    }

    fn resources(&self) -> Vec<Arc<dyn Resource<Clients>>> {
        resources::all()
    }

    fn data_sources(&self) -> Vec<Arc<dyn DataSource<Clients>>> {
        resources::data_sources()
    }

    fn functions(&self) -> Vec<Arc<dyn Function>> {
        resources::functions()
    }

    fn validate(&self, config: &Value, diags: &mut Diagnostics) {
        if let Some(n) = config.get("max_retries").and_then(Value::as_number) {
            if n.as_i64().is_none_or(|i| !(0..=100).contains(&i)) {
                diags.attribute_error(
                    AttrPath::root("max_retries"),
                    "Invalid max_retries",
                    format!("max_retries must be a whole number from 0 to 100, got {n}."),
                );
            }
        }
        if let Some(m) = string_at(config, "retry_mode") {
            if retry::parse_mode(&m).is_none() {
                diags.attribute_error(
                    AttrPath::root("retry_mode"),
                    "Invalid retry_mode",
                    format!("retry_mode must be \"standard\" or \"adaptive\", got {m:?}."),
                );
            }
        }
        // (An unknown skip_region_validation, e.g. from a variable during
        // `terraform validate`, leaves the check to configure.)
        let skip_unknown = config
            .get("skip_region_validation")
            .is_some_and(Value::is_unknown);
        if let Some(r) = string_at(config, "region") {
            if !skip_region_validation(config) && !skip_unknown {
                if let Some(detail) = unknown_region(&r, "") {
                    diags.attribute_error(AttrPath::root("region"), "Invalid AWS region", detail);
                }
            }
        }
        if let Some(block) = config.get("ignore_tags").filter(|v| !v.is_null()) {
            for attr in ["keys", "key_prefixes"] {
                if string_list(block, attr).iter().any(|s| s.is_empty()) {
                    diags.attribute_error(
                        AttrPath::root("ignore_tags").attr(attr),
                        "Invalid ignore_tags",
                        format!("ignore_tags.{attr} must not contain an empty string (an empty prefix would ignore every tag). Remove it."),
                    );
                }
            }
        }
        let ak = config.get("access_key").is_some_and(|v| !v.is_null());
        let sk = config.get("secret_key").is_some_and(|v| !v.is_null());
        if ak != sk {
            let missing = if ak { "secret_key" } else { "access_key" };
            diags.attribute_error(
                AttrPath::root(missing),
                "Incomplete static credentials",
                "access_key and secret_key must be set together.",
            );
        }
        if let Some(eps) = config.get("endpoints").and_then(Value::as_map) {
            for (svc, url) in eps {
                if let Some(u) = url.as_str() {
                    if let Err(detail) = check_endpoint_url(svc, u) {
                        diags.attribute_error(
                            AttrPath::root("endpoints").attr(svc),
                            "Invalid endpoint URL",
                            detail,
                        );
                    }
                }
            }
        }
    }

    async fn configure(
        &self,
        _terraform_version: &str,
        config: &Value,
        diags: &mut Diagnostics,
    ) -> Option<Clients> {
        if !config.is_fully_known() {
            // e.g. the region comes from a resource not created yet: plan what
            // can be planned without AWS; apply configures again with known values.
            diags.warning(
                "Provider configuration not yet known",
                "Part of the provider configuration depends on values known only after apply. Plan-time checks that need AWS are skipped until then.",
            );
            return None;
        }
        self.validate(config, diags);
        if diags.has_error() {
            return None;
        }
        let mut loader = aws_config::defaults(BehaviorVersion::latest());
        if let Some(r) = string_at(config, "region") {
            loader = loader.region(aws_config::Region::new(r));
        }
        if let Some(p) = string_at(config, "profile") {
            loader = loader.profile_name(p);
        }
        let cfg_files = string_list(config, "shared_config_files");
        let cred_files = string_list(config, "shared_credentials_files");
        let profile_files = {
            use aws_runtime::env_config::file::{
                EnvConfigFileKind as ProfileFileKind, EnvConfigFiles as ProfileFiles,
            };
            if !cfg_files.is_empty() || !cred_files.is_empty() {
                let mut b = ProfileFiles::builder();
                if cfg_files.is_empty() {
                    b = b.include_default_config_file(true);
                }
                if cred_files.is_empty() {
                    b = b.include_default_credentials_file(true);
                }
                for f in cfg_files {
                    b = b.with_file(ProfileFileKind::Config, f);
                }
                for f in cred_files {
                    b = b.with_file(ProfileFileKind::Credentials, f);
                }
                let files = b.build();
                loader = loader.profile_files(files.clone());
                files
            } else {
                ProfileFiles::default()
            }
        };
        if let (Some(ak), Some(sk)) = (
            string_at(config, "access_key"),
            string_at(config, "secret_key"),
        ) {
            loader = loader.credentials_provider(aws_credential_types::Credentials::new(
                ak,
                sk,
                string_at(config, "token"),
                None,
                "provider-config",
            ));
        }
        let mut retry_inputs =
            retry_inputs_outside(&profile_files, string_at(config, "profile")).await;
        retry_inputs.max_retries = config
            .get("max_retries")
            .and_then(Value::as_i64)
            .map(|n| n.clamp(0, 100) as u32);
        retry_inputs.retry_mode = string_at(config, "retry_mode");
        let retry_settings = match retry::resolve(&retry_inputs) {
            Ok(s) => s,
            Err(e) => {
                let detail = format!("{e}. Fix it, or set it in the provider block, which wins over the environment and the shared config file.");
                match e.source_kind {
                    retry::Source::Provider => diags.attribute_error(
                        AttrPath::root("retry_mode"),
                        "Invalid retry_mode",
                        detail,
                    ),
                    _ => diags.error(format!("Invalid {}", e.name), detail),
                }
                return None;
            }
        };
        loader = loader.retry_config(retry_settings.retry_config());
        let mut sdk = loader.load().await;

        if let Some(ar) = config.get("assume_role").filter(|v| !v.is_null()) {
            if let Some(arn) = string_at(ar, "role_arn") {
                let mut b = aws_config::sts::AssumeRoleProvider::builder(arn)
                    .session_name(
                        string_at(ar, "session_name")
                            .unwrap_or_else(|| "terraform-provider-datomic".into()),
                    )
                    .configure(&sdk);
                if let Some(x) = string_at(ar, "external_id") {
                    b = b.external_id(x);
                }
                let creds = b.build().await;
                sdk = sdk
                    .into_builder()
                    .credentials_provider(
                        aws_credential_types::provider::SharedCredentialsProvider::new(creds),
                    )
                    .build();
            }
        }
        let Some(region) = sdk.region().map(|r| r.to_string()) else {
            diags.attribute_error(
                AttrPath::root("region"),
                "Missing AWS region",
                "Set `region` in the provider block, or the AWS_REGION environment variable, or a region in the shared config file.",
            );
            return None;
        };
        if string_at(config, "region").is_none() && !skip_region_validation(config) {
            // The region came from the environment or a shared config file.
            let from = " (from AWS_REGION, AWS_DEFAULT_REGION or the shared config file)";
            if let Some(detail) = unknown_region(&region, from) {
                diags.attribute_error(AttrPath::root("region"), "Invalid AWS region", detail);
                return None;
            }
        }
        let endpoints: BTreeMap<String, String> = config
            .get("endpoints")
            .and_then(Value::as_map)
            .map(|m| {
                m.iter()
                    .filter_map(|(k, v)| v.as_str().map(|s| (k.clone(), s.to_string())))
                    .collect()
            })
            .unwrap_or_default();
        crate::aws::tags::set_ignored(ignore_tags(config));
        let clients = Clients::new(&sdk, &endpoints, default_tags(config));

        let skip_validation = config
            .get("skip_credentials_validation")
            .and_then(Value::as_bool)
            .unwrap_or(false);
        let skip_account = config
            .get("skip_requesting_account_id")
            .and_then(Value::as_bool)
            .unwrap_or(false);
        if !(skip_validation && skip_account) {
            match clients.caller_account().await {
                Ok(account) => {
                    if !skip_account {
                        clients.set_account_id(account);
                    }
                }
                Err(CallerError::Unreachable(e)) => {
                    match endpoints.get("sts") {
                        Some(url) => diags.attribute_error(
                            AttrPath::root("endpoints").attr("sts"),
                            "Cannot reach the STS endpoint",
                            format!("STS GetCallerIdentity at {url} got no answer: {e}. Check this URL (is the service listening there?), or set skip_credentials_validation and skip_requesting_account_id for an AWS-compatible endpoint that has no STS."),
                        ),
                        None => diags.attribute_error(
                            AttrPath::root("region"),
                            "Cannot reach AWS in this region",
                            format!("STS GetCallerIdentity in region {region:?} got no answer: {e}. Check the region and the network (proxy, firewall, DNS); the credentials were not checked yet."),
                        ),
                    }
                    return None;
                }
                Err(CallerError::Refused(e)) => {
                    diags.error(
                        "Validating provider credentials",
                        format!("STS GetCallerIdentity failed: {e}. Check the credentials, or set skip_credentials_validation and skip_requesting_account_id for an AWS-compatible endpoint that has no STS."),
                    );
                    return None;
                }
            }
        }
        Some(clients)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn credentials_are_sensitive() {
        let s = schema();
        for a in ["access_key", "secret_key", "token"] {
            assert!(s.block.attribute(a).is_some_and(|x| x.sensitive), "{a}");
        }
    }

    fn validate_with(attrs: &[(&str, Value)]) -> Diagnostics {
        let p = DatomicProvider::new();
        let mut c = Value::null_object(&p.schema.ty());
        for (k, v) in attrs {
            c.set_attr(k, v.clone());
        }
        let mut d = Diagnostics::new();
        p.validate(&c, &mut d);
        d
    }

    #[test]
    fn unknown_region_is_refused_on_region_with_a_suggestion() {
        let d = validate_with(&[("region", Value::string("us-eats-1"))]);
        let e = d.iter().next().expect("an error");
        assert_eq!(e.path, Some(AttrPath::root("region")));
        assert!(e.detail.contains("\"us-east-1\""), "{}", e.detail);
        assert!(!validate_with(&[("region", Value::string("us-east-1"))]).has_error());
        assert!(!validate_with(&[
            ("region", Value::string("us-eats-1")),
            ("skip_region_validation", Value::bool(true)),
        ])
        .has_error());
        assert!(!validate_with(&[
            ("region", Value::string("us-east-7")),
            ("skip_region_validation", Value::Unknown),
        ])
        .has_error());
    }

    #[test]
    fn retry_mode_is_standard_or_adaptive() {
        assert!(!validate_with(&[("retry_mode", Value::string("adaptive"))]).has_error());
        let d = validate_with(&[("retry_mode", Value::string("legacy"))]);
        assert_eq!(
            d.iter().next().and_then(|x| x.path.clone()),
            Some(AttrPath::root("retry_mode"))
        );
    }

    #[test]
    fn plain_http_endpoints_only_to_loopback() {
        for ok in [
            "https://ec2.example.com",
            "https://10.0.0.1:8443/x",
            "http://127.0.0.1:4566",
            "http://127.8.9.10",
            "http://localhost:5000/",
            "HTTP://LOCALHOST",
            "http://[::1]:4566",
            "http://user@127.0.0.1:1",
        ] {
            assert!(check_endpoint_url("ec2", ok).is_ok(), "{ok}");
        }
        for bad in [
            "http://10.0.0.1:4566",
            "http://ec2.example.com",
            "http://localhost.example.com",
            "http://127.0.0.1.example.com",
            "http://[::2]:80",
            "http://127.0.0.1@evil.example.com",
            "ftp://127.0.0.1",
            "127.0.0.1:4566",
        ] {
            assert!(check_endpoint_url("ec2", bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn half_static_credentials_are_refused() {
        let p = DatomicProvider::new();
        let mut c = Value::null_object(&p.schema.ty());
        c.set_attr("access_key", Value::string("AKIA"));
        let mut d = Diagnostics::new();
        p.validate(&c, &mut d);
        assert!(d.has_error());
        assert_eq!(
            d.iter().next().and_then(|x| x.path.clone()),
            Some(AttrPath::root("secret_key"))
        );
    }
}
