"""ScheduleKeyDeletion / CancelKeyDeletion and deletion at the end of the waiting period,
driven by the dev clock (kms-api.md §2.1, §4, §10, §14 item 11)."""

import uuid

import pytest

import harness
from harness import advance_clock, expect_error, server_now, unique

DAY = 86400


def new_key(kms):
    return kms.create_key()["KeyMetadata"]


def listed_key_ids(kms):
    return {e["KeyId"] for p in kms.get_paginator("list_keys").paginate() for e in p["Keys"]}


def listed_alias_names(kms):
    return {a["AliasName"] for p in kms.get_paginator("list_aliases").paginate()
            for a in p["Aliases"]}


def test_schedule_key_deletion_default_window(dev_server, dev_kms):
    md = new_key(dev_kms)
    t0 = server_now(dev_server)
    resp = dev_kms.schedule_key_deletion(KeyId=md["KeyId"])
    t1 = server_now(dev_server)
    assert set(resp) - {"ResponseMetadata"} == {"KeyId", "DeletionDate", "KeyState",
                                                "PendingWindowInDays"}
    assert resp["KeyId"] == md["Arn"]
    assert resp["KeyState"] == "PendingDeletion"
    assert resp["PendingWindowInDays"] == 30
    when = resp["DeletionDate"].timestamp()
    assert t0 + 30 * DAY - 1 <= when <= t1 + 30 * DAY + 1, (t0, when, t1)
    d = dev_kms.describe_key(KeyId=md["KeyId"])["KeyMetadata"]
    assert (d["KeyState"], d["Enabled"]) == ("PendingDeletion", False)
    assert d["DeletionDate"] == resp["DeletionDate"]


@pytest.mark.parametrize("days", [7, 8, 29, 30])
def test_schedule_key_deletion_window(dev_server, dev_kms, days):
    md = new_key(dev_kms)
    t0 = server_now(dev_server)
    resp = dev_kms.schedule_key_deletion(KeyId=md["Arn"], PendingWindowInDays=days)
    assert resp["PendingWindowInDays"] == days
    assert abs(resp["DeletionDate"].timestamp() - (t0 + days * DAY)) < 60


@pytest.mark.parametrize("days", [0, 1, 6, 31, 365, 366])
def test_schedule_key_deletion_window_out_of_range(dev_server, dev_kms, days):
    md = new_key(dev_kms)
    unvalidated = harness.kms_client(dev_server, validate=False)
    # AWS's message for 7..30 violations is not documented (kms-api.md §15): code only.
    expect_error(unvalidated.schedule_key_deletion, "ValidationException", KeyId=md["KeyId"],
                 PendingWindowInDays=days)
    assert dev_kms.describe_key(KeyId=md["KeyId"])["KeyMetadata"]["KeyState"] == "Enabled"


def test_schedule_key_deletion_of_disabled_key(dev_kms):
    md = new_key(dev_kms)
    dev_kms.disable_key(KeyId=md["KeyId"])
    resp = dev_kms.schedule_key_deletion(KeyId=md["KeyId"], PendingWindowInDays=7)
    assert resp["KeyState"] == "PendingDeletion"


def test_schedule_key_deletion_unknown_key(dev_server, dev_kms):
    missing = str(uuid.uuid4())
    expect_error(dev_kms.schedule_key_deletion, "NotFoundException",
                 f"Key '{dev_server.key_arn(missing)}' does not exist", KeyId=missing)


def test_cancel_key_deletion_leaves_key_disabled(dev_kms):
    md = new_key(dev_kms)
    ct = dev_kms.encrypt(KeyId=md["KeyId"], Plaintext=b"keep")["CiphertextBlob"]
    dev_kms.schedule_key_deletion(KeyId=md["KeyId"], PendingWindowInDays=7)
    resp = dev_kms.cancel_key_deletion(KeyId=md["Arn"])
    assert set(resp) - {"ResponseMetadata"} == {"KeyId"}
    assert resp["KeyId"] == md["Arn"]
    d = dev_kms.describe_key(KeyId=md["KeyId"])["KeyMetadata"]
    assert (d["KeyState"], d["Enabled"]) == ("Disabled", False)
    assert "DeletionDate" not in d
    expect_error(dev_kms.decrypt, "DisabledException", harness.disabled_message(md["Arn"]),
                 CiphertextBlob=ct)
    dev_kms.enable_key(KeyId=md["KeyId"])
    assert dev_kms.decrypt(CiphertextBlob=ct)["Plaintext"] == b"keep"


def test_cancel_key_deletion_unknown_key(dev_server, dev_kms):
    missing = str(uuid.uuid4())
    expect_error(dev_kms.cancel_key_deletion, "NotFoundException",
                 f"Key '{dev_server.key_arn(missing)}' does not exist", KeyId=missing)


def test_key_is_deleted_after_the_window(dev_server, dev_kms):
    md = new_key(dev_kms)
    k = md["KeyId"]
    alias = f"alias/{unique('doomed')}"
    dev_kms.create_alias(AliasName=alias, TargetKeyId=k)
    ct = dev_kms.encrypt(KeyId=k, Plaintext=b"soon unreadable")["CiphertextBlob"]
    when = dev_kms.schedule_key_deletion(KeyId=k, PendingWindowInDays=7)["DeletionDate"].timestamp()

    advance_clock(dev_server, when - server_now(dev_server) - 60)  # a minute early
    assert dev_kms.describe_key(KeyId=k)["KeyMetadata"]["KeyState"] == "PendingDeletion"
    assert k in listed_key_ids(dev_kms)

    advance_clock(dev_server, 120)  # a minute late
    not_found = f"Key '{md['Arn']}' does not exist"
    expect_error(dev_kms.describe_key, "NotFoundException", not_found, KeyId=k)
    expect_error(dev_kms.describe_key, "NotFoundException", not_found, KeyId=md["Arn"])
    expect_error(dev_kms.cancel_key_deletion, "NotFoundException", not_found, KeyId=k)
    expect_error(dev_kms.get_key_policy, "NotFoundException", not_found, KeyId=k,
                 PolicyName="default")
    expect_error(dev_kms.list_resource_tags, "NotFoundException", not_found, KeyId=k)
    expect_error(dev_kms.encrypt, "NotFoundException", not_found, KeyId=k, Plaintext=b"x")
    assert k not in listed_key_ids(dev_kms)
    # its aliases went with it, and the name can be reused
    assert alias not in listed_alias_names(dev_kms)
    expect_error(dev_kms.describe_key, "NotFoundException",
                 f"Alias {dev_server.alias_arn(alias)} is not found.", KeyId=alias)
    other = new_key(dev_kms)
    dev_kms.create_alias(AliasName=alias, TargetKeyId=other["KeyId"])
    # old ciphertexts can no longer be decrypted
    with pytest.raises(dev_kms.exceptions.ClientError) as err:
        dev_kms.decrypt(CiphertextBlob=ct)
    assert err.value.response["ResponseMetadata"]["HTTPStatusCode"] == 400
    assert err.value.response["Error"]["Code"] in (
        "NotFoundException", "InvalidCiphertextException", "AccessDeniedException"), err.value.response


def test_cancelled_key_is_not_deleted_later(dev_server, dev_kms):
    md = new_key(dev_kms)
    dev_kms.schedule_key_deletion(KeyId=md["KeyId"], PendingWindowInDays=7)
    advance_clock(dev_server, 6 * DAY)
    dev_kms.cancel_key_deletion(KeyId=md["KeyId"])
    advance_clock(dev_server, 2 * DAY)
    assert dev_kms.describe_key(KeyId=md["KeyId"])["KeyMetadata"]["KeyState"] == "Disabled"


def test_rescheduling_after_cancel_starts_a_new_window(dev_server, dev_kms):
    md = new_key(dev_kms)
    dev_kms.schedule_key_deletion(KeyId=md["KeyId"], PendingWindowInDays=7)
    advance_clock(dev_server, 5 * DAY)
    dev_kms.cancel_key_deletion(KeyId=md["KeyId"])
    t0 = server_now(dev_server)
    when = dev_kms.schedule_key_deletion(KeyId=md["KeyId"], PendingWindowInDays=7)["DeletionDate"]
    assert abs(when.timestamp() - (t0 + 7 * DAY)) < 60
    advance_clock(dev_server, 3 * DAY)  # 8 days after the first schedule, 3 into the new one
    assert dev_kms.describe_key(KeyId=md["KeyId"])["KeyMetadata"]["KeyState"] == "PendingDeletion"


def test_deleting_one_key_leaves_others_alone(dev_server, dev_kms):
    doomed, kept = new_key(dev_kms), new_key(dev_kms)
    ct = dev_kms.encrypt(KeyId=kept["KeyId"], Plaintext=b"kept")["CiphertextBlob"]
    dev_kms.schedule_key_deletion(KeyId=doomed["KeyId"], PendingWindowInDays=7)
    advance_clock(dev_server, 7 * DAY + 60)
    expect_error(dev_kms.describe_key, "NotFoundException", KeyId=doomed["KeyId"])
    assert dev_kms.decrypt(CiphertextBlob=ct)["Plaintext"] == b"kept"
