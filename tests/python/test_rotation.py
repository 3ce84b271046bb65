"""Key rotation: EnableKeyRotation/DisableKeyRotation/GetKeyRotationStatus, RotateKeyOnDemand,
ListKeyRotations, automatic rotation driven by the dev clock (kms-api.md §2.6, §9)."""

import re
import time
import uuid

import pytest

import harness
from harness import advance_clock, expect_error, server_now, validation_message

DAY = 86400


def new_key(kms):
    return kms.create_key()["KeyMetadata"]


def material_id(kms, key_id):
    return kms.describe_key(KeyId=key_id)["KeyMetadata"]["CurrentKeyMaterialId"]


def rotations(kms, key_id, **kwargs):
    out = []
    for page in kms.get_paginator("list_key_rotations").paginate(KeyId=key_id, **kwargs):
        out += page["Rotations"]
    return out


def wait_for_rotations(kms, key_id, count, timeout=15.0):
    """RotateKeyOnDemand may complete in the background: poll ListKeyRotations."""
    deadline = time.monotonic() + timeout
    while True:
        got = rotations(kms, key_id)
        if len(got) >= count:
            assert len(got) == count, got
            return got
        if time.monotonic() > deadline:
            pytest.fail(f"expected {count} rotations of {key_id}, have {len(got)}: {got}")
        time.sleep(0.05)


def rotate_now(kms, key_id):
    before = len(rotations(kms, key_id))
    resp = kms.rotate_key_on_demand(KeyId=key_id)
    wait_for_rotations(kms, key_id, before + 1)
    return resp


def check_key_id_field(value, md):
    # AWS documents neither form for these outputs (kms-api.md §15): accept id or ARN.
    assert value in (md["KeyId"], md["Arn"]), value


# -- status, enable, disable ------------------------------------------------------

def test_new_key_has_rotation_disabled(kms):
    md = new_key(kms)
    st = kms.get_key_rotation_status(KeyId=md["KeyId"])
    assert st["KeyRotationEnabled"] is False
    check_key_id_field(st["KeyId"], md)
    assert "NextRotationDate" not in st and "OnDemandRotationStartDate" not in st


def test_enable_rotation_with_default_period(dev_server, dev_kms):
    md = new_key(dev_kms)
    t0 = server_now(dev_server)
    resp = dev_kms.enable_key_rotation(KeyId=md["KeyId"])
    assert resp["ResponseMetadata"]["HTTPStatusCode"] == 200
    t1 = server_now(dev_server)
    st = dev_kms.get_key_rotation_status(KeyId=md["Arn"])
    assert st["KeyRotationEnabled"] is True
    assert st["RotationPeriodInDays"] == 365
    nxt = st["NextRotationDate"].timestamp()
    assert t0 + 365 * DAY - DAY <= nxt <= t1 + 365 * DAY + DAY, (t0, nxt)
    check_key_id_field(st["KeyId"], md)


@pytest.mark.parametrize("period", [90, 180, 2560])
def test_enable_rotation_with_period(dev_server, dev_kms, period):
    md = new_key(dev_kms)
    t0 = server_now(dev_server)
    dev_kms.enable_key_rotation(KeyId=md["KeyId"], RotationPeriodInDays=period)
    st = dev_kms.get_key_rotation_status(KeyId=md["KeyId"])
    assert (st["KeyRotationEnabled"], st["RotationPeriodInDays"]) == (True, period)
    assert abs(st["NextRotationDate"].timestamp() - (t0 + period * DAY)) <= DAY


def test_enable_rotation_again_changes_the_period(dev_kms):
    md = new_key(dev_kms)
    dev_kms.enable_key_rotation(KeyId=md["KeyId"], RotationPeriodInDays=365)
    dev_kms.enable_key_rotation(KeyId=md["KeyId"], RotationPeriodInDays=100)
    st = dev_kms.get_key_rotation_status(KeyId=md["KeyId"])
    assert st["RotationPeriodInDays"] == 100


@pytest.mark.parametrize("period,constraint", [
    (89, "Member must have value greater than or equal to 90"),
    (0, "Member must have value greater than or equal to 90"),
    (2561, "Member must have value less than or equal to 2560"),
])
def test_enable_rotation_period_out_of_range(kms_raw, period, constraint):
    md = new_key(kms_raw)
    expect_error(kms_raw.enable_key_rotation, "ValidationException",
                 validation_message(period, "rotationPeriodInDays", constraint),
                 KeyId=md["KeyId"], RotationPeriodInDays=period)
    assert kms_raw.get_key_rotation_status(KeyId=md["KeyId"])["KeyRotationEnabled"] is False


def test_disable_rotation(kms):
    md = new_key(kms)
    kms.enable_key_rotation(KeyId=md["KeyId"])
    resp = kms.disable_key_rotation(KeyId=md["KeyId"])
    assert resp["ResponseMetadata"]["HTTPStatusCode"] == 200
    st = kms.get_key_rotation_status(KeyId=md["KeyId"])
    assert st["KeyRotationEnabled"] is False
    assert "NextRotationDate" not in st


@pytest.mark.parametrize("op", ["enable_key_rotation", "disable_key_rotation",
                                "get_key_rotation_status", "rotate_key_on_demand",
                                "list_key_rotations"])
def test_rotation_operations_on_unknown_key(server, kms, op):
    missing = str(uuid.uuid4())
    expect_error(getattr(kms, op), "NotFoundException",
                 f"Key '{server.key_arn(missing)}' does not exist", KeyId=missing)


# -- on-demand rotation -------------------------------------------------------------

def test_rotate_on_demand_changes_current_material(kms):
    md = new_key(kms)
    old = md["CurrentKeyMaterialId"]
    resp = kms.rotate_key_on_demand(KeyId=md["KeyId"])
    assert resp["ResponseMetadata"]["HTTPStatusCode"] == 200
    # AWS answers the key ARN (issue 17, item 9; LocalStack's AWS-validated
    # test_rotate_on_demand_returns_arn_for_key_id).
    assert resp["KeyId"] == md["Arn"]
    (entry,) = wait_for_rotations(kms, md["KeyId"], 1)
    new = material_id(kms, md["KeyId"])
    assert new != old and re.fullmatch(r"[0-9a-f]{64}", new)
    check_key_id_field(entry["KeyId"], md)
    assert entry["KeyMaterialId"] == new
    assert entry["RotationType"] == "ON_DEMAND"
    assert abs(entry["RotationDate"].timestamp() - time.time()) < 300
    if "KeyMaterialState" in entry:
        assert entry["KeyMaterialState"] == "CURRENT"
    # On-demand rotation does not turn on automatic rotation, nor change the key's identity.
    st = kms.get_key_rotation_status(KeyId=md["KeyId"])
    assert st["KeyRotationEnabled"] is False
    assert "OnDemandRotationStartDate" not in st
    after = kms.describe_key(KeyId=md["KeyId"])["KeyMetadata"]
    assert (after["KeyId"], after["Arn"], after["KeyState"]) == (md["KeyId"], md["Arn"], "Enabled")


def test_old_ciphertexts_decrypt_after_rotation(kms):
    md = new_key(kms)
    k = md["KeyId"]
    mat0 = md["CurrentKeyMaterialId"]
    ct0 = kms.encrypt(KeyId=k, Plaintext=b"gen0", EncryptionContext={"g": "0"})["CiphertextBlob"]
    dk0 = kms.generate_data_key(KeyId=k, KeySpec="AES_256")
    rotate_now(kms, k)
    mat1 = material_id(kms, k)
    ct1 = kms.encrypt(KeyId=k, Plaintext=b"gen1")["CiphertextBlob"]
    rotate_now(kms, k)
    mat2 = material_id(kms, k)
    assert len({mat0, mat1, mat2}) == 3

    d0 = kms.decrypt(CiphertextBlob=ct0, EncryptionContext={"g": "0"})
    assert (d0["Plaintext"], d0["KeyMaterialId"]) == (b"gen0", mat0)
    d1 = kms.decrypt(CiphertextBlob=ct1)
    assert (d1["Plaintext"], d1["KeyMaterialId"]) == (b"gen1", mat1)
    ddk = kms.decrypt(CiphertextBlob=dk0["CiphertextBlob"])
    assert ddk["Plaintext"] == dk0["Plaintext"] and ddk["KeyMaterialId"] == mat0

    ct2 = kms.encrypt(KeyId=k, Plaintext=b"gen2")["CiphertextBlob"]
    assert kms.decrypt(CiphertextBlob=ct2)["KeyMaterialId"] == mat2
    assert kms.generate_data_key(KeyId=k, NumberOfBytes=16)["KeyMaterialId"] == mat2
    r = kms.re_encrypt(CiphertextBlob=ct0, SourceEncryptionContext={"g": "0"}, DestinationKeyId=k)
    assert (r["SourceKeyMaterialId"], r["DestinationKeyMaterialId"]) == (mat0, mat2)
    assert kms.decrypt(CiphertextBlob=r["CiphertextBlob"])["KeyMaterialId"] == mat2


def test_list_key_rotations_of_never_rotated_key(kms):
    md = new_key(kms)
    resp = kms.list_key_rotations(KeyId=md["KeyId"])
    assert resp["Rotations"] == [] and resp["Truncated"] is False
    assert "NextMarker" not in resp


def test_list_key_rotations_order_states_and_paging(kms):
    md = new_key(kms)
    k = md["KeyId"]
    mats = []
    for _ in range(3):
        rotate_now(kms, k)
        mats.append(material_id(kms, k))
    entries = rotations(kms, k)
    assert [e["KeyMaterialId"] for e in entries] == mats
    assert all(e["RotationType"] == "ON_DEMAND" for e in entries)
    dates = [e["RotationDate"] for e in entries]
    assert dates == sorted(dates)
    states = [e.get("KeyMaterialState") for e in entries]
    if any(states):
        assert states == ["NON_CURRENT", "NON_CURRENT", "CURRENT"], states

    page1 = kms.list_key_rotations(KeyId=k, Limit=1)
    assert len(page1["Rotations"]) == 1 and page1["Truncated"] is True and page1["NextMarker"]
    page2 = kms.list_key_rotations(KeyId=k, Limit=2, Marker=page1["NextMarker"])
    assert len(page2["Rotations"]) == 2 and page2["Truncated"] is False
    assert [e["KeyMaterialId"] for e in page1["Rotations"] + page2["Rotations"]] == mats


def test_list_key_rotations_all_key_material_includes_the_original(kms):
    md = new_key(kms)
    k = md["KeyId"]
    rotate_now(kms, k)
    entries = rotations(kms, k, IncludeKeyMaterial="ALL_KEY_MATERIAL")
    assert len(entries) == 2, entries
    original = [e for e in entries if e["KeyMaterialId"] == md["CurrentKeyMaterialId"]]
    assert len(original) == 1, entries
    assert "RotationDate" not in original[0] and "RotationType" not in original[0]
    assert len(rotations(kms, k, IncludeKeyMaterial="ROTATIONS_ONLY")) == 1


def test_on_demand_rotation_does_not_move_the_automatic_schedule(kms):
    md = new_key(kms)
    kms.enable_key_rotation(KeyId=md["KeyId"], RotationPeriodInDays=90)
    before = kms.get_key_rotation_status(KeyId=md["KeyId"])
    rotate_now(kms, md["KeyId"])
    after = kms.get_key_rotation_status(KeyId=md["KeyId"])
    assert after["NextRotationDate"] == before["NextRotationDate"]
    assert (after["KeyRotationEnabled"], after["RotationPeriodInDays"]) == (True, 90)


def test_on_demand_rotation_limit_is_25(kms):
    md = new_key(kms)
    k = md["KeyId"]
    for i in range(25):
        kms.rotate_key_on_demand(KeyId=k)
        wait_for_rotations(kms, k, i + 1)
    expect_error(kms.rotate_key_on_demand, "LimitExceededException",
                 "The on-demand rotations limit has been reached for the given keyId. "
                 f"No more on-demand rotations can be performed for this key: {md['Arn']}",
                 KeyId=k)
    assert len(rotations(kms, k)) == 25


def test_rotation_status_while_pending_deletion_and_after_cancel(kms):
    md = new_key(kms)
    kms.enable_key_rotation(KeyId=md["KeyId"], RotationPeriodInDays=120)
    kms.schedule_key_deletion(KeyId=md["KeyId"], PendingWindowInDays=7)
    assert kms.get_key_rotation_status(KeyId=md["KeyId"])["KeyRotationEnabled"] is False
    kms.cancel_key_deletion(KeyId=md["KeyId"])
    st = kms.get_key_rotation_status(KeyId=md["KeyId"])
    assert (st["KeyRotationEnabled"], st["RotationPeriodInDays"]) == (True, 120)


# -- automatic rotation with the dev clock -------------------------------------------

def test_automatic_rotation_happens_when_due(dev_server, dev_kms):
    md = new_key(dev_kms)
    k = md["KeyId"]
    ct = dev_kms.encrypt(KeyId=k, Plaintext=b"before auto")["CiphertextBlob"]
    dev_kms.enable_key_rotation(KeyId=k, RotationPeriodInDays=90)
    first_due = dev_kms.get_key_rotation_status(KeyId=k)["NextRotationDate"].timestamp()

    now = server_now(dev_server)
    advance_clock(dev_server, first_due - now - 3600)  # one hour before due
    assert material_id(dev_kms, k) == md["CurrentKeyMaterialId"]
    assert rotations(dev_kms, k) == []

    advance_clock(dev_server, 2 * 3600)  # one hour after due
    new = material_id(dev_kms, k)
    assert new != md["CurrentKeyMaterialId"]
    (entry,) = rotations(dev_kms, k)
    assert entry["RotationType"] == "AUTOMATIC"
    assert entry["KeyMaterialId"] == new
    st = dev_kms.get_key_rotation_status(KeyId=k)
    assert st["KeyRotationEnabled"] is True
    assert abs(st["NextRotationDate"].timestamp() - (first_due + 90 * DAY)) <= DAY
    dec = dev_kms.decrypt(CiphertextBlob=ct)
    assert (dec["Plaintext"], dec["KeyMaterialId"]) == (b"before auto", md["CurrentKeyMaterialId"])
    assert dev_kms.decrypt(
        CiphertextBlob=dev_kms.encrypt(KeyId=k, Plaintext=b"after")["CiphertextBlob"]
    )["KeyMaterialId"] == new


def test_no_automatic_rotation_when_disabled(dev_server, dev_kms):
    md = new_key(dev_kms)
    dev_kms.enable_key_rotation(KeyId=md["KeyId"], RotationPeriodInDays=90)
    dev_kms.disable_key_rotation(KeyId=md["KeyId"])
    advance_clock(dev_server, 91 * DAY)
    assert material_id(dev_kms, md["KeyId"]) == md["CurrentKeyMaterialId"]
    assert rotations(dev_kms, md["KeyId"]) == []


def test_no_automatic_rotation_of_a_disabled_key(dev_server, dev_kms):
    md = new_key(dev_kms)
    dev_kms.enable_key_rotation(KeyId=md["KeyId"], RotationPeriodInDays=90)
    dev_kms.disable_key(KeyId=md["KeyId"])
    advance_clock(dev_server, 91 * DAY)
    assert material_id(dev_kms, md["KeyId"]) == md["CurrentKeyMaterialId"]
    assert rotations(dev_kms, md["KeyId"]) == []


def test_overdue_rotation_happens_when_a_disabled_key_is_enabled_again(dev_server, dev_kms):
    """kms-api.md §4: on re-enable, material older than the period rotates right away."""
    md = new_key(dev_kms)
    dev_kms.enable_key_rotation(KeyId=md["KeyId"], RotationPeriodInDays=90)
    dev_kms.disable_key(KeyId=md["KeyId"])
    advance_clock(dev_server, 100 * DAY)
    assert rotations(dev_kms, md["KeyId"]) == []
    dev_kms.enable_key(KeyId=md["KeyId"])
    advance_clock(dev_server, 60)  # run due work
    (entry,) = rotations(dev_kms, md["KeyId"])
    assert entry["RotationType"] == "AUTOMATIC"
    assert material_id(dev_kms, md["KeyId"]) == entry["KeyMaterialId"] != md["CurrentKeyMaterialId"]
