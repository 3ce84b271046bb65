"""CreateAlias, UpdateAlias, DeleteAlias, ListAliases (kms-api.md §2.3, §5, §14 item 19)."""

import time
import uuid

import pytest

import harness
from harness import expect_error, unique, validation_message


def new_key(kms):
    return kms.create_key()["KeyMetadata"]


def all_aliases(kms, **kwargs):
    out = []
    for page in kms.get_paginator("list_aliases").paginate(**kwargs):
        out += page["Aliases"]
    return out


def find_alias(kms, name):
    matches = [a for a in all_aliases(kms) if a["AliasName"] == name]
    assert len(matches) <= 1, matches
    return matches[0] if matches else None


def test_create_alias_and_list_entry_shape(server, kms):
    md = new_key(kms)
    name = f"alias/{unique('shape')}"
    resp = kms.create_alias(AliasName=name, TargetKeyId=md["KeyId"])
    assert resp["ResponseMetadata"]["HTTPStatusCode"] == 200
    entry = find_alias(kms, name)
    assert entry is not None
    assert set(entry) == {"AliasName", "AliasArn", "TargetKeyId", "CreationDate", "LastUpdatedDate"}, entry
    assert entry["AliasName"] == name
    assert entry["AliasArn"] == server.alias_arn(name)
    assert entry["TargetKeyId"] == md["KeyId"]  # bare key id, not the ARN
    assert abs(entry["CreationDate"].timestamp() - time.time()) < 300
    assert entry["LastUpdatedDate"] >= entry["CreationDate"]


def test_create_alias_with_key_arn_target(kms):
    md = new_key(kms)
    name = f"alias/{unique('arn')}"
    kms.create_alias(AliasName=name, TargetKeyId=md["Arn"])
    assert find_alias(kms, name)["TargetKeyId"] == md["KeyId"]


def test_alias_resolves_in_crypto_operations(server, kms):
    md = new_key(kms)
    name = f"alias/{unique('crypto')}"
    kms.create_alias(AliasName=name, TargetKeyId=md["KeyId"])
    for ident in (name, server.alias_arn(name)):
        enc = kms.encrypt(KeyId=ident, Plaintext=b"via alias")
        assert enc["KeyId"] == md["Arn"]
        assert kms.decrypt(CiphertextBlob=enc["CiphertextBlob"], KeyId=ident)["Plaintext"] == b"via alias"


def test_several_aliases_for_one_key_and_key_filter(kms):
    md, other = new_key(kms), new_key(kms)
    names = sorted(f"alias/{unique('multi')}" for _ in range(3))
    for n in names:
        kms.create_alias(AliasName=n, TargetKeyId=md["KeyId"])
    kms.create_alias(AliasName=f"alias/{unique('other')}", TargetKeyId=other["KeyId"])
    for ident in (md["KeyId"], md["Arn"]):
        listed = all_aliases(kms, KeyId=ident)
        assert sorted(a["AliasName"] for a in listed) == names
        assert all(a["TargetKeyId"] == md["KeyId"] for a in listed)


def test_list_aliases_for_key_without_aliases(kms):
    md = new_key(kms)
    resp = kms.list_aliases(KeyId=md["KeyId"])
    assert resp["Aliases"] == [] and resp["Truncated"] is False


def test_list_aliases_for_unknown_key(server, kms):
    missing = str(uuid.uuid4())
    expect_error(kms.list_aliases, "NotFoundException",
                 f"Key '{server.key_arn(missing)}' does not exist", KeyId=missing)


def test_alias_names_are_case_sensitive(kms):
    a, b = new_key(kms), new_key(kms)
    base = unique("Case")
    kms.create_alias(AliasName=f"alias/{base}", TargetKeyId=a["KeyId"])
    kms.create_alias(AliasName=f"alias/{base.lower()}", TargetKeyId=b["KeyId"])
    assert kms.describe_key(KeyId=f"alias/{base}")["KeyMetadata"]["KeyId"] == a["KeyId"]
    assert kms.describe_key(KeyId=f"alias/{base.lower()}")["KeyMetadata"]["KeyId"] == b["KeyId"]


def test_create_alias_that_exists(server, kms):
    a, b = new_key(kms), new_key(kms)
    name = f"alias/{unique('dup')}"
    kms.create_alias(AliasName=name, TargetKeyId=a["KeyId"])
    expect_error(kms.create_alias, "AlreadyExistsException",
                 f"An alias with the name {server.alias_arn(name)} already exists",
                 AliasName=name, TargetKeyId=b["KeyId"])
    assert find_alias(kms, name)["TargetKeyId"] == a["KeyId"]


def test_create_alias_without_prefix(kms):
    md = new_key(kms)
    expect_error(kms.create_alias, "ValidationException",
                 'Alias must start with the prefix "alias/". Please see '
                 "https://docs.aws.amazon.com/kms/latest/developerguide/kms-alias.html",
                 AliasName=unique("noprefix"), TargetKeyId=md["KeyId"])


@pytest.mark.parametrize("name", ["alias/aws/mine", "alias/aws/s3"])
def test_create_alias_reserved_aws_prefix(kms, name):
    md = new_key(kms)
    # AWS's exact code is not documented (kms-api.md §15); it must be a client error.
    try:
        kms.create_alias(AliasName=name, TargetKeyId=md["KeyId"])
    except kms.exceptions.ClientError as e:
        code = e.response["Error"]["Code"]
        assert e.response["ResponseMetadata"]["HTTPStatusCode"] == 400
        assert code in ("NotAuthorizedException", "InvalidAliasNameException",
                        "ValidationException", "AccessDeniedException"), code
    else:
        pytest.fail(f"{name} was accepted")
    assert find_alias(kms, name) is None


def test_create_alias_invalid_characters(kms):
    md = new_key(kms)
    name = "alias/bad name!"
    expect_error(kms.create_alias, "ValidationException",
                 validation_message(name, "aliasName",
                                    "Member must satisfy regular expression pattern: ^[a-zA-Z0-9:/_-]+$"),
                 AliasName=name, TargetKeyId=md["KeyId"])


def test_create_alias_name_length_limit(kms):
    md = new_key(kms)
    ok = "alias/" + "a" * 250
    kms.create_alias(AliasName=ok, TargetKeyId=md["KeyId"])
    too_long = "alias/" + "b" * 251
    expect_error(kms.create_alias, "ValidationException",
                 validation_message(too_long, "aliasName",
                                    "Member must have length less than or equal to 256"),
                 AliasName=too_long, TargetKeyId=md["KeyId"])


def test_create_alias_unknown_target(server, kms):
    missing = str(uuid.uuid4())
    expect_error(kms.create_alias, "NotFoundException",
                 f"Key '{server.key_arn(missing)}' does not exist",
                 AliasName=f"alias/{unique('nokey')}", TargetKeyId=missing)


def test_create_alias_target_must_be_a_key_not_an_alias(kms):
    md = new_key(kms)
    first = f"alias/{unique('first')}"
    kms.create_alias(AliasName=first, TargetKeyId=md["KeyId"])
    second = f"alias/{unique('second')}"
    expect_error(kms.create_alias, "NotFoundException", AliasName=second, TargetKeyId=first)
    assert find_alias(kms, second) is None


def test_update_alias_repoints(server, kms):
    a, b = new_key(kms), new_key(kms)
    name = f"alias/{unique('upd')}"
    kms.create_alias(AliasName=name, TargetKeyId=a["KeyId"])
    before = find_alias(kms, name)
    resp = kms.update_alias(AliasName=name, TargetKeyId=b["KeyId"])
    assert resp["ResponseMetadata"]["HTTPStatusCode"] == 200
    after = find_alias(kms, name)
    assert after["TargetKeyId"] == b["KeyId"]
    assert after["AliasArn"] == before["AliasArn"]
    assert after["CreationDate"] == before["CreationDate"]
    assert after["LastUpdatedDate"] >= before["LastUpdatedDate"]
    assert kms.encrypt(KeyId=name, Plaintext=b"x")["KeyId"] == b["Arn"]
    assert all_aliases(kms, KeyId=a["KeyId"]) == []


def test_update_alias_with_key_arn(kms):
    a, b = new_key(kms), new_key(kms)
    name = f"alias/{unique('updarn')}"
    kms.create_alias(AliasName=name, TargetKeyId=a["KeyId"])
    kms.update_alias(AliasName=name, TargetKeyId=b["Arn"])
    assert find_alias(kms, name)["TargetKeyId"] == b["KeyId"]


def test_update_alias_that_does_not_exist(server, kms):
    md = new_key(kms)
    name = f"alias/{unique('ghost')}"
    expect_error(kms.update_alias, "NotFoundException",
                 f"Alias {server.alias_arn(name)} is not found.",
                 AliasName=name, TargetKeyId=md["KeyId"])


def test_update_alias_to_unknown_key(server, kms):
    md = new_key(kms)
    name = f"alias/{unique('upd404')}"
    kms.create_alias(AliasName=name, TargetKeyId=md["KeyId"])
    missing = str(uuid.uuid4())
    expect_error(kms.update_alias, "NotFoundException",
                 f"Key '{server.key_arn(missing)}' does not exist",
                 AliasName=name, TargetKeyId=missing)
    assert find_alias(kms, name)["TargetKeyId"] == md["KeyId"]


def test_update_alias_to_pending_deletion_key(kms):
    a, b = new_key(kms), new_key(kms)
    name = f"alias/{unique('updpd')}"
    kms.create_alias(AliasName=name, TargetKeyId=a["KeyId"])
    kms.schedule_key_deletion(KeyId=b["KeyId"], PendingWindowInDays=7)
    expect_error(kms.update_alias, "KMSInvalidStateException",
                 harness.pending_deletion_message(b["Arn"]),
                 AliasName=name, TargetKeyId=b["KeyId"])


def test_update_alias_away_from_pending_deletion_key(kms):
    a, b = new_key(kms), new_key(kms)
    name = f"alias/{unique('updsrc')}"
    kms.create_alias(AliasName=name, TargetKeyId=a["KeyId"])
    kms.schedule_key_deletion(KeyId=a["KeyId"], PendingWindowInDays=7)
    kms.update_alias(AliasName=name, TargetKeyId=b["KeyId"])
    assert find_alias(kms, name)["TargetKeyId"] == b["KeyId"]


def test_alias_to_disabled_key(kms):
    md = new_key(kms)
    kms.disable_key(KeyId=md["KeyId"])
    name = f"alias/{unique('dis')}"
    kms.create_alias(AliasName=name, TargetKeyId=md["KeyId"])
    expect_error(kms.encrypt, "DisabledException", harness.disabled_message(md["Arn"]),
                 KeyId=name, Plaintext=b"x")


def test_delete_alias(kms):
    md = new_key(kms)
    name = f"alias/{unique('del')}"
    kms.create_alias(AliasName=name, TargetKeyId=md["KeyId"])
    resp = kms.delete_alias(AliasName=name)
    assert resp["ResponseMetadata"]["HTTPStatusCode"] == 200
    assert find_alias(kms, name) is None
    # the key is unaffected, the name is free again
    assert kms.describe_key(KeyId=md["KeyId"])["KeyMetadata"]["KeyState"] == "Enabled"
    kms.create_alias(AliasName=name, TargetKeyId=md["KeyId"])
    assert find_alias(kms, name)["TargetKeyId"] == md["KeyId"]


def test_delete_alias_that_does_not_exist(server, kms):
    name = f"alias/{unique('nodel')}"
    expect_error(kms.delete_alias, "NotFoundException",
                 f"Alias {server.alias_arn(name)} is not found.", AliasName=name)


def test_deleted_alias_no_longer_resolves(server, kms):
    md = new_key(kms)
    name = f"alias/{unique('gone')}"
    kms.create_alias(AliasName=name, TargetKeyId=md["KeyId"])
    kms.delete_alias(AliasName=name)
    expect_error(kms.encrypt, "NotFoundException", f"Alias {server.alias_arn(name)} is not found.",
                 KeyId=name, Plaintext=b"x")


def test_delete_alias_of_pending_deletion_key(kms):
    md = new_key(kms)
    name = f"alias/{unique('delpd')}"
    kms.create_alias(AliasName=name, TargetKeyId=md["KeyId"])
    kms.schedule_key_deletion(KeyId=md["KeyId"], PendingWindowInDays=7)
    kms.delete_alias(AliasName=name)
    assert find_alias(kms, name) is None


def test_list_aliases_paging(server_factory):
    s = server_factory.start()
    kms = harness.kms_client(s)
    md = kms.create_key()["KeyMetadata"]
    names = {f"alias/page-{i}" for i in range(5)}
    for n in names:
        kms.create_alias(AliasName=n, TargetKeyId=md["KeyId"])
    pages, resp = [], kms.list_aliases(Limit=2)
    pages.append(resp)
    while resp["Truncated"]:
        assert resp["NextMarker"]
        resp = kms.list_aliases(Limit=2, Marker=resp["NextMarker"])
        pages.append(resp)
    assert "NextMarker" not in pages[-1]
    seen = [a["AliasName"] for p in pages for a in p["Aliases"]]
    assert len(seen) == len(set(seen))
    # AWS-managed aliases may also be listed; ours must all be there exactly once.
    assert names <= set(seen)
    assert all(len(p["Aliases"]) <= 2 for p in pages)
    assert all(p["Truncated"] for p in pages[:-1])
    only_key = kms.list_aliases(KeyId=md["KeyId"], Limit=3)
    assert len(only_key["Aliases"]) == 3 and only_key["Truncated"] is True
    rest = kms.list_aliases(KeyId=md["KeyId"], Limit=3, Marker=only_key["NextMarker"])
    assert len(rest["Aliases"]) == 2 and rest["Truncated"] is False
    assert {a["AliasName"] for a in only_key["Aliases"] + rest["Aliases"]} == names


def test_list_aliases_default_page_size_is_50(server_factory):
    s = server_factory.start()
    kms = harness.kms_client(s)
    keys = [kms.create_key()["KeyMetadata"]["KeyId"] for _ in range(2)]  # 50 aliases per key max
    for i in range(55):
        kms.create_alias(AliasName=f"alias/default-page-{i:02d}", TargetKeyId=keys[i % 2])
    first = kms.list_aliases()
    ours = [a for a in first["Aliases"] if a["AliasName"].startswith("alias/default-page-")]
    assert len(first["Aliases"]) == 50 and first["Truncated"] is True, len(first["Aliases"])
    rest = all_aliases(kms, Marker=first["NextMarker"]) if first["Truncated"] else []
    names = [a["AliasName"] for a in first["Aliases"] + rest]
    assert len(names) == len(set(names))
    assert {n for n in names if n.startswith("alias/default-page-")} == \
        {f"alias/default-page-{i:02d}" for i in range(55)}
    assert len(ours) <= 50


def test_paging_continues_after_the_last_seen_alias_is_deleted(server_factory):
    s = server_factory.start()
    kms = harness.kms_client(s)
    md = kms.create_key()["KeyMetadata"]
    names = [f"alias/marker-{i}" for i in range(6)]
    for n in names:
        kms.create_alias(AliasName=n, TargetKeyId=md["KeyId"])
    page1 = kms.list_aliases(KeyId=md["KeyId"], Limit=2)
    seen = [a["AliasName"] for a in page1["Aliases"]]
    kms.delete_alias(AliasName=seen[-1])
    rest = all_aliases(kms, KeyId=md["KeyId"], Marker=page1["NextMarker"])
    rest_names = [a["AliasName"] for a in rest]
    assert not set(rest_names) & set(seen), (seen, rest_names)
    assert sorted(seen + rest_names) == sorted(names)


def test_at_most_50_aliases_per_key(kms):
    md = kms.create_key()["KeyMetadata"]
    for i in range(50):
        kms.create_alias(AliasName=f"alias/{md['KeyId']}-{i}", TargetKeyId=md["KeyId"])
    expect_error(kms.create_alias, "LimitExceededException", AliasName=f"alias/{md['KeyId']}-50",
                 TargetKeyId=md["KeyId"])
    other = kms.create_key()["KeyMetadata"]
    kms.create_alias(AliasName=f"alias/{md['KeyId']}-moved", TargetKeyId=other["KeyId"])
    expect_error(kms.update_alias, "LimitExceededException",
                 AliasName=f"alias/{md['KeyId']}-moved", TargetKeyId=md["KeyId"])


@pytest.mark.parametrize("suffix", ["a:b/c_d-e", "UPPER/lower/123", "x", "c" * 250])
def test_alias_name_character_set(kms, suffix):
    md = kms.create_key()["KeyMetadata"]
    name = f"alias/{suffix}"
    kms.create_alias(AliasName=name, TargetKeyId=md["KeyId"])
    assert kms.describe_key(KeyId=name)["KeyMetadata"]["KeyId"] == md["KeyId"]
    kms.delete_alias(AliasName=name)
