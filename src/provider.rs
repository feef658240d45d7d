//! The `provider "datomic"` block, in the style of the AWS provider, and what
//! it builds: one set of AWS clients shared by every resource.

use std::collections::BTreeMap;
use std::sync::Arc;

use async_trait::async_trait;
use aws_config::retry::RetryConfig;
use aws_config::BehaviorVersion;

use crate::aws::Clients;
use crate::plugin::{
    AttrPath, Attribute, Block, DataSource, Diagnostics, Function, Nesting, Provider, Resource,
    Schema, Type, Value,
};
use crate::resources;

/// The services whose endpoints can be overridden (`endpoints { ... }`).
pub const ENDPOINT_SERVICES: &[&str] = &[
    "autoscaling",
    "dynamodb",
    "ec2",
    "elbv2",
    "iam",
    "s3",
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
    let mut endpoints = Block::new("Custom endpoint URLs for the AWS services the provider calls (for example a local AWS emulator or VPC endpoints).");
    for s in ENDPOINT_SERVICES {
        endpoints = endpoints.attr(Attribute::optional(
            s,
            Type::String,
            &format!("Use this URL instead of the default `{s}` endpoint."),
        ));
    }
    Schema::new(
        0,
        Block::new("The Datomic provider creates Datomic Cloud systems, query groups and application deployments on AWS. It is configured like the AWS provider: credentials and region come from the arguments below or from the usual AWS environment variables and shared files.")
            .attr(Attribute::optional("region", Type::String, "AWS region, e.g. `us-east-1`. Can also be set with the `AWS_REGION` or `AWS_DEFAULT_REGION` environment variables, or in a shared config file."))
            .attr(Attribute::optional("profile", Type::String, "Named profile of the shared config and credentials files. Can also be set with `AWS_PROFILE`."))
            .attr(Attribute::optional("shared_config_files", Type::list(Type::String), "Paths of shared config files. Defaults to `~/.aws/config`."))
            .attr(Attribute::optional("shared_credentials_files", Type::list(Type::String), "Paths of shared credentials files. Defaults to `~/.aws/credentials`."))
            .attr(Attribute::optional("access_key", Type::String, "AWS access key id. Can also be set with `AWS_ACCESS_KEY_ID`.").sensitive())
            .attr(Attribute::optional("secret_key", Type::String, "AWS secret access key. Can also be set with `AWS_SECRET_ACCESS_KEY`.").sensitive())
            .attr(Attribute::optional("token", Type::String, "Session token for temporary credentials. Can also be set with `AWS_SESSION_TOKEN`.").sensitive())
            .attr(Attribute::optional("max_retries", Type::Number, "How many times an AWS call that failed with a retryable error (throttling, 5xx, network) is retried, with jittered exponential backoff. Defaults to `25`, as in the AWS provider."))
            .attr(Attribute::optional("skip_credentials_validation", Type::Bool, "Skip validating the credentials with STS GetCallerIdentity at configuration time."))
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
            ),
    )
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
                    if !(u.starts_with("http://") || u.starts_with("https://")) {
                        diags.attribute_error(
                            AttrPath::root("endpoints").attr(svc),
                            "Invalid endpoint URL",
                            format!(
                                "The {svc} endpoint must be an http:// or https:// URL, got {u:?}."
                            ),
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
        if !cfg_files.is_empty() || !cred_files.is_empty() {
            use aws_runtime::env_config::file::{
                EnvConfigFileKind as ProfileFileKind, EnvConfigFiles as ProfileFiles,
            };
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
            loader = loader.profile_files(b.build());
        }
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
        let max_retries = config
            .get("max_retries")
            .and_then(Value::as_i64)
            .unwrap_or(25)
            .clamp(0, 100) as u32;
        loader = loader.retry_config(RetryConfig::standard().with_max_attempts(max_retries + 1));
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
        if sdk.region().is_none() {
            diags.attribute_error(
                AttrPath::root("region"),
                "Missing AWS region",
                "Set `region` in the provider block, or the AWS_REGION environment variable, or a region in the shared config file.",
            );
            return None;
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
                Err(e) => {
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
