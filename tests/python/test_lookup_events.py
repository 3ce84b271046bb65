"""`aws cloudtrail lookup-events --endpoint-url ...` against keyward: each
lookup attribute, a time range, paging, the input checks, and the
`cloudtrail:LookupEvents` permission (botocore cloudtrail/2013-11-01)."""

from __future__ import annotations

import json
import time

import boto3
import botocore.config
import pytest
from botocore.exceptions import ClientError

import harness
from harness import unique

ACCOUNT = harness.SERVER_ACCOUNT


def client(server, service, creds=None):
    creds = creds or server.admin_credentials()
    session = boto3.session.Session(
        aws_access_key_id=creds[0], aws_secret_access_key=creds[1],
        region_name=server.server_region)
    cfg = botocore.config.Config(retries={"max_attempts": 1, "mode": "standard"})
    return session.client(service, endpoint_url=server.url, config=cfg)


@pytest.fixture(scope="module")
def setup(server, kms):
    """A few calls with known attributes."""
    started = int(time.time()) - 1
    key = kms.create_key(Description="lookup")["KeyMetadata"]["KeyId"]
    blob = kms.encrypt(KeyId=key, Plaintext=b"x")["CiphertextBlob"]
    kms.decrypt(CiphertextBlob=blob)
    for _ in range(3):
        kms.generate_data_key(KeyId=key, KeySpec="AES_128")
    return {"key": key, "arn": server.key_arn(key), "start": started}


def lookup(aws, *args):
    result = aws("cloudtrail", "lookup-events", *args)
    assert result.returncode == 0, result.stderr
    return result.json["Events"]


def attribute(key, value):
    return ["--lookup-attributes", f"AttributeKey={key},AttributeValue={value}"]


def test_event_name_newest_first_with_the_record_as_a_string(aws, setup):
    events = lookup(aws, *attribute("EventName", "GenerateDataKey"))
    assert len(events) == 3
    assert all(e["EventName"] == "GenerateDataKey" for e in events)
    times = [e["EventTime"] for e in events]
    assert times == sorted(times, reverse=True)
    first = events[0]
    assert first["EventSource"] == "kms.amazonaws.com"
    assert first["ReadOnly"] == "true"
    assert first["Username"] == "root"
    assert first["Resources"] == [{"ResourceType": "AWS::KMS::Key", "ResourceName": setup["arn"]}]
    record = json.loads(first["CloudTrailEvent"])
    assert record["eventID"] == first["EventId"]
    assert record["requestParameters"]["keySpec"] == "AES_128"


def test_each_lookup_attribute(server, aws, setup):
    by_arn = lookup(aws, *attribute("ResourceName", setup["arn"]))
    assert {e["EventName"] for e in by_arn} == {"CreateKey", "Encrypt", "Decrypt", "GenerateDataKey"}
    assert len(by_arn) == 6
    assert len(lookup(aws, *attribute("ResourceType", "AWS::KMS::Key"))) >= 6
    sources = lookup(aws, *attribute("EventSource", "kms.amazonaws.com"))
    assert sources and all(e["EventSource"] == "kms.amazonaws.com" for e in sources)
    users = lookup(aws, *attribute("Username", "root"))
    assert users and all(e["Username"] == "root" for e in users)
    access_key = server.admin_credentials()[0]
    keys = lookup(aws, *attribute("AccessKeyId", access_key))
    assert keys and all(e["AccessKeyId"] == access_key for e in keys)
    writes = lookup(aws, *attribute("ReadOnly", "false"))
    assert writes and all(e["ReadOnly"] == "false" for e in writes)
    assert "CreateKey" in {e["EventName"] for e in writes}
    one = by_arn[0]["EventId"]
    by_id = lookup(aws, *attribute("EventId", one))
    assert [e["EventId"] for e in by_id] == [one]


def test_a_time_range(aws, setup):
    now = int(time.time()) + 1
    inside = lookup(aws, "--start-time", str(setup["start"]), "--end-time", str(now),
                    *attribute("ResourceName", setup["arn"]))
    assert len(inside) == 6
    assert lookup(aws, "--start-time", str(setup["start"] - 7200), "--end-time", str(setup["start"] - 3600),
                  *attribute("ResourceName", setup["arn"])) == []
    assert lookup(aws, "--start-time", str(now + 3600), *attribute("ResourceName", setup["arn"])) == []


def test_paging_with_the_cli_and_boto3(server, aws, setup):
    first = aws("cloudtrail", "lookup-events", "--no-paginate", "--max-results", "2",
                *attribute("ResourceName", setup["arn"]))
    assert first.returncode == 0, first.stderr
    page = first.json
    assert len(page["Events"]) == 2 and page["NextToken"]
    seen = [e["EventId"] for e in page["Events"]]
    token = page["NextToken"]
    while token:
        nxt = aws("cloudtrail", "lookup-events", "--no-paginate", "--max-results", "2",
                  "--next-token", token, *attribute("ResourceName", setup["arn"]))
        assert nxt.returncode == 0, nxt.stderr
        body = nxt.json
        seen += [e["EventId"] for e in body["Events"]]
        token = body.get("NextToken")
    assert len(seen) == len(set(seen)) == 6
    # The CLI's own pagination (--page-size) sees the same events.
    everything = lookup(aws, "--page-size", "1", *attribute("ResourceName", setup["arn"]))
    assert [e["EventId"] for e in everything] == seen
    # boto3's paginator too.
    ct = client(server, "cloudtrail")
    pages = ct.get_paginator("lookup_events").paginate(
        LookupAttributes=[{"AttributeKey": "ResourceName", "AttributeValue": setup["arn"]}],
        PaginationConfig={"PageSize": 4})
    assert [e["EventId"] for p in pages for e in p["Events"]] == seen


def test_invalid_input_is_refused_as_cloudtrail_does(server):
    ct = client(server, "cloudtrail")
    with pytest.raises(ClientError) as info:
        ct.lookup_events(LookupAttributes=[
            {"AttributeKey": "EventName", "AttributeValue": "Decrypt"},
            {"AttributeKey": "Username", "AttributeValue": "root"}])
    assert info.value.response["Error"]["Code"] == "InvalidLookupAttributesException"
    with pytest.raises(ClientError) as info:
        ct.lookup_events(StartTime=2_000_000_000, EndTime=1_000_000_000)
    assert info.value.response["Error"]["Code"] == "InvalidTimeRangeException"
    with pytest.raises(ClientError) as info:
        ct.lookup_events(MaxResults=51)
    assert info.value.response["Error"]["Code"] == "InvalidMaxResultsException"
    with pytest.raises(ClientError) as info:
        ct.lookup_events(NextToken="not-a-token")
    assert info.value.response["Error"]["Code"] == "InvalidNextTokenException"


def test_reading_the_trail_needs_cloudtrail_lookup_events(server, setup):
    iam = client(server, "iam")
    name = unique("reader")
    iam.create_user(UserName=name)
    access = iam.create_access_key(UserName=name)["AccessKey"]
    creds = (access["AccessKeyId"], access["SecretAccessKey"])
    with pytest.raises(ClientError) as info:
        client(server, "cloudtrail", creds).lookup_events(MaxResults=1)
    assert info.value.response["Error"]["Code"] == "AccessDeniedException"
    assert "cloudtrail:LookupEvents" in info.value.response["Error"]["Message"]
    policy = {"Version": "2012-10-17", "Statement": [
        {"Effect": "Allow", "Action": "cloudtrail:LookupEvents", "Resource": "*"}]}
    iam.put_user_policy(UserName=name, PolicyName="read-trail", PolicyDocument=json.dumps(policy))
    events = client(server, "cloudtrail", creds).lookup_events(
        LookupAttributes=[{"AttributeKey": "ResourceName", "AttributeValue": setup["arn"]}])["Events"]
    assert len(events) == 6
    # The denied attempt is itself in the trail, under the user's name.
    denied = client(server, "cloudtrail").lookup_events(
        LookupAttributes=[{"AttributeKey": "Username", "AttributeValue": name}])["Events"]
    records = [json.loads(e["CloudTrailEvent"]) for e in denied]
    assert any(r["eventName"] == "LookupEvents" and r.get("errorCode") == "AccessDeniedException"
               and r["eventSource"] == "cloudtrail.amazonaws.com" for r in records)


def test_global_condition_keys_apply_to_lookup_events(server, setup):
    """LookupEvents is evaluated with the same request context as KMS and
    IAM: a Deny on the caller's aws:SourceIp (loopback here) wins, a Deny on
    another network does not."""
    iam = client(server, "iam")
    name = unique("reader")
    iam.create_user(UserName=name)
    access = iam.create_access_key(UserName=name)["AccessKey"]
    creds = (access["AccessKeyId"], access["SecretAccessKey"])

    def policy(network):
        return json.dumps({"Version": "2012-10-17", "Statement": [
            {"Effect": "Allow", "Action": "cloudtrail:LookupEvents", "Resource": "*"},
            {"Effect": "Deny", "Action": "cloudtrail:LookupEvents", "Resource": "*",
             "Condition": {"IpAddress": {"aws:SourceIp": network}}}]})

    iam.put_user_policy(UserName=name, PolicyName="read-trail", PolicyDocument=policy("127.0.0.0/8"))
    with pytest.raises(ClientError) as info:
        client(server, "cloudtrail", creds).lookup_events(MaxResults=1)
    assert info.value.response["Error"]["Code"] == "AccessDeniedException"
    assert "with an explicit deny" in info.value.response["Error"]["Message"]
    iam.put_user_policy(UserName=name, PolicyName="read-trail", PolicyDocument=policy("192.0.2.0/24"))
    events = client(server, "cloudtrail", creds).lookup_events(MaxResults=1)["Events"]
    assert len(events) == 1


OTHER_ACCOUNT = "444455556666"


def all_events(ct, **kwargs):
    return [e for page in ct.get_paginator("lookup_events").paginate(**kwargs)
            for e in page["Events"]]


def test_another_accounts_events_are_not_visible(server_factory, tmp_path):
    """Two accounts on one server, the second made with `keyward admin create-account`: each
    sees its own events, keys, aliases and grants and none of the other's, both ways."""
    import test_accounts
    s = server_factory.start()
    other_file = tmp_path / "other"
    done = test_accounts.admin(s, "--account-id", OTHER_ACCOUNT, "--output", str(other_file))
    assert done.returncode == 0, done.stderr
    other = dict(line.split(" = ", 1) for line in other_file.read_text().splitlines()
                 if " = " in line)
    creds = {ACCOUNT: s.admin_credentials(),
             OTHER_ACCOUNT: (other["aws_access_key_id"], other["aws_secret_access_key"])}
    made = {}
    for account, pair in creds.items():
        kms = client(s, "kms", pair)
        root = f"arn:aws:iam::{account}:root"
        key = kms.create_key(Description=f"of {account}")["KeyMetadata"]
        alias = f"alias/{unique('acct')}"
        kms.create_alias(AliasName=alias, TargetKeyId=key["KeyId"])
        grant = kms.create_grant(KeyId=key["KeyId"], GranteePrincipal=root,
                                 RetiringPrincipal=root, Operations=["Decrypt"])["GrantId"]
        kms.encrypt(KeyId=alias, Plaintext=b"x")
        made[account] = {"key": key, "alias": alias, "grant": grant, "root": root}

    pairs = ((ACCOUNT, OTHER_ACCOUNT), (OTHER_ACCOUNT, ACCOUNT))
    # The trails first: a call on the other's key, refused or not, is (as in CloudTrail)
    # delivered to the key's owner too, which the checks after this loop make.
    for me, them in pairs:
        mine, theirs = made[me], made[them]
        ct = client(s, "cloudtrail", creds[me])
        # LookupEvents: my calls, each delivered to me, and nothing about the other's.
        records = [json.loads(e["CloudTrailEvent"]) for e in all_events(ct)]
        names = {(r["eventName"], r["recipientAccountId"]) for r in records}
        for name in ("CreateKey", "CreateAlias", "CreateGrant", "Encrypt"):
            assert (name, me) in names, (me, names)
        assert all(r["recipientAccountId"] == me for r in records), me
        texts = [json.dumps(r) for r in records]
        for secret in (theirs["key"]["KeyId"], theirs["alias"], theirs["grant"]):
            assert not any(secret in t for t in texts), (me, secret)
        # (My own CreateAccount call, in the default account, names the account it made.)
        naming_them = [t for t, r in zip(texts, records)
                       if them in t and r["eventName"] != "CreateAccount"]
        assert naming_them == [], (me, naming_them)
        assert all_events(ct, LookupAttributes=[
            {"AttributeKey": "ResourceName", "AttributeValue": theirs["key"]["Arn"]}]) == []
    for me, them in pairs:
        mine, theirs = made[me], made[them]
        kms = client(s, "kms", creds[me])
        # Keys and aliases: mine are listed, theirs are not, and cannot be reached.
        keys = {k["KeyId"] for p in kms.get_paginator("list_keys").paginate() for k in p["Keys"]}
        assert mine["key"]["KeyId"] in keys and theirs["key"]["KeyId"] not in keys
        aliases = {a["AliasName"] for p in kms.get_paginator("list_aliases").paginate()
                   for a in p["Aliases"]}
        assert mine["alias"] in aliases and theirs["alias"] not in aliases
        harness.expect_error(kms.describe_key, "NotFoundException", KeyId=theirs["alias"])
        harness.expect_error(kms.describe_key, "AccessDeniedException",
                             KeyId=theirs["key"]["Arn"])
        # Grants: mine are listed; theirs neither on their key nor by their retiring principal.
        grants = kms.list_grants(KeyId=mine["key"]["KeyId"])["Grants"]
        assert [g["GrantId"] for g in grants] == [mine["grant"]]
        harness.expect_error(kms.list_grants, "AccessDeniedException", KeyId=theirs["key"]["Arn"])
        retirable = kms.list_retirable_grants(RetiringPrincipal=mine["root"])["Grants"]
        assert [g["GrantId"] for g in retirable] == [mine["grant"]]
        harness.expect_error(kms.list_retirable_grants, "AccessDeniedException",
                             RetiringPrincipal=theirs["root"])
