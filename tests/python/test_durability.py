"""Restart durability: everything acknowledged before SIGTERM or SIGKILL is there after a
restart on the same data directory, and every old ciphertext still decrypts."""

import itertools
import json
import re
import shutil
import signal
import subprocess
import threading
import time
import traceback
from pathlib import Path

import boto3
import botocore.config
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


# -- SIGKILL under concurrent mixed writes (issue 17, item 18) ------------------------------

def iam_client(server):
    access, secret = server.admin_credentials()
    session = boto3.session.Session(aws_access_key_id=access, aws_secret_access_key=secret,
                                    region_name=server.server_region)
    return session.client("iam", endpoint_url=server.url, config=botocore.config.Config(
        retries={"max_attempts": 1, "mode": "standard"}, connect_timeout=10, read_timeout=30))


class MixedWriter(threading.Thread):
    """Writes a bit of everything on its own keys, aliases, grants and users, and keeps what
    the server acknowledged. Any failure before the kill fails the test; the call the kill
    interrupts is remembered as `in_flight` (applied or not, either is correct)."""

    def __init__(self, index, server, killing, progress):
        super().__init__(name=f"writer-{index}", daemon=True)
        self.index, self.killing, self.progress = index, killing, progress
        self.kms = harness.kms_client(server)
        self.iam = iam_client(server)
        self.root = f"arn:aws:iam::{server.account}:root"
        self.request_ids = []
        self.in_flight = None
        self.error = None
        self.rounds = 0
        self.tags, self.aliases, self.users = {}, {}, []
        self.grants = {}  # grant id -> whether it must exist
        self.policy_id = self.state = None
        self.rotations = 0

    def call(self, in_flight, fn, **kwargs):
        self.in_flight = in_flight
        response = fn(**kwargs)
        with self.progress:
            self.request_ids.append(response["ResponseMetadata"]["RequestId"])
            self.progress.notify_all()
        self.in_flight = None
        return response

    def run(self):
        try:
            self.work()
        except Exception as error:  # noqa: BLE001 - any failure is reported by the test
            if not self.killing.is_set():
                self.error = f"{type(error).__name__}: {error}\n{traceback.format_exc()}"
                with self.progress:
                    self.progress.notify_all()

    def work(self):
        kms, tag = self.kms, f"w{self.index}"
        self.key = self.call(("created",), kms.create_key, Description=tag)["KeyMetadata"]["KeyId"]
        self.state = "Enabled"
        self.other = self.call(("created",), kms.create_key)["KeyMetadata"]["KeyId"]
        for n in itertools.count():
            self.call(("tag",), kms.tag_resource, KeyId=self.key,
                      Tags=[{"TagKey": f"t{n}", "TagValue": f"v{n}"}])
            self.tags[f"t{n}"] = f"v{n}"
            alias = f"alias/{tag}-{n}"
            self.call(("alias", alias, self.key), kms.create_alias,
                      AliasName=alias, TargetKeyId=self.key)
            self.aliases[alias] = self.key
            self.call(("alias", alias, self.other), kms.update_alias,
                      AliasName=alias, TargetKeyId=self.other)
            self.aliases[alias] = self.other
            policy = json.loads(default_policy_text(self.root))
            policy["Id"] = f"{tag}-{n}"
            self.call(("policy", policy["Id"]), kms.put_key_policy, KeyId=self.key,
                      PolicyName="default", Policy=json.dumps(policy))
            self.policy_id = policy["Id"]
            if self.rotations < 20:
                self.call(("rotate",), kms.rotate_key_on_demand, KeyId=self.key)
                self.rotations += 1
            for fate in ("kept", "retired", "revoked"):
                grant = self.call(("grant",), kms.create_grant, KeyId=self.key,
                                  GranteePrincipal=self.root, RetiringPrincipal=self.root,
                                  Operations=["Decrypt"])
                self.grants[grant["GrantId"]] = True
                if fate == "retired":
                    self.call(("grant-gone", grant["GrantId"]), kms.retire_grant,
                              GrantToken=grant["GrantToken"])
                    self.grants[grant["GrantId"]] = False
                elif fate == "revoked":
                    self.call(("grant-gone", grant["GrantId"]), kms.revoke_grant,
                              KeyId=self.key, GrantId=grant["GrantId"])
                    self.grants[grant["GrantId"]] = False
            self.call(("state", "Disabled"), kms.disable_key, KeyId=self.key)
            self.state = "Disabled"
            self.call(("state", "Enabled"), kms.enable_key, KeyId=self.key)
            self.state = "Enabled"
            user = f"{tag}-user-{n}"
            self.call(("user",), self.iam.create_user, UserName=user)
            self.users.append(user)
            self.rounds += 1

    def check_after_restart(self, kms, iam):
        """Every acknowledged change is there; only the interrupted call may go either way."""
        flight = self.in_flight or ("none",)
        tags = {t["TagKey"]: t["TagValue"] for t in kms.list_resource_tags(KeyId=self.key)["Tags"]}
        assert self.tags.items() <= tags.items(), (self.name, self.tags, tags)
        targets = {a["AliasName"]: a["TargetKeyId"]
                   for page in kms.get_paginator("list_aliases").paginate()
                   for a in page["Aliases"]}
        for alias, target in self.aliases.items():
            allowed = {target} | ({flight[2]} if flight[:2] == ("alias", alias) else set())
            assert targets.get(alias) in allowed, (self.name, alias, target, targets.get(alias))
        policy = json.loads(kms.get_key_policy(KeyId=self.key, PolicyName="default")["Policy"])
        allowed = {self.policy_id or "key-default-1"} | (
            {flight[1]} if flight[0] == "policy" else set())
        assert policy["Id"] in allowed, (self.name, policy["Id"], allowed)
        rotations = len(kms.list_key_rotations(KeyId=self.key)["Rotations"])
        assert self.rotations <= rotations <= self.rotations + (flight[0] == "rotate"), (
            self.name, self.rotations, rotations)
        state = kms.describe_key(KeyId=self.key)["KeyMetadata"]["KeyState"]
        allowed = {self.state} | ({flight[1]} if flight[0] == "state" else set())
        assert state in allowed, (self.name, state, allowed)
        listed = {g["GrantId"] for page in kms.get_paginator("list_grants").paginate(KeyId=self.key)
                  for g in page["Grants"]}
        for grant_id, present in self.grants.items():
            if flight[:2] == ("grant-gone", grant_id):
                continue
            assert (grant_id in listed) == present, (self.name, grant_id, present)
        for user in self.users:
            iam.get_user(UserName=user)


def default_policy_text(root):
    return json.dumps({"Version": "2012-10-17", "Id": "key-default-1", "Statement": [
        {"Sid": "Enable IAM User Permissions", "Effect": "Allow", "Principal": {"AWS": root},
         "Action": "kms:*", "Resource": "*"}]})


def trail_request_ids(server):
    ct_creds = server.admin_credentials()
    session = boto3.session.Session(aws_access_key_id=ct_creds[0],
                                     aws_secret_access_key=ct_creds[1],
                                     region_name=server.server_region)
    ct = session.client("cloudtrail", endpoint_url=server.url)
    return {json.loads(e["CloudTrailEvent"]).get("requestID")
            for page in ct.get_paginator("lookup_events").paginate()
            for e in page["Events"]}


def trail_verify(server):
    done = subprocess.run([str(harness.keyward_bin()), "trail", "verify", "--data-dir",
                           str(server.data_dir)], capture_output=True, text=True, timeout=120,
                          env=harness.clean_env())
    assert done.returncode == 0, done.stdout + done.stderr
    return done.stdout


def test_acknowledged_mixed_writes_survive_sigkill_under_load(server_factory):
    s = server_factory.start()
    killing, progress = threading.Event(), threading.Condition()
    writers = [MixedWriter(i, s, killing, progress) for i in range(4)]
    for w in writers:
        w.start()

    def ready():
        failed = [w.error for w in writers if w.error]
        return failed or (all(w.rounds >= 1 for w in writers)
                          and sum(len(w.request_ids) for w in writers) >= 200)

    with progress:
        outcome = progress.wait_for(ready, timeout=300)
    failed = [w.error for w in writers if w.error]
    assert not failed, "a writer failed before the kill:\n" + "\n".join(failed)
    assert outcome, "the writers did not get through their first rounds in 300 s"
    killing.set()
    s.kill()  # under load: every writer has a call in flight or about to be
    for w in writers:
        w.join(timeout=60)
        assert not w.is_alive(), f"{w.name} hangs after the kill"
    failed = [w.error for w in writers if w.error]
    assert not failed, "a writer failed before the kill:\n" + "\n".join(failed)

    # The trail verifies as the kill left it, and again once the server has restarted.
    trail_verify(s)
    s.start()
    kms, iam = harness.kms_client(s), iam_client(s)
    for w in writers:
        w.check_after_restart(kms, iam)
    acknowledged = {rid for w in writers for rid in w.request_ids}
    missing = acknowledged - trail_request_ids(s)
    assert not missing, f"{len(missing)} of {len(acknowledged)} acknowledged calls have no event"
    trail_verify(s)


# -- every answer waits for its writes to be synced (issue 17, item 18) ----------------------
#
# SIGKILL cannot show a missing sync (the page cache survives it), so this test watches the
# server's system calls with strace: for each acknowledged call, the trail write holding its
# event must be durable (an O_DSYNC file descriptor, or an fdatasync/fsync of it) before the
# answer's first byte is written to the socket, and a call that changes state must also have
# synced SQLite's write-ahead log in between the request and the answer.

SYSCALL_RE = re.compile(r"^(\d+)\s+(\d+\.\d+)\s+(.*)$")
DURATION_RE = re.compile(r"<(\d+\.\d+)>$")
FD_PATH_RE = re.compile(r"^(\w+)\((\d+)<([^>]*)>")
O_DSYNC = 0o10000


class Syscall:
    def __init__(self, tid, start, text):
        self.tid, self.start, self.text = tid, start, text
        m = FD_PATH_RE.match(text)
        self.name, self.fd, self.path = (m.group(1), int(m.group(2)), m.group(3)) if m else (
            text.split("(", 1)[0], None, "")
        self.end = None

    def finish(self, tail):
        d = DURATION_RE.search(tail)
        self.end = self.start + float(d.group(1)) if d else self.start


def parse_strace(text):
    """Completed system calls, each with its start and end time (strace -f -ttt -T -y)."""
    calls, open_calls = [], {}
    for line in text.splitlines():
        m = SYSCALL_RE.match(line)
        if not m:
            continue
        tid, start, rest = m.group(1), float(m.group(2)), m.group(3)
        if rest.startswith("<..."):
            call = open_calls.pop(tid, None)
            if call is not None:
                call.finish(rest)
                calls.append(call)
        elif rest.endswith("<unfinished ...>"):
            open_calls[tid] = Syscall(tid, start, rest)
        elif not rest.startswith("+++") and not rest.startswith("---"):
            call = Syscall(tid, start, rest)
            call.finish(rest)
            calls.append(call)
    return sorted(calls, key=lambda c: c.start)


def fd_flags(pid, fd):
    for line in (Path(f"/proc/{pid}/fdinfo/{fd}")).read_text().splitlines():
        if line.startswith("flags:"):
            return int(line.split()[1], 8)
    raise AssertionError(f"no flags for fd {fd} of {pid}")


def test_every_answer_waits_for_its_writes_to_be_synced(server_factory, tmp_path):
    s = server_factory.start()
    strace_bin = shutil.which("strace")
    assert strace_bin, "strace is not installed (.ci/run installs it)"
    trace_path, strace_err = tmp_path / "trace.txt", tmp_path / "strace.err"
    with open(strace_err, "wb") as err:
        tracer = subprocess.Popen(
            [strace_bin, "-f", "-p", str(s.proc.pid), "-ttt", "-T", "-y", "-s", "65536",
             "-e", "trace=write,writev,pwrite64,pwritev,pwritev2,sendto,sendmsg,fsync,fdatasync",
             "-o", str(trace_path)], stderr=err, stdin=subprocess.DEVNULL)
    try:
        kms, iam = harness.kms_client(s), iam_client(s)
        # Tracing has begun once a call's answer shows in the trace.
        deadline = time.monotonic() + 60
        while True:
            probe = kms.list_keys()["ResponseMetadata"]["RequestId"]
            if trace_path.exists() and probe in trace_path.read_text(errors="replace"):
                break
            assert tracer.poll() is None, strace_err.read_text()
            assert time.monotonic() < deadline, "strace did not attach:\n" + strace_err.read_text()

        calls = []  # (operation, sent at, request id, changes state)

        def call(operation, fn, changes=True, **kwargs):
            sent = time.time()
            response = fn(**kwargs)
            calls.append((operation, sent, response["ResponseMetadata"]["RequestId"], changes))
            return response

        key = call("CreateKey", kms.create_key)["KeyMetadata"]["KeyId"]
        call("CreateAlias", kms.create_alias, AliasName="alias/synced", TargetKeyId=key)
        call("TagResource", kms.tag_resource, KeyId=key, Tags=[{"TagKey": "a", "TagValue": "b"}])
        call("PutKeyPolicy", kms.put_key_policy, KeyId=key, PolicyName="default",
             Policy=default_policy_text(f"arn:aws:iam::{s.account}:root"))
        call("RotateKeyOnDemand", kms.rotate_key_on_demand, KeyId=key)
        grant = call("CreateGrant", kms.create_grant, KeyId=key,
                     GranteePrincipal=f"arn:aws:iam::{s.account}:root",
                     RetiringPrincipal=f"arn:aws:iam::{s.account}:root", Operations=["Decrypt"])
        call("RetireGrant", kms.retire_grant, GrantToken=grant["GrantToken"])
        other = call("CreateGrant", kms.create_grant, KeyId=key,
                     GranteePrincipal=f"arn:aws:iam::{s.account}:root", Operations=["Decrypt"])
        call("RevokeGrant", kms.revoke_grant, KeyId=key, GrantId=other["GrantId"])
        call("DisableKey", kms.disable_key, KeyId=key)
        call("EnableKey", kms.enable_key, KeyId=key)
        call("CreateUser", iam.create_user, UserName="synced-user")
        call("Encrypt", kms.encrypt, changes=False, KeyId=key, Plaintext=b"x")
        call("DescribeKey", kms.describe_key, changes=False, KeyId=key)

        trace = parse_strace(trace_path.read_text(errors="replace"))
        dsync = {c.fd for c in trace if "/trail/segment-" in c.path
                 and fd_flags(s.proc.pid, c.fd) & O_DSYNC}
    finally:
        tracer.send_signal(signal.SIGINT)  # detaches; the server keeps running
        tracer.wait(timeout=60)

    for operation, sent, request_id, changes in calls:
        answer = next((c for c in trace if c.path.startswith("socket:") and request_id in c.text),
                      None)
        assert answer is not None, f"{operation}: no answer with {request_id} in the trace"
        event_write = next((c for c in trace if "/trail/segment-" in c.path
                            and c.name.startswith(("pwrite", "write")) and request_id in c.text),
                           None)
        assert event_write is not None, f"{operation}: its event was not written before the answer"
        assert sent <= event_write.start and event_write.end <= answer.start, (
            operation, sent, event_write.start, event_write.end, answer.start)
        if event_write.fd not in dsync:
            assert any(c.name in ("fdatasync", "fsync") and c.fd == event_write.fd
                       and event_write.end <= c.start and c.end <= answer.start
                       for c in trace), f"{operation}: its event was not synced before the answer"
        if changes:
            assert any(c.name in ("fdatasync", "fsync")
                       and c.path.endswith(("keyward.sqlite-wal", "keyward.sqlite"))
                       and sent <= c.start and c.end <= answer.start
                       for c in trace), f"{operation}: SQLite was not synced before the answer"
