"""Data: deterministic per-(run, peer) shards, resumable reading, packing, and one-line errors."""

from __future__ import annotations

import json
from collections import Counter
from itertools import islice
from pathlib import Path

import pytest

from trainer.errors import DataError
from trainer.training.config import TrainConfig
from trainer.training.data import BatchStream, ShardReader, check_data_source, pack_tokens, peer_shard


def config_for(data: Path | str, **overrides) -> TrainConfig:
    settings = dict(data=str(data), run_id="pool-7", data_shards=4, seq_len=16, batch_size=2)
    return TrainConfig(**(settings | overrides))


def test_peer_shard_is_a_stable_function_of_run_and_peer() -> None:
    assert peer_shard("pool-7", "QmPeerA", 64) == peer_shard("pool-7", "QmPeerA", 64)
    shards = Counter(peer_shard("pool-7", f"QmPeer{i}", 8) for i in range(800))
    assert set(shards) == set(range(8)) and min(shards.values()) > 60  # roughly uniform
    moved = sum(peer_shard("pool-7", f"QmPeer{i}", 64) != peer_shard("pool-8", f"QmPeer{i}", 64) for i in range(100))
    assert moved > 90, "another run reshuffles peers across shards"


def test_a_peer_reads_only_its_shard_in_a_reproducible_order(corpus: Path) -> None:
    config = config_for(corpus)
    reader = ShardReader(config, "QmPeerA")
    docs = corpus.read_text().splitlines()
    mine = {doc for index, doc in enumerate(docs) if index % 4 == reader.shard}
    first = list(islice(iter(reader), 50))
    assert set(first) <= mine
    assert first == list(islice(iter(ShardReader(config, "QmPeerA")), 50)), "a validator can replay it"
    other = next(
        f"QmPeer{i}"
        for i in range(50)
        if peer_shard("pool-7", f"QmPeer{i}", 4) == reader.shard and f"QmPeer{i}" != "QmPeerA"
    )
    assert list(islice(iter(ShardReader(config, other)), 50)) != first, "same shard, different order"


def test_reading_resumes_at_the_saved_position(corpus: Path) -> None:
    config = config_for(corpus)
    reader = ShardReader(config, "QmPeerA")
    stream = iter(reader)
    list(islice(stream, 30))
    assert reader.position == 30
    expected = list(islice(stream, 20))
    resumed = list(islice(iter(ShardReader(config, "QmPeerA", start=30)), 20))
    assert resumed == expected


def test_reader_loops_over_passes_with_a_new_order(tmp_path: Path) -> None:
    path = tmp_path / "small.txt"
    path.write_text("\n".join(f"document number {i}" for i in range(40)) + "\n")
    reader = iter(ShardReader(config_for(path, data_shards=1), "QmPeerA"))
    first_pass, second_pass = list(islice(reader, 40)), list(islice(reader, 40))
    assert sorted(first_pass) == sorted(second_pass) and first_pass != second_pass


def test_jsonl_and_directories_are_read(tmp_path: Path) -> None:
    (tmp_path / "a.jsonl").write_text("\n".join(json.dumps({"text": f"json doc {i}"}) for i in range(8)) + "\n")
    (tmp_path / "b.txt").write_text("text doc 0\ntext doc 1\n")
    docs = list(islice(iter(ShardReader(config_for(tmp_path, data_shards=1), "QmPeerA")), 10))
    assert sorted(docs) == sorted([f"json doc {i}" for i in range(8)] + ["text doc 0", "text doc 1"])


def test_packing_cuts_equal_blocks_with_document_markers(tokenizer_dir: Path) -> None:
    from transformers import AutoTokenizer

    tokenizer = AutoTokenizer.from_pretrained(str(tokenizer_dir))
    docs = ["peer ada staked 10 inj on node 3.", "the loss of pool 2 fell."] * 20
    blocks = [block for block, _ in pack_tokens(iter(docs), tokenizer, 16)]
    assert blocks and all(len(block) == 16 for block in blocks)
    flat = [token for block in blocks for token in block]
    assert flat[0] == tokenizer.bos_token_id and tokenizer.eos_token_id in flat
    total = sum(len(tokenizer.encode(doc, add_special_tokens=False)) + 2 for doc in docs)
    assert len(flat) == total - total % 16, "nothing is padded, only the tail is held back"


def test_chunked_packing_matches_one_document_at_a_time(tokenizer_dir: Path) -> None:
    """Blocks and the cursor are the same whatever the tokenize chunk, so a checkpoint's data
    position means the same thing whichever way the data was tokenized."""
    from transformers import AutoTokenizer

    tokenizer = AutoTokenizer.from_pretrained(str(tokenizer_dir))
    docs = [f"node {i} of provider ada trained {'a long run of ' * (i % 7)}epoch {i}." for i in range(200)]
    one_by_one = list(pack_tokens(iter(docs), tokenizer, 16, chunk=1))
    assert list(pack_tokens(iter(docs), tokenizer, 16, chunk=64)) == one_by_one
    used = [n for _, n in one_by_one]
    assert used == sorted(used) and used[-1] <= len(docs)
    # the cursor of a block is the fewest documents whose tokens cover it
    lengths = [len(tokenizer.encode(doc, add_special_tokens=False)) + 2 for doc in docs]
    for index, (_, n) in enumerate(one_by_one):
        assert sum(lengths[:n]) >= 16 * (index + 1) > sum(lengths[: n - 1])


def test_batch_stream_resumes_where_its_batches_ended(corpus: Path, tokenizer_dir: Path) -> None:
    from transformers import AutoTokenizer

    tokenizer = AutoTokenizer.from_pretrained(str(tokenizer_dir))
    config = config_for(corpus)
    stream = BatchStream(config, tokenizer, "QmPeerA")
    for _ in range(5):
        next(stream)
    assert 0 < stream.position < stream.reader.position, "the reader runs a chunk ahead of the batches"
    # a restart from the saved position reads the next documents of the same order
    docs = list(islice(iter(ShardReader(config, "QmPeerA")), stream.position + 3))
    assert list(islice(iter(ShardReader(config, "QmPeerA", start=stream.position)), 3)) == docs[-3:]


def test_batches_have_the_configured_shape(corpus: Path, tokenizer_dir: Path) -> None:
    from transformers import AutoTokenizer

    stream = BatchStream(config_for(corpus), AutoTokenizer.from_pretrained(str(tokenizer_dir)), "QmPeerA")
    batch = next(stream)
    assert tuple(batch.input_ids.shape) == (2, 16) and batch.tokens == 32 and batch.samples == 2
    assert stream.position > 0


def write(path: Path, text: str) -> Path:
    path.write_text(text)
    return path


@pytest.mark.parametrize(
    ("make", "message"),
    [
        (lambda tmp: tmp / "missing.txt", "does not exist"),
        (lambda tmp: write(tmp / "empty.txt", ""), "is empty"),
        (lambda tmp: write(tmp / "data.csv", "a,b\n"), "neither .txt nor .jsonl"),
        (lambda tmp: (tmp / "dir").mkdir() or tmp / "dir", "holds no .txt or .jsonl"),
    ],
)
def test_bad_local_data_fails_early_in_one_line(tmp_path: Path, make, message: str) -> None:
    with pytest.raises(DataError, match=message) as error:
        check_data_source(config_for(make(tmp_path)))
    assert "\n" not in error.value.one_line()


def test_a_shard_with_no_documents_is_reported(tmp_path: Path) -> None:
    path = tmp_path / "two.txt"
    path.write_text("only one\nand two\n")
    config = config_for(path, data_shards=64)
    reader = next(ShardReader(config, f"QmPeer{i}") for i in range(500) if peer_shard("pool-7", f"QmPeer{i}", 64) >= 2)
    with pytest.raises(DataError, match="fewer than 64 documents"):
        next(iter(reader))
