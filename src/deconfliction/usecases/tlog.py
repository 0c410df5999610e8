"""The ledger as a transparency log: checkpoints, proofs, witnesses' cosignatures, key rotation.

Every committed batch of ledger writes is signed once, as a C2SP checkpoint (`Recorder`). This
module answers what parties ask of the log: the newest checkpoint with the cosignatures collected
so far, inclusion and consistency proofs for any size the log has had, a party's own entry with
its private part and salt (for a proof it hands over), cosignatures (each party cosigns with
the Ed25519 key it registered, under its own name), and the export that binds to the server's
key. At start the server's key must be the one that signed the newest checkpoint; a new key is
taken only through a rotation entry (`rotate`).
"""

from __future__ import annotations

import base64
import json
from collections.abc import Iterator
from typing import Any

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from deconfliction.core import ledger, merkle, note, tlog, verification
from deconfliction.core.errors import DeconflictionError, Forbidden, InvalidInput, NotFound
from deconfliction.store import Tx
from deconfliction.store import tlog as tree_sql
from deconfliction.usecases.recorder import Recorder

__all__ = ["KeyMismatch", "Log"]


class KeyMismatch(DeconflictionError):
    """The server's key did not sign the log's newest checkpoint (rotate it in explicitly)."""


class Log:
    """The transparency-log use cases over one `Recorder`."""

    def __init__(self, service: Recorder) -> None:
        self.service = service
        self.origin = service.settings.log_origin

    # --- keys ----------------------------------------------------------------------------------
    def vkey(self) -> str:
        """The server's note verifier key: ``<origin>+<key ID>+<base64 key>``."""
        verifier = tlog.log_verifier(self.origin, self.service.key.public_key())
        return note.format_verifier_key(verifier)

    def witnesses(self, tx: Tx) -> dict[str, str]:
        """Each party with a registered key -> its cosigner verifier key (cosignature/v1)."""
        out = {}
        for name in tx.party_names():
            pem = tx.party(name).public_key_pem
            if pem:
                key = ledger.load_public_key_pem(pem)
                out[name] = note.format_verifier_key(
                    note.verifier_for(name, key, note.COSIGNATURE_ED25519))
        return out

    def check_key(self) -> None:
        """Raise `KeyMismatch` unless the server's key signed the newest checkpoint (or, before
        any checkpoint, the newest entry that carries a signature of its own)."""
        public = self.service.key.public_key()
        with self.service.store.read() as tx:
            newest = tree_sql.checkpoint(tx)
            last = tx.ledger_last() if newest is None else None
        try:
            if newest is not None:
                tlog.open_checkpoint(newest[1], [public])
            elif last is not None:
                entry = ledger.from_json_line(last)
                if entry.signature is not None and not verification.verify(
                    [last + "\n"], public, start=(entry.seq - 1, entry.prev_hash)
                ).ok:
                    raise InvalidInput("the newest entry is signed by another key")
        except InvalidInput:
            raise KeyMismatch(
                "the server key did not sign this ledger's newest checkpoint: a lost or "
                "replaced key is never taken silently; rotate it in with `deconfliction ledger "
                "rotate-key [--old-key PEM]`", field="server_key") from None

    def rotate(self, old_key: Ed25519PrivateKey | None) -> int:
        """Append the rotation entry naming the server's (new) key, signed by it and by
        ``old_key`` when still held; the entry's seq. Its batch's checkpoint is signed by the
        new key."""
        now = self.service.clock()
        with self.service.store.write() as tx:
            size = tree_sql.size(tx)
            body = tlog.sign_rotation(self.origin, size, self.service.key, old_key)
            self.service.record(tx, now, "server", tlog.KEY_ROTATED, body)
            return size + 1

    def ensure_checkpoint(self) -> None:
        """Sign a checkpoint over entries no checkpoint covers yet (a ledger from before the
        log had checkpoints)."""
        with self.service.store.write() as tx:
            newest = tree_sql.checkpoint(tx)
            if tree_sql.size(tx) > (0 if newest is None else newest[0]):
                self.service.sign_checkpoint(tx)

    # --- checkpoints and proofs ------------------------------------------------------------------
    def checkpoint(self, size: int | None = None, *, cosigned_by: str | None = None) -> str:
        """The signed checkpoint (newest, of ``size``, or newest cosigned by ``cosigned_by``) with
        every cosignature collected for it; `NotFound` naming what was asked (``size``, else
        ``cosigned_by``) when there is none."""
        with self.service.store.read() as tx:
            found = tree_sql.checkpoint(tx, size, cosigned_by=cosigned_by)
            if found is None:
                field = "size" if size is not None or cosigned_by is None else "cosigned_by"
                raise NotFound("no such checkpoint", field=field)
            return found[1] + "".join(tree_sql.cosignatures(tx, found[0]))

    def head(self) -> dict[str, Any]:
        """The newest entry's seq and hash, the server's key (PEM and vkey) and checkpoint."""
        with self.service.store.read() as tx:
            tip = tx.ledger_tip()
            newest = tree_sql.checkpoint(tx)
            witnesses = self.witnesses(tx)
        seq, digest = tip if tip is not None else (0, ledger.GENESIS_HASH)
        return {
            "seq": seq,
            "hash": digest,
            "public_key": ledger.public_key_pem(self.service.key),
            "vkey": self.vkey(),
            "checkpoint": None if newest is None else newest[1],
            "witnesses": witnesses,
        }

    def inclusion(self, seq: int, size: int | None = None) -> dict[str, Any]:
        """RFC 9162 inclusion proof of entry ``seq`` (leaf ``seq - 1``) in the tree of ``size``
        (default: the newest checkpoint's)."""
        with self.service.store.read() as tx:
            size = self._size(tx, size, "size")
            if not 1 <= seq <= size:
                raise InvalidInput(f"seq must be 1 to the tree size {size}", field="seq")
            plan = merkle.inclusion_plan(seq - 1, size)
            hashes = merkle.resolve(plan, tree_sql.nodes(tx, {n for e in plan for n in e}))
        return {"index": seq - 1, "size": size, "hashes": _b64(hashes)}

    def consistency(self, first: int, second: int | None = None) -> dict[str, Any]:
        """RFC 9162 consistency proof from tree size ``first`` to ``second`` (default: the
        newest checkpoint's)."""
        with self.service.store.read() as tx:
            second = self._size(tx, second, "to")
            if not 0 <= first <= second:
                raise InvalidInput(f"from must be 0 to {second}", field="from")
            plan = merkle.consistency_plan(first, second)
            hashes = merkle.resolve(plan, tree_sql.nodes(tx, {n for e in plan for n in e}))
        return {"from": first, "to": second, "hashes": _b64(hashes)}

    @staticmethod
    def _size(tx: Tx, size: int | None, field: str) -> int:
        if size is None:
            newest = tree_sql.checkpoint(tx)
            return 0 if newest is None else newest[0]
        have = tree_sql.size(tx)
        if not 0 <= size <= have:
            raise InvalidInput(f"the log has had sizes 0 to {have}", field=field)
        return size

    def entry(self, party: str, seq: int) -> dict[str, Any]:
        """Entry ``seq`` as exported, with its private part and salt when ``party`` may read
        them (the owner, or the party the entry is addressed to)."""
        with self.service.store.read() as tx:
            found = tree_sql.entry(tx, seq)
        if found is None:
            raise NotFound(f"no entry {seq}", field="seq")
        line, private = found
        body = json.loads(line)["body"]
        out: dict[str, Any] = {"seq": seq, "line": line, "private": None, "salt": None}
        if private is not None:
            if party not in (private.get("owner"), body.get("to")):
                raise Forbidden("the private part is its owner's and addressee's",
                                field="seq")
            out["private"], out["salt"] = private["private"], private["salt"]
        return out

    # --- witnesses -------------------------------------------------------------------------------
    def cosign(self, party: str, size: int, line: str) -> dict[str, Any]:
        """Keep ``party``'s cosignature line over the checkpoint of ``size``, once it verifies
        with the key the party registered. Refused (`InvalidInput`) naming ``size`` for a
        checkpoint the server never signed, ``cosignature`` for a malformed or bad line."""
        if not isinstance(line, str) or not line.startswith("\u2014 "):
            raise InvalidInput("a note signature line: '— <name> <base64>'", field="cosignature")
        line = line if line.endswith("\n") else line + "\n"
        if line.count("\n") != 1:
            raise InvalidInput("one signature line", field="cosignature")
        now = self.service.clock()
        with self.service.store.write() as tx:
            found = tree_sql.checkpoint(tx, size)
            if found is None:
                raise InvalidInput("the server signed no checkpoint of this size", field="size")
            text, _ = note.parse_note(found[1])
            try:
                sig = note.parse_note(text + "\n" + line, field="cosignature")[1][-1]
            except InvalidInput as e:
                raise InvalidInput(e.detail, field="cosignature") from None
            pem = tx.party(party).public_key_pem
            if not pem:
                raise InvalidInput("register an Ed25519 key first (PUT /v1/parties/me/key)",
                                   field="cosignature")
            mine = note.verifier_for(party, ledger.load_public_key_pem(pem),
                                     note.COSIGNATURE_ED25519)
            if (sig.name, sig.key_id) != (mine.name, mine.key_id):
                raise InvalidInput(f"not by {party}'s registered key (name {party}, key ID "
                                   f"{mine.key_id.hex()})", field="cosignature")
            _, verified = note.open_note(text + "\n" + sig.line(), [mine], field="cosignature")
            # Not a ledger entry: the entry would need a checkpoint of its own, to be cosigned
            # in turn, and witnesses would feed the log for ever.
            tree_sql.insert_cosignature(tx, size, party, sig.line(), now.timestamp())
        return {"size": size, "party": party, "timestamp": verified[0].timestamp}

    # --- export ----------------------------------------------------------------------------------
    def export(self, after: int = 0) -> Iterator[str]:
        """The export's lines (without newline) after seq ``after``: a tree record first for a
        slice, the entries up to the newest checkpoint, then that checkpoint."""
        with self.service.store.read() as tx:
            newest = tree_sql.checkpoint(tx)
            if newest is None:
                return
            size, signed = newest
            if after >= size:
                yield tlog.checkpoint_record(signed)
                return
            if after:
                line = tree_sql.entry(tx, after)
                assert line is not None
                frontier = tree_sql.frontier(tx, after)
                yield tlog.tree_record(after, json.loads(line[0])["hash"], frontier.hashes)
            yield from tx.ledger_lines(after, size - after)
            yield tlog.checkpoint_record(signed)


def _b64(hashes: list[bytes]) -> list[str]:
    return [base64.b64encode(h).decode("ascii") for h in hashes]
