"""The session log (a restart resumes the numbers and can still resend), the daily session
schedule, and the configuration file's checks."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import pytest

from gateway.fix.config import FixConfigError, load, session_day
from gateway.fix.store import SessionLog

IST = dt.timezone(dt.timedelta(hours=5, minutes=30))


def test_the_log_replays_numbers_and_messages(tmp_path: Path) -> None:
    log = SessionLog(tmp_path / "s.log")
    state = log.load()
    assert (state.next_in, state.next_out, state.sent) == (1, 1, {})
    state.next_in, state.next_out = 3, 4
    state.sent[2] = ("8", "37=1\x01", "20261201-10:00:00.000")
    state.day = "2026-12-01"
    log.save(state)
    state.next_out = 6
    state.sent[5] = ("8", "37=2\x01", "20261201-10:00:01.000")
    log.save(state)
    log.close()
    again = SessionLog(tmp_path / "s.log").load()
    assert (again.next_in, again.next_out, again.day) == (3, 6, "2026-12-01")
    assert again.sent == {2: ("8", "37=1\x01", "20261201-10:00:00.000"),
                          5: ("8", "37=2\x01", "20261201-10:00:01.000")}


def test_a_torn_last_line_is_ignored_and_a_reset_rewrites(tmp_path: Path) -> None:
    path = tmp_path / "s.log"
    log = SessionLog(path)
    state = log.load()
    state.next_in, state.next_out = 5, 5
    log.save(state)
    log.close()
    with path.open("ab") as f:
        f.write(b'[9,9,"", [[')  # a crash in the middle of a write
    state = SessionLog(path).load()
    assert (state.next_in, state.next_out) == (5, 5)
    log = SessionLog(path)
    state = log.load()
    state.next_in, state.next_out, state.sent = 2, 2, {}
    log.save(state)  # lower numbers: a reset, written as a new file
    log.close()
    assert len(path.read_bytes().splitlines()) == 1
    assert SessionLog(path).load().next_out == 2


def test_only_the_newest_messages_are_kept(tmp_path: Path) -> None:
    log = SessionLog(tmp_path / "s.log", keep=3)
    state = log.load()
    for seq in range(1, 8):
        state.sent[seq] = ("8", "", "t")
        state.next_out = seq + 1
        log.save(state)
    assert sorted(state.sent) == [5, 6, 7]
    log.close()
    assert sorted(SessionLog(tmp_path / "s.log", keep=3).load().sent) == [5, 6, 7]


def at(text: str) -> int:
    moment = dt.datetime.strptime(text, "%Y-%m-%d %H:%M").replace(tzinfo=IST)
    return int(moment.timestamp() * 1e9)


def test_the_session_day_starts_at_the_reset_time() -> None:
    six = dt.time(6, 0)
    assert session_day(at("2026-12-02 05:59"), six) == "2026-12-01"
    assert session_day(at("2026-12-02 06:00"), six) == "2026-12-02"
    assert session_day(at("2026-12-02 23:59"), dt.time(0, 0)) == "2026-12-02"


def write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "fix.toml"
    path.write_text(text)
    return path


HASH = "$argon2id$v=19$m=19456,t=2,p=1$c2FsdHNhbHQ$aGFzaGhhc2hoYXNoaGFzaA"


def test_a_good_config_loads(tmp_path: Path) -> None:
    config = load(write(tmp_path, f'''port = 9000
[[sessions]]
comp_id = "A1"
key_id = "gw_abc"
[[sessions]]
comp_id = "COPY"
kind = "drop_copy"
password_hash = "{HASH}"
accounts = ["alpha"]
reset_at = "17:30"
'''))
    assert config.port == 9000
    assert [s.comp_id for s in config.sessions] == ["A1", "COPY"]
    assert config.reset_time(config.sessions[0]) == dt.time(6, 0)
    assert config.reset_time(config.sessions[1]) == dt.time(17, 30)
    assert config.sessions[1].drop_copy


@pytest.mark.parametrize(("text", "complaint"), [
    ('[[sessions]]\ncomp_id = "A"\n', "give key_id or password_hash"),
    ('[[sessions]]\ncomp_id = "A"\nkey_id = "k"\npassword_hash = "h"\n', "one of them"),
    ('[[sessions]]\ncomp_id = "A"\nkey_id = "k"\naccounts = ["x"]\n', "key's account"),
    (f'[[sessions]]\ncomp_id = "A"\npassword_hash = "{HASH}"\n', "needs accounts"),
    ('[[sessions]]\ncomp_id = "A"\npassword_hash = "plain"\naccounts = ["x"]\n', "argon2"),
    ('[[sessions]]\ncomp_id = "A"\nkey_id = "k"\n[[sessions]]\ncomp_id = "A"\nkey_id = "j"\n',
     "unique"),
    ('reset_at = "25h"\n', "HH:MM"),
    ('porty = 1\n', "unknown field"),
    ('port = "x"\n', "Expected `int`"),
    ('[[sessions]]\ncomp_id = "bad id"\nkey_id = "k"\n', "comp_id"),
    ('this is not toml', "fix.toml"),
])
def test_a_bad_config_says_why(tmp_path: Path, text: str, complaint: str) -> None:
    with pytest.raises(FixConfigError, match=complaint):
        load(write(tmp_path, text))
