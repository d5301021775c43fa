"""The artifact cache, atomic writes, safe loaders and the results database, on real files."""

from __future__ import annotations

import csv
import hashlib
import json
import logging
import math
import os
import signal
import sqlite3
import stat
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import torch

from simfunc import InputError
from simfunc.io import (
    FORMAT_VERSION,
    atomic_save_npz,
    atomic_torch_save,
    atomic_write_bytes,
    atomic_write_json,
    atomic_writer,
    canonical_json,
    config_hash,
    load_artifact,
    load_json,
    load_npz,
    load_torch,
)
from simfunc.store import MANIFEST_NAME, Cache, ResultsDB

REPO = Path(__file__).resolve().parents[2]
SUBPROCESS_ENV = {
    **os.environ,
    "PYTHONPATH": os.pathsep.join([str(REPO / "src"), str(REPO / "tests")]),
}


def run_python(code: str, **options) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-c", textwrap.dedent(code)],
        env=options.pop("env", SUBPROCESS_ENV),
        capture_output=True,
        text=True,
        timeout=120,
        **options,
    )


def start_python(code: str, **options) -> subprocess.Popen:
    return subprocess.Popen(
        [sys.executable, "-c", textwrap.dedent(code)],
        env=SUBPROCESS_ENV,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        **options,
    )


def wait_for_line(process: subprocess.Popen, expected: str, timeout: float = 60) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        line = process.stdout.readline()
        if expected in line:
            return
        if not line and process.poll() is not None:
            raise AssertionError(f"subprocess ended early: {process.stderr.read()}")
    raise AssertionError(f"subprocess never printed {expected!r}")


# -- configuration hashing ------------------------------------------------------------------------

CONFIG = {
    "arch": "resnet18",
    "lr": 0.1,
    "epochs": 3,
    "layers": [1, 2],
    "opt": {"m": 0.9, "nesterov": True},
}


def test_config_hash_ignores_dict_order():
    reordered = {
        "opt": {"nesterov": True, "m": 0.9},
        "layers": [1, 2],
        "epochs": 3,
        "lr": 0.1,
        "arch": "resnet18",
    }
    assert config_hash("pkg.mod:train", CONFIG) == config_hash("pkg.mod:train", reordered)


def test_config_hash_changes_with_every_change():
    base = config_hash("pkg.mod:train", CONFIG)
    variants = [
        ("pkg.mod:train", {**CONFIG, "arch": "resnet34"}),
        ("pkg.mod:train", {**CONFIG, "lr": 0.1000001}),
        ("pkg.mod:train", {**CONFIG, "epochs": 3.0}),  # 3 and 3.0 are different JSON
        ("pkg.mod:train", {**CONFIG, "layers": [2, 1]}),
        ("pkg.mod:train", {**CONFIG, "opt": {"m": 0.9, "nesterov": False}}),
        ("pkg.mod:train", {**CONFIG, "extra": None}),
        ("pkg.mod:extract", CONFIG),
    ]
    keys = [config_hash(fn, config) for fn, config in variants]
    keys.append(config_hash("pkg.mod:train", CONFIG, inputs={"train/a": "0" * 20}))
    assert base not in keys
    assert len(set(keys)) == len(keys)


def test_config_hash_is_sha256_of_the_documented_canonical_json():
    # written by hand from the specification: sorted keys, no spaces, floats via repr
    expected_text = (
        '{"config":{"a":{"c":null,"d":true},"b":[1,2.5,"x"],"e":0.1},'
        f'"fn":"m.n:f","format":{FORMAT_VERSION}}}'
    )
    expected = hashlib.sha256(expected_text.encode()).hexdigest()[:20]
    config = {"e": 0.1, "b": (1, 2.5, "x"), "a": {"d": True, "c": None}}
    assert config_hash("m.n:f", config) == expected
    assert canonical_json(config) == '{"a":{"c":null,"d":true},"b":[1,2.5,"x"],"e":0.1}'


def test_config_hash_is_the_same_in_separate_interpreters():
    code = """
        from simfunc.io import config_hash
        config = {"z": [0.1, 1e-300, 12345678901234567890], "a": {"x": "é", "y": (1, 2)},
                  "m": {str(i): i * 0.3 for i in range(50)}}
        print(config_hash("pkg.mod:train", config))
    """
    keys = []
    for seed in ("0", "12345"):
        result = run_python(code, env={**SUBPROCESS_ENV, "PYTHONHASHSEED": seed})
        assert result.returncode == 0, result.stderr
        keys.append(result.stdout.strip())
    config = {
        "z": [0.1, 1e-300, 12345678901234567890],
        "a": {"x": "é", "y": (1, 2)},
        "m": {str(i): i * 0.3 for i in range(50)},
    }
    assert keys[0] == keys[1] == config_hash("pkg.mod:train", config)
    assert len(keys[0]) == 20 and int(keys[0], 16) >= 0


def test_config_hash_accepts_tuples_and_numpy_scalars_as_their_json():
    plain = {"seed": 3, "lr": 0.25, "flag": True, "sizes": [1, 2]}
    numpy_flavoured = {
        "seed": np.int64(3),
        "lr": np.float64(0.25),
        "flag": np.bool_(True),
        "sizes": (np.int32(1), 2),
    }
    assert config_hash("m:f", plain) == config_hash("m:f", numpy_flavoured)


@pytest.mark.parametrize(
    "bad, where",
    [
        ({"lr": float("nan")}, "config['lr']"),
        ({"opt": {"eps": float("inf")}}, "config['opt']['eps']"),
        ({"layers": {1, 2}}, "config['layers']"),
        ({1: "one"}, "key 1"),
        ({"blob": b"raw"}, "config['blob']"),
        ({"path": Path("/tmp")}, "config['path']"),
        ({"array": np.zeros(3)}, "config['array']"),
        ({"items": [1, object()]}, "config['items'][1]"),
    ],
)
def test_config_hash_rejects_values_without_one_json_spelling(bad, where):
    with pytest.raises(InputError, match=r".*") as info:
        config_hash("m:f", bad)
    assert where in str(info.value)


# -- atomic writes ---------------------------------------------------------------------------------


def test_atomic_writer_killed_mid_write_leaves_no_target(tmp_path):
    target = tmp_path / "big.bin"
    process = start_python(
        f"""
        import sys, time
        from simfunc.io import atomic_writer
        with atomic_writer({str(target)!r}) as handle:
            handle.write(b"x" * (1 << 20))
            handle.flush()
            print("writing", flush=True)
            for _ in range(600):
                handle.write(b"y" * (1 << 16))
                time.sleep(0.05)
        """
    )
    wait_for_line(process, "writing")
    process.send_signal(signal.SIGKILL)
    process.wait(timeout=30)
    assert not target.exists()
    leftovers = [path.name for path in tmp_path.iterdir()]
    assert len(leftovers) == 1 and ".simfunc-tmp-" in leftovers[0]  # only the temporary file


@pytest.mark.parametrize("delay", [0.05, 0.3, 0.8])
def test_atomic_write_bytes_killed_at_any_moment_leaves_a_complete_file(tmp_path, delay):
    target = tmp_path / "data.bin"
    size = 16 << 20
    process = start_python(
        f"""
        from simfunc.io import atomic_write_bytes
        print("started", flush=True)
        for i in range(1, 1000):
            atomic_write_bytes({str(target)!r}, bytes([i % 256]) * {size})
        """
    )
    wait_for_line(process, "started")
    time.sleep(delay)
    process.send_signal(signal.SIGKILL)
    process.wait(timeout=30)
    if target.exists():
        data = target.read_bytes()
        assert len(data) == size
        assert data.count(data[:1]) == size  # one complete version, not a mix


def test_atomic_writer_error_keeps_the_old_file(tmp_path):
    target = atomic_write_bytes(tmp_path / "a.bin", b"old")
    with pytest.raises(RuntimeError), atomic_writer(target) as handle:
        handle.write(b"new, half written")
        raise RuntimeError("writer failed")
    assert target.read_bytes() == b"old"
    assert [path.name for path in tmp_path.iterdir()] == ["a.bin"]


def test_atomic_writes_get_the_permissions_an_ordinary_write_gets(tmp_path):
    """mkstemp makes private (0600) files; artifacts must be readable like any other file."""
    written = atomic_write_bytes(tmp_path / "atomic.bin", b"x")
    plain = tmp_path / "plain.bin"
    plain.write_bytes(b"x")
    assert stat.S_IMODE(written.stat().st_mode) == stat.S_IMODE(plain.stat().st_mode)
    assert stat.S_IMODE(written.stat().st_mode) & stat.S_IRGRP  # under the usual umask 022


def test_atomic_json_and_npz_reject_what_cannot_be_loaded_safely(tmp_path):
    with pytest.raises(InputError, match="JSON"):
        atomic_write_json(tmp_path / "a.json", {"value": float("nan")})
    with pytest.raises(InputError, match="object"):
        atomic_save_npz(tmp_path / "a.npz", bad=np.array([{"a": 1}], dtype=object))
    assert list(tmp_path.iterdir()) == []


# -- commit and lookup -----------------------------------------------------------------------------


def make_entry(cache: Cache, key: str = "k" * 20, namespace: str = "features") -> Path:
    staging = cache.prepare_staging(namespace, key)
    atomic_save_npz(
        staging / "features.npz", X=np.arange(12.0).reshape(3, 4), y=np.array([0, 1, 1])
    )
    atomic_write_json(staging / "meta.json", {"accuracy": 0.5})
    atomic_torch_save(staging / "sub" / "weights.pt", {"w": torch.arange(4.0)})
    return cache.commit(
        staging, fn="pkg.mod:extract", config={"layer": "fc"}, inputs={"m": "a" * 20}
    )


def test_commit_and_lookup_round_trip(tmp_path):
    cache = Cache(tmp_path / "cache")
    entry = make_entry(cache)
    assert entry == tmp_path / "cache" / "features" / ("k" * 20)
    assert not cache.staging_path("features", "k" * 20).exists()
    assert cache.lookup("features", "k" * 20) == entry
    manifest = json.loads((entry / MANIFEST_NAME).read_text())
    assert set(manifest["files"]) == {"features.npz", "meta.json", "sub/weights.pt"}
    for name, info in manifest["files"].items():
        data = (entry / name).read_bytes()
        assert info == {"size": len(data), "sha256": hashlib.sha256(data).hexdigest()}
    assert manifest["config"] == {"layer": "fc"} and manifest["fn"] == "pkg.mod:extract"
    assert manifest["inputs"] == {"m": "a" * 20} and manifest["format_version"] == FORMAT_VERSION
    assert manifest["simfunc_version"] and manifest["created"]
    arrays = cache.load(entry, "features.npz")
    np.testing.assert_array_equal(arrays["X"], np.arange(12.0).reshape(3, 4))
    assert cache.load(entry, "meta.json") == {"accuracy": 0.5}
    assert torch.equal(cache.load(entry, "sub/weights.pt")["w"], torch.arange(4.0))


def test_lookup_of_a_missing_entry_is_quiet(tmp_path, caplog):
    with caplog.at_level(logging.WARNING):
        assert Cache(tmp_path).lookup("features", "0" * 20) is None
    assert caplog.records == []


def flip_byte(path: Path, position: int = -10) -> None:
    data = bytearray(path.read_bytes())
    data[position] ^= 0xFF
    path.write_bytes(bytes(data))


@pytest.mark.parametrize(
    "damage, problem",
    [
        (lambda entry: flip_byte(entry / "features.npz"), "features.npz' has sha256"),
        (lambda entry: flip_byte(entry / "sub" / "weights.pt", 40), "weights.pt' has sha256"),
        (lambda entry: os.truncate(entry / "features.npz", 100), "features.npz' has 100 bytes"),
        (lambda entry: (entry / "meta.json").unlink(), "meta.json' is missing"),
        (lambda entry: (entry / MANIFEST_NAME).unlink(), "manifest.json is missing"),
        (lambda entry: (entry / MANIFEST_NAME).write_text("{not json"), "unreadable"),
    ],
)
def test_damaged_entries_are_reported_and_removed(tmp_path, caplog, damage, problem):
    cache = Cache(tmp_path)
    entry = make_entry(cache)
    assert cache.lookup("features", "k" * 20) == entry  # verified once, remembered
    damage(entry)
    with caplog.at_level(logging.WARNING, logger="simfunc.store.cache"):
        assert cache.lookup("features", "k" * 20) is None
    messages = [record.getMessage() for record in caplog.records]
    assert len(messages) == 1
    assert f"features/{'k' * 20}" in messages[0] and problem in messages[0]
    assert not entry.exists()
    assert not (tmp_path / ".corrupt" / "features").exists() or not any(
        (tmp_path / ".corrupt" / "features").iterdir()
    )


def test_keep_corrupt_quarantines_the_entry(tmp_path, caplog):
    cache = Cache(tmp_path, keep_corrupt=True)
    entry = make_entry(cache)
    flip_byte(entry / "meta.json", 3)
    with caplog.at_level(logging.WARNING):
        assert cache.lookup("features", "k" * 20) is None
    (kept,) = (tmp_path / ".corrupt" / "features").iterdir()
    assert (kept / "meta.json").exists() and str(kept) in caplog.text


def test_lookup_without_verify_checks_sizes_but_not_contents(tmp_path):
    cache = Cache(tmp_path)
    entry = make_entry(cache)
    flip_byte(entry / "meta.json", 3)  # same size: only a checksum sees it
    assert cache.lookup("features", "k" * 20, verify=False) == entry
    assert cache.lookup("features", "k" * 20, verify=True) is None
    entry = make_entry(cache)
    os.truncate(entry / "meta.json", 2)
    assert cache.lookup("features", "k" * 20, verify=False) is None


def test_a_second_commit_of_the_same_entry_keeps_the_first(tmp_path):
    cache = Cache(tmp_path)
    first = make_entry(cache)
    first_manifest = (first / MANIFEST_NAME).read_bytes()
    staging = cache.prepare_staging("features", "k" * 20)
    atomic_write_json(staging / "meta.json", {"accuracy": 0.5})
    assert cache.commit(staging, fn="pkg.mod:extract") == first
    assert (first / MANIFEST_NAME).read_bytes() == first_manifest
    assert not staging.exists()


def test_a_commit_replaces_a_corrupt_existing_entry(tmp_path, caplog):
    cache = Cache(tmp_path)
    entry = make_entry(cache)
    flip_byte(entry / "meta.json", 3)
    staging = cache.prepare_staging("features", "k" * 20)
    atomic_write_json(staging / "meta.json", {"accuracy": 0.75})
    with caplog.at_level(logging.WARNING):
        assert cache.commit(staging) == entry
    assert load_json(entry / "meta.json") == {"accuracy": 0.75}
    assert "damaged" in caplog.text and cache.lookup("features", "k" * 20) == entry


def test_staging_keeps_job_files_and_drops_leftovers(tmp_path):
    cache = Cache(tmp_path)
    staging = cache.prepare_staging("train", "c" * 20)
    atomic_write_json(staging / "checkpoint.json", {"epoch": 3})
    (staging / ".weights.pt.simfunc-tmp-abc123").write_bytes(b"half a file")
    (staging / MANIFEST_NAME).write_text("{}")  # from a commit interrupted before its rename
    assert cache.prepare_staging("train", "c" * 20) == staging
    assert sorted(path.name for path in staging.iterdir()) == ["checkpoint.json"]
    entry = cache.commit(staging)
    assert set(cache.manifest(entry)["files"]) == {"checkpoint.json"}


def test_commit_refuses_symlinks_and_foreign_directories(tmp_path):
    cache = Cache(tmp_path / "cache")
    staging = cache.prepare_staging("train", "d" * 20)
    (staging / "link").symlink_to(tmp_path)
    with pytest.raises(InputError, match="symbolic link"):
        cache.commit(staging)
    with pytest.raises(InputError, match="not a staging directory"):
        cache.commit(tmp_path)


@pytest.mark.parametrize(
    "namespace, key", [("", "a"), (".locks", "a"), ("a/b", "c"), ("x", "../y"), ("x", "k.partial")]
)
def test_names_that_could_escape_or_collide_are_rejected(tmp_path, namespace, key):
    with pytest.raises(InputError):
        Cache(tmp_path).entry_path(namespace, key)


def test_two_processes_computing_one_entry_compute_it_once(tmp_path):
    code = f"""
        import sys, time
        from simfunc.io import atomic_write_json
        from simfunc.store import Cache
        cache = Cache({str(tmp_path / "cache")!r})
        with cache.lock("train", "e" * 20):
            if cache.lookup("train", "e" * 20) is None:
                with open({str(tmp_path / "computed")!r}, "a") as log:
                    log.write(sys.argv[1] + "\\n")
                staging = cache.prepare_staging("train", "e" * 20)
                time.sleep(0.5)
                atomic_write_json(staging / "out.json", {{"by": sys.argv[1]}})
                cache.commit(staging)
        print(cache.lookup("train", "e" * 20))
    """
    processes = [
        subprocess.Popen(
            [sys.executable, "-c", textwrap.dedent(code), name],
            env=SUBPROCESS_ENV,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        for name in ("first", "second")
    ]
    outputs = [process.communicate(timeout=60) for process in processes]
    assert all(process.returncode == 0 for process in processes), outputs
    assert len((tmp_path / "computed").read_text().splitlines()) == 1
    assert outputs[0][0] == outputs[1][0] == f"{tmp_path / 'cache' / 'train' / ('e' * 20)}\n"


# -- safe loaders ----------------------------------------------------------------------------------


class _Payload:
    """Unpickling this creates a file: proof that loading ran code."""

    def __init__(self, marker: Path) -> None:
        self.marker = str(marker)

    def __reduce__(self):
        return (open, (self.marker, "w"))


def test_torch_loader_refuses_a_checkpoint_that_would_run_code(tmp_path):
    marker = tmp_path / "code-ran"
    path = tmp_path / "evil.pt"
    torch.save({"weights": torch.ones(2), "payload": _Payload(marker)}, path)
    with pytest.raises(InputError, match="weights-only"):
        load_torch(path)
    with pytest.raises(InputError, match="weights-only"):
        load_artifact(path)
    assert not marker.exists()
    torch.load(path, weights_only=False)  # the payload is real: an unsafe load runs it
    assert marker.exists()


def test_loaders_read_plain_artifacts_and_refuse_pickled_arrays(tmp_path):
    state = {"layer.weight": torch.randn(3, 2), "epoch": 4}
    atomic_torch_save(tmp_path / "ok.pt", state)
    loaded = load_torch(tmp_path / "ok.pt")
    assert torch.equal(loaded["layer.weight"], state["layer.weight"]) and loaded["epoch"] == 4
    np.save(tmp_path / "objects.npy", np.array([{"a": 1}], dtype=object), allow_pickle=True)
    with open(tmp_path / "objects.npz", "wb") as handle:
        np.savez(handle, bad=np.array([{"a": 1}], dtype=object))
    with pytest.raises(InputError, match="pickle"):
        load_npz(tmp_path / "objects.npz")
    with pytest.raises(InputError, match="suffix"):
        load_artifact(tmp_path / "objects.npy")
    with pytest.raises(InputError, match="does not exist"):
        load_json(tmp_path / "absent.json")


# -- results database ------------------------------------------------------------------------------

PAIR_COLUMNS = ("model_a", "model_b", "test_set", "layer", "measure", "value")
PAIR_ROWS = [
    dict(zip(PAIR_COLUMNS, values, strict=True))
    for values in [
        ("m0", "m1", "cifar", "penultimate", "linear_cka", 0.8),
        ("m0", "m1", "cifar", "output", "jsd", 0.1),
        ("m0", "m2", "cifar", "penultimate", "linear_cka", 0.6),
        ("m0", "m2", "cifar", "output", "jsd", 0.3),
        ("m0", "m1", "svhn", "penultimate", "linear_cka", 0.7),
        ("m0", "m1", "svhn", "output", "jsd", 0.2),
        ("m0", "m1", "cifar", "layer3", "linear_cka", 0.9),
    ]
]


def test_pairs_round_trip_into_pandas(tmp_path):
    with ResultsDB(tmp_path / "results.sqlite") as db:
        run_id = db.start_run("toy", "quick", {"seeds": [0, 1]})
        assert db.add_pairs(PAIR_ROWS, run_id=run_id) == len(PAIR_ROWS)
        frame = db.pairs()
        cka = db.pairs(measure="linear_cka", test_set=["cifar"])
    expected = pd.DataFrame([{"run_id": run_id, **row} for row in PAIR_ROWS])
    pd.testing.assert_frame_equal(frame, expected[frame.columns])
    assert sorted(cka["value"]) == [0.6, 0.8, 0.9]


def test_adding_a_pair_again_replaces_its_value(tmp_path):
    with ResultsDB(tmp_path / "results.sqlite") as db:
        db.add_pairs(PAIR_ROWS)
        db.add_pairs([{**PAIR_ROWS[0], "value": 0.55}], run_id="later")
        frame = db.pairs(model_b="m1", test_set="cifar", layer="penultimate")
        assert len(db.pairs()) == len(PAIR_ROWS)
    assert frame[["value", "run_id"]].values.tolist() == [[0.55, "later"]]


def test_keep_only_run_drops_what_the_latest_run_did_not_record(tmp_path):
    with ResultsDB(tmp_path / "results.sqlite") as db:
        db.add_pairs(PAIR_ROWS, run_id="old")
        db.add_model("m9", kind="classifier", run_id="old")
        db.add_scalar("toy", "acc", 0.5, run_id="old")
        db.add_pairs(PAIR_ROWS[:2], run_id="new")  # the rerun recorded only two pairs
        db.add_model("m1", kind="classifier", run_id="new")
        removed = db.keep_only_run("new")
        assert removed == (len(PAIR_ROWS) - 2) + 1 + 1
        assert sorted(db.pairs()["run_id"]) == ["new", "new"]
        assert db.models()["model_id"].tolist() == ["m1"] and db.scalars().empty


def test_notes_are_stored_with_the_runs_study_and_kept_by_the_rerun_that_records_them(tmp_path):
    with ResultsDB(tmp_path / "results.sqlite") as db:
        with pytest.raises(InputError, match="study"):  # no run in progress names the study
            db.add_notes([{"reason": "x"}])
        old = db.start_run("toy", "quick")
        note = {"context": "a vs b on digits", "layer": "features", "measure": "cca",
                "reason": "CCA is uninformative: p >= n"}
        assert db.add_notes([note, {"reason": "the run used a stand-in"}]) == 2
        db.finish_run(old)
        new = db.start_run("toy", "quick")
        db.add_notes([note])  # the rerun records the first note again, not the second
        assert db.keep_only_run(new) == 1
        notes = db.notes()
        assert notes[["study", "context", "layer", "measure", "reason", "run_id"]].values.tolist() == [
            ["toy", "a vs b on digits", "features", "cca", "CCA is uninformative: p >= n", new]]
        assert db.notes(measure="jsd").empty
        with pytest.raises(InputError, match=r"notes\[0\] lacks reason"):
            db.add_notes([{"context": "a vs b"}])
        with pytest.raises(InputError, match=r"notes\[0\]\['reason'\]"):
            db.add_notes([{"reason": ""}])
        with pytest.raises(InputError, match="unknown columns colour"):
            db.add_notes([{"reason": "r", "colour": "red"}])


@pytest.mark.parametrize("bad", [float("nan"), float("inf"), -float("inf"), None, "0.5", True])
def test_non_finite_or_non_numeric_values_are_rejected_and_nothing_is_written(tmp_path, bad):
    with ResultsDB(tmp_path / "results.sqlite") as db:
        rows = [*PAIR_ROWS[:3], {**PAIR_ROWS[3], "value": bad}]
        with pytest.raises(InputError, match=r"rows\[3\]\['value'\]"):
            db.add_pairs(rows)
        assert db.pairs().empty
        with pytest.raises(InputError, match="value"):
            db.add_scalar("toy", "svm_accuracy", bad)
        if bad is not None:  # accuracy is optional: None means "not measured"
            with pytest.raises(InputError):
                db.add_model("m0", kind="classifier", accuracy=bad)
        assert db.scalars().empty and db.models().empty


def test_malformed_pair_rows_are_rejected(tmp_path):
    with ResultsDB(tmp_path / "results.sqlite") as db:
        with pytest.raises(InputError, match="lacks layer"):
            db.add_pairs([{key: value for key, value in PAIR_ROWS[0].items() if key != "layer"}])
        with pytest.raises(InputError, match="unknown columns colour"):
            db.add_pairs([{**PAIR_ROWS[0], "colour": "red"}])
        with pytest.raises(InputError, match="model_a"):
            db.add_pairs([{**PAIR_ROWS[0], "model_a": ""}])
        with pytest.raises(InputError, match="not a column of pairs"):
            db.pairs(colour="red")


def test_wide_pairs_has_one_row_per_pair_and_one_column_per_measure(tmp_path):
    with ResultsDB(tmp_path / "results.sqlite") as db:
        db.add_pairs(PAIR_ROWS)
        wide = db.wide_pairs(layer=["penultimate", "output"])
        with pytest.raises(InputError, match="several values"):
            db.wide_pairs()  # linear_cka at two layers for (m0, m1, cifar)
        by_layer = db.wide_pairs(index=("model_a", "model_b", "test_set", "layer"))
    expected: dict[tuple, dict] = {}
    for row in PAIR_ROWS:
        if row["layer"] in ("penultimate", "output"):
            expected.setdefault((row["model_a"], row["model_b"], row["test_set"]), {})[
                row["measure"]
            ] = row["value"]
    assert sorted(wide.columns) == ["jsd", "linear_cka", "model_a", "model_b", "test_set"]
    assert len(wide) == len(expected) == 3
    for row in wide.itertuples(index=False):
        assert {"linear_cka": row.linear_cka, "jsd": row.jsd} == expected[
            (row.model_a, row.model_b, row.test_set)
        ]
    assert len(by_layer) == len(PAIR_ROWS)  # every row has its own (pair, test set, layer)
    assert by_layer["linear_cka"].notna().sum() == 4 and by_layer["jsd"].notna().sum() == 3


def test_models_scalars_and_runs(tmp_path):
    path = tmp_path / "results.sqlite"
    with ResultsDB(path) as db:
        run_id = db.start_run("toy", "quick", {"epochs": 2})
        db.add_model(
            "r18-s0",
            kind="classifier",
            run_id=run_id,
            arch="resnet18",
            dataset="cifar10",
            seed=0,
            epoch=2,
            accuracy=0.91,
            config={"lr": 0.1},
            extra={"params": 11},
        )
        db.add_model("r18-s0-e1", kind="checkpoint", arch="resnet18", epoch=1, parent="r18-s0")
        db.add_model(
            "r18-s0",
            kind="classifier",
            run_id=run_id,
            arch="resnet18",
            dataset="cifar10",
            seed=0,
            epoch=2,
            accuracy=0.93,
            config={"lr": 0.1},
        )  # an update, not a new row
        db.add_model(
            "agent", kind="agent", dataset="MiniGrid-Empty-5x5", trained=False, mean_return=0.12
        )
        db.add_scalar("toy", "svm_accuracy", 0.5, run_id=run_id)
        db.add_scalar("toy", "svm_accuracy", 0.75, run_id=run_id, extra={"folds": 5})
        db.finish_run(run_id, "completed")
        with pytest.raises(InputError, match="status"):
            db.finish_run(run_id, "done")
        with pytest.raises(InputError, match="not in"):
            db.finish_run("no-such-run")
        models = db.models()
        assert models["model_id"].tolist() == ["r18-s0", "r18-s0-e1", "agent"]
        first = models.iloc[0]
        assert first["accuracy"] == 0.93 and first["config"] == {"lr": 0.1} and first["extra"] == {}
        assert models["trained"].tolist() == [True, True, False]
        assert db.models(kind="checkpoint")["parent"].tolist() == ["r18-s0"]
        assert db.scalars()[["name", "value"]].values.tolist() == [["svm_accuracy", 0.75]]
        runs = db.runs()
        assert runs["status"].tolist() == ["completed"] and runs["settings"][0] == {"epochs": 2}
        assert runs["finished"][0] >= runs["started"][0] and runs["python_version"][0]
        joined = db.query(
            "SELECT m.arch, json_extract(m.config, '$.lr') AS lr FROM models m WHERE m.kind = ?",
            ("classifier",),
        )
        assert joined.values.tolist() == [["resnet18", 0.1]]
    with sqlite3.connect(path) as raw:  # a plain sqlite3 client sees the same tables
        assert raw.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
        assert raw.execute("SELECT count(*) FROM models").fetchone()[0] == 3


def test_rows_are_tagged_with_the_current_run(tmp_path):
    with ResultsDB(tmp_path / "results.sqlite") as db:
        db.add_pairs(PAIR_ROWS[:1])
        run_id = db.start_run("toy", "quick")
        assert db.run_id == run_id
        db.add_pairs(PAIR_ROWS[1:2])
        db.add_pairs(PAIR_ROWS[2:3], run_id="explicit")
        db.add_model("m0", kind="classifier")
        db.add_scalar("toy", "slope", 1.0)
        db.finish_run(run_id)
        assert db.run_id is None
        run_ids = db.pairs()["run_id"]
        assert run_ids.isna().tolist() == [True, False, False]  # added before any run started
        assert run_ids[1:].tolist() == [run_id, "explicit"]
        assert db.models()["run_id"].tolist() == db.scalars()["run_id"].tolist() == [run_id]


def test_export_csv_writes_every_table(tmp_path):
    with ResultsDB(tmp_path / "results.sqlite") as db:
        db.add_pairs(PAIR_ROWS, run_id="r1")
        db.add_model("m0", kind="classifier", config={"lr": 0.1})
        db.add_scalar("toy", "slope", -0.5)
        written = db.export_csv(tmp_path / "csv")
    assert sorted(written) == ["models", "notes", "pairs", "runs", "scalars"]
    with open(written["pairs"], newline="") as handle:
        rows = list(csv.DictReader(handle))
    assert [(row["model_b"], row["measure"], float(row["value"])) for row in rows] == [
        (row["model_b"], row["measure"], row["value"]) for row in PAIR_ROWS
    ]
    with open(written["models"], newline="") as handle:
        (model,) = list(csv.DictReader(handle))
    assert json.loads(model["config"]) == {"lr": 0.1}
    with open(written["scalars"], newline="") as handle:
        assert math.isclose(float(next(csv.DictReader(handle))["value"]), -0.5)


def test_closed_database_says_so(tmp_path):
    db = ResultsDB(tmp_path / "results.sqlite")
    db.close()
    db.close()
    with pytest.raises(InputError, match="closed"):
        db.pairs()
