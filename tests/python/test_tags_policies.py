"""TagResource, UntagResource, ListResourceTags; GetKeyPolicy, PutKeyPolicy, ListKeyPolicies
(kms-api.md §2.5, §2.7, §8.1, §13.2)."""

import json
import uuid

import pytest

import harness
from harness import expect_error, validation_message


def new_key(kms, **kwargs):
    return kms.create_key(**kwargs)["KeyMetadata"]


def tags_of(kms, key_id):
    out = []
    for page in kms.get_paginator("list_resource_tags").paginate(KeyId=key_id):
        out += page["Tags"]
    return {t["TagKey"]: t["TagValue"] for t in out}


def key_count(kms):
    return sum(len(p["Keys"]) for p in kms.get_paginator("list_keys").paginate())


# -- tags -------------------------------------------------------------------------

def test_new_key_has_no_tags(kms):
    md = new_key(kms)
    resp = kms.list_resource_tags(KeyId=md["KeyId"])
    assert resp["Tags"] == [] and resp["Truncated"] is False and "NextMarker" not in resp


def test_create_key_with_tags(kms):
    md = new_key(kms, Tags=[{"TagKey": "env", "TagValue": "test"},
                            {"TagKey": "owner", "TagValue": ""}])
    assert tags_of(kms, md["KeyId"]) == {"env": "test", "owner": ""}
    resp = kms.list_resource_tags(KeyId=md["KeyId"])
    for t in resp["Tags"]:
        assert set(t) == {"TagKey", "TagValue"}, t


def test_tag_resource_adds_and_overwrites(kms):
    md = new_key(kms)
    resp = kms.tag_resource(KeyId=md["KeyId"], Tags=[{"TagKey": "a", "TagValue": "1"},
                                                     {"TagKey": "b", "TagValue": "2"}])
    assert resp["ResponseMetadata"]["HTTPStatusCode"] == 200
    kms.tag_resource(KeyId=md["Arn"], Tags=[{"TagKey": "b", "TagValue": "two"},
                                            {"TagKey": "c", "TagValue": "3"}])
    assert tags_of(kms, md["KeyId"]) == {"a": "1", "b": "two", "c": "3"}


def test_tag_keys_are_case_sensitive(kms):
    md = new_key(kms)
    kms.tag_resource(KeyId=md["KeyId"], Tags=[{"TagKey": "Env", "TagValue": "1"},
                                              {"TagKey": "env", "TagValue": "2"}])
    assert tags_of(kms, md["KeyId"]) == {"Env": "1", "env": "2"}


def test_untag_resource(kms):
    md = new_key(kms, Tags=[{"TagKey": k, "TagValue": k.upper()} for k in ("a", "b", "c")])
    resp = kms.untag_resource(KeyId=md["KeyId"], TagKeys=["a", "c"])
    assert resp["ResponseMetadata"]["HTTPStatusCode"] == 200
    assert tags_of(kms, md["KeyId"]) == {"b": "B"}


def test_untag_missing_tag_key_is_a_no_op(kms):
    md = new_key(kms, Tags=[{"TagKey": "keep", "TagValue": "me"}])
    kms.untag_resource(KeyId=md["KeyId"], TagKeys=["never-set"])
    assert tags_of(kms, md["KeyId"]) == {"keep": "me"}


@pytest.mark.parametrize("op", ["tag_resource", "untag_resource", "list_resource_tags"])
def test_tag_operations_on_unknown_key(server, kms, op):
    missing = str(uuid.uuid4())
    kwargs = {"tag_resource": {"Tags": [{"TagKey": "a", "TagValue": "b"}]},
              "untag_resource": {"TagKeys": ["a"]}, "list_resource_tags": {}}[op]
    expect_error(getattr(kms, op), "NotFoundException",
                 f"Key '{server.key_arn(missing)}' does not exist", KeyId=missing, **kwargs)


@pytest.mark.parametrize("tag_key", ["aws:owner", "AWS:owner", "Aws:x", "aws:"])
def test_aws_prefix_is_reserved(kms, tag_key):
    md = new_key(kms)
    expect_error(kms.tag_resource, "TagException", "Tags beginning with aws: are reserved",
                 KeyId=md["KeyId"], Tags=[{"TagKey": tag_key, "TagValue": "v"}])
    assert tags_of(kms, md["KeyId"]) == {}


def test_aws_prefix_is_reserved_on_create_key(kms):
    before = key_count(kms)
    expect_error(kms.create_key, "TagException", "Tags beginning with aws: are reserved",
                 Tags=[{"TagKey": "aws:x", "TagValue": "v"}])
    assert key_count(kms) == before, "a key was created although CreateKey failed"


def test_aws_in_the_middle_of_a_tag_key_is_fine(kms):
    md = new_key(kms)
    kms.tag_resource(KeyId=md["KeyId"], Tags=[{"TagKey": "my-aws:key", "TagValue": "v"}])
    assert tags_of(kms, md["KeyId"]) == {"my-aws:key": "v"}


def test_at_most_50_tags(kms):
    md = new_key(kms)
    kms.tag_resource(KeyId=md["KeyId"],
                     Tags=[{"TagKey": f"k{i}", "TagValue": str(i)} for i in range(50)])
    assert len(tags_of(kms, md["KeyId"])) == 50
    # overwriting existing tags does not count against the limit
    kms.tag_resource(KeyId=md["KeyId"], Tags=[{"TagKey": "k0", "TagValue": "new"}])
    expect_error(kms.tag_resource, "TagException", "Too many tags",
                 KeyId=md["KeyId"], Tags=[{"TagKey": "k50", "TagValue": "x"}])
    tags = tags_of(kms, md["KeyId"])
    assert len(tags) == 50 and tags["k0"] == "new" and "k50" not in tags


def test_more_than_50_tags_in_one_request(kms):
    md = new_key(kms)
    expect_error(kms.tag_resource, "TagException", "Too many tags", KeyId=md["KeyId"],
                 Tags=[{"TagKey": f"k{i}", "TagValue": "v"} for i in range(51)])
    assert tags_of(kms, md["KeyId"]) == {}


def test_more_than_50_tags_on_create_key(kms):
    before = key_count(kms)
    expect_error(kms.create_key, "TagException", "Too many tags",
                 Tags=[{"TagKey": f"k{i}", "TagValue": "v"} for i in range(51)])
    assert key_count(kms) == before


def test_duplicate_tag_keys_in_one_request(kms):
    md = new_key(kms)
    expect_error(kms.tag_resource, "TagException", "Duplicate tag keys", KeyId=md["KeyId"],
                 Tags=[{"TagKey": "d", "TagValue": "1"}, {"TagKey": "d", "TagValue": "2"}])


def test_tag_length_limits(kms_raw):
    md = new_key(kms_raw)
    k = md["KeyId"]
    kms_raw.tag_resource(KeyId=k, Tags=[{"TagKey": "k" * 128, "TagValue": "v" * 256}])
    long_key = "k" * 129
    expect_error(kms_raw.tag_resource, "ValidationException",
                 validation_message(long_key, "tags.1.member.tagKey",
                                    "Member must have length less than or equal to 128"),
                 KeyId=k, Tags=[{"TagKey": long_key, "TagValue": "v"}])
    long_value = "v" * 257
    expect_error(kms_raw.tag_resource, "ValidationException",
                 validation_message(long_value, "tags.1.member.tagValue",
                                    "Member must have length less than or equal to 256"),
                 KeyId=k, Tags=[{"TagKey": "ok", "TagValue": long_value}])
    expect_error(kms_raw.tag_resource, "ValidationException",
                 validation_message("", "tags.1.member.tagKey",
                                    "Member must have length greater than or equal to 1"),
                 KeyId=k, Tags=[{"TagKey": "", "TagValue": "v"}])
    assert tags_of(kms_raw, k) == {"k" * 128: "v" * 256}


def test_list_resource_tags_paging(kms):
    md = new_key(kms, Tags=[{"TagKey": f"p{i}", "TagValue": str(i)} for i in range(5)])
    pages, resp = [], kms.list_resource_tags(KeyId=md["KeyId"], Limit=2)
    pages.append(resp)
    while resp["Truncated"]:
        assert resp["NextMarker"]
        resp = kms.list_resource_tags(KeyId=md["KeyId"], Limit=2, Marker=resp["NextMarker"])
        pages.append(resp)
    assert [len(p["Tags"]) for p in pages] == [2, 2, 1]
    assert "NextMarker" not in pages[-1]
    assert {t["TagKey"] for p in pages for t in p["Tags"]} == {f"p{i}" for i in range(5)}


def test_tags_on_disabled_key(kms):
    md = new_key(kms)
    kms.disable_key(KeyId=md["KeyId"])
    kms.tag_resource(KeyId=md["KeyId"], Tags=[{"TagKey": "d", "TagValue": "1"}])
    assert tags_of(kms, md["KeyId"]) == {"d": "1"}


# -- key policies ----------------------------------------------------------------------

def default_policy(account):
    return (
        '{\n'
        '  "Version" : "2012-10-17",\n'
        '  "Id" : "key-default-1",\n'
        '  "Statement" : [ {\n'
        '    "Sid" : "Enable IAM User Permissions",\n'
        '    "Effect" : "Allow",\n'
        '    "Principal" : {\n'
        f'      "AWS" : "arn:aws:iam::{account}:root"\n'
        '    },\n'
        '    "Action" : "kms:*",\n'
        '    "Resource" : "*"\n'
        '  } ]\n'
        '}'
    )


def test_default_key_policy_text(server, kms):
    md = new_key(kms)
    resp = kms.get_key_policy(KeyId=md["KeyId"], PolicyName="default")
    assert resp["Policy"] == default_policy(server.account)
    assert resp.get("PolicyName", "default") == "default"


def test_default_key_policy_is_valid_json_with_the_expected_statement(server, kms):
    md = new_key(kms)
    doc = json.loads(kms.get_key_policy(KeyId=md["Arn"], PolicyName="default")["Policy"])
    assert doc == {
        "Version": "2012-10-17", "Id": "key-default-1",
        "Statement": [{"Sid": "Enable IAM User Permissions", "Effect": "Allow",
                       "Principal": {"AWS": f"arn:aws:iam::{server.account}:root"},
                       "Action": "kms:*", "Resource": "*"}]}


def test_get_key_policy_without_policy_name(server, kms):
    md = new_key(kms)
    resp = kms.get_key_policy(KeyId=md["KeyId"])
    assert resp["Policy"] == default_policy(server.account)


def test_get_key_policy_unknown_key(server, kms):
    missing = str(uuid.uuid4())
    expect_error(kms.get_key_policy, "NotFoundException",
                 f"Key '{server.key_arn(missing)}' does not exist", KeyId=missing,
                 PolicyName="default")


def test_list_key_policies(kms):
    md = new_key(kms)
    resp = kms.list_key_policies(KeyId=md["KeyId"])
    assert resp["PolicyNames"] == ["default"]
    assert resp["Truncated"] is False and "NextMarker" not in resp


def test_put_key_policy_round_trip(server, kms):
    md = new_key(kms)
    policy = {
        "Version": "2012-10-17",
        "Id": "custom-policy",
        "Statement": [
            {"Sid": "Root", "Effect": "Allow",
             "Principal": {"AWS": f"arn:aws:iam::{server.account}:root"},
             "Action": "kms:*", "Resource": "*"},
            {"Sid": "Second statement", "Effect": "Allow",
             "Principal": {"AWS": f"arn:aws:iam::{server.account}:root"},
             "Action": ["kms:Encrypt", "kms:Decrypt"], "Resource": "*"},
        ],
    }
    text = json.dumps(policy, indent=2)
    resp = kms.put_key_policy(KeyId=md["KeyId"], PolicyName="default", Policy=text)
    assert resp["ResponseMetadata"]["HTTPStatusCode"] == 200
    got = kms.get_key_policy(KeyId=md["KeyId"], PolicyName="default")["Policy"]
    assert json.loads(got) == policy
    # the key still works for its owner
    kms.encrypt(KeyId=md["KeyId"], Plaintext=b"still allowed")


def test_put_key_policy_malformed_json(kms):
    md = new_key(kms)
    expect_error(kms.put_key_policy, "MalformedPolicyDocumentException",
                 KeyId=md["KeyId"], PolicyName="default", Policy='{"Version": "2012-10-17", ')
    assert json.loads(kms.get_key_policy(KeyId=md["KeyId"])["Policy"])["Id"] == "key-default-1"


# Statement shape (issue 17, item 4). AWS KMS answers "Policy contains a statement with no
# principal."; since August 2025 it also refuses statements without Action/NotAction or
# Resource/NotResource (kms/src/ops/tags_policies.rs cites the notice), with no published
# message text, so keyward names the statement and the missing element.
SHAPE_ERRORS = [
    ("no principal", {"Effect": "Allow", "Action": "kms:*", "Resource": "*"},
     "Policy contains a statement with no principal."),
    ("no action", {"Sid": "NoAction", "Effect": "Allow", "Principal": "ROOT", "Resource": "*"},
     'Statement[1] (Sid "NoAction"): the statement has neither Action nor NotAction'),
    ("no resource", {"Effect": "Deny", "Principal": {"AWS": "*"}, "Action": "kms:Decrypt"},
     "Statement[1]: the statement has neither Resource nor NotResource"),
    ("no effect", {"Principal": "ROOT", "Action": "kms:*", "Resource": "*"},
     'Statement[1]: the statement has no Effect; it must be "Allow" or "Deny"'),
]


def shaped_policy(account, statement):
    root = {"AWS": f"arn:aws:iam::{account}:root"}
    statement = {k: (root if v == "ROOT" else v) for k, v in statement.items()}
    return json.dumps({"Version": "2012-10-17", "Statement": [
        {"Sid": "Root", "Effect": "Allow", "Principal": root, "Action": "kms:*", "Resource": "*"},
        statement]})


@pytest.mark.parametrize("case,statement,message", SHAPE_ERRORS, ids=[c[0] for c in SHAPE_ERRORS])
def test_put_key_policy_refuses_incomplete_statements(server, kms, case, statement, message):
    md = new_key(kms)
    expect_error(kms.put_key_policy, "MalformedPolicyDocumentException", message,
                 KeyId=md["KeyId"], PolicyName="default",
                 Policy=shaped_policy(server.account, statement))
    assert json.loads(kms.get_key_policy(KeyId=md["KeyId"])["Policy"])["Id"] == "key-default-1"


@pytest.mark.parametrize("case,statement,message", SHAPE_ERRORS, ids=[c[0] for c in SHAPE_ERRORS])
def test_create_key_refuses_incomplete_statements(server, kms, case, statement, message):
    before = key_count(kms)
    expect_error(kms.create_key, "MalformedPolicyDocumentException", message,
                 Policy=shaped_policy(server.account, statement))
    assert key_count(kms) == before


def test_not_action_and_not_resource_complete_a_statement(server, kms, aws):
    policy = shaped_policy(server.account, {"Effect": "Deny", "Principal": {"AWS": "*"},
                                            "NotAction": ["kms:Describe*", "kms:PutKeyPolicy"],
                                            "NotResource": "arn:aws:s3:::x"})
    done = aws("kms", "create-key", "--policy", policy)
    assert done.returncode == 0, done
    key_id = done.json["KeyMetadata"]["KeyId"]
    # The Deny applies to all but Describe* and PutKeyPolicy: the key can be described, not used.
    kms.describe_key(KeyId=key_id)
    expect_error(kms.encrypt, "AccessDeniedException", KeyId=key_id, Plaintext=b"x")


def test_put_key_policy_on_pending_deletion_key(server, kms):
    md = new_key(kms)
    kms.schedule_key_deletion(KeyId=md["KeyId"], PendingWindowInDays=7)
    policy = json.loads(default_policy(server.account))
    policy["Id"] = "while-pending"
    kms.put_key_policy(KeyId=md["KeyId"], PolicyName="default", Policy=json.dumps(policy))
    assert json.loads(kms.get_key_policy(KeyId=md["KeyId"])["Policy"])["Id"] == "while-pending"


def test_create_key_with_policy(server, kms):
    policy = json.loads(default_policy(server.account))
    policy["Id"] = "given-at-create"
    md = new_key(kms, Policy=json.dumps(policy))
    assert json.loads(kms.get_key_policy(KeyId=md["KeyId"])["Policy"]) == policy
