"""Concurrent clients: no lost writes, no internal errors, consistent results."""

import os
from concurrent.futures import ThreadPoolExecutor

import harness

THREADS = 8
ROUNDS = 10


def test_concurrent_creates_and_crypto(server_factory):
    s = server_factory.start()

    def worker(n):
        kms = harness.kms_client(s)  # one client per thread
        out = []
        for i in range(ROUNDS):
            md = kms.create_key(Description=f"w{n}-{i}")["KeyMetadata"]
            kms.tag_resource(KeyId=md["KeyId"], Tags=[{"TagKey": "w", "TagValue": str(n)}])
            pt = os.urandom(64)
            ct = kms.encrypt(KeyId=md["KeyId"], Plaintext=pt,
                             EncryptionContext={"w": str(n)})["CiphertextBlob"]
            dk = kms.generate_data_key(KeyId=md["KeyId"], KeySpec="AES_256")
            out.append((md["KeyId"], ct, pt, dk))
        return out

    with ThreadPoolExecutor(THREADS) as pool:
        results = [r for batch in pool.map(worker, range(THREADS)) for r in batch]

    kms = harness.kms_client(s)
    listed = {e["KeyId"] for p in kms.get_paginator("list_keys").paginate() for e in p["Keys"]}
    assert listed == {r[0] for r in results}
    assert len(listed) == THREADS * ROUNDS
    for key_id, ct, pt, dk in results:
        n = kms.list_resource_tags(KeyId=key_id)["Tags"][0]["TagValue"]
        d = kms.decrypt(CiphertextBlob=ct, EncryptionContext={"w": n})
        assert d["Plaintext"] == pt and d["KeyId"] == s.key_arn(key_id)
        assert kms.decrypt(CiphertextBlob=dk["CiphertextBlob"])["Plaintext"] == dk["Plaintext"]


def test_concurrent_updates_of_one_key(server_factory):
    s = server_factory.start()
    kms = harness.kms_client(s)
    md = kms.create_key()["KeyMetadata"]

    def worker(n):
        c = harness.kms_client(s)
        for i in range(ROUNDS):
            if i < 5:  # 8 threads x 5 = 40 tags, under the 50-tag limit
                c.tag_resource(KeyId=md["KeyId"], Tags=[{"TagKey": f"t{n}-{i}", "TagValue": "v"}])
            c.update_key_description(KeyId=md["KeyId"], Description=f"{n}-{i}")
            if i < 5:  # 40 aliases, under the 50-aliases-per-key quota
                c.create_alias(AliasName=f"alias/c{n}-{i}", TargetKeyId=md["KeyId"])
        return n

    with ThreadPoolExecutor(THREADS) as pool:
        assert sorted(pool.map(worker, range(THREADS))) == list(range(THREADS))

    tags = {t["TagKey"] for p in kms.get_paginator("list_resource_tags").paginate(KeyId=md["KeyId"])
            for t in p["Tags"]}
    assert tags == {f"t{n}-{i}" for n in range(THREADS) for i in range(5)}
    final = kms.describe_key(KeyId=md["KeyId"])["KeyMetadata"]["Description"]
    assert final in {f"{n}-{ROUNDS - 1}" for n in range(THREADS)}, final
    aliases = [a for p in kms.get_paginator("list_aliases").paginate(KeyId=md["KeyId"])
               for a in p["Aliases"]]
    assert {a["AliasName"] for a in aliases} == {f"alias/c{n}-{i}" for n in range(THREADS)
                                                 for i in range(5)}
