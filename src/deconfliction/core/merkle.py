"""Merkle tree hashes and proofs of RFC 9162 section 2.1, for the ledger as a transparency log.

A leaf hashes as ``SHA-256(0x00 || data)`` and an interior node as ``SHA-256(0x01 || left ||
right)``; the tree of ``n`` leaves splits at ``k``, the largest power of two below ``n``. The
empty tree hashes to ``SHA-256()`` (`EMPTY_ROOT`).

Nodes
-----
A `Node` ``(level, position)`` is the perfect subtree over leaves ``[position * 2**level,
(position + 1) * 2**level)``. Every hash a proof needs is either such a node or the fold of a
few of them (the right border of a tree whose size is not a power of two), so a store that
keeps the perfect nodes can answer any proof for any size the log has had. `inclusion_plan` and
`consistency_plan` say which nodes each proof element folds; the shell fetches them and calls
`resolve`. Leaf ``i`` completes the nodes ``(0, i)``, ``(1, i >> 1)``, ... up to level
``trailing_ones(i)``: `Frontier.append` returns exactly those hashes, bottom up, so a store can
keep them in the leaf's own row (`node_home` says which row and where in it).

Appending
---------
`Frontier` is the compact range ``[0, size)``: one hash per set bit of ``size``, largest first.
Appending merges equal-sized neighbours, O(log n) hashes, and `Frontier.root` folds it.

Examples
--------
Restated from ``transparency-dev/merkle`` (``proof/verify_test.go``): the reference tree's first
leaf is empty, its root at size 1 is ``6e340b9c...``:

>>> leaf_hash(b"").hex()[:8], EMPTY_ROOT.hex()[:8]
('6e340b9c', 'e3b0c442')
>>> f = Frontier()
>>> f.append(leaf_hash(b"")) == [leaf_hash(b"")], f.root() == leaf_hash(b"")
(True, True)
>>> inclusion_plan(0, 1), consistency_plan(3, 3)
([], [])
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable, Mapping, Sequence
from typing import Final, NamedTuple

from deconfliction.core.errors import InvalidInput

__all__ = [
    "EMPTY_ROOT",
    "HASH_BYTES",
    "Frontier",
    "Node",
    "consistency_plan",
    "inclusion_plan",
    "leaf_hash",
    "node_hash",
    "node_home",
    "range_nodes",
    "resolve",
    "root_from_inclusion",
    "tree_root",
    "verify_consistency",
    "verify_inclusion",
]

HASH_BYTES: Final = 32
EMPTY_ROOT: Final = hashlib.sha256(b"").digest()
"""The root of the empty tree, ``SHA-256()`` (RFC 9162 section 2.1.1)."""

_LEAF: Final = b"\x00"
_NODE: Final = b"\x01"


class Node(NamedTuple):
    """The perfect subtree over leaves ``[position << level, (position + 1) << level)``."""

    level: int
    position: int


def leaf_hash(data: bytes) -> bytes:
    """``SHA-256(0x00 || data)``: the hash of the leaf holding ``data``."""
    return hashlib.sha256(_LEAF + data).digest()


def node_hash(left: bytes, right: bytes) -> bytes:
    """``SHA-256(0x01 || left || right)``: an interior node."""
    return hashlib.sha256(_NODE + left + right).digest()


def _split(n: int) -> int:
    """The largest power of two strictly below ``n`` (``n >= 2``)."""
    return 1 << ((n - 1).bit_length() - 1)


def tree_root(leaves: Sequence[bytes]) -> bytes:
    """The tree hash over leaf hashes ``leaves``, straight from the definition (RFC 9162 2.1.1).

    O(n) hashes and O(log n) recursion; `Frontier` gets the same answer incrementally.
    """
    if not leaves:
        return EMPTY_ROOT
    if len(leaves) == 1:
        return leaves[0]
    k = _split(len(leaves))
    return node_hash(tree_root(leaves[:k]), tree_root(leaves[k:]))


def range_nodes(begin: int, end: int) -> tuple[Node, ...]:
    """The fewest perfect nodes covering leaves ``[begin, end)``, left to right.

    For a subtree of an RFC 9162 tree (``begin`` a multiple of a power of two at least
    ``end - begin``), folding their hashes from the right (`resolve`) gives its tree hash.

    >>> range_nodes(0, 7)
    (Node(level=2, position=0), Node(level=1, position=2), Node(level=0, position=6))
    >>> range_nodes(4, 4)
    ()
    """
    if not 0 <= begin <= end:
        raise InvalidInput(f"no leaf range [{begin}, {end})", field="size")
    nodes = []
    while begin < end:
        level = (begin & -begin).bit_length() - 1 if begin else (end - begin).bit_length() - 1
        while begin + (1 << level) > end:
            level -= 1
        nodes.append(Node(level, begin >> level))
        begin += 1 << level
    return tuple(nodes)


def _subtree(begin: int, end: int) -> tuple[Node, ...]:
    return range_nodes(begin, end)


def inclusion_plan(index: int, size: int) -> list[tuple[Node, ...]]:
    """The nodes behind each hash of the inclusion proof of leaf ``index`` in a tree of ``size``.

    RFC 9162 section 2.1.3.1, ``PATH(index, D[0:size])``, leaf to root: element ``i`` of the proof
    is `resolve` of the nodes in element ``i`` of the plan.

    Raises
    ------
    InvalidInput
        ``field="seq"`` unless ``0 <= index < size``.

    >>> inclusion_plan(6, 8)
    [(Node(level=0, position=7),), (Node(level=1, position=2),), (Node(level=2, position=0),)]
    """
    if not 0 <= index < size:
        raise InvalidInput(f"leaf {index} is not in a tree of size {size}", field="seq")
    plan: list[tuple[Node, ...]] = []
    begin, end = 0, size
    while end - begin > 1:  # top down; reversed at the end
        k = _split(end - begin)
        if index < begin + k:
            plan.append(_subtree(begin + k, end))
            end = begin + k
        else:
            plan.append(_subtree(begin, begin + k))
            begin += k
    plan.reverse()
    return plan


def consistency_plan(size1: int, size2: int) -> list[tuple[Node, ...]]:
    """The nodes behind each hash of the consistency proof from ``size1`` to ``size2``.

    RFC 9162 section 2.1.4.1, ``PROOF(size1, D[0:size2])``; empty when ``size1`` is 0 or equals
    ``size2`` (nothing to prove).

    Raises
    ------
    InvalidInput
        ``field="from"`` unless ``0 <= size1 <= size2``.

    >>> consistency_plan(2, 5)
    [(Node(level=1, position=1),), (Node(level=0, position=4),)]
    """
    if not 0 <= size1 <= size2:
        raise InvalidInput(f"no consistency proof from size {size1} to {size2}", field="from")
    if size1 in (0, size2):
        return []
    plan: list[tuple[Node, ...]] = []
    m, begin, end, whole = size1, 0, size2, True
    while m != end - begin:  # top down, as SUBPROOF recurses; reversed at the end
        k = _split(end - begin)
        if m <= k:
            plan.append(_subtree(begin + k, end))
            end = begin + k
        else:
            plan.append(_subtree(begin, begin + k))
            m, begin, whole = m - k, begin + k, False
    if not whole:
        plan.append(_subtree(begin, end))
    plan.reverse()
    return plan


def resolve(plan: Iterable[tuple[Node, ...]], nodes: Mapping[Node, bytes]) -> list[bytes]:
    """The proof's hashes: each element's nodes folded from the right.

    Raises ``KeyError`` when ``nodes`` lacks one the plan names.
    """
    proof = []
    for element in plan:
        value = nodes[element[-1]]
        for node in reversed(element[:-1]):
            value = node_hash(nodes[node], value)
        proof.append(value)
    return proof


def node_home(node: Node) -> tuple[int, int]:
    """Where a store that keeps `Frontier.append`'s hashes in each leaf's row finds ``node``.

    Returns ``(leaf, offset)``: the index of the leaf that completed the node and the node's byte
    offset in that leaf's hashes.

    >>> node_home(Node(0, 5)), node_home(Node(2, 1))
    ((5, 0), (7, 64))
    """
    return ((node.position + 1) << node.level) - 1, node.level * HASH_BYTES


class Frontier:
    """The compact range ``[0, size)``: the root of each perfect subtree, largest first.

    Appending a leaf costs O(log n) hashes; `root` folds the frontier into the tree hash.
    """

    __slots__ = ("_hashes", "_size")

    def __init__(self, size: int = 0, hashes: Sequence[bytes] = ()) -> None:
        """Resume at ``size`` from the hashes of `range_nodes` ``(0, size)``, in that order."""
        if size < 0 or len(hashes) != size.bit_count():
            raise InvalidInput(
                f"a tree of size {size} has {max(size, 0).bit_count()} frontier hashes",
                field="size",
            )
        self._size = size
        self._hashes = list(hashes)

    @property
    def size(self) -> int:
        """The number of leaves."""
        return self._size

    @property
    def hashes(self) -> tuple[bytes, ...]:
        """The frontier's hashes, largest subtree first (the nodes of `range_nodes` (0, size))."""
        return tuple(self._hashes)

    def append(self, leaf: bytes) -> list[bytes]:
        """Add the leaf hash ``leaf``; return the hashes of the nodes it completes, bottom up.

        Element ``l`` is node ``(l, index >> l)`` for the new leaf's ``index``.
        """
        done = [leaf]
        value = leaf
        n = self._size
        while n & 1:
            value = node_hash(self._hashes.pop(), value)
            done.append(value)
            n >>= 1
        self._hashes.append(value)
        self._size += 1
        return done

    def root(self) -> bytes:
        """The tree hash of the leaves so far (`EMPTY_ROOT` for none)."""
        if not self._hashes:
            return EMPTY_ROOT
        value = self._hashes[-1]
        for left in reversed(self._hashes[:-1]):
            value = node_hash(left, value)
        return value


# --- verification (RFC 9162 sections 2.1.3.2 and 2.1.4.2) -------------------------------------


def _check_hashes(proof: Sequence[bytes], field: str) -> None:
    for n, value in enumerate(proof):
        if not isinstance(value, bytes) or len(value) != HASH_BYTES:
            raise InvalidInput(f"proof hash {n} is not {HASH_BYTES} bytes", field=field)


def root_from_inclusion(index: int, size: int, leaf: bytes, proof: Sequence[bytes]) -> bytes:
    """The root that ``proof`` puts leaf hash ``leaf`` at ``index`` under, in a tree of ``size``.

    Raises
    ------
    InvalidInput
        ``field="index"`` when ``index`` is not below ``size``; ``field="hashes"`` when the
        proof has the wrong length or a hash that is not 32 bytes.
    """
    if not 0 <= index < size:
        raise InvalidInput(f"leaf {index} is not in a tree of size {size}", field="index")
    _check_hashes([leaf, *proof], "hashes")
    fn, sn, value = index, size - 1, leaf
    for p in proof:
        if sn == 0:
            raise InvalidInput("the inclusion proof is too long", field="hashes")
        if fn & 1 or fn == sn:
            value = node_hash(p, value)
            while not fn & 1 and fn:
                fn, sn = fn >> 1, sn >> 1
        else:
            value = node_hash(value, p)
        fn, sn = fn >> 1, sn >> 1
    if sn != 0:
        raise InvalidInput("the inclusion proof is too short", field="hashes")
    return value


def verify_inclusion(
    index: int, size: int, leaf: bytes, proof: Sequence[bytes], root: bytes
) -> None:
    """Raise `InvalidInput` (``field="hashes"``) unless ``proof`` puts ``leaf`` under ``root``."""
    if root_from_inclusion(index, size, leaf, proof) != root:
        raise InvalidInput("the inclusion proof does not lead to the root", field="hashes")


def verify_consistency(
    size1: int, size2: int, root1: bytes, root2: bytes, proof: Sequence[bytes]
) -> None:
    """Raise `InvalidInput` unless ``proof`` shows the tree ``(size1, root1)`` is a prefix of
    ``(size2, root2)``.

    The field named is ``from`` for sizes that go back, ``hashes`` for a proof that fails.
    """
    if not 0 <= size1 <= size2:
        raise InvalidInput(f"size {size2} is before size {size1}", field="from")
    _check_hashes(proof, "hashes")
    if size1 == size2:
        if proof or root1 != root2:
            raise InvalidInput("equal sizes with different roots or a proof", field="hashes")
        return
    if size1 == 0:
        if proof:
            raise InvalidInput("nothing to prove from the empty tree", field="hashes")
        return
    if not proof:
        raise InvalidInput("the consistency proof is empty", field="hashes")
    path = list(proof)
    if size1 & (size1 - 1) == 0:  # a power of two: the old root is itself a node of the new tree
        path.insert(0, root1)
    fn, sn = size1 - 1, size2 - 1
    while fn & 1:
        fn, sn = fn >> 1, sn >> 1
    fr = sr = path[0]
    for c in path[1:]:
        if sn == 0:
            raise InvalidInput("the consistency proof is too long", field="hashes")
        if fn & 1 or fn == sn:
            fr, sr = node_hash(c, fr), node_hash(c, sr)
            while not fn & 1 and fn:
                fn, sn = fn >> 1, sn >> 1
        else:
            sr = node_hash(sr, c)
        fn, sn = fn >> 1, sn >> 1
    if sn != 0 or fr != root1 or sr != root2:
        raise InvalidInput("the consistency proof does not join the two roots", field="hashes")
