//! IAM over the Query protocol: action name + form parameters → identity
//! domain call → XML result.
//!
//! Shapes follow the IAM API reference and botocore's `iam/2010-05-08`
//! model: `User`, `Role`, `AccessKey`, `AccessKeyMetadata` members in model
//! order; lists as `<member>` with `IsTruncated`/`Marker`; policy documents
//! URL-encoded, as IAM returns them (botocore and the AWS CLI decode them).
//!
//! `CreateAccount` is keyward's own action (no AWS IAM operation has that
//! name): `keyward admin create-account` calls it, signed as the default
//! account's root user; anyone else gets AccessDenied.

use keyward_identity::{AccessKeyMetadata, ListRequest, Page, Role, User};
use keyward_principal::Caller;

use crate::audit::QueryFacts;
use crate::auth::Authenticator;
use crate::protocol::query::xml::{response, timestamp, url_encode, Xml, IAM_NAMESPACE};
use crate::protocol::query::{QueryError, QueryRequest};
use crate::service::Operation;

/// The IAM operation table: every action `dispatch` answers, and whether
/// CloudTrail marks its events read-only.
pub(crate) const OPERATIONS: &[Operation] = &[
    Operation::writes("CreateUser"),
    Operation::reads("GetUser"),
    Operation::reads("ListUsers"),
    Operation::writes("DeleteUser"),
    Operation::writes("CreateAccessKey"),
    Operation::reads("ListAccessKeys"),
    Operation::writes("UpdateAccessKey"),
    Operation::writes("DeleteAccessKey"),
    Operation::writes("CreateRole"),
    Operation::reads("GetRole"),
    Operation::reads("ListRoles"),
    Operation::writes("DeleteRole"),
    Operation::writes("UpdateAssumeRolePolicy"),
    Operation::writes("PutUserPolicy"),
    Operation::reads("GetUserPolicy"),
    Operation::reads("ListUserPolicies"),
    Operation::writes("DeleteUserPolicy"),
    Operation::writes("PutRolePolicy"),
    Operation::reads("GetRolePolicy"),
    Operation::reads("ListRolePolicies"),
    Operation::writes("DeleteRolePolicy"),
    Operation::writes("CreateAccount"),
];

/// Runs one IAM action for `caller`; returns the whole XML response, and
/// notes what its event logs of the result in `facts`.
pub fn dispatch(
    auth: &Authenticator,
    caller: &Caller,
    request: &QueryRequest,
    request_id: &str,
    facts: &mut QueryFacts,
) -> Result<String, QueryError> {
    let identities = auth.identities();
    let action = request.action.as_str();
    let list = || -> Result<ListRequest<'_>, QueryError> {
        Ok(ListRequest {
            path_prefix: request.get("PathPrefix"),
            marker: request.get("Marker"),
            max_items: request.integer("MaxItems", "maxItems")?,
        })
    };
    let mut xml = Xml::new();
    let has_result = match action {
        "CreateUser" => {
            let user = identities.create_user(
                caller,
                request.required("UserName", "userName")?,
                request.get("Path"),
            )?;
            write_user(&mut xml, "User", &user);
            true
        }
        "GetUser" => {
            let user = identities.get_user(caller, request.get("UserName"))?;
            write_user(&mut xml, "User", &user);
            true
        }
        "ListUsers" => {
            let page = identities.list_users(caller, &list()?)?;
            xml.open("Users");
            for user in &page.items {
                write_user(&mut xml, "member", user);
            }
            xml.close("Users");
            write_paging(&mut xml, &page);
            true
        }
        "DeleteUser" => {
            identities.delete_user(caller, request.required("UserName", "userName")?)?;
            false
        }
        "CreateAccessKey" => {
            let key = identities.create_access_key(caller, request.get("UserName"))?;
            xml.open("AccessKey")
                .optional("UserName", key.metadata.user_name.as_deref())
                .text("AccessKeyId", &key.metadata.access_key_id)
                .text("Status", "Active")
                .text("SecretAccessKey", &key.secret_access_key)
                .text("CreateDate", &timestamp(key.metadata.created_ms))
                .close("AccessKey");
            // CloudTrail logs the new key, never its secret.
            facts.respond(serde_json::json!({
                "accessKey": {
                    "userName": key.metadata.user_name,
                    "accessKeyId": key.metadata.access_key_id,
                    "status": "Active",
                    "createDate": response_date(key.metadata.created_ms),
                }
            }));
            true
        }
        "ListAccessKeys" => {
            let page = identities.list_access_keys(caller, request.get("UserName"), &list()?)?;
            xml.open("AccessKeyMetadata");
            for key in &page.items {
                write_key_metadata(&mut xml, key);
            }
            xml.close("AccessKeyMetadata");
            write_paging(&mut xml, &page);
            true
        }
        "UpdateAccessKey" => {
            let access_key_id = request.required("AccessKeyId", "accessKeyId")?;
            let active = match request.required("Status", "status")? {
                "Active" => true,
                "Inactive" => false,
                other => {
                    return Err(QueryError::InvalidParameter(format!(
                        "1 validation error detected: Value '{other}' at 'status' failed to satisfy constraint: Member must satisfy enum value set: [Active, Inactive]"
                    )))
                }
            };
            identities.update_access_key(caller, request.get("UserName"), access_key_id, active)?;
            if !active {
                auth.forget(access_key_id);
            }
            false
        }
        "DeleteAccessKey" => {
            let access_key_id = request.required("AccessKeyId", "accessKeyId")?;
            identities.delete_access_key(caller, request.get("UserName"), access_key_id)?;
            auth.forget(access_key_id);
            false
        }
        "CreateRole" => {
            let role = identities.create_role(
                caller,
                request.required("RoleName", "roleName")?,
                request.get("Path"),
                request.required("AssumeRolePolicyDocument", "assumeRolePolicyDocument")?,
                request.get("Description"),
                request.integer("MaxSessionDuration", "maxSessionDuration")?,
            )?;
            write_role(&mut xml, "Role", &role);
            true
        }
        "GetRole" => {
            let role = identities.get_role(caller, request.required("RoleName", "roleName")?)?;
            write_role(&mut xml, "Role", &role);
            true
        }
        "ListRoles" => {
            let page = identities.list_roles(caller, &list()?)?;
            xml.open("Roles");
            for role in &page.items {
                write_role(&mut xml, "member", role);
            }
            xml.close("Roles");
            write_paging(&mut xml, &page);
            true
        }
        "UpdateAssumeRolePolicy" => {
            identities.update_assume_role_policy(
                caller,
                request.required("RoleName", "roleName")?,
                request.required("PolicyDocument", "policyDocument")?,
            )?;
            false
        }
        "DeleteRole" => {
            identities.delete_role(caller, request.required("RoleName", "roleName")?)?;
            false
        }
        "PutUserPolicy" => {
            identities.put_user_policy(
                caller,
                request.required("UserName", "userName")?,
                request.required("PolicyName", "policyName")?,
                request.required("PolicyDocument", "policyDocument")?,
            )?;
            false
        }
        "GetUserPolicy" => {
            let (user_name, policy) = identities.get_user_policy(
                caller,
                request.required("UserName", "userName")?,
                request.required("PolicyName", "policyName")?,
            )?;
            xml.text("UserName", &user_name)
                .text("PolicyName", &policy.name)
                .text("PolicyDocument", &url_encode(&policy.text));
            true
        }
        "ListUserPolicies" => {
            let page = identities.list_user_policies(
                caller,
                request.required("UserName", "userName")?,
                &list()?,
            )?;
            write_names(&mut xml, &page);
            true
        }
        "DeleteUserPolicy" => {
            identities.delete_user_policy(
                caller,
                request.required("UserName", "userName")?,
                request.required("PolicyName", "policyName")?,
            )?;
            false
        }
        "PutRolePolicy" => {
            identities.put_role_policy(
                caller,
                request.required("RoleName", "roleName")?,
                request.required("PolicyName", "policyName")?,
                request.required("PolicyDocument", "policyDocument")?,
            )?;
            false
        }
        "GetRolePolicy" => {
            let (role_name, policy) = identities.get_role_policy(
                caller,
                request.required("RoleName", "roleName")?,
                request.required("PolicyName", "policyName")?,
            )?;
            xml.text("RoleName", &role_name)
                .text("PolicyName", &policy.name)
                .text("PolicyDocument", &url_encode(&policy.text));
            true
        }
        "ListRolePolicies" => {
            let page = identities.list_role_policies(
                caller,
                request.required("RoleName", "roleName")?,
                &list()?,
            )?;
            write_names(&mut xml, &page);
            true
        }
        "DeleteRolePolicy" => {
            identities.delete_role_policy(
                caller,
                request.required("RoleName", "roleName")?,
                request.required("PolicyName", "policyName")?,
            )?;
            false
        }
        "CreateAccount" => {
            let account = identities.create_account(caller, request.get("AccountId"))?;
            xml.text("AccountId", &account.account_id)
                .text("AccessKeyId", &account.access_key_id)
                .text("SecretAccessKey", &account.secret_access_key);
            true
        }
        other => return Err(QueryError::InvalidAction(other.to_string())),
    };
    let result = xml.into_string();
    Ok(response(
        action,
        IAM_NAMESPACE,
        has_result.then_some(result.as_str()),
        request_id,
    ))
}

fn write_user(xml: &mut Xml, tag: &str, user: &User) {
    xml.open(tag).text("Path", &user.path);
    if !user.name.is_empty() {
        xml.text("UserName", &user.name);
    }
    xml.text("UserId", &user.user_id)
        .text("Arn", &user.arn)
        .text("CreateDate", &timestamp(user.created_ms))
        .close(tag);
}

fn write_role(xml: &mut Xml, tag: &str, role: &Role) {
    xml.open(tag)
        .text("Path", &role.path)
        .text("RoleName", &role.name)
        .text("RoleId", &role.role_id)
        .text("Arn", &role.arn)
        .text("CreateDate", &timestamp(role.created_ms))
        .text(
            "AssumeRolePolicyDocument",
            &url_encode(&role.trust_policy_text),
        )
        .optional("Description", role.description.as_deref())
        .text("MaxSessionDuration", &role.max_session_duration.to_string())
        .close(tag);
}

fn write_key_metadata(xml: &mut Xml, key: &AccessKeyMetadata) {
    xml.open("member")
        .optional("UserName", key.user_name.as_deref())
        .text("AccessKeyId", &key.access_key_id)
        .text("Status", if key.active { "Active" } else { "Inactive" })
        .text("CreateDate", &timestamp(key.created_ms))
        .close("member");
}

fn write_names(xml: &mut Xml, page: &Page<String>) {
    xml.open("PolicyNames");
    for name in &page.items {
        xml.text("member", name);
    }
    xml.close("PolicyNames");
    write_paging(xml, page);
}

fn write_paging<T>(xml: &mut Xml, page: &Page<T>) {
    xml.text(
        "IsTruncated",
        if page.marker.is_some() {
            "true"
        } else {
            "false"
        },
    )
    .optional("Marker", page.marker.as_deref());
}

/// A time as CloudTrail writes dates in IAM and STS `responseElements`
/// ("Sep 22, 2026, 2:36:02 PM").
pub(crate) fn response_date(epoch_ms: i64) -> String {
    keyward_audit::format_response_date(crate::audit::time_of_ms(epoch_ms))
}
