"""Restart durability: everything acknowledged before SIGTERM or SIGKILL is there after a
restart on the same data directory, and every old ciphertext still decrypts."""

import json
import time

import pytest

import harness


def paginate(kms, op, key, **kwargs):
    out = []
    for page in kms.get_paginator(op).paginate(**kwargs):
        out += page[key]
    return out


def build_world(kms, server):
    """Create a bit of everything; returns what to check after a restart."""
    world = {"keys": [], "ciphertexts": []}

    def key(**kw):
        md = kms.create_key(**kw)["KeyMetadata"]
        world["keys"].append(md["KeyId"])
        return md

    plain = key(Description="plain")
    tagged = key(Description="tagged", Tags=[{"TagKey": "env", "TagValue": "prod"}])
    kms.tag_resource(KeyId=tagged["KeyId"], Tags=[{"TagKey": "team", "TagValue": "kw"}])
    kms.untag_resource(KeyId=tagged["KeyId"], TagKeys=["env"])
    kms.update_key_description(KeyId=tagged["KeyId"], Description="tagged, described")

    rotating = key(Description="rotating")
    kms.enable_key_rotation(KeyId=rotating["KeyId"], RotationPeriodInDays=180)
    ct = kms.encrypt(KeyId=rotating["KeyId"], Plaintext=b"before rotation",
                     EncryptionContext={"gen": "0"})["CiphertextBlob"]
    world["ciphertexts"].append((ct, {"gen": "0"}, b"before rotation"))
    kms.rotate_key_on_demand(KeyId=rotating["KeyId"])
    deadline = time.monotonic() + 15
    while not kms.list_key_rotations(KeyId=rotating["KeyId"])["Rotations"]:
        assert time.monotonic() < deadline, "on-demand rotation did not complete"
        time.sleep(0.05)
    ct = kms.encrypt(KeyId=rotating["KeyId"], Plaintext=b"after rotation")["CiphertextBlob"]
    world["ciphertexts"].append((ct, None, b"after rotation"))

    disabled = key(Description="disabled")
    ct = kms.encrypt(KeyId=disabled["KeyId"], Plaintext=b"disabled key")["CiphertextBlob"]
    world["disabled_ciphertext"] = (ct, disabled["KeyId"])
    kms.disable_key(KeyId=disabled["KeyId"])

    pending = key(Description="pending")
    kms.schedule_key_deletion(KeyId=pending["KeyId"], PendingWindowInDays=9)

    policy = json.loads(kms.get_key_policy(KeyId=plain["KeyId"], PolicyName="default")["Policy"])
    policy["Id"] = "custom-after-restart"
    kms.put_key_policy(KeyId=plain["KeyId"], PolicyName="default", Policy=json.dumps(policy))

    kms.create_alias(AliasName="alias/plain", TargetKeyId=plain["KeyId"])
    kms.create_alias(AliasName="alias/moved", TargetKeyId=plain["KeyId"])
    kms.update_alias(AliasName="alias/moved", TargetKeyId=tagged["KeyId"])
    kms.create_alias(AliasName="alias/deleted", TargetKeyId=plain["KeyId"])
    kms.delete_alias(AliasName="alias/deleted")

    for i, md in enumerate([plain, tagged]):
        pt = f"plaintext {i}".encode()
        ctx = {"i": str(i), "purpose": "durability"}
        world["ciphertexts"].append(
            (kms.encrypt(KeyId=md["KeyId"], Plaintext=pt, EncryptionContext=ctx)["CiphertextBlob"],
             ctx, pt))
    dk = kms.generate_data_key(KeyId="alias/plain", KeySpec="AES_256")
    world["ciphertexts"].append((dk["CiphertextBlob"], None, dk["Plaintext"]))
    return world


def snapshot(kms, world):
    """Everything observable about the world, for equality comparison."""
    snap = {"list_keys": sorted(e["KeyId"] for e in paginate(kms, "list_keys", "Keys"))}
    snap["aliases"] = sorted((a["AliasName"], a["AliasArn"], a.get("TargetKeyId"),
                              a.get("CreationDate"), a.get("LastUpdatedDate"))
                             for a in paginate(kms, "list_aliases", "Aliases"))
    for k in world["keys"]:
        md = kms.describe_key(KeyId=k)["KeyMetadata"]
        rot = kms.get_key_rotation_status(KeyId=k)
        rot.pop("ResponseMetadata")
        snap[k] = {
            "metadata": md,
            "rotation": rot,
            "rotations": paginate(kms, "list_key_rotations", "Rotations", KeyId=k),
            "tags": sorted((t["TagKey"], t["TagValue"])
                           for t in paginate(kms, "list_resource_tags", "Tags", KeyId=k)),
            "policy": kms.get_key_policy(KeyId=k, PolicyName="default")["Policy"],
        }
    return snap


def decrypt_all(kms, world):
    results = []
    for ct, ctx, pt in world["ciphertexts"]:
        kwargs = {"EncryptionContext": ctx} if ctx else {}
        r = kms.decrypt(CiphertextBlob=ct, **kwargs)
        assert r["Plaintext"] == pt
        results.append((r["KeyId"], r["KeyMaterialId"]))
    return results


def check_world_survived(kms, world, before_snap, before_decrypts):
    after = snapshot(kms, world)
    for k in list(before_snap):
        assert after[k] == before_snap[k], f"{k} changed across restart"
    assert decrypt_all(kms, world) == before_decrypts
    ct, key_id = world["disabled_ciphertext"]
    kms.enable_key(KeyId=key_id)
    assert kms.decrypt(CiphertextBlob=ct)["Plaintext"] == b"disabled key"
    # the server is fully usable afterwards
    md = kms.create_key()["KeyMetadata"]
    ct = kms.encrypt(KeyId=md["KeyId"], Plaintext=b"new")["CiphertextBlob"]
    assert kms.decrypt(CiphertextBlob=ct)["Plaintext"] == b"new"


def test_everything_survives_sigterm_restart(server_factory):
    s = server_factory.start()
    kms = harness.kms_client(s)
    world = build_world(kms, s)
    before = snapshot(kms, world)
    decrypts = decrypt_all(kms, world)
    creds = s.credentials_file.read_bytes()

    assert s.stop() == 0, s.logs()
    s.start()
    assert s.credentials_file.read_bytes() == creds
    check_world_survived(harness.kms_client(s), world, before, decrypts)


def test_acknowledged_changes_survive_sigkill(server_factory):
    s = server_factory.start()
    kms = harness.kms_client(s)
    world = build_world(kms, s)
    before = snapshot(kms, world)
    decrypts = decrypt_all(kms, world)

    s.kill()  # no graceful shutdown, straight after the last acknowledged response
    s.start()
    check_world_survived(harness.kms_client(s), world, before, decrypts)


def test_last_write_before_sigkill_survives(server_factory):
    s = server_factory.start()
    kms = harness.kms_client(s)
    md = kms.create_key(Description="last")["KeyMetadata"]
    kms.create_alias(AliasName="alias/last", TargetKeyId=md["KeyId"])
    kms.tag_resource(KeyId=md["KeyId"], Tags=[{"TagKey": "last", "TagValue": "write"}])
    kms.update_key_description(KeyId=md["KeyId"], Description="the very last write")
    s.kill()
    s.start()
    kms = harness.kms_client(s)
    assert kms.describe_key(KeyId="alias/last")["KeyMetadata"]["Description"] == "the very last write"
    assert kms.list_resource_tags(KeyId=md["KeyId"])["Tags"] == [{"TagKey": "last", "TagValue": "write"}]


def test_repeated_kills_lose_nothing(server_factory):
    s = server_factory.start()
    created = []
    for round_ in range(3):
        kms = harness.kms_client(s)
        for _ in range(3):
            md = kms.create_key(Description=f"round {round_}")["KeyMetadata"]
            ct = kms.encrypt(KeyId=md["KeyId"], Plaintext=f"r{round_}".encode())["CiphertextBlob"]
            created.append((md["KeyId"], ct, f"r{round_}".encode()))
        s.kill()
        s.start()
    kms = harness.kms_client(s)
    listed = {e["KeyId"] for e in paginate(kms, "list_keys", "Keys")}
    assert listed == {k for k, _, _ in created}
    for key_id, ct, pt in created:
        r = kms.decrypt(CiphertextBlob=ct)
        assert r["Plaintext"] == pt and r["KeyId"] == s.key_arn(key_id)


def test_dev_server_restart_keeps_keys_and_deletion_schedule(server_factory):
    s = server_factory.start(dev=True)
    kms = harness.kms_client(s)
    md = kms.create_key()["KeyMetadata"]
    when = kms.schedule_key_deletion(KeyId=md["KeyId"], PendingWindowInDays=7)["DeletionDate"]
    assert s.stop() == 0
    s.start()
    kms = harness.kms_client(s)
    d = kms.describe_key(KeyId=md["KeyId"])["KeyMetadata"]
    assert d["KeyState"] == "PendingDeletion" and d["DeletionDate"] == when
    assert md["Arn"].split(":")[4] == harness.DEV_ACCOUNT


def test_account_and_region_are_fixed_at_first_start(server_factory):
    s = server_factory.start(account_id="111111111111")
    md = harness.kms_client(s).create_key()["KeyMetadata"]
    assert s.stop() == 0
    s.account_id = "222222222222"  # a different --account-id on restart
    try:
        s.start()
    except harness.ServerStartError:
        return  # refusing to start is fine
    # ...and so is ignoring the flag, but ARNs must not silently change
    kms = harness.kms_client(s)
    assert kms.describe_key(KeyId=md["KeyId"])["KeyMetadata"]["Arn"] == md["Arn"]
    assert kms.create_key()["KeyMetadata"]["AWSAccountId"] == "111111111111"


def test_second_server_on_the_same_data_dir_is_refused(server_factory):
    first = server_factory.start()
    second = server_factory.new(account_id=harness.SERVER_ACCOUNT)
    second.data_dir = first.data_dir
    proc = second.spawn()
    rc = second.wait_exit(timeout=15)
    if rc is None:
        second.kill()
        pytest.fail("a second keyward served the same data directory\n" + second.logs())
    assert rc != 0
    assert proc.returncode == rc
    assert harness.kms_client(first).list_keys()["Truncated"] is False
