//! An application's secret parameters in SSM Parameter Store: SecureString
//! parameters under the application's path on its compute group (see
//! `rules::secrets_path`), tagged with the identity tags. A parameter at that
//! path is ours only when its tags say so: a stranger's is never overwritten
//! or deleted. Values go to SSM and nowhere else: not in errors, not in logs.

use std::collections::{BTreeMap, BTreeSet};
use std::time::Duration;

use aws_sdk_ssm::types::{ParameterStringFilter, ParameterType, ResourceTypeForTagging, Tag};
use tokio_util::sync::CancellationToken;

use crate::aws::error::code;
use crate::aws::{eventual, tags, AwsError, Clients};
use crate::resources::error::OpError;
use crate::rules::{self, Ownership, Violation};

/// Whose secrets: the application on one compute group.
#[derive(Debug, Clone, Copy)]
pub struct Owner<'a> {
    pub system: &'a str,
    pub group: &'a str,
    pub application: &'a str,
}

impl Owner<'_> {
    pub fn path(&self) -> String {
        rules::secrets_path(self.system, self.group, self.application)
    }

    fn identity(&self) -> [(&str, &str); 4] {
        [
            (rules::TAG_MANAGED_BY, rules::MANAGED_BY_VALUE),
            (rules::TAG_SYSTEM, self.system),
            (rules::TAG_GROUP, self.group),
            (rules::TAG_APPLICATION, self.application),
        ]
    }

    /// Ours: the provider's, this system's and group's, and this application's.
    fn owns(&self, t: &tags::Tags) -> Result<(), String> {
        match rules::ownership(t, self.system, Some(self.group)) {
            Ownership::NotOurs { found } => Err(found),
            Ownership::Ours
                if t.get(rules::TAG_APPLICATION).map(String::as_str) == Some(self.application) =>
            {
                Ok(())
            }
            Ownership::Ours => Err(format!(
                "{}={:?}",
                rules::TAG_APPLICATION,
                t.get(rules::TAG_APPLICATION).cloned().unwrap_or_default()
            )),
        }
    }
}

/// SSM's "no such parameter" for tag look-ups and deletes.
fn absent(e: &AwsError) -> bool {
    e.is_not_found() || e.code_is(&[code::INVALID_RESOURCE_ID, code::PARAMETER_NOT_FOUND])
}

/// The tags of parameter `name`; None when there is no such parameter.
async fn tags_of(c: &Clients, name: &str) -> Result<Option<tags::Tags>, AwsError> {
    match c
        .ssm
        .list_tags_for_resource()
        .resource_type(ResourceTypeForTagging::Parameter)
        .resource_id(name)
        .send()
        .await
        .map_err(AwsError::from_sdk)
    {
        Ok(out) => Ok(Some(
            out.tag_list()
                .iter()
                .map(|t| (t.key().to_string(), t.value().to_string()))
                .collect(),
        )),
        Err(e) if absent(&e) => Ok(None),
        Err(e) => Err(e),
    }
}

/// The names of the parameters directly under `path`, whoever made them.
async fn names_under(c: &Clients, path: &str) -> Result<Vec<String>, OpError> {
    let filter = ParameterStringFilter::builder()
        .key("Path")
        .option("OneLevel")
        .values(path.trim_end_matches('/'))
        .build()
        .map_err(|e| OpError::request("SSM", e))?;
    let mut names = Vec::new();
    let mut token: Option<String> = None;
    loop {
        let out = c
            .ssm
            .describe_parameters()
            .parameter_filters(filter.clone())
            .set_next_token(token.clone())
            .send()
            .await
            .map_err(AwsError::from_sdk)?;
        names.extend(
            out.parameters()
                .iter()
                .filter_map(|p| p.name().map(str::to_string)),
        );
        token = out.next_token().map(str::to_string);
        if token.is_none() {
            return Ok(names);
        }
    }
}

/// Makes the parameters under the owner's path the `desired` ones: puts new
/// and changed values (all of them: SSM cannot tell us which changed without
/// reading the values back), deletes ours that are no longer wanted. Every
/// parameter it would overwrite is checked to be ours before anything is
/// written; a stranger's is refused, on the secret's key.
pub async fn sync(
    c: &Clients,
    owner: Owner<'_>,
    desired: &BTreeMap<String, String>,
    attribute: &'static str,
) -> Result<Result<(), Violation>, OpError> {
    let path = owner.path();
    let mut existing = BTreeSet::new();
    for key in desired.keys() {
        let name = rules::secret_parameter_name(&path, key);
        if let Some(t) = tags_of(c, &name).await? {
            if let Err(found) = owner.owns(&t) {
                return Ok(Err(not_ours(owner, &name, key, &found, attribute)));
            }
            existing.insert(key.clone());
        }
    }
    let all_tags = tags::with_identity(&c.default_tags, &owner.identity());
    for (key, value) in desired {
        let name = rules::secret_parameter_name(&path, key);
        if existing.contains(key) {
            put(c, owner, &name, value, None).await?;
            continue;
        }
        match put(c, owner, &name, value, Some(&all_tags)).await {
            // Our own put, retried after its answer was lost, or a parameter
            // made since we looked: its tags say whose it is.
            Err(e) if e.code_is(&[code::PARAMETER_ALREADY_EXISTS]) => {
                let t = eventual::until_found(
                    &format!("SSM parameter {name}"),
                    TAGS_VISIBLE_TIMEOUT,
                    eventual::READ_BACKOFF,
                    &CancellationToken::new(),
                    || tags_of(c, &name),
                )
                .await?;
                if let Err(found) = owner.owns(&t) {
                    return Ok(Err(not_ours(owner, &name, key, &found, attribute)));
                }
                put(c, owner, &name, value, None).await?;
            }
            other => other?,
        }
    }
    for name in names_under(c, &path).await? {
        let key = name.strip_prefix(&path).unwrap_or(&name);
        if desired.contains_key(key) {
            continue;
        }
        delete_if_ours(c, owner, &name).await?;
    }
    Ok(Ok(()))
}

/// How long a parameter SSM says exists may take to show its tags.
const TAGS_VISIBLE_TIMEOUT: Duration = Duration::from_secs(30);

/// Puts secret parameter `name`: a new one with `new_tags` (SSM takes tags
/// only when it creates a parameter, never with Overwrite), else overwrites.
async fn put(
    c: &Clients,
    owner: Owner<'_>,
    name: &str,
    value: &str,
    new_tags: Option<&tags::Tags>,
) -> Result<(), OpError> {
    let put = c
        .ssm
        .put_parameter()
        .name(name)
        .value(value)
        .r#type(ParameterType::SecureString)
        .description(format!(
            "Secret parameter of Datomic application {} on the {} (terraform-provider-datomic)",
            owner.application,
            rules::group_label(owner.system, owner.group)
        ));
    let put = match new_tags {
        None => put.overwrite(true),
        Some(t) => {
            let mut tag_list = Vec::new();
            for (k, v) in t {
                tag_list.push(
                    Tag::builder()
                        .key(k)
                        .value(v)
                        .build()
                        .map_err(|e| OpError::request("SSM", e))?,
                );
            }
            put.overwrite(false).set_tags(Some(tag_list))
        }
    };
    put.send().await.map_err(AwsError::from_sdk)?;
    Ok(())
}

/// The refusal of a stranger's parameter at a secret's name, on its key.
fn not_ours(
    owner: Owner<'_>,
    name: &str,
    key: &str,
    found: &str,
    attribute: &'static str,
) -> Violation {
    Violation::new(
        attribute,
        "Secret parameter belongs to someone else",
        rules::not_ours_detail(
            "SSM parameter",
            name,
            owner.system,
            Some(owner.group),
            found,
        ),
    )
    .at_key(key.to_string())
}

/// Deletes every parameter of ours under the owner's path; others' stay.
pub async fn delete_all(c: &Clients, owner: Owner<'_>) -> Result<(), OpError> {
    for name in names_under(c, &owner.path()).await? {
        delete_if_ours(c, owner, &name).await?;
    }
    Ok(())
}

async fn delete_if_ours(c: &Clients, owner: Owner<'_>, name: &str) -> Result<(), OpError> {
    let Some(t) = tags_of(c, name).await? else {
        return Ok(());
    };
    if let Err(found) = owner.owns(&t) {
        crate::plugin::log::warn(
            "left an AWS object alone that has our name but not our identity tags",
            &[
                ("object", &format!("SSM parameter {name}")),
                ("tags", &found),
            ],
        );
        return Ok(());
    }
    match c
        .ssm
        .delete_parameter()
        .name(name)
        .send()
        .await
        .map_err(AwsError::from_sdk)
    {
        Err(e) if !absent(&e) => Err(e.into()),
        _ => Ok(()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ours_only_with_every_identity_tag() {
        let o = Owner {
            system: "prod",
            group: "stage",
            application: "web",
        };
        let mine: tags::Tags = o
            .identity()
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
        assert!(o.owns(&mine).is_ok());
        let mut other_app = mine.clone();
        other_app.insert(rules::TAG_APPLICATION.into(), "api".into());
        assert!(o.owns(&other_app).is_err());
        let mut other_group = mine.clone();
        other_group.insert(rules::TAG_GROUP.into(), "dev".into());
        assert!(o.owns(&other_group).is_err());
        assert!(o.owns(&tags::Tags::new()).is_err());
        assert_eq!(o.path(), "/datomic-shared/prod/stage/web/");
    }
}
