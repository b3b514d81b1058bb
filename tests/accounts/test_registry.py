"""The accounts registry through the core: accounts, keys, revocation, replay and images."""

from __future__ import annotations

import base64
import os
import stat
from pathlib import Path

import msgspec
import pytest

from accounts import keys
from accounts.registry import Scope
from engine import events as ev
from engine.commands import (
    AddApiKey,
    ApiKeyGrant,
    CommandBatch,
    CreateAccount,
    RevokeApiKey,
    decode_extras,
    encode_extras,
)
from engine.core import Core, CoreConfig
from engine.sequencer import CountingClock, Sequencer

KEK = bytes(range(32))


def core_and_sequencer(max_accounts: int = 8) -> tuple[Core, Sequencer]:
    config = CoreConfig(book="reference", max_orders=64, max_accounts=max_accounts,
                        initial_levels=2048)
    return Core(config), Sequencer(1, CountingClock())


def run(core: Core, sequencer: Sequencer, *commands: object) -> list[ev.Event]:
    return ev.decode(core.apply(sequencer.stamp(CommandBatch.of(list(commands)))))


def codes(out: list[ev.Event]) -> list[object]:
    return [e.code.name if isinstance(e, ev.Rejected) else type(e).__name__ for e in out]


def test_accounts_get_dense_ids_and_unique_names() -> None:
    core, seq = core_and_sequencer(max_accounts=4)
    out = run(core, seq, CreateAccount("alice"), CreateAccount("Bob Trader"),
              CreateAccount("ALICE"), CreateAccount(""), CreateAccount("x" * 65),
              CreateAccount("new\nline"), CreateAccount("carol"), CreateAccount("dave"))
    assert codes(out) == ["AccountCreated", "AccountCreated", "ACCOUNT_NAME_TAKEN",
                          "ACCOUNT_NAME_INVALID", "ACCOUNT_NAME_INVALID",
                          "ACCOUNT_NAME_INVALID", "AccountCreated", "CAPACITY_ACCOUNTS"]
    assert [e.account for e in out if isinstance(e, ev.AccountCreated)] == [1, 2, 3]
    assert core.registry.account_named("bob trader").account == 2


def test_an_account_can_be_given_the_id_it_has_on_other_shards() -> None:
    """A cluster makes one account on every shard under the same id: an id given is taken
    when free and in range, and the next free ids go around it."""
    core, seq = core_and_sequencer(max_accounts=5)
    out = run(core, seq, CreateAccount("dana", account=3), CreateAccount("erin"),
              CreateAccount("fay", account=3), CreateAccount("gus", account=0),
              CreateAccount("hal", account=5), CreateAccount("dana", account=4),
              CreateAccount("ivy"), CreateAccount("jo", account=4), CreateAccount("kim"))
    assert codes(out) == ["AccountCreated", "AccountCreated", "ACCOUNT_ID_UNAVAILABLE",
                          "ACCOUNT_ID_UNAVAILABLE", "ACCOUNT_ID_UNAVAILABLE",
                          "ACCOUNT_NAME_TAKEN", "AccountCreated", "AccountCreated",
                          "CAPACITY_ACCOUNTS"]
    assert [e.account for e in out if isinstance(e, ev.AccountCreated)] == [3, 1, 2, 4]
    # Replayed from the journal's encoding, the ids are the same.
    replayed, again = core_and_sequencer(max_accounts=5)
    batch = again.stamp(CommandBatch.of([CreateAccount("dana", account=3),
                                         CreateAccount("erin")]))
    journaled = CommandBatch(batch.rows.copy(), decode_extras(encode_extras(batch.extras)))
    assert journaled.commands()[0] == CreateAccount("dana", account=3)
    replayed.apply(journaled)
    assert replayed.registry.account_named("dana").account == 3
    assert replayed.registry.account_named("erin").account == 1


def test_keys_are_granted_checked_and_revoked() -> None:
    core, seq = core_and_sequencer()
    run(core, seq, CreateAccount("alice"), CreateAccount("bob"))
    grant, secret = keys.new_key(Scope.READ | Scope.TRADE, KEK, label="bot")
    bad_scopes = msgspec.structs.replace(keys.new_key(1, KEK)[0], scopes=64)
    bad_hash = msgspec.structs.replace(keys.new_key(1, KEK)[0], secret_sha256="00")
    out = run(core, seq, AddApiKey(1, grant), AddApiKey(2, grant), AddApiKey(9, grant),
              AddApiKey(1, bad_scopes), AddApiKey(1, bad_hash))
    assert codes(out) == ["ApiKeyAdded", "API_KEY_EXISTS", "UNKNOWN_ACCOUNT",
                          "API_KEY_INVALID", "API_KEY_INVALID"]
    assert (out[0].account, out[0].key_no, out[0].scopes) == (1, 1, 3)
    record = core.registry.active_key(grant.key_id)
    assert record is not None
    assert keys.unseal(record.grant, KEK) == secret

    out = run(core, seq, RevokeApiKey(2, grant.key_id), RevokeApiKey(1, grant.key_id),
              RevokeApiKey(1, grant.key_id), RevokeApiKey(1, "gwk_nosuchkey"))
    assert codes(out) == ["UNKNOWN_API_KEY", "ApiKeyRevoked", "UNKNOWN_API_KEY",
                          "UNKNOWN_API_KEY"]
    assert core.registry.active_key(grant.key_id) is None
    assert core.registry.keys_of(1)[0].revoked_seq > 0


def test_the_registry_survives_the_journal_encoding_images_and_replay() -> None:
    core, seq = core_and_sequencer()
    grant, _ = keys.new_key(Scope.ADMIN, KEK)
    batch = seq.stamp(CommandBatch.of([CreateAccount("ops"), AddApiKey(1, grant)]))
    # As recovery reads it: extras through msgpack, marks recomputed from the rows.
    journaled = CommandBatch(batch.rows.copy(), decode_extras(encode_extras(batch.extras)))
    replayed = Core(core.config)
    core.apply(batch)
    replayed.apply(journaled)
    assert replayed.state_hash() == core.state_hash()
    assert [type(c).__name__ for c in journaled.commands()] == ["CreateAccount", "AddApiKey"]
    assert journaled.commands()[1].grant == grant

    restored = Core.from_image(msgspec.msgpack.decode(msgspec.msgpack.encode(core.image()),
                                                      type=type(core.image())))
    assert restored.state_hash() == core.state_hash()
    assert restored.registry.active_key(grant.key_id) == core.registry.active_key(grant.key_id)

    before = core.state_hash()
    run(core, seq, RevokeApiKey(1, grant.key_id))
    assert core.state_hash() != before


def test_a_sealed_secret_opens_only_with_its_kek_and_key_id() -> None:
    grant, secret = keys.new_key(Scope.READ, KEK)
    assert grant.key_id.startswith("gwk_")
    assert secret not in repr(grant)
    assert keys.unseal(grant, KEK) == secret
    with pytest.raises(keys.SealError):
        keys.unseal(grant, bytes(32))
    moved = msgspec.structs.replace(grant, key_id="gwk_" + "0" * 24)
    with pytest.raises(keys.SealError):
        keys.unseal(moved, KEK)
    flipped = bytearray(grant.sealed_secret)
    flipped[-1] ^= 1
    with pytest.raises(keys.SealError):
        keys.unseal(msgspec.structs.replace(grant, sealed_secret=bytes(flipped)), KEK)


def test_login_signatures() -> None:
    grant, secret = keys.new_key(Scope.READ, KEK)
    signature = keys.sign(secret, grant.key_id, 1_700_000_000_000, "n1")
    def matches(key_secret: str, timestamp: int, nonce: str) -> bool:
        payload = keys.login_payload(grant.key_id, timestamp, nonce)
        return keys.signature_matches(key_secret, payload, signature)

    assert matches(secret, 1_700_000_000_000, "n1")
    assert not matches(secret, 1_700_000_000_001, "n1")
    assert not matches(secret, 1_700_000_000_000, "n2")
    assert not matches("other", 1_700_000_000_000, "n1")


def test_the_kek_comes_from_the_environment_or_a_private_file(tmp_path: Path) -> None:
    made = keys.load_kek(tmp_path, environ={})
    path = tmp_path / "secrets" / "kek"
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert keys.load_kek(tmp_path, environ={}) == made
    given = os.urandom(32)
    assert keys.load_kek(tmp_path, {"GRIDWORKS_KEK": base64.b64encode(given).decode()}) == given
    with pytest.raises(ValueError, match="GRIDWORKS_KEK"):
        keys.load_kek(tmp_path, {"GRIDWORKS_KEK": base64.b64encode(b"short").decode()})


def test_grants_are_plain_data() -> None:
    grant = ApiKeyGrant("gwk_" + "a" * 24, 1, "0" * 64, b"x", "label")
    assert msgspec.convert(list(msgspec.structs.astuple(grant)), ApiKeyGrant) == grant
