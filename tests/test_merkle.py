"""RFC 9162 tree hashes and proofs against the published vectors of transparency-dev/merkle.

The vectors below are restated as data from github.com/transparency-dev/merkle,
``proof/verify_test.go`` (``leaves``, ``roots``, ``inclusionProofs``, ``consistencyProofs``) and
``testdata/consistency/1/happy-path.json``: the reference tree of RFC 6962/9162 over eight
leaves, its root at every size, and the proofs for a few (leaf, size) and (size1, size2) pairs.
"""

from __future__ import annotations

import base64
import hashlib

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from deconfliction.core.errors import InvalidInput
from deconfliction.core.merkle import (
    EMPTY_ROOT,
    Frontier,
    Node,
    consistency_plan,
    inclusion_plan,
    leaf_hash,
    node_hash,
    node_home,
    range_nodes,
    resolve,
    root_from_inclusion,
    tree_root,
    verify_consistency,
    verify_inclusion,
)

LEAVES = [bytes.fromhex(h) for h in (
    "", "00", "10", "2021", "3031", "40414243", "5051525354555657",
    "606162636465666768696a6b6c6d6e6f",
)]
ROOTS = [bytes.fromhex(h) for h in (
    "6e340b9cffb37a989ca544e6bb780a2c78901d3fb33738768511a30617afa01d",
    "fac54203e7cc696cf0dfcb42c92a1d9dbaf70ad9e621f4bd8d98662f00e3c125",
    "aeb6bcfe274b70a14fb067a5e5578264db0fa9b51af5e0ba159158f329e06e77",
    "d37ee418976dd95753c1c73862b9398fa2a2cf9b4ff0fdfe8b30cd95209614b7",
    "4e3bbb1f7b478dcfe71fb631631519a3bca12c9aefca1612bfce4c13a86264d4",
    "76e67dadbcdf1e10e1b74ddc608abd2f98dfb16fbce75277b5232a127f2087ef",
    "ddb89be403809e325750d3d263cd78929c2942b7942a34b77e122c9594a74c8c",
    "5dc9da79a70659a9ad559cb701ded9a2ab9d823aad2f4960cfe370eff4604328",
)]
# (leaf number from 1, tree size, proof): the Go file counts leaves from 1 in this table.
INCLUSION = [
    (1, 1, []),
    (1, 8, ["96a296d224f285c67bee93c30f8a309157f0daa35dc5b87e410b78630a09cfc7",
            "5f083f0a1a33ca076a95279832580db3e0ef4584bdff1f54c8a360f50de3031e",
            "6b47aaf29ee3c2af9af889bc1fb9254dabd31177f16232dd6aab035ca39bf6e4"]),
    (6, 8, ["bc1a0643b12e4d2d7c77918f44e0f4f79a838b6cf9ec5b5c283e1f4d88599e6b",
            "ca854ea128ed050b41b35ffc1b87b8eb2bde461e9e3b5596ece6b9d5975a0ae0",
            "d37ee418976dd95753c1c73862b9398fa2a2cf9b4ff0fdfe8b30cd95209614b7"]),
    (3, 3, ["fac54203e7cc696cf0dfcb42c92a1d9dbaf70ad9e621f4bd8d98662f00e3c125"]),
    (2, 5, ["6e340b9cffb37a989ca544e6bb780a2c78901d3fb33738768511a30617afa01d",
            "5f083f0a1a33ca076a95279832580db3e0ef4584bdff1f54c8a360f50de3031e",
            "bc1a0643b12e4d2d7c77918f44e0f4f79a838b6cf9ec5b5c283e1f4d88599e6b"]),
]
CONSISTENCY = [
    (1, 1, []),
    (1, 8, ["96a296d224f285c67bee93c30f8a309157f0daa35dc5b87e410b78630a09cfc7",
            "5f083f0a1a33ca076a95279832580db3e0ef4584bdff1f54c8a360f50de3031e",
            "6b47aaf29ee3c2af9af889bc1fb9254dabd31177f16232dd6aab035ca39bf6e4"]),
    (6, 8, ["0ebc5d3437fbe2db158b9f126a1d118e308181031d0a949f8dededebc558ef6a",
            "ca854ea128ed050b41b35ffc1b87b8eb2bde461e9e3b5596ece6b9d5975a0ae0",
            "d37ee418976dd95753c1c73862b9398fa2a2cf9b4ff0fdfe8b30cd95209614b7"]),
    (2, 5, ["5f083f0a1a33ca076a95279832580db3e0ef4584bdff1f54c8a360f50de3031e",
            "bc1a0643b12e4d2d7c77918f44e0f4f79a838b6cf9ec5b5c283e1f4d88599e6b"]),
    (6, 7, ["0ebc5d3437fbe2db158b9f126a1d118e308181031d0a949f8dededebc558ef6a",
            "b08693ec2e721597130641e8211e7eedccb4c26413963eee6c1e2ed16ffb1a5f",
            "d37ee418976dd95753c1c73862b9398fa2a2cf9b4ff0fdfe8b30cd95209614b7"]),
]
SOME_HASH = bytes.fromhex("abacaba000000000000000000000000000000000000000000060061e00123456")


def _all_nodes(leaves: list[bytes]) -> dict[Node, bytes]:
    """Every perfect node of the tree over leaf hashes ``leaves``, as a store keeps them."""
    nodes: dict[Node, bytes] = {}
    f = Frontier()
    for i, leaf in enumerate(leaves):
        for level, value in enumerate(f.append(leaf)):
            nodes[Node(level, i >> level)] = value
    return nodes


HASHED = [leaf_hash(x) for x in LEAVES]
NODES = _all_nodes(HASHED)


def test_the_empty_tree_is_the_hash_of_nothing() -> None:
    assert EMPTY_ROOT.hex() == "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"
    assert tree_root([]) == EMPTY_ROOT == Frontier().root()


@pytest.mark.parametrize("size", range(1, 9))
def test_roots_of_the_reference_tree(size: int) -> None:
    assert tree_root(HASHED[:size]) == ROOTS[size - 1]
    f = Frontier()
    for leaf in HASHED[:size]:
        f.append(leaf)
    assert f.root() == ROOTS[size - 1]
    # Resumed from its stored frontier nodes, the range gives the same root.
    again = Frontier(size, [NODES[n] for n in range_nodes(0, size)])
    assert again.root() == ROOTS[size - 1] and again.hashes == f.hashes


@pytest.mark.parametrize(("leaf", "size", "proof"), INCLUSION)
def test_inclusion_proofs_of_the_reference_tree(leaf: int, size: int, proof: list[str]) -> None:
    want = [bytes.fromhex(h) for h in proof]
    assert resolve(inclusion_plan(leaf - 1, size), NODES) == want
    assert root_from_inclusion(leaf - 1, size, HASHED[leaf - 1], want) == ROOTS[size - 1]
    verify_inclusion(leaf - 1, size, HASHED[leaf - 1], want, ROOTS[size - 1])


@pytest.mark.parametrize(("leaf", "size", "proof"), INCLUSION[1:])
def test_corrupt_inclusion_proofs_fail(leaf: int, size: int, proof: list[str]) -> None:
    """The probes of the Go test's ``corruptInclusionProof``."""
    good = [bytes.fromhex(h) for h in proof]
    index, root, leaf_h = leaf - 1, ROOTS[size - 1], HASHED[leaf - 1]
    probes: list[tuple[int, int, bytes, list[bytes], bytes]] = [
        (index - 1, size, leaf_h, good, root),
        (index + 1, size, leaf_h, good, root),
        (index ^ 2, size, leaf_h, good, root),
        (index, size * 2, leaf_h, good, root),
        (index, size // 2, leaf_h, good, root),
        (index, size, leaf_hash(b"WrongLeaf"), good, root),
        (index, size, leaf_h, good, EMPTY_ROOT),
        (index, size, leaf_h, good, SOME_HASH),
        (index, size, leaf_h, [*good, b""], root),
        (index, size, leaf_h, [*good, root], root),
        (index, size, leaf_h, [b"", *good], root),
        (index, size, leaf_h, [root, *good], root),
        (index, size, leaf_h, good[:-1], root),
    ]
    if len(good) > 1:
        probes.append((index, size, leaf_h, [good[0], SOME_HASH, *good[1:]], root))
    for n in range(len(good)):
        bad = list(good)
        bad[n] = bytes([bad[n][0] ^ 8]) + bad[n][1:]
        probes.append((index, size, leaf_h, bad, root))
    for i, s, lh, p, r in probes:
        with pytest.raises(InvalidInput):
            verify_inclusion(i, s, lh, p, r)


@pytest.mark.parametrize(("size1", "size2", "proof"), CONSISTENCY)
def test_consistency_proofs_of_the_reference_tree(size1: int, size2: int, proof: list[str]) -> None:
    want = [bytes.fromhex(h) for h in proof]
    assert resolve(consistency_plan(size1, size2), NODES) == want
    verify_consistency(size1, size2, ROOTS[size1 - 1], ROOTS[size2 - 1], want)


def test_the_published_happy_path_file() -> None:
    """testdata/consistency/1/happy-path.json, whose hashes are base64."""
    root1 = base64.b64decode("bjQLnP+zepicpUTmu3gKLHiQHT+zNzh2hRGjBhevoB0=")
    root2 = base64.b64decode("XcnaeacGWamtVZy3Ad7ZoqudgjqtL0lgz+Nw7/RgQyg=")
    proof = [base64.b64decode(h) for h in (
        "lqKW0iTyhcZ77pPDD4owkVfw2qNdxbh+QQt4YwoJz8c=",
        "Xwg/ChozygdqlSeYMlgNs+DvRYS9/x9UyKNg9Q3jAx4=",
        "a0eq8p7jwq+a+Im8H7klTavTEXfxYjLdaqsDXKOb9uQ=",
    )]
    assert (root1, root2) == (ROOTS[0], ROOTS[7])
    verify_consistency(1, 8, root1, root2, proof)


@pytest.mark.parametrize(("size1", "size2", "proof"), CONSISTENCY[1:])
def test_corrupt_consistency_proofs_fail(size1: int, size2: int, proof: list[str]) -> None:
    """The probes of the Go test's ``corruptConsistencyProof``."""
    good = [bytes.fromhex(h) for h in proof]
    r1, r2 = ROOTS[size1 - 1], ROOTS[size2 - 1]
    wrong = hashlib.sha256(b"WrongRoot").digest()
    probes: list[tuple[int, int, bytes, bytes, list[bytes]]] = [
        (size1 - 1, size2, r1, r2, good),
        (size1 + 1, size2, r1, r2, good),
        (size1 ^ 2, size2, r1, r2, good),
        (size1, size2 * 2, r1, r2, good),
        (size1, size2 // 2, r1, r2, good),
        (size1, size2, wrong, r2, good),
        (size1, size2, r1, wrong, good),
        (size1, size2, r2, r1, good),
        (size1, size2, r1, r2, []),
        (size1, size2, r1, r2, [*good, b""]),
        (size1, size2, r1, r2, [*good, r1]),
        (size1, size2, r1, r2, [*good, r2]),
        (size1, size2, r1, r2, [b"", *good]),
        (size1, size2, r1, r2, [r1, *good]),
        (size1, size2, r1, r2, [r2, *good]),
        (size1, size2, r1, r2, [good[0], *good]),
        (size1, size2, r1, r2, good[:-1]),
    ]
    for n in range(len(good)):
        bad = list(good)
        bad[n] = bytes([bad[n][0] ^ 16]) + bad[n][1:]
        probes.append((size1, size2, r1, r2, bad))
    for s1, s2, a, b, p in probes:
        with pytest.raises(InvalidInput):
            verify_consistency(s1, s2, a, b, p)


def test_trivial_consistency_cases_of_the_go_tests() -> None:
    some, other = hashlib.sha256(b"1").digest(), hashlib.sha256(b"2").digest()
    verify_consistency(0, 0, some, some, [])
    verify_consistency(0, 1, some, other, [])  # the empty tree is a prefix of every tree
    verify_consistency(1, 1, other, other, [])
    for args in [(0, 0, some, other, []), (1, 1, some, other, []), (1, 0, some, other, []),
                 (2, 1, some, other, []), (1, 2, some, other, []),
                 (0, 0, EMPTY_ROOT, EMPTY_ROOT, [EMPTY_ROOT]),
                 (0, 1, EMPTY_ROOT, EMPTY_ROOT, [EMPTY_ROOT]),
                 (1, 1, EMPTY_ROOT, EMPTY_ROOT, [EMPTY_ROOT])]:
        with pytest.raises(InvalidInput):
            verify_consistency(*args)  # type: ignore[arg-type]


def test_inclusion_of_a_single_leaf_and_bad_ranges() -> None:
    h = leaf_hash(b"data")
    verify_inclusion(0, 1, h, [], h)
    for index, size in [(0, 0), (1, 0), (2, 1)]:
        with pytest.raises(InvalidInput):
            verify_inclusion(index, size, SOME_HASH, [], EMPTY_ROOT)
    with pytest.raises(InvalidInput):
        verify_inclusion(0, 1, h, [], b"")
    with pytest.raises(InvalidInput) as exc:
        inclusion_plan(3, 3)
    assert exc.value.field == "seq"
    with pytest.raises(InvalidInput) as exc:
        consistency_plan(4, 3)
    assert exc.value.field == "from"


def test_node_home_finds_each_node_in_the_leaf_that_completed_it() -> None:
    rows: list[bytes] = []
    f = Frontier()
    for leaf in HASHED:
        rows.append(b"".join(f.append(leaf)))
    for node, value in NODES.items():
        row, offset = node_home(node)
        assert rows[row][offset : offset + 32] == value
    assert node_hash(NODES[Node(0, 0)], NODES[Node(0, 1)]) == NODES[Node(1, 0)]


@settings(deadline=None, max_examples=60)
@given(st.integers(1, 300), st.data())
def test_every_proof_of_a_random_tree_verifies(size: int, data: st.DataObject) -> None:
    leaves = [leaf_hash(n.to_bytes(4, "big")) for n in range(size)]
    nodes = _all_nodes(leaves)
    roots = [tree_root(leaves[:n]) for n in range(size + 1)]
    index = data.draw(st.integers(0, size - 1))
    at = data.draw(st.integers(index + 1, size))
    proof = resolve(inclusion_plan(index, at), nodes)
    verify_inclusion(index, at, leaves[index], proof, roots[at])
    old = data.draw(st.integers(0, at))
    proof = resolve(consistency_plan(old, at), nodes)
    verify_consistency(old, at, roots[old], roots[at], proof)
    assert Frontier(at, [nodes[n] for n in range_nodes(0, at)]).root() == roots[at]
