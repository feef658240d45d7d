//! Resource ids and import ids: system `<name>`, query group
//! `<system>/<group>`, application `<system>/<group>/<app>`.

use super::{
    check_application_name, check_query_group_name, check_system_name, q, Violation, PRIMARY_GROUP,
};

/// System id: its name.
pub fn system_id(name: &str) -> String {
    name.to_string()
}

/// Query group id: `<system>/<group>`.
pub fn query_group_id(system: &str, group: &str) -> String {
    format!("{system}/{group}")
}

/// Application id: `<system>/<group>/<app>` (`primary` for the primary compute group).
pub fn application_id(system: &str, group: &str, app: &str) -> String {
    format!("{system}/{group}/{app}")
}

/// Turn a name violation into one on the `id` attribute, naming the id and its form.
fn id_violation(id: &str, form: &str, example: &str, problem: String) -> Violation {
    Violation::new(
        "id",
        "Invalid import id",
        format!(
            "{} is not a valid id: {problem}. Expected {form}, e.g. {example:?}.",
            q(id)
        ),
    )
}

fn id_part(
    id: &str,
    form: &str,
    example: &str,
    part: &str,
    check: Result<(), Violation>,
) -> Result<(), Violation> {
    check.map_err(|v| {
        id_violation(
            id,
            form,
            example,
            format!("its {part} part is invalid ({})", v.detail),
        )
    })
}

/// Split `id` into exactly `N` non-empty `/`-separated parts.
fn split_id<'a, const N: usize>(
    id: &'a str,
    form: &str,
    example: &str,
) -> Result<[&'a str; N], Violation> {
    let parts: Vec<&str> = id.split('/').collect();
    let count = parts.len();
    let parts: [&str; N] = parts.try_into().map_err(|_| {
        id_violation(
            id,
            form,
            example,
            format!("it has {count} part(s) separated by \"/\", not {N}"),
        )
    })?;
    match parts.iter().position(|p| p.is_empty()) {
        Some(i) => Err(id_violation(
            id,
            form,
            example,
            format!("part {} is empty", i + 1),
        )),
        None => Ok(parts),
    }
}

/// A system import id: the system name.
pub fn parse_system_id(id: &str) -> Result<String, Violation> {
    id_part(id, "\"<system>\"", "prod", "system", check_system_name(id))?;
    Ok(id.to_string())
}

/// A query group import id `<system>/<group>`.
pub fn parse_query_group_id(id: &str) -> Result<(String, String), Violation> {
    const FORM: &str = "\"<system>/<group>\"";
    const EXAMPLE: &str = "prod/analytics";
    let [system, group] = split_id(id, FORM, EXAMPLE)?;
    id_part(id, FORM, EXAMPLE, "system", check_system_name(system))?;
    if group == PRIMARY_GROUP {
        return Err(id_violation(
            id,
            FORM,
            EXAMPLE,
            "the primary compute group is part of datomic_system; import the system by its name instead".into(),
        ));
    }
    id_part(id, FORM, EXAMPLE, "group", check_query_group_name(group))?;
    Ok((system.to_string(), group.to_string()))
}

/// An application import id `<system>/<group>/<app>` (`primary` for the primary compute group).
pub fn parse_application_id(id: &str) -> Result<(String, String, String), Violation> {
    const FORM: &str =
        "\"<system>/<group>/<application>\" (group \"primary\" for the primary compute group)";
    const EXAMPLE: &str = "prod/primary/tx";
    let [system, group, app] = split_id(id, FORM, EXAMPLE)?;
    id_part(id, FORM, EXAMPLE, "system", check_system_name(system))?;
    if group != PRIMARY_GROUP {
        id_part(id, FORM, EXAMPLE, "group", check_query_group_name(group))?;
    }
    id_part(
        id,
        FORM,
        EXAMPLE,
        "application",
        check_application_name("name", app),
    )?;
    Ok((system.to_string(), group.to_string(), app.to_string()))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::rules::testing::{assert_v, err};

    #[test]
    fn ids_round_trip() {
        assert_eq!(system_id("prod"), "prod");
        assert_eq!(parse_system_id("prod"), Ok("prod".to_string()));
        let id = query_group_id("prod", "analytics");
        assert_eq!(id, "prod/analytics");
        assert_eq!(
            parse_query_group_id(&id),
            Ok(("prod".into(), "analytics".into()))
        );
        let id = application_id("prod", PRIMARY_GROUP, "tx");
        assert_eq!(id, "prod/primary/tx");
        assert_eq!(
            parse_application_id(&id),
            Ok(("prod".into(), "primary".into(), "tx".into()))
        );
        assert_eq!(
            parse_application_id("prod/dev/web-app"),
            Ok(("prod".into(), "dev".into(), "web-app".into()))
        );
    }

    #[test]
    fn ids_refused() {
        let qg = "\"<system>/<group>\"";
        for (id, why) in [
            ("prod", "1 part(s)"),
            ("prod/a/b", "3 part(s)"),
            ("/a", "part 1 is empty"),
            ("prod/", "part 2 is empty"),
            ("Prod/a", "system part"),
            ("prod/primary", "import the system"),
            ("prod/Bad", "group part"),
        ] {
            assert_v(
                &err(parse_query_group_id(id)),
                "id",
                &[&format!("{id:?}"), why, qg, "prod/analytics"],
            );
        }
        let app = "\"<system>/<group>/<application>\"";
        for (id, why) in [
            ("prod/web", "2 part(s)"),
            ("prod/primary/tx/x", "4 part(s)"),
            ("prod//tx", "part 2 is empty"),
            ("datomic/primary/tx", "system part"),
            ("prod/g_1/tx", "group part"),
            ("prod/primary/Tx", "application part"),
        ] {
            assert_v(
                &err(parse_application_id(id)),
                "id",
                &[&format!("{id:?}"), why, app, "prod/primary/tx"],
            );
        }
        assert_v(
            &err(parse_system_id("a/b")),
            "id",
            &["system part", "\"<system>\""],
        );
    }
}
